/**
 * The device authorization grant (RFC 8628) from request to tokens, as an
 * explicit state machine: `Requesting → Polling(attempt, interval, deadline)
 * → Succeeded | Failed`, with interruption at any point.
 *
 * Two ways in: {@link acquireToken} returns the tokens and calls `onCode`
 * once the user must act (the MSAL model); {@link events} is the same flow
 * as a `Stream` of typed events, for UIs and JSON output. A pending flow is
 * a {@link DeviceSession.DeviceSession} that another process can {@link resume}.
 *
 * @example
 * ```ts
 * import { ClientConfig, DeviceFlow } from "@devflow/core"
 * import { Console, Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const config = yield* ClientConfig.make({
 *     clientId: "my-cli",
 *     endpoints: {
 *       deviceAuthorization: "https://auth.example.com/device/code",
 *       token: "https://auth.example.com/token"
 *     }
 *   })
 *   return yield* DeviceFlow.acquireToken(config, { scopes: ["openid", "offline_access"] }, {
 *     onCode: (code) => Console.error(code.message)
 *   })
 * })
 * ```
 *
 * @since 0.1.0
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import type * as Data from "effect/Data"
import type * as DateTime from "effect/DateTime"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Stream from "effect/Stream"
import type { ClientConfig } from "./ClientConfig.js"
import type * as DeviceAuthorization from "./DeviceAuthorization.js"
import type { DeviceFlowError } from "./DeviceFlowError.js"
import type { DeviceSession } from "./DeviceSession.js"
import * as internal from "./internal/deviceFlow.js"
import type * as PollSchedule from "./PollSchedule.js"
import type * as TokenResponse from "./TokenResponse.js"

/**
 * What the flow reports as it goes. The stream of events ends after
 * `Succeeded`, or fails with a {@link DeviceFlowError}.
 *
 * Every event but `Succeeded` carries the current `session`, so a caller can
 * persist it and {@link resume} elsewhere.
 *
 * @since 0.1.0
 * @category models
 */
export type DeviceFlowEvent = Data.TaggedEnum<{
  /** The user must now open the verification URI and enter the code. */
  CodeIssued: { readonly code: DeviceAuthorization.DeviceCode; readonly session: DeviceSession }
  /** RFC 8628 §3.5 authorization_pending: the next poll is at `nextPollAt`. */
  Pending: {
    readonly attempt: number
    readonly nextPollAt: DateTime.Utc
    readonly interval: Duration.Duration
    readonly session: DeviceSession
  }
  /** slow_down (or HTTP 429): the interval grew to `interval` for every later poll. */
  SlowedDown: {
    readonly attempt: number
    readonly nextPollAt: DateTime.Utc
    readonly interval: Duration.Duration
    readonly session: DeviceSession
  }
  /** No usable answer (network failure, timeout, HTTP 5xx): backing off until `nextPollAt`. */
  Retrying: {
    readonly attempt: number
    readonly nextPollAt: DateTime.Utc
    readonly reason: string
    readonly status: number | undefined
    readonly consecutiveFailures: number
    readonly session: DeviceSession
  }
  /** The user approved; here are the tokens. */
  Succeeded: { readonly result: TokenResponse.AuthenticationResult }
}>

/**
 * Constructors and matchers for {@link DeviceFlowEvent}.
 *
 * @since 0.1.0
 * @category constructors
 */
export const DeviceFlowEvent: Data.TaggedEnum.Constructor<DeviceFlowEvent> = internal.DeviceFlowEvent

/**
 * Tuning for a flow. The defaults suit every provider devflow knows.
 *
 * @since 0.1.0
 * @category models
 */
export interface FlowOptions {
  /** Give up on one request after this long and treat it as a transport failure (default 30 s). */
  readonly requestTimeout?: Duration.DurationInput | undefined
  /** Backoff cap and failure budget, see {@link PollSchedule.Policy}. */
  readonly policy?: Partial<PollSchedule.Policy> | undefined
}

/**
 * Options of {@link resume} and {@link resumeEvents}.
 *
 * @since 0.1.0
 * @category models
 */
export interface ResumeOptions extends FlowOptions {
  /**
   * The process that saved the session may have sent a poll whose answer was
   * never recorded (it stopped, or lost its lease, in between): the interval
   * is then raised by 5 s as if that answer were a `slow_down` (RFC 8628
   * §3.5), which is never too fast whatever it was. The first poll is a full
   * interval after resuming in any case.
   */
  readonly unobservedPoll?: boolean | undefined
}

/**
 * Options of {@link acquireToken}.
 *
 * @since 0.1.0
 * @category models
 */
export interface AcquireOptions<R = never> extends FlowOptions {
  /** Called once with the code to show the user; polling starts when it returns. */
  readonly onCode: (code: DeviceAuthorization.DeviceCode) => Effect.Effect<void, never, R> | void
  /** Called with every event, `CodeIssued` included (after `onCode`): progress UIs, JSON output. */
  readonly onEvent?: ((event: DeviceFlowEvent) => Effect.Effect<void, never, R>) | undefined
}

/**
 * The whole flow as a stream of {@link DeviceFlowEvent}s: first `CodeIssued`,
 * then one event per poll, last `Succeeded`. Interrupting the stream's
 * consumer stops the sleep and aborts the in-flight request at once.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8628#section-3
 * @since 0.1.0
 * @category flows
 */
export const events: (
  config: ClientConfig,
  request?: DeviceAuthorization.DeviceCodeRequest,
  options?: FlowOptions
) => Stream.Stream<DeviceFlowEvent, DeviceFlowError, HttpClient.HttpClient> = internal.events

/**
 * Run the flow to its end: call `onCode` when the user must act, poll in the
 * background, return the tokens (or fail with a typed error).
 *
 * @see https://www.rfc-editor.org/rfc/rfc8628#section-3
 * @since 0.1.0
 * @category flows
 */
export const acquireToken: <R = never>(
  config: ClientConfig,
  request: DeviceAuthorization.DeviceCodeRequest,
  options: AcquireOptions<R>
) => Effect.Effect<TokenResponse.AuthenticationResult, DeviceFlowError, HttpClient.HttpClient | R> =
  internal.acquireToken

/**
 * Continue polling a saved session (from another process, or after a
 * restart) until the code is approved, denied or expires. The first poll is
 * one interval after resuming at the earliest.
 *
 * @since 0.1.0
 * @category flows
 */
export const resumeEvents: (
  config: ClientConfig,
  session: DeviceSession,
  options?: ResumeOptions
) => Stream.Stream<DeviceFlowEvent, DeviceFlowError, HttpClient.HttpClient> = internal.resumeEvents

/**
 * {@link resumeEvents}, run to its result.
 *
 * @since 0.1.0
 * @category flows
 */
export const resume: (
  config: ClientConfig,
  session: DeviceSession,
  options?: ResumeOptions
) => Effect.Effect<TokenResponse.AuthenticationResult, DeviceFlowError, HttpClient.HttpClient> = internal.resume

/**
 * Run an event stream to its `Succeeded` result.
 *
 * @since 0.1.0
 * @category utils
 */
export const result: <E, R>(
  stream: Stream.Stream<DeviceFlowEvent, E, R>
) => Effect.Effect<TokenResponse.AuthenticationResult, E, R> = internal.result
