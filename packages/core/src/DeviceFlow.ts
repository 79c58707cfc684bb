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
import * as Data from "effect/Data"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import type { ClientConfig } from "./ClientConfig.js"
import { validateScopes } from "./ClientConfig.js"
import * as DeviceAuthorization from "./DeviceAuthorization.js"
import { type DeviceFlowError, InvalidConfiguration, TransportError } from "./DeviceFlowError.js"
import type { DeviceSession } from "./DeviceSession.js"
import * as Machine from "./internal/flowMachine.js"
import * as Telemetry from "./internal/telemetry.js"
import { postForm } from "./internal/oauthHttp.js"
import * as Time from "./internal/time.js"
import * as PollSchedule from "./PollSchedule.js"
import * as TokenResponse from "./TokenResponse.js"

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

const DEFAULT_REQUEST_TIMEOUT = Duration.seconds(30)

// The longest Retry-After the device authorization request waits for before trying again.
const MAX_CODE_RETRY_AFTER_MS = 60_000

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
  Stream.unwrap(Effect.zipWith(validateRequest(config, request), validateOptions(options), (scopes, tuning) =>
    run(config, tuning, startOf(config, request, scopes))))

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
  Effect.flatMap(Effect.zip(validateRequest(config, request), validateOptions(options)), ([scopes, tuning]) =>
    drive(config, tuning, startOf(config, request, scopes), {
      onIssued: (event) =>
        Effect.zipRight(
          Effect.suspend(() => {
            const out = options.onCode(event.code)
            return Effect.isEffect(out) ? out : Effect.void
          }),
          options.onEvent === undefined ? Effect.void : options.onEvent(event)
        ),
      onEvent: options.onEvent
    }))

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
  Stream.unwrap(Effect.map(resumeState(config, session, options), ([tuning, state]) => run(config, tuning, state)))

