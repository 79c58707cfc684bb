/**
 * What devflow allows one OAuth request: how long until its whole answer has
 * arrived, and how large that answer may be. There is one deadline and one
 * size limit per request, enforced in one place.
 *
 * The flows, refreshes, revocations and discovery set both for every request
 * they send. An `HttpClient` that enforces them itself while it reads — one
 * timer covering connect, headers and body, and one byte count that stops
 * reading at the limit, as `@devflow/node-http`'s does — marks itself with
 * {@link enforcing}; devflow then sets no timer and reads no stream of its
 * own. Any other client (a fetch-based one, a test double) gets both enforced
 * by devflow around it.
 *
 * @example
 * ```ts
 * import * as HttpClient from "@effect/platform/HttpClient"
 * import { RequestLimits } from "@devflow/core"
 * import { Effect } from "effect"
 *
 * // inside an HttpClient's request function: the limits devflow set for this request
 * const client = RequestLimits.enforcing(HttpClient.make((request, url, signal, fiber) => {
 *   const limits = fiber.getFiberRef(RequestLimits.current)
 *   console.log(limits?.timeoutMs, limits?.maxBodyBytes)
 *   return Effect.die("a real client sends the request here")
 * }))
 * ```
 *
 * @since 0.1.0
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import * as FiberRef from "effect/FiberRef"
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
 * The limits of the request being sent, set by devflow around each request
 * (`undefined` outside one).
 *
 * @since 0.1.0
 * @category fiber refs
 */
export const current: FiberRef.FiberRef<RequestLimits | undefined> = globalValue(
  Symbol.for("@devflow/core/RequestLimits/current"),
  () => FiberRef.unsafeMake<RequestLimits | undefined>(undefined)
)

/**
 * The mark of an `HttpClient` that enforces {@link current} itself.
 *
 * @since 0.1.0
 * @category symbols
 */
export const EnforcedBy: unique symbol = Symbol.for("@devflow/core/RequestLimits/EnforcedBy")

/**
 * Mark a client as enforcing {@link current} itself: its responses arrive
 * whole (within the size limit) and its requests end at the deadline. A
 * client derived from it (`HttpClient.mapRequest`, `HttpClient.transform`…)
 * carries no mark, and devflow enforces the limits around it again.
 *
 * @since 0.1.0
 * @category constructors
 */
export const enforcing = <C extends HttpClient.HttpClient.With<any, any>>(client: C): C =>
  Object.assign(Object.create(Object.getPrototypeOf(client)), client, { [EnforcedBy]: true })

/**
 * Whether a client enforces {@link current} itself.
 *
 * @since 0.1.0
 * @category guards
 */
export const isEnforcedBy = (client: HttpClient.HttpClient.With<any, any>): boolean =>
  (client as { readonly [EnforcedBy]?: unknown })[EnforcedBy] === true
