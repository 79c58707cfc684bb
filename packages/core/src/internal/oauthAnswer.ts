import type * as Headers from "@effect/platform/Headers"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Stream from "effect/Stream"
import type { WireFormat } from "../ClientConfig.js"
import { InvalidResponse, type OAuthError, TransportError } from "../DeviceFlowError.js"
import { MAX_BODY_BYTES } from "../RequestLimits.js"
import { sanitize, uriOrUndefined } from "../ServerText.js"
import { toOAuthError } from "./errors.js"
import { parseRetryAfter } from "./retryAfter.js"
import { scrub } from "./secrets.js"
import { normaliseAnswer } from "./wire.js"

/**
 * Reading an OAuth endpoint's answer: status, a size-limited body, JSON or
 * form, then what it means (RFC 6749 §5.1/§5.2). Every duration it carries
 * is in milliseconds.
 * @internal
 */

/** @internal */
export interface OAuthErrorBody {
  readonly error: string
  readonly error_description?: string
  readonly error_uri?: string
  readonly error_codes?: ReadonlyArray<number>
  readonly trace_id?: string
  readonly correlation_id?: string
  /** the new interval GitHub sends with slow_down (seconds on the wire), in ms */
  readonly intervalMs?: number
  /** Entra's refinement of interaction errors (`consent_required`, `basic_action`, ...) */
  readonly suberror?: string
  /** a claims challenge (Entra conditional access) to pass to the next interactive request */
  readonly claims?: string
}

/**
 * An HTTP answer sorted by what it means for OAuth: a success body, an
 * OAuth error body (whatever the status, since GitHub and Entra send errors
 * with HTTP 200), or a server that is unavailable right now.
 * @internal
 */
export type Answer =
  | { readonly _tag: "Success"; readonly status: number; readonly body: Readonly<Record<string, unknown>> }
  | {
    readonly _tag: "ErrorBody"
    readonly status: number
    readonly body: OAuthErrorBody
    /** RFC 9110 §10.2.3 Retry-After, in ms */
    readonly retryAfterMs: number | undefined
  }
  | { readonly _tag: "Unavailable"; readonly status: number; readonly retryAfterMs: number | undefined }

/**
 * The error of an answer that asks to be tried again later (HTTP 429 or 5xx
 * without an OAuth error, RFC 9110 §15.6.4), with its Retry-After.
 * @internal
 */
export const tryLater = (
  endpoint: string,
  status: number,
  retryAfterMs: number | undefined = undefined
): TransportError =>
  new TransportError({
    endpoint,
    status,
    reason: "the server asked to try again later",
    ...(retryAfterMs === undefined ? {} : { retryAfterMs })
  })

/**
 * The error of an answer that is not a success (RFC 6749 §5.2 error, or a
 * server that cannot answer now), for a request with nothing more to decide.
 * @internal
 */
export const failureOf = (
  endpoint: string,
  answer: Exclude<Answer, { readonly _tag: "Success" }>
): OAuthError | TransportError =>
  answer._tag === "ErrorBody"
    ? toOAuthError(endpoint, answer.status, answer.body)
    : tryLater(endpoint, answer.status, answer.retryAfterMs)

/** @internal */
export const NO_SECRETS = (): ReadonlyArray<string> => []

/** @internal */
export const classify = (
  endpoint: string,
  response: HttpClientResponse.HttpClientResponse,
  wire: WireFormat = "oauth",
  /** the client read the body within the limit already */
  enforced = false,
  /** what an OAuth error answer's text is cleaned of */
  secrets: () => ReadonlyArray<string> = NO_SECRETS
): Effect.Effect<Answer, TransportError | InvalidResponse> => {
  const status = response.status
  const headers = response.headers
  if (status >= 300 && status < 400) {
    return Effect.fail(
      new InvalidResponse({
        endpoint,
        status,
        reason: `is a redirect to ${
          originOf(headers.location ?? "(no location)")
        }, which is not followed: OAuth endpoints must answer directly`
      })
    )
  }
  return Effect.flatMap(Effect.either(readObject(endpoint, response, enforced)), (parsed) => {
    const retryAfterHeader = headers["retry-after"]
    if (retryAfterHeader === undefined) return answerOf(endpoint, status, headers, wire, parsed, undefined, secrets)
    // A Retry-After date is the server's clock: measured against the answer's own Date
    // (RFC 9110 §6.6.1) when there is one, so that a local clock that is off or jumped
    // cannot turn "in 20 s" into a month's wait or none.
    const serverNow = Date.parse(headers.date ?? "")
    return Number.isNaN(serverNow)
      ? Effect.flatMap(
        Clock.currentTimeMillis,
        (now) => answerOf(endpoint, status, headers, wire, parsed, parseRetryAfter(retryAfterHeader, now), secrets)
      )
      : answerOf(endpoint, status, headers, wire, parsed, parseRetryAfter(retryAfterHeader, serverNow), secrets)
  })
}

