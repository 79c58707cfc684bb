/**
 * The HTTP side of DPoP: a client that signs a fresh proof for every request
 * and takes the server's nonces (RFC 9449 §8, §9), for the token endpoint
 * (the grant) and for resource servers (`Dpop.wrapClient`).
 * @internal
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import type * as Dpop from "../Dpop.js"
import * as RequestLimits from "../RequestLimits.js"
import { generateKeyPair, proof } from "./dpop.js"
import { isNqchars } from "./nqchar.js"
import { readLimited } from "./oauthAnswer.js"

// RFC 9449 §8.1: nonce = 1*NQCHAR; anything else from a server is not used in a proof
// RFC 9449 §8: nonce = 1*NQCHAR; a longer one than this is not a nonce worth keeping
const isNonce = (text: string): boolean => text.length <= 512 && isNqchars(text)

/** @internal */
export const makeHolder = (key: Effect.Effect<Dpop.KeyPair>): Dpop.KeyHolder => {
  const nonces = new Map<string, string>()
  return {
    key,
    nonce: (url) => nonces.get(originOf(url)),
    setNonce: (url, nonce) => {
      if (isNonce(nonce)) nonces.set(originOf(url), nonce)
    }
  }
}

/**
 * The default holder: one ES256 key for the process, made on first use, so
 * that a sign-in and the refreshes after it in this process use one key.
 * @internal
 */
export const processHolder = (): Dpop.KeyHolder => {
  let made: Dpop.KeyPair | undefined
  // Two first uses at once both generate; the first stored wins and both use it.
  const key = Effect.suspend(() =>
    made !== undefined ? Effect.succeed(made) : Effect.map(generateKeyPair(), (k) => (made ??= k))
  )
  const holder = makeHolder(key)
  defaults.add(holder)
  return holder
}

const defaults = new WeakSet<Dpop.KeyHolder>()

/**
 * Whether `holder` is the process's default (no key was chosen): a sign-in
 * whose tokens are kept then gets a key of its own, kept and removed with them.
 * @internal
 */
export const isProcessHolder = (holder: Dpop.KeyHolder): boolean => defaults.has(holder)

const originOf = (url: string): string => {
  try {
    return new URL(url).origin
  } catch {
    return url
  }
}

/** @internal */
export const proofFor = (
  holder: Dpop.KeyHolder,
  input: {
    readonly method: string
    readonly url: string
    readonly accessToken?: Redacted.Redacted<string> | string | undefined
  }
): Effect.Effect<string> =>
  Effect.flatMap(holder.key, (key) => proof(key, { ...input, nonce: holder.nonce(input.url) }))

/**
 * Whether an answer asks for the request again with a new nonce: RFC 9449 §8
 * (authorization server: HTTP 400 `use_dpop_nonce`) and §9 (resource server:
 * HTTP 401 with `WWW-Authenticate: DPoP error="use_dpop_nonce"`). Both carry
 * the nonce in `DPoP-Nonce`, taken before this is asked.
 */
const asksForNonce = (
  response: HttpClientResponse.HttpClientResponse
): Effect.Effect<{ readonly again: boolean; readonly response: HttpClientResponse.HttpClientResponse }> => {
  if (response.headers["dpop-nonce"] === undefined) return Effect.succeed({ again: false, response })
  if (response.status === 401) {
    return Effect.succeed({
      again: /error="?use_dpop_nonce"?/.test(response.headers["www-authenticate"] ?? ""),
      response
    })
  }
  if (response.status !== 400) return Effect.succeed({ again: false, response })
  // The error is in the body, which the caller reads next: read it here within the
  // size limit and hand on a response made of the same bytes.
  return Effect.match(readLimited(response.stream, RequestLimits.MAX_BODY_BYTES), {
    onFailure: () => ({ again: false, response }),
    onSuccess: (bytes) => {
      let error: unknown
      try {
        error = (JSON.parse(new TextDecoder().decode(bytes)) as { error?: unknown }).error
      } catch {
        error = undefined
      }
      return {
        again: error === "use_dpop_nonce",
        response: HttpClientResponse.fromWeb(
          response.request,
          new Response(bytes as Uint8Array<ArrayBuffer>, {
            status: response.status,
            headers: response.headers as Record<string, string>
          })
        )
      }
    }
  })
}

/**
 * `client` with a fresh proof on every request, the server's nonces kept in
 * `holder` per origin, and one retry when the server asks for a nonce. With
 * an access token, requests also carry `Authorization: DPoP <token>` and
 * proofs its `ath` (RFC 9449 §7.1). It enforces RequestLimits when `client` does.
 * @internal
 */
export const wrap = <E, R>(
  client: HttpClient.HttpClient.With<E, R>,
  holder: Dpop.KeyHolder,
  accessToken?: Redacted.Redacted<string>
): HttpClient.HttpClient.With<E, R> => {
  const send = (
    request: HttpClientRequest.HttpClientRequest,
    retried: boolean
  ): Effect.Effect<HttpClientResponse.HttpClientResponse, E, R> =>
    Effect.gen(function*() {
      const signed = yield* proofFor(holder, { method: request.method, url: request.url, accessToken })
      const headers: Record<string, string> = { dpop: signed }
      // RFC 9449 §7.1: the DPoP authentication scheme
      if (accessToken !== undefined) headers.authorization = `DPoP ${Redacted.value(accessToken)}`
      const sent = HttpClientRequest.setHeaders(request, headers)
      // devflow's own transport finds the limits on the request: the signed copy carries them on
      const limits = RequestLimits.get(request)
      if (limits !== undefined) RequestLimits.set(sent, limits)
      const response = yield* client.execute(sent)
      const nonce = response.headers["dpop-nonce"]
      if (nonce !== undefined) holder.setNonce(request.url, nonce)
      if (retried || nonce === undefined) return response
      const verdict = yield* asksForNonce(response)
      // RFC 9449 §8, §9: one new request with the server's nonce; a second refusal is the caller's
      return verdict.again ? yield* send(request, true) : verdict.response
    })
  const wrapped = HttpClient.makeWith(
    (request) => Effect.flatMap(request, (request) => send(request, false)),
    Effect.succeed
  ) as HttpClient.HttpClient.With<E, R>
  return RequestLimits.isEnforcedBy(client) ? RequestLimits.enforcing(wrapped) : wrapped
}
