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
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import type { ClientConfig } from "./ClientConfig.js"
import { validateParams, validateScopes } from "./ClientConfig.js"
import type * as DeviceAuthorization from "./DeviceAuthorization.js"
import { type DeviceFlowError, InvalidConfiguration } from "./DeviceFlowError.js"
import type { DeviceSession } from "./DeviceSession.js"
import * as Engine from "./internal/engine.js"
import * as Telemetry from "./internal/telemetry.js"
import * as Time from "./internal/time.js"
import * as PollSchedule from "./PollSchedule.js"
import * as RequestLimits from "./RequestLimits.js"
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
export const DeviceFlowEvent = Data.taggedEnum<DeviceFlowEvent>()

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
export const events = (
  config: ClientConfig,
  request: DeviceAuthorization.DeviceCodeRequest = {},
  options: FlowOptions = {}
): Stream.Stream<DeviceFlowEvent, DeviceFlowError, HttpClient.HttpClient> =>
  Stream.unwrap(Effect.flatMap(validateRequest(config, request), (start) =>
    Effect.map(flowOf(config, options), (flow) => stream(flow, start))))

/**
 * Run the flow to its end: call `onCode` when the user must act, poll in the
 * background, return the tokens (or fail with a typed error).
 *
 * @see https://www.rfc-editor.org/rfc/rfc8628#section-3
 * @since 0.1.0
 * @category flows
 */
export const acquireToken = <R = never>(
  config: ClientConfig,
  request: DeviceAuthorization.DeviceCodeRequest,
  options: AcquireOptions<R>
): Effect.Effect<TokenResponse.AuthenticationResult, DeviceFlowError, HttpClient.HttpClient | R> =>
  // Built lazily, and chained rather than zipped: what a flow waits inside stays alive
  // until it ends, and the whole tree of a caller's effect would (docs/benchmarks.md, B2 memory).
  Effect.suspend(() =>
    Effect.flatMap(validateRequest(config, request), (start) =>
      Effect.flatMap(flowOf(config, options), (flow) =>
        drive(flow, start, {
          onIssued: (event) =>
            Effect.zipRight(
              Effect.suspend(() => {
                const out = options.onCode(event.code)
                return Effect.isEffect(out) ? out : Effect.void
              }),
              options.onEvent === undefined ? Effect.void : options.onEvent(event)
            ),
          onEvent: options.onEvent
        })))
  )

/**
 * Continue polling a saved session (from another process, or after a
 * restart) until the code is approved, denied or expires. The first poll is
 * one interval after resuming at the earliest.
 *
 * @since 0.1.0
 * @category flows
 */
export const resumeEvents = (
  config: ClientConfig,
  session: DeviceSession,
  options: FlowOptions = {}
): Stream.Stream<DeviceFlowEvent, DeviceFlowError, HttpClient.HttpClient> =>
  Stream.unwrap(Effect.map(resumeState(config, session, options), ([flow, state]) => stream(flow, state)))

const resumeState = (config: ClientConfig, session: DeviceSession, options: FlowOptions) =>
  Effect.gen(function*() {
    if (session.clientId !== config.clientId) {
      return yield* new InvalidConfiguration({ field: "session.clientId", reason: "belongs to another client" })
    }
    if (session.tokenEndpoint !== config.endpoints.token) {
      return yield* new InvalidConfiguration({ field: "session.tokenEndpoint", reason: "belongs to another server" })
    }
    const flow = yield* flowOf(config, options)
    // the stored wall-clock deadline becomes a monotonic one here, once
    const state = Engine.fromSession(session, yield* Time.now)
    if (Engine.isFailed(state)) return yield* Effect.fail(state.error)
    return [flow, state] as const
  })

/**
 * {@link resumeEvents}, run to its result.
 *
 * @since 0.1.0
 * @category flows
 */
export const resume = (
  config: ClientConfig,
  session: DeviceSession,
  options: FlowOptions = {}
): Effect.Effect<TokenResponse.AuthenticationResult, DeviceFlowError, HttpClient.HttpClient> =>
  Effect.suspend(() => Effect.flatMap(resumeState(config, session, options), ([flow, state]) => drive(flow, state, undefined)))

/**
 * Run an event stream to its `Succeeded` result.
 *
 * @since 0.1.0
 * @category utils
 */
