import type * as HttpClient from "@effect/platform/HttpClient"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import type { ClientConfig } from "../ClientConfig.js"
import { validateParams, validateScopes } from "../ClientConfig.js"
import type * as DeviceAuthorization from "../DeviceAuthorization.js"
import type { AcquireOptions, DeviceFlowEvent as Event, FlowOptions, ResumeOptions } from "../DeviceFlow.js"
import { type DeviceFlowError, InvalidConfiguration } from "../DeviceFlowError.js"
import { DeviceSession } from "../DeviceSession.js"
import * as Dpop from "../Dpop.js"
import * as PollSchedule from "../PollSchedule.js"
import * as RequestLimits from "../RequestLimits.js"
import type * as TokenResponse from "../TokenResponse.js"
import * as DpopCrypto from "./dpop.js"
import * as Engine from "./engine.js"
import * as EngineTracing from "./engineTracing.js"
import * as Telemetry from "./telemetry.js"
import * as Time from "./time.js"

/** @internal */
export const DeviceFlowEvent = Data.taggedEnum<Event>()

/** @internal */
export const events = (
  config: ClientConfig,
  request: DeviceAuthorization.DeviceCodeRequest = {},
  options: FlowOptions = {}
): Stream.Stream<Event, DeviceFlowError, HttpClient.HttpClient> =>
  Stream.unwrap(
    Effect.flatMap(validateRequest(config, request), (start) =>
      Effect.flatMap(flowOf(config, options), (flow) =>
        Effect.map(signing(config), (key) => stream(flow, start, key))))
  )

/** @internal */
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
        Effect.flatMap(signing(config), (key) => {
          const onEvent = options.onEvent
          return Engine.run(flow, start, {
            issued: (state, code, at) => {
              const event = issued(state, code, at, key)
              return Effect.zipRight(
                Effect.suspend(() => {
                  const out = options.onCode(event.code)
                  return Effect.isEffect(out) ? out : Effect.void
                }),
                onEvent === undefined ? Effect.void : onEvent(event)
              )
            },
            polled: onEvent === undefined ? undefined : (next) =>
              onEvent(polled(next, key))
          })
        })))
  )

/** @internal */
export const resumeEvents = (
  config: ClientConfig,
  session: DeviceSession,
  options: ResumeOptions = {}
): Stream.Stream<Event, DeviceFlowError, HttpClient.HttpClient> =>
  Stream.unwrap(
    Effect.map(resumeState(config, session, options), ([flow, state, holder]) =>
      withHolder(stream(flow, state, session.dpopKey), holder))
  )

/** @internal */
export const resume = (
  config: ClientConfig,
  session: DeviceSession,
  options: ResumeOptions = {}
): Effect.Effect<TokenResponse.AuthenticationResult, DeviceFlowError, HttpClient.HttpClient> =>
  Effect.suspend(() =>
    Effect.flatMap(resumeState(config, session, options), ([flow, state, holder]) =>
      holder === undefined
        ? Engine.run(flow, state, undefined)
        : Effect.provideService(Engine.run(flow, state, undefined), Dpop.CurrentKey, holder))
  )

/** @internal */
export const result = <E, R>(
  stream: Stream.Stream<Event, E, R>
): Effect.Effect<TokenResponse.AuthenticationResult, E, R> =>
  Stream.runLast(stream).pipe(
    Effect.flatMap((last) =>
      Option.isSome(last) && last.value._tag === "Succeeded"
        ? Effect.succeed(last.value.result)
        // events() only ends after Succeeded: anything else is a bug, not a user error
        : Effect.dieMessage("device flow ended without a result")
    )
  )

