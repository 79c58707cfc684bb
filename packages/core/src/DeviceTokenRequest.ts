/**
 * RFC 8628 §3.4–3.5: the device access token request — one poll — and its answer.
 *
 * @since 0.1.0
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import type * as DateTime from "effect/DateTime"
import type * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Redacted from "effect/Redacted"
import type { ClientConfig } from "./ClientConfig.js"
import { GRANT_TYPE } from "./DeviceAuthorization.js"
import type { InvalidResponse, OAuthError, TransportError } from "./DeviceFlowError.js"
import { postToken } from "./internal/dpopGrant.js"
import { type Answer, failureOf } from "./internal/oauthAnswer.js"
import * as TokenResponse from "./TokenResponse.js"

/**
 * What a poll is sent for: an issued code, where to poll it, and what it
 * asked for. A `DeviceSession` has these fields.
 *
 * @since 0.1.0
 * @category models
 */
export interface Poll {
  /** the token endpoint the code is polled at */
  readonly tokenEndpoint: string
  readonly deviceCode: Redacted.Redacted<string>
  /** the token request's extra parameters (the configuration's merged with the request's) */
  readonly tokenParams: Readonly<Record<string, string>>
  /** the scopes the code was requested for: the granted ones when the token answer names none (RFC 6749 §5.1) */
  readonly scopes: ReadonlyArray<string>
}

/**
 * Send one device access token request (RFC 8628 §3.4); {@link process}
 * reads its answer. With the configuration's DPoP setting the request
 * carries a fresh proof, and a new nonce the server asks for is retried
 * within this request (RFC 9449 §5, §8): it is one poll.
 *
 * Take the `sentAt` that {@link process} needs before sending (`DateTime.now`),
 * so that the tokens' expiry errs on the early side by the round trip.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8628#section-3.4
 * @since 0.1.0
 * @category requests
 */
export const request = (
  config: ClientConfig,
  poll: Poll,
  options?: {
    /** from sending until the whole answer has arrived; RequestLimits.DEFAULT_TIMEOUT_MS when omitted */
    readonly timeoutMs?: number | undefined
  } | undefined
): Effect.Effect<Answer, InvalidResponse | TransportError, HttpClient.HttpClient> =>
  postToken(
    config,
    poll.tokenEndpoint,
    // RFC 8628 §3.4: grant_type and device_code; client_id comes with the client's authentication
    { ...poll.tokenParams, grant_type: GRANT_TYPE, device_code: Redacted.value(poll.deviceCode) },
    options?.timeoutMs
  )

/**
 * Read a device access token answer: the tokens of a success (RFC 6749
 * §5.1, see `TokenResponse.process`), or the answer's error. The RFC 8628
 * §3.5 errors that keep a flow polling (`authorization_pending`,
 * `slow_down`) are `OAuthError`s here too: deciding what they mean for the
 * next poll is `PollSchedule`'s job, as `DeviceFlow` does. Pure: the result
 * is an `Either`, which is also an Effect.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8628#section-3.5
 * @since 0.1.0
 * @category requests
 */
export const process = (
  config: ClientConfig,
  poll: Pick<Poll, "tokenEndpoint" | "scopes">,
  sentAt: DateTime.Utc,
  answer: Answer
): Either.Either<TokenResponse.AuthenticationResult, OAuthError | InvalidResponse | TransportError> =>
  answer._tag === "Success"
    ? TokenResponse.process(
      { endpoint: poll.tokenEndpoint, status: answer.status },
      answer.body,
      poll.scopes,
      sentAt,
      config.scopeForm,
      config
    )
    : Either.left(failureOf(poll.tokenEndpoint, answer))