export const result = <E, R>(
  stream: Stream.Stream<DeviceFlowEvent, E, R>
): Effect.Effect<TokenResponse.AuthenticationResult, E, R> =>
  Stream.runLast(stream).pipe(
    Effect.flatMap((last) =>
      Option.isSome(last) && last.value._tag === "Succeeded"
        ? Effect.succeed(last.value.result)
        // events() only ends after Succeeded: anything else is a bug, not a user error
        : Effect.dieMessage("device flow ended without a result")
    )
  )

// ---------------------------------------------------------------------------

interface Start {
  readonly _tag: "Start"
  readonly scopes: ReadonlyArray<string>
  readonly extraParams: Readonly<Record<string, string>> | undefined
  readonly tokenParams: Readonly<Record<string, string>>
}

// A request's scopes and extra parameters pass the checks the configuration's did (ClientConfig).
const validateRequest = (config: ClientConfig, request: DeviceAuthorization.DeviceCodeRequest): Effect.Effect<Start, InvalidConfiguration> =>
  Effect.gen(function*() {
    const scopes = request.scopes === undefined ? config.scopes : yield* validateScopes("scopes", request.scopes)
    const extraParams = request.extraParams === undefined ? undefined : yield* validateParams("extraParams", request.extraParams)
    const tokenParams = request.extraTokenParams === undefined
      ? config.tokenParams
      : { ...config.tokenParams, ...(yield* validateParams("extraTokenParams", request.extraTokenParams)) }
    return { _tag: "Start", scopes, extraParams, tokenParams }
  })

// Every tuning value is checked: a NaN, negative or missing one would make a poll loop without end.
const flowOf = (config: ClientConfig, options: FlowOptions): Effect.Effect<Engine.Flow, InvalidConfiguration> =>
  Effect.suspend(() => {
    const policy: PollSchedule.Policy = options.policy === undefined
      ? PollSchedule.defaultPolicy
      : { ...PollSchedule.defaultPolicy, ...options.policy }
    const invalid = (field: string, reason: string) => Effect.fail(new InvalidConfiguration({ field, reason }))
    if (typeof policy.maxBackoffMs !== "number" || !Number.isFinite(policy.maxBackoffMs) || policy.maxBackoffMs < 0) {
      return invalid("policy.maxBackoffMs", "must be a finite number of milliseconds, 0 or more")
    }
    if (!Number.isSafeInteger(policy.maxConsecutiveFailures) || policy.maxConsecutiveFailures < 1) {
      return invalid("policy.maxConsecutiveFailures", "must be a whole number, 1 or more")
    }
    const timeout = Option.filter(
      Duration.decodeUnknown(options.requestTimeout ?? Duration.millis(RequestLimits.DEFAULT_TIMEOUT_MS)),
      (d) => Duration.isFinite(d) && Duration.toMillis(d) > 0
    )
    if (Option.isNone(timeout)) return invalid("requestTimeout", "must be a finite, positive duration")
    const timeoutMs = Duration.toMillis(timeout.value)
    return Effect.withFiberRuntime((fiber) =>
      Effect.succeed<Engine.Flow>({
        config,
        policy,
        timeoutMs,
        clock: Context.get(fiber.currentDefaultServices, Clock.Clock),
        traced: Telemetry.tracedBy(fiber)
      })
    )
  })

interface Listener<R> {
  readonly onIssued: (event: Extract<DeviceFlowEvent, { _tag: "CodeIssued" }>) => Effect.Effect<void, never, R>
  readonly onEvent: ((event: DeviceFlowEvent) => Effect.Effect<void, never, R>) | undefined
}

/**
 * The flow run to its result: a loop of engine steps, without a Stream.
 * Public events (and the DeviceSession each carries) are built only when
 * someone listens. Bounded: every step sends at most one poll, and the
 * schedule ends the flow at the code's deadline or after the failure budget.
 */