const answerOf = (
  endpoint: string,
  status: number,
  headers: Headers.Headers,
  wire: WireFormat,
  parsed: Either.Either<Readonly<Record<string, unknown>>, TransportError | InvalidResponse>,
  retryAfterMs: number | undefined,
  secrets: () => ReadonlyArray<string>
): Effect.Effect<Answer, TransportError | InvalidResponse> => {
  if (Either.isRight(parsed)) {
    const body = normaliseAnswer(wire, parsed.right, status, (name) => headers[name])
    const errorBody = asErrorBody(body)
    if (errorBody !== undefined) {
      return Effect.succeed({ _tag: "ErrorBody", status, body: scrubBody(errorBody, secrets()), retryAfterMs })
    }
    if (status >= 200 && status < 300) return Effect.succeed({ _tag: "Success", status, body })
  }
  // Gateways and rate limiters answer with HTML or nothing: the status is what counts.
  if (status === 429 || status >= 500) return Effect.succeed({ _tag: "Unavailable", status, retryAfterMs })
  if (Either.isLeft(parsed)) return Effect.fail(parsed.left)
  return Effect.fail(new InvalidResponse({ endpoint, status, reason: "has an unexpected status and no OAuth error" }))
}

// A server may echo what it was sent in its error text: blanked out before anyone reads it.
const scrubBody = (body: OAuthErrorBody, secrets: ReadonlyArray<string>): OAuthErrorBody =>
  secrets.length === 0 ? body : {
    ...body,
    error: scrub(body.error, secrets),
    ...(body.error_description === undefined ? {} : { error_description: scrub(body.error_description, secrets) }),
    ...(body.error_uri === undefined ? {} : { error_uri: scrub(body.error_uri, secrets) })
  }

/** @internal */
export const originOf = (location: string): string => {
  try {
    const url = new URL(location)
    const target = `${url.origin}${url.pathname}`
    return target.length > 200 ? `${target.slice(0, 197)}...` : target
  } catch {
    return JSON.stringify(location.slice(0, 100))
  }
}

/**
 * Read at most MAX_BODY_BYTES and parse a JSON or form-encoded object.
 * @internal
 */
export const readObject = (
  endpoint: string,
  response: HttpClientResponse.HttpClientResponse,
  /** the client read the body within RequestLimits already: take it as it is */
  enforced = false
): Effect.Effect<Readonly<Record<string, unknown>>, TransportError | InvalidResponse> => {
  const status = response.status
  const invalid = (reason: string) => new InvalidResponse({ endpoint, status, reason })
  const declared = enforced ? undefined : response.headers["content-length"]
  if (declared !== undefined && Number(declared) > MAX_BODY_BYTES) {
    return Effect.fail(invalid(`has a body of ${declared.slice(0, 20)} bytes, over the ${MAX_BODY_BYTES}-byte limit`))
  }
  // With a Content-Length within the limit the body cannot exceed it (the HTTP
  // parser stops there), so the client's own reader is used: an Effect stream
  // per answer costs more than the rest of the request (docs/benchmarks.md, B2).
  const body = enforced || (declared !== undefined && /^\d+$/.test(declared.trim()))
    ? Effect.map(response.arrayBuffer, (buffer) => new Uint8Array(buffer))
    : readLimited(response.stream, MAX_BODY_BYTES)
  return Effect.matchEffect(body, {
    onFailure: (e) =>
      // A fetch-based client has no stream for a body-less answer (HTTP 204, 304): an empty body, not a network failure.
      e !== "TooLarge" && e._tag === "ResponseError" && e.reason === "EmptyBody"
        ? Effect.mapError(parseObject("", contentTypeOf(response)), invalid)
        : Effect.fail(
          // The HTTP client's own cap (node-http: a ResponseError caused by ExceededCapacityException)
          // is the same verdict as ours: an oversized body is a bad answer, not a network failure to retry.
          e === "TooLarge"
            ? invalid(`has a body over the ${MAX_BODY_BYTES}-byte limit`)
            : Cause.isExceededCapacityException(e.cause)
            ? invalid(`has a body over the HTTP client's size limit${e.description ? ` (${e.description})` : ""}`)
            : new TransportError({
              endpoint,
              reason: `the connection failed while reading the answer${e.description ? `: ${e.description}` : ""}`,
              cause: e.cause
            })
        ),
    onSuccess: (bytes) => Effect.mapError(parseObject(decoder.decode(bytes), contentTypeOf(response)), invalid)
  })
}