const resumeState = (config: ClientConfig, session: DeviceSession, options: ResumeOptions) =>
  Effect.gen(function*() {
    if (session.clientId !== config.clientId) {
      return yield* new InvalidConfiguration({ field: "session.clientId", reason: "belongs to another client" })
    }
    if (session.tokenEndpoint !== config.endpoints.token) {
      return yield* new InvalidConfiguration({ field: "session.tokenEndpoint", reason: "belongs to another server" })
    }
    const flow = yield* flowOf(config, options)
    // RFC 9449 §5: the tokens will be bound to the key the polls are proved with: the session's
    const holder = config.dpop === undefined || session.dpopKey === undefined
      ? undefined
      : Dpop.makeHolder(
        yield* Effect.flatten(Dpop.restore(session.dpopKey)).pipe(
          Effect.orElseFail(() =>
            new InvalidConfiguration({ field: "session.dpopKey", reason: "is not a usable DPoP key" })
          )
        )
      )
    // the stored wall-clock deadline becomes a monotonic one here, once
    const state = Engine.fromSession(session, yield* Time.now, options.unobservedPoll === true)
    if (Engine.isFailed(state)) return yield* Effect.fail(state.error)
    return [flow, state, holder] as const
  })

/**
 * With DPoP, the key the flow's polls are proved with (Dpop.CurrentKey's), as its
 * saved sessions carry it, so that a process resuming the session keeps proving
 * with it; undefined without DPoP.
 */
const signing = (config: ClientConfig): Effect.Effect<Dpop.StoredKey | undefined> =>
  config.dpop === undefined
    ? Effect.succeed(undefined)
    : Effect.flatMap(Dpop.CurrentKey, (holder) => Effect.flatMap(holder.key, DpopCrypto.toStored))

const withHolder = <A, E, R>(stream: Stream.Stream<A, E, R>, holder: Dpop.KeyHolder | undefined) =>
  holder === undefined ? stream : Stream.provideService(stream, Dpop.CurrentKey, holder)

// A request's scopes and extra parameters pass the checks the configuration's did (ClientConfig).
const validateRequest = (
  config: ClientConfig,
  request: DeviceAuthorization.DeviceCodeRequest
): Effect.Effect<Engine.Start, InvalidConfiguration> =>
  Effect.gen(function*() {
    const scopes = request.scopes === undefined ? config.scopes : yield* validateScopes("scopes", request.scopes)
    const extraParams = request.extraParams === undefined
      ? undefined
      : yield* validateParams("extraParams", request.extraParams)
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
        // tracing is a decorator chosen here, once: an untraced flow builds no span on its hot path
        ops: Telemetry.tracedBy(fiber) ? EngineTracing.ops : Engine.plain
      })
    )
  })

// The flow as a stream: the one loop (Engine.run), its listener pushing each event. The loop runs in
// the stream's scope: a consumer that stops interrupts the sleep and the request in flight at once.
const stream = (
  flow: Engine.Flow,
  from: Engine.Start | Engine.Polling,
  key: Dpop.StoredKey | undefined
): Stream.Stream<Event, DeviceFlowError, HttpClient.HttpClient> =>
  Stream.asyncPush<Event, DeviceFlowError, HttpClient.HttpClient>((emit) =>
    Effect.forkScoped(
      Effect.matchCause(
        Engine.run(flow, from, {
          issued: (state, code, at) => Effect.sync(() => emit.single(issued(state, code, at, key))),
          polled: (next) => Effect.sync(() => emit.single(polled(next, key)))
        }),
        { onFailure: (cause) => emit.halt(cause), onSuccess: () => emit.end() }
      )
    ), { bufferSize: "unbounded" })

const issued = (
  state: Engine.Polling,
  code: DeviceAuthorization.DeviceCode,
  at: Time.Instant,
  key: Dpop.StoredKey | undefined
) => DeviceFlowEvent.CodeIssued({ code, session: sessionOf(state, at, key) }) as Extract<Event, { _tag: "CodeIssued" }>

const sessionOf = (state: Engine.Polling, at: Time.Instant, key: Dpop.StoredKey | undefined): DeviceSession => {
  const session = Engine.toSession(state, at)
  return key === undefined ? session : new DeviceSession({ ...session, dpopKey: key }, true)
}

// Events show the next poll as the wall clock reads it now.
const polled = (next: Engine.Continue | Engine.Done, key: Dpop.StoredKey | undefined): Event => {
  if (next._tag === "Done") return DeviceFlowEvent.Succeeded({ result: next.result })
  const { at, report, state } = next
  const fields = {
    attempt: state.attempt,
    nextPollAt: DateTime.unsafeMake(Time.toWall(state.nextPollAt, at, "up")),
    session: sessionOf(state, at, key)
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
