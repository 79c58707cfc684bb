/**
 * DPoP on the grant's token requests (RFC 9449 §5): the one hook the device
 * flow's polls and refreshes go through, and the rule on the answer's token type.
 * @internal
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as Effect from "effect/Effect"
import type { ClientConfig } from "../ClientConfig.js"
import type { InvalidResponse, TransportError } from "../DeviceFlowError.js"
import { CurrentKey } from "../Dpop.js"
import { wrap } from "./dpopClient.js"
import type { Answer } from "./oauthAnswer.js"
import { postForm } from "./oauthHttp.js"
import { clientAuthOf } from "./oauthRequest.js"

/** @internal */
export type Setting = true | "required" | undefined

/**
 * `request` (a token request: a poll or a refresh) with a fresh proof and the
 * server's nonce, retried once when the server asks for a new nonce. The
 * retry is part of the same request: it is not a poll and the interval is
 * measured from its answer. Without DPoP, `request` itself.
 * @internal
 */
export const tokenRequest = <A, E, R>(
  dpop: Setting,
  request: Effect.Effect<A, E, R | HttpClient.HttpClient>
): Effect.Effect<A, E, R | HttpClient.HttpClient> =>
  dpop === undefined ?
    request :
    Effect.flatMap(HttpClient.HttpClient, (client) =>
      Effect.flatMap(CurrentKey, (holder) =>
        Effect.provideService(request, HttpClient.HttpClient, wrap(client, holder))))

/**
 * POST a token request (a poll or a refresh) as `config`'s client: its
 * authentication, its wire format and, through {@link tokenRequest}, its DPoP setting.
 * @internal
 */
export const postToken = (
  config: ClientConfig,
  endpoint: string,
  params: Readonly<Record<string, string>>,
  timeoutMs: number | undefined
): Effect.Effect<Answer, TransportError | InvalidResponse, HttpClient.HttpClient> =>
  tokenRequest(config.dpop, postForm(endpoint, params, clientAuthOf(config), config.wire, timeoutMs))

/**
 * Why a token answer is refused under the DPoP setting, or undefined.
 * @internal
 */
export const refusesTokenType = (dpop: Setting, tokenType: string): string | undefined =>
  // RFC 9449 §5: a server that ignores DPoP answers token_type Bearer; "required" refuses such a token
  dpop === "required" && tokenType.toLowerCase() !== "dpop"
    ? `is ${
      JSON.stringify(tokenType.slice(0, 20))
    }, not "DPoP": the server did not bind the token to the client's key, and this client requires DPoP`
    : undefined