const resumeState = (config: ClientConfig, session: DeviceSession, options: FlowOptions) =>
  Effect.gen(function*() {
    if (session.clientId !== config.clientId) {
      return yield* new InvalidConfiguration({ field: "session.clientId", reason: "belongs to another client" })
    }
    if (session.tokenEndpoint !== config.endpoints.token) {
      return yield* new InvalidConfiguration({ field: "session.tokenEndpoint", reason: "belongs to another server" })
    }
    const tuning = yield* validateOptions(options)
    // the stored wall-clock deadline becomes a monotonic one here, once
    const state = Machine.fromSession(session, yield* Time.now)
    if (state._tag === "Failed") return yield* Effect.fail(state.error)
    return [tuning, state] as const
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
  Effect.flatMap(resumeState(config, session, options), ([tuning, state]) => drive(config, tuning, state, undefined))

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

const startOf = (
  config: ClientConfig,
  request: DeviceAuthorization.DeviceCodeRequest,
  scopes: ReadonlyArray<string>
): Start => ({
  _tag: "Start",
  scopes,
  extraParams: request.extraParams,
  tokenParams: { ...config.tokenParams, ...request.extraTokenParams }
})

const validateRequest = (config: ClientConfig, request: DeviceAuthorization.DeviceCodeRequest) =>
  request.scopes === undefined ? Effect.succeed(config.scopes) : validateScopes("scopes", request.scopes)

interface Tuning {
  readonly policy: PollSchedule.Policy
  readonly timeout: Duration.Duration
}

// Every tuning value is checked: a NaN, negative or missing one would make a poll loop without end.
const validateOptions = (options: FlowOptions): Effect.Effect<Tuning, InvalidConfiguration> =>
  Effect.suspend(() => {
    const policy: PollSchedule.Policy = { ...PollSchedule.defaultPolicy, ...options.policy }
    const invalid = (field: string, reason: string) => Effect.fail(new InvalidConfiguration({ field, reason }))
    if (typeof policy.maxBackoffMs !== "number" || !Number.isFinite(policy.maxBackoffMs) || policy.maxBackoffMs < 0) {
      return invalid("policy.maxBackoffMs", "must be a finite number of milliseconds, 0 or more")
    }
    if (!Number.isSafeInteger(policy.maxConsecutiveFailures) || policy.maxConsecutiveFailures < 1) {
      return invalid("policy.maxConsecutiveFailures", "must be a whole number, 1 or more")
    }
    const timeout = Option.filter(
      Duration.decodeUnknown(options.requestTimeout ?? DEFAULT_REQUEST_TIMEOUT),
      (d) => Duration.isFinite(d) && Duration.toMillis(d) > 0
    )
    if (Option.isNone(timeout)) return invalid("requestTimeout", "must be a finite, positive duration")
    return Effect.succeed({ policy, timeout: timeout.value })
  })

// The flow as a stream of events: the same steps as drive, each turned into its public event.
const run = (
  config: ClientConfig,
  { policy, timeout }: Tuning,
  start: Start | Machine.Polling
): Stream.Stream<DeviceFlowEvent, DeviceFlowError, HttpClient.HttpClient> => {
  type Step = Start | Machine.Polling | { readonly _tag: "Done" }
  return Stream.unfoldEffect<Step, DeviceFlowEvent, DeviceFlowError, HttpClient.HttpClient>(
    start,
    (step) => {
      switch (step._tag) {
        case "Done":
          return Effect.succeedNone
        case "Start":
          return requestCode(config, step, timeout).pipe(
            Effect.map(([state, code, at]) => Option.some([issued(state, code, at), state] as const))
          )
        case "Polling":
          return poll(config, step, timeout, policy).pipe(
            Effect.map((polled) =>
              Option.some(
                [toPublicEvent(polled.event, polled.at), polled.next._tag === "Polling" ? polled.next : Done] as const
              )
            )
          )
      }
    }
  )
}

const Done = { _tag: "Done" } as const

// Effect's default tracer records spans that nobody reads, and the HTTP client makes one per
// request: about a tenth of a flow's CPU (docs/benchmarks.md). Spans (one per device
// authorization request and per poll) are made only when the caller installed a tracer.
const spanAttributes = (config: ClientConfig, endpoint: string): Telemetry.Attributes => ({
  "devflow.endpoint.host": Telemetry.hostOf(endpoint),
  "devflow.client_id": config.clientId,
  "devflow.provider": config.preset
})

const pollOutcome = (exit: Exit.Exit<unknown, unknown>): Telemetry.Attributes => {
  if (Exit.isFailure(exit)) return Telemetry.failureOutcome(exit)
  const answer = exit.value as Machine.PollAnswer
  switch (answer._tag) {
    case "Tokens":
      return { "devflow.outcome": "tokens" }
    case "ErrorBody":
      return {
        "devflow.outcome": Telemetry.oauthCode(answer.body.error),
        "http.response.status_code": answer.status,
        "devflow.retry_after_ms": answer.retryAfterMs
      }
    case "Unavailable":
      return {
        "devflow.outcome": "unavailable",
        "http.response.status_code": answer.status,
        "devflow.retry_reason": `HTTP ${answer.status}`,
        "devflow.retry_after_ms": answer.retryAfterMs
      }
    case "NoAnswer":
      return { "devflow.outcome": "no_answer", "devflow.retry_reason": answer.error.reason.slice(0, 200) }
    case "Invalid":
      return { "devflow.outcome": "invalid_response", "devflow.field": answer.error.field }
  }
}

interface Listener<R> {
  readonly onIssued: (event: Extract<DeviceFlowEvent, { _tag: "CodeIssued" }>) => Effect.Effect<void, never, R>
  readonly onEvent: ((event: DeviceFlowEvent) => Effect.Effect<void, never, R>) | undefined
}

/**
 * The flow run to its result, without a Stream: a loop of polls. Public
 * events (and the DeviceSession each carries) are built only when someone
 * listens. Bounded: every turn sends at most one poll, and the schedule ends
 * the flow at the code's deadline or after the failure budget.
 */
const drive = <R>(
  config: ClientConfig,
  tuning: Tuning,
  start: Start | Machine.Polling,
  listener: Listener<R> | undefined
): Effect.Effect<TokenResponse.AuthenticationResult, DeviceFlowError, HttpClient.HttpClient | R> => {
  // A waiting flow holds only its state, this closure and one pending sleep: no generator
  // frames, no event values (a few KiB per flow, docs/benchmarks.md).
  const loop = (
    state: Machine.Polling
  ): Effect.Effect<TokenResponse.AuthenticationResult, DeviceFlowError, HttpClient.HttpClient | R> =>
    Effect.flatMap(poll(config, state, tuning.timeout, tuning.policy), ({ at, event, next }) => {
      const go = next._tag === "Polling" ? loop(next) : Effect.succeed(next.result)
      return listener?.onEvent === undefined ? go : Effect.zipRight(listener.onEvent(toPublicEvent(event, at)), go)
    })
  if (start._tag !== "Start") return loop(start)
  return Effect.flatMap(requestCode(config, start, tuning.timeout), ([state, code, at]) =>
    listener === undefined ? loop(state) : Effect.zipRight(listener.onIssued(issued(state, code, at)), loop(state)))
}

const requestCode = (
  config: ClientConfig,
  start: Start,
  timeout: Duration.Duration
) =>
  Effect.gen(function*() {
    const endpoint = config.endpoints.deviceAuthorization
    // the code's life counts from the request (monotonic clock), as the server counts it
    const send = Effect.zip(
      Time.monoNow,
      DeviceAuthorization.request(config, start.scopes, start.extraParams).pipe(withTimeout(endpoint, timeout))
    )
    // A new code is harmless, so a failed request is simply sent again (three tries, 1 s then 2 s apart),
    // never before the server's Retry-After (RFC 9110 §10.2.3), and not at all when that is over a minute away.
    const attempt = (
      n: number
    ): Effect.Effect<readonly [number, DeviceAuthorization.DeviceCode], DeviceFlowError, HttpClient.HttpClient> =>
      Effect.catchTag(send, "TransportError", (error) => {
        const wait = Math.max(1_000 * 2 ** n, error.retryAfterMs ?? 0)
        return n >= 2 || wait > MAX_CODE_RETRY_AFTER_MS
          ? Effect.fail(error)
          : Effect.zipRight(Effect.sleep(Duration.millis(wait)), attempt(n + 1))
      })
    const [sentAt, code] = yield* attempt(0).pipe(
      Telemetry.traced(
        "devflow.device_authorization",
        spanAttributes(config, endpoint),
        (exit) => (Exit.isSuccess(exit) ? { "devflow.outcome": "code_issued" } : Telemetry.failureOutcome(exit))
      )
    )
    const answeredAt = yield* Time.now
    const state = Machine.startPolling(config, code, start.tokenParams, sentAt, answeredAt)
    if (state._tag === "Failed") return yield* Effect.fail(state.error)
    return [state, code, answeredAt] as const
  })

const issued = (state: Machine.Polling, code: DeviceAuthorization.DeviceCode, at: Time.Instant) =>
  DeviceFlowEvent.CodeIssued({ code, session: Machine.toSession(state, at) }) as Extract<
    DeviceFlowEvent,
    { _tag: "CodeIssued" }
  >

const poll = (
  config: ClientConfig,
  state: Machine.Polling,
  timeout: Duration.Duration,
  policy: PollSchedule.Policy
) =>
  Effect.flatMap(sleepUntil(state.nextPollAt), (now) => {
    // RFC 8628 §3.2 expires_in: checked right before sending too — a slow onCode or
    // a late timer must not send a poll at or after the code's end.
    if (now >= state.timing.deadline) {
      return Effect.flatMap(Time.now, (at) => Effect.fail(Machine.deadlineError(state.tokenEndpoint, state, at)))
    }
    const traced = Telemetry.traced("devflow.poll", () => ({
      ...spanAttributes(config, state.tokenEndpoint),
      "devflow.attempt": state.attempt + 1,
      "devflow.interval_ms": state.timing.intervalMs
    }), pollOutcome)
    return Effect.flatMap(traced(sendPoll(config, state, timeout)), (answer) =>
      Effect.flatMap(Time.now, (answeredAt) => {
        // A server may echo the client secret in its error text, as it may the device code (the machine blanks both).
        const secrets = config.clientSecret === undefined ? [] : [Redacted.value(config.clientSecret)]
        const { event, next } = Machine.transition(state, answer, answeredAt, policy, secrets)
        return next._tag === "Failed" ? Effect.fail(next.error) : Effect.succeed({ event: event!, at: answeredAt, next })
      }))
  })

// Never early: sleep until the instant the schedule allowed, on the monotonic
// clock (a wall clock that jumps must neither end nor stall the flow). Node's
// timers count from the event loop's cached time, which lags the clock when the
// loop is busy, so a timer can fire a few ms before that instant (measured:
// up to 2 ms early under load, docs/benchmarks.md B3): sleep the rest then.
// Returns the monotonic time it woke at.
const sleepUntil = (at: number): Effect.Effect<number> =>
  Effect.flatMap(Time.monoNow, (now) =>
    now >= at ? Effect.succeed(now) : Effect.zipRight(Effect.sleep(Duration.millis(at - now)), sleepUntil(at)))

// RFC 8628 §3.4 device access token request
const sendPoll = (
  config: ClientConfig,
  state: Machine.Polling,
  timeout: Duration.Duration
): Effect.Effect<Machine.PollAnswer, never, HttpClient.HttpClient> =>
  Effect.gen(function*() {
    const endpoint = state.tokenEndpoint
    const sentAt = yield* DateTime.now
    const params = {
      ...state.tokenParams,
      grant_type: "urn:ietf:params:oauth:grant-type:device_code",
      device_code: Redacted.value(state.deviceCode)
    }
    const answer = yield* postForm(endpoint, params, {
      clientId: config.clientId,
      clientSecret: config.clientSecret,
      method: config.clientAuthMethod
    }, config.wire).pipe(withTimeout(endpoint, timeout))
    switch (answer._tag) {
      case "Success": {
        return yield* TokenResponse.process({ endpoint, status: answer.status }, answer.body, state.scopes, sentAt, config.scopeForm).pipe(
          Effect.map((result): Machine.PollAnswer => ({ _tag: "Tokens", result }))
        )
      }
      case "ErrorBody":
        return {
          _tag: "ErrorBody",
          status: answer.status,
          body: answer.body,
          retryAfterMs: Option.getOrUndefined(Option.map(answer.retryAfter, Duration.toMillis))
        } as const
      case "Unavailable":
        return {
          _tag: "Unavailable",
          status: answer.status,
          retryAfterMs: Option.getOrUndefined(Option.map(answer.retryAfter, Duration.toMillis))
        } as const
    }
  }).pipe(
    Effect.catchTags({
      TransportError: (error) => Effect.succeed({ _tag: "NoAnswer", error } as const),
      InvalidResponse: (error) => Effect.succeed({ _tag: "Invalid", error } as const)
    })
  )

const withTimeout = (endpoint: string, timeout: Duration.Duration) =>
<A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E | TransportError, R> =>
  Effect.timeoutFail(self, {
    duration: timeout,
    onTimeout: () => new TransportError({ endpoint, reason: `no answer within ${Duration.format(timeout)}` })
  })

// Events show the next poll as the wall clock reads it now.
const pendingFields = (state: Machine.Polling, at: Time.Instant) => ({
  attempt: state.attempt,
  nextPollAt: DateTime.unsafeMake(Time.toWall(state.nextPollAt, at)),
  interval: Duration.millis(state.timing.intervalMs),
  session: Machine.toSession(state, at)
})

const toPublicEvent = (event: Machine.MachineEvent, at: Time.Instant): DeviceFlowEvent => {
  switch (event._tag) {
    case "Succeeded":
      return DeviceFlowEvent.Succeeded({ result: event.result })
    case "Pending":
      return DeviceFlowEvent.Pending(pendingFields(event.state, at))
    case "SlowedDown":
      return DeviceFlowEvent.SlowedDown(pendingFields(event.state, at))
    case "Retrying": {
      const { attempt, nextPollAt, session } = pendingFields(event.state, at)
      return DeviceFlowEvent.Retrying({
        attempt,
        nextPollAt,
        session,
        reason: event.reason,
        status: event.status,
        consecutiveFailures: event.state.timing.consecutiveFailures
      })
    }
  }
}