const decoder = new TextDecoder("utf-8")

const contentTypeOf = (response: HttpClientResponse.HttpClientResponse): string =>
  (response.headers["content-type"] ?? "").toLowerCase()

/** @internal */
export const readLimited = <E>(
  stream: Stream.Stream<Uint8Array, E>,
  limit: number
): Effect.Effect<Uint8Array, E | "TooLarge"> =>
  Stream.runFoldEffect(
    stream,
    { chunks: [] as Array<Uint8Array>, size: 0 },
    (acc, chunk): Effect.Effect<{ chunks: Array<Uint8Array>; size: number }, "TooLarge"> => {
      const size = acc.size + chunk.length
      if (size > limit) return Effect.fail("TooLarge" as const)
      acc.chunks.push(chunk)
      return Effect.succeed({ chunks: acc.chunks, size })
    }
  ).pipe(Effect.map(({ chunks, size }) => {
    const out = new Uint8Array(size)
    let offset = 0
    for (const chunk of chunks) {
      out.set(chunk, offset)
      offset += chunk.length
    }
    return out
  }))

/**
 * JSON or form-encoded, whatever the content type claims, as long as the
 * result is an object: servers mislabel bodies, but HTML is never a protocol answer.
 * @internal
 */
export const parseObject = (text: string, contentType: string): Either.Either<Record<string, unknown>, string> => {
  const trimmed = text.trim()
  if (trimmed === "") return Either.left("has an empty body; expected a JSON object")
  if (contentType.includes("html") || /^<(!doctype|html|\?xml|head|body)/i.test(trimmed)) {
    return Either.left(`is an HTML page (${contentType || "no content type"}), not an OAuth JSON answer`)
  }
  if (trimmed.startsWith("{") || trimmed.startsWith("[") || contentType.includes("json")) {
    let value: unknown
    try {
      value = JSON.parse(trimmed)
    } catch {
      return Either.left("is not valid JSON (truncated or malformed)")
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      return Either.left(
        `is JSON ${value === null ? "null" : Array.isArray(value) ? "array" : typeof value}, not an object`
      )
    }
    return Either.right(value as Record<string, unknown>)
  }
  if (contentType.includes("x-www-form-urlencoded") || /^[\w.~%+-]+=[^\s]*(&[\w.~%+-]+=[^\s]*)*$/.test(trimmed)) {
    return Either.right(Object.fromEntries(new URLSearchParams(trimmed)))
  }
  return Either.left(`is neither JSON nor form-encoded (${contentType || "no content type"})`)
}

/**
 * RFC 6749 §5.2: an object with a string `error` is an error answer, whatever
 * the HTTP status. Optional fields of the wrong type are dropped rather than
 * hiding the server's error code behind a parse failure.
 * @internal
 */
export const asErrorBody = (body: Readonly<Record<string, unknown>>): OAuthErrorBody | undefined => {
  const error = body.error
  if (typeof error !== "string" || sanitize(error) === "") return undefined
  // Server text reaches people and logs: every string crosses ServerText here, at decode time.
  const out: { -readonly [K in keyof OAuthErrorBody]: OAuthErrorBody[K] } = { error: sanitize(error) }
  // RFC 6749 §5.2 allows no control characters in error_description; Entra's trace lines become one line.
  if (typeof body.error_description === "string") out.error_description = sanitize(body.error_description)
  const errorUri = typeof body.error_uri === "string" ? uriOrUndefined(body.error_uri) : undefined
  if (errorUri !== undefined) out.error_uri = errorUri
  if (Array.isArray(body.error_codes)) {
    out.error_codes = body.error_codes
      .filter((n): n is number | string => typeof n === "number" || (typeof n === "string" && n.trim() !== ""))
      .map(Number)
      .filter((n) => Number.isFinite(n))
  }
  if (typeof body.trace_id === "string") out.trace_id = sanitize(body.trace_id)
  if (typeof body.correlation_id === "string") out.correlation_id = sanitize(body.correlation_id)
  if (typeof body.suberror === "string" && body.suberror.trim() !== "") out.suberror = sanitize(body.suberror)
  if (typeof body.claims === "string" && body.claims.trim() !== "") out.claims = body.claims
  const interval = typeof body.interval === "string" ? Number(body.interval) : body.interval
  // An interval too large for a double (1e400) is still the server asking to wait: PollSchedule caps it, never drops it.
  if (typeof interval === "number" && interval > 0) out.intervalMs = interval * 1000
  return out
}