const drive = <R>(
  flow: Engine.Flow,
  start: Start | Engine.Polling,
  listener: Listener<R> | undefined
): Effect.Effect<TokenResponse.AuthenticationResult, DeviceFlowError, HttpClient.HttpClient | R> => {
  const onEvent = listener?.onEvent
  if (!isStart(start)) return loop(flow, start, onEvent)
  return Effect.flatMap(Engine.requestCode(flow, start.scopes, start.extraParams, start.tokenParams), ([state, code, at]) =>
    listener === undefined
      ? loop(flow, state, onEvent)
      : Effect.zipRight(listener.onIssued(issued(state, code, at)), Effect.suspend(() => loop(flow, state, onEvent))))
}

// One engine step after another; between polls a flow holds this frame, the step's and its timer's.
// A step measures its wait when it is built: after a listener ran, never before (suspend).
const loop = <R>(
  flow: Engine.Flow,
  state: Engine.Polling,
  onEvent: ((event: DeviceFlowEvent) => Effect.Effect<void, never, R>) | undefined
): Effect.Effect<TokenResponse.AuthenticationResult, DeviceFlowError, HttpClient.HttpClient | R> =>
  Effect.flatMap(Engine.step(flow, state), (next) => {
    switch (next._tag) {
      case "Continue":
        return onEvent === undefined
          ? loop(flow, next.state, onEvent)
          : Effect.zipRight(onEvent(continued(next)), Effect.suspend(() => loop(flow, next.state, onEvent)))
      case "Done":
        return onEvent === undefined
          ? Effect.succeed(next.result)
          : Effect.as(onEvent(DeviceFlowEvent.Succeeded({ result: next.result })), next.result)
      case "Failed":
        return Effect.fail(next.error)
    }
  })

const isStart = (start: Start | Engine.Polling): start is Start => "_tag" in start

// The flow as a stream of events: the same engine steps as drive, each turned into its public event.
const stream = (
  flow: Engine.Flow,
  start: Start | Engine.Polling
): Stream.Stream<DeviceFlowEvent, DeviceFlowError, HttpClient.HttpClient> => {
  type Step = Start | Engine.Polling | undefined
  return Stream.unfoldEffect<Step, DeviceFlowEvent, DeviceFlowError, HttpClient.HttpClient>(
    start,
    (step) => step === undefined ? Effect.succeedNone : unfold(step)
  )
  function unfold(
    step: Start | Engine.Polling
  ): Effect.Effect<Option.Option<readonly [DeviceFlowEvent, Step]>, DeviceFlowError, HttpClient.HttpClient> {
      if (isStart(step)) {
        return Effect.map(
          Engine.requestCode(flow, step.scopes, step.extraParams, step.tokenParams),
          ([state, code, at]) => Option.some([issued(state, code, at), state] as const)
        )
      }
      return Effect.flatMap(Engine.step(flow, step), (next): Effect.Effect<Option.Option<readonly [DeviceFlowEvent, Step]>, DeviceFlowError> => {
        switch (next._tag) {
          case "Continue":
            return Effect.succeed(Option.some([continued(next), next.state] as const))
          case "Done":
            return Effect.succeed(Option.some([DeviceFlowEvent.Succeeded({ result: next.result }), undefined] as const))
          case "Failed":
            return Effect.fail(next.error)
        }
      })
  }
}

const issued = (state: Engine.Polling, code: DeviceAuthorization.DeviceCode, at: Time.Instant) =>
  DeviceFlowEvent.CodeIssued({ code, session: Engine.toSession(state, at) }) as Extract<
    DeviceFlowEvent,
    { _tag: "CodeIssued" }
  >

// Events show the next poll as the wall clock reads it now.
const continued = (next: Extract<Engine.Next, { readonly _tag: "Continue" }>): DeviceFlowEvent => {
  const { state, report, at } = next
  const fields = {
    attempt: state.attempt,
    nextPollAt: DateTime.unsafeMake(Time.toWall(state.nextPollAt, at, "up")),
    session: Engine.toSession(state, at)
  }
  switch (report._tag) {
    case "Pending":
      return DeviceFlowEvent.Pending({ ...fields, interval: Duration.millis(state.timing.intervalMs) })
    case "SlowedDown":
      return DeviceFlowEvent.SlowedDown({ ...fields, interval: Duration.millis(state.timing.intervalMs) })
    case "Retrying":
      return DeviceFlowEvent.Retrying({
        ...fields,
        reason: report.reason,
        status: report.status,
        consecutiveFailures: state.timing.consecutiveFailures
      })
  }
}
