/**
 * What devflow allows one OAuth request: how long until its whole answer has
 * arrived, and how large that answer may be. There is one deadline and one
 * size limit per request, enforced in one place.
 *
 * devflow attaches both to every request it sends (flows, refreshes,
 * revocations, discovery). An `HttpClient` that enforces them itself while
 * it reads — one timer covering connect, headers and body, and one byte
 * count that stops reading at the limit, as `@devflow/node-http`'s does —
 * reads them with {@link get} and marks itself with {@link enforcing}; devflow
 * then sets no timer and reads no stream of its own. Any other client (a
 * fetch-based one, a test double) gets both enforced by devflow around it.
 *
 * The limits travel with the request object itself (a side table keyed by
 * it, as `@effect/platform`'s own `withScope` does), not in a FiberRef: a
 * FiberRef set around each request costs more than the rest of devflow's
 * work on it (docs/benchmarks.md, B2).
 *
 * @example
 * ```ts
 * import * as HttpClient from "@effect/platform/HttpClient"
 * import { RequestLimits } from "@devflow/core"
 * import { Effect } from "effect"
 *
 * // a client of devflow's requests reads the limits devflow attached
 * const client = RequestLimits.enforcing(HttpClient.make((request) => {
 *   const limits = RequestLimits.get(request)
 *   console.log(limits?.timeoutMs, limits?.maxBodyBytes)
 *   return Effect.die("a real client sends the request here")
 * }))
 * ```
 *
 * @since 0.1.0
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { globalValue } from "effect/GlobalValue"

/**
 * The limits of one request.
 *
 * @since 0.1.0
 * @category models
 */
export interface RequestLimits {
  /** Milliseconds from sending until the whole answer, body included, must have arrived. */
  readonly timeoutMs: number
  /** The largest answer body read, in bytes; a larger one is refused as an invalid answer. */
  readonly maxBodyBytes: number
}

/**
 * No OAuth answer is anywhere near this large (token answers are a few KiB):
 * a larger body is a misrouted request or an attack, and is not read.
 *
 * @since 0.1.0
 * @category constants
 */
export const MAX_BODY_BYTES = 1_048_576

/**
 * How long one request to the authorization server may take, from sending it
 * to the last byte of the answer, when nobody says otherwise: a device-code
 * poll, a refresh, discovery. Past it the request counts as a transport failure.
 *
 * @since 0.1.0
 * @category constants
 */
export const DEFAULT_TIMEOUT_MS = 30_000

const attached = globalValue(
  Symbol.for("@devflow/core/RequestLimits/attached"),
  () => new WeakMap<HttpClientRequest.HttpClientRequest, RequestLimits>()
)

/**
 * Attach limits to a request (devflow does, before it sends one).
 *
 * @since 0.1.0
 * @category combinators
 */
export const set = (
  request: HttpClientRequest.HttpClientRequest,
  limits: RequestLimits
): HttpClientRequest.HttpClientRequest => {
  attached.set(request, limits)
  return request
}

/**
 * The limits attached to a request, if any. A request derived from it
 * (`HttpClientRequest.setHeader`…) is a new value and carries none — and
 * `HttpClient.make` hands its function such a copy when it adds trace
 * headers: read them from the request `execute` was given (`HttpClient.makeWith`).
 *
 * @since 0.1.0
 * @category getters
 */
export const get = (request: HttpClientRequest.HttpClientRequest): RequestLimits | undefined => attached.get(request)

/**
 * The mark of an `HttpClient` that enforces the limits attached to its requests itself.
 *
 * @since 0.1.0
 * @category symbols
 */
export const EnforcedBy: unique symbol = Symbol.for("@devflow/core/RequestLimits/EnforcedBy")

/**
 * Mark a client as enforcing the limits {@link get} finds on each request:
 * its responses arrive whole (within the size limit) and its requests end at
 * the deadline. Such a client is devflow's own transport, so devflow also
 * leaves its spans to it: it is expected to make none while Effect's default
 * tracer is in place (nobody reads those). A client derived from it
 * (`HttpClient.mapRequest`, `HttpClient.transform`…) carries no mark, and
 * devflow enforces the limits around it again.
 *
 * @since 0.1.0
 * @category constructors
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- any client, whatever its error and context types (With is invariant in them)
export const enforcing = <C extends HttpClient.HttpClient.With<any, any>>(client: C): C =>
  Object.assign(Object.create(Object.getPrototypeOf(client)), client, { [EnforcedBy]: true })

/**
 * Whether a client enforces the limits attached to its requests itself.
 *
 * @since 0.1.0
 * @category guards
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- any client, whatever its error and context types (With is invariant in them)
export const isEnforcedBy = (client: HttpClient.HttpClient.With<any, any>): boolean =>
  (client as { readonly [EnforcedBy]?: unknown })[EnforcedBy] === true
