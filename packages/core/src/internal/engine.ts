import type * as HttpClient from "@effect/platform/HttpClient"
import type * as Clock from "effect/Clock"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type * as Redacted from "effect/Redacted"
import type { ClientConfig } from "../ClientConfig.js"
import * as DeviceAuthorization from "../DeviceAuthorization.js"
import {
  AccessDenied,
  DeviceCodeExpired,
  type DeviceFlowError,
  DpopProofRejected,
  InvalidConfiguration,
  type InvalidResponse,
  OAuthError,
  TransportError
} from "../DeviceFlowError.js"
import { DeviceSession, resumeTiming } from "../DeviceSession.js"
import * as DeviceTokenRequest from "../DeviceTokenRequest.js"
import * as PollSchedule from "../PollSchedule.js"
import { sanitize } from "../ServerText.js"
import type * as TokenResponse from "../TokenResponse.js"
import { oauthFields } from "./errors.js"
import type { Answer } from "./oauthAnswer.js"
import { isUnavailable } from "./oauthCodes.js"
import { clip } from "./text.js"
import { fromWall, type Instant, monotonicMillis, toWall } from "./time.js"

/**
 * The device flow engine: one state, one pure transition, one step.
 *
 * After the code is issued the flow is a {@link Polling} state. {@link step}
 * waits until the state's `nextPollAt`, sends one poll and hands the answer
 * to {@link transition}, which says what happens next: continue at instant T
 * with this state, done with tokens, or failed with a typed error. Every
 * instant is milliseconds on the monotonic clock (internal/time.ts) and the
 * interval is milliseconds from the wire to the sleep. {@link retryable} is
 * the one place that decides which answers mean "the server is in trouble,
 * try again later".
 *
 * A waiting flow holds its state, one pending timer and three `flatMap`
 * frames: no generator frames, no Stream, no wrapper around the whole flow
 * (each would hold its frames for the flow's whole life), and no fiber per
 * poll: the request's deadline and body limit (RequestLimits) are set around
 * each request and enforced by the HTTP client when it can.
 * @internal
 */

/**
 * What does not change between polls.
 * @internal
 */
export interface Flow {
  readonly config: ClientConfig
  readonly policy: PollSchedule.Policy
  readonly timeoutMs: number
  readonly clock: Clock.Clock
  /** how a poll and a code request run: {@link plain}, or traced (internal/engineTracing.ts) */
  readonly ops: Ops
}

/**
 * The two effects of a flow that talk to the server. A decorator (tracing)
 * wraps them whole, so the grant itself has no tracing branches.
 * @internal
 */
export interface Ops {
  /** send one poll now and decide what happens next */
  readonly poll: (flow: Flow, state: Polling) => Effect.Effect<Next, never, HttpClient.HttpClient>
  readonly requestCode: (
    flow: Flow,
    scopes: ReadonlyArray<string>,
    extraParams: Readonly<Record<string, string>> | undefined,
    tokenParams: Readonly<Record<string, string>>
  ) => Effect.Effect<
    readonly [Polling, DeviceAuthorization.DeviceCode, Instant],
    DeviceFlowError,
    HttpClient.HttpClient
  >
}

/**
 * What the flow knows while it polls. `timing.deadline` and `nextPollAt` are
 * monotonic instants: a wall clock that jumps neither ends nor stalls the
 * flow. `issuedAt` is the wall-clock instant the code was requested, kept for
 * the saved session.
 * @internal
 */
export interface Polling {
  readonly _tag: "Polling"
  readonly clientId: string
  readonly tokenEndpoint: string
  readonly deviceCode: Redacted.Redacted<string>
  readonly userCode: string
  readonly verificationUri: string
  readonly verificationUriComplete: string | undefined
  readonly issuedAt: number
  readonly scopes: ReadonlyArray<string>
  readonly tokenParams: Readonly<Record<string, string>>
  readonly timing: PollSchedule.Timing
  /** polls sent so far */
  readonly attempt: number
  readonly nextPollAt: number
}

/**
 * A flow before its code is requested: what the request asks for, checked.
 * @internal
 */
export interface Start {
  readonly _tag: "Start"
  readonly scopes: ReadonlyArray<string>
  readonly extraParams: Readonly<Record<string, string>> | undefined
  readonly tokenParams: Readonly<Record<string, string>>
}

/**
 * A flow that cannot go on: a saved session that is unusable, a code that expired before its first poll.
 * @internal
 */
export interface Failed {
  readonly _tag: "Failed"
  readonly error: DeviceFlowError
  /** the answer that decided it, when an answer did */
  readonly reply?: Reply | undefined
}

/**
 * What happens after a poll.
 * @internal
 */
export type Next =
  /** poll again at `state.nextPollAt`; `report` says why, `at` is when the answer ended */
  | {
    readonly _tag: "Continue"
    readonly state: Polling
    readonly report: Report
    readonly at: Instant
    /** the answer that decided it, for a decorator (tracing) to describe */
    readonly reply: Reply
  }
  | { readonly _tag: "Done"; readonly result: TokenResponse.AuthenticationResult }
  | Failed

/**
 * Why the flow polls again.
 * @internal
 */
export type Report =
  | { readonly _tag: "Pending" }
  | { readonly _tag: "SlowedDown" }
  | { readonly _tag: "Retrying"; readonly reason: string; readonly status: number | undefined }

/**
 * An answer that carries no tokens: an OAuth error, a server that cannot
 * answer now, or no answer at all.
 * @internal
 */
export type Reply = Exclude<Answer, { readonly _tag: "Success" }> | TransportError

/**
 * Whatever one poll came back with: the answer as read
 * (internal/oauthAnswer.ts), or no usable answer.
 * @internal
 */
export type Polled = Answer | TransportError | InvalidResponse

const PENDING: Report = { _tag: "Pending" }
const SLOWED_DOWN: Report = { _tag: "SlowedDown" }

const failed = (error: DeviceFlowError, reply?: Reply): Failed =>
  reply === undefined ? { _tag: "Failed", error } : { _tag: "Failed", error, reply }

/** @internal */
export const isFailed = (state: Polling | Failed): state is Failed => state._tag === "Failed"

/**
 * The one decision on what is retryable: no answer, HTTP 429 or 5xx without
 * an OAuth error, the OAuth words for a server in trouble (RFC 6749 §4.1.2.1
 * server_error, temporarily_unavailable), and a gateway's or rate limiter's
 * own word with a 429 or 5xx (oauthCodes.isUnavailable). A code the protocol
 * defines keeps its meaning whatever the status: an access_denied with HTTP
 * 500 is still a denial.
 * @internal
 */
export const retryable = (reply: Reply): boolean => reply._tag !== "ErrorBody" || retryableError(reply)

const retryableError = (reply: ErrorBody): boolean =>
  reply.body.error === "temporarily_unavailable" || reply.body.error === "server_error" ||
  isUnavailable(reply.status, reply.body.error)

type ErrorBody = Extract<Reply, { readonly _tag: "ErrorBody" }>

/**
 * The state right after the device authorization answer: the first poll is
 * one interval after the answer ended.
 * @internal
 */
export const start = (
  config: ClientConfig,
  code: DeviceAuthorization.DeviceCode,
  tokenParams: Readonly<Record<string, string>>,
  /** monotonic ms: when the device authorization request was sent */
  sentAt: number,
  answeredAt: Instant
): Polling | Failed => {
  const issuedAt = DateTime.toEpochMillis(code.issuedAt)
  // RFC 8628 §3.2 expires_in counts from the request, on the monotonic clock
  const timing = PollSchedule.initial({
    intervalMs: Duration.toMillis(code.interval),
    deadline: sentAt + (DateTime.toEpochMillis(code.expiresOn) - issuedAt)
  })
  const decision = PollSchedule.first(timing, answeredAt.mono)
  if (decision._tag !== "PollAt") return failed(deadlineError(config.endpoints.token, decision, answeredAt))
  return {
    _tag: "Polling",
    clientId: config.clientId,
    tokenEndpoint: config.endpoints.token,
    deviceCode: code.deviceCode,
    userCode: code.userCode,
    verificationUri: code.verificationUri,
    verificationUriComplete: code.verificationUriComplete,
    issuedAt,
    scopes: code.scopes,
    tokenParams,
    timing,
    attempt: 0,
    nextPollAt: decision.at
  }
}

/**
 * The pure transition after a poll: given the flow, the state that sent it,
 * what came back, when the request was sent (wall clock, for the tokens'
 * expiry) and when the answer ended, what happens next.
 * @internal
 */
export const transition = (
  flow: Pick<Flow, "config" | "policy">,
  state: Polling,
  polled: Polled,
  sentAt: number,
  at: Instant
): Next => {
  switch (polled._tag) {
    case "Success":
      return Either.match(DeviceTokenRequest.process(flow.config, state, DateTime.unsafeMake(sentAt), polled), {
        onLeft: (error): Next => failed(error),
        onRight: (result): Next => ({ _tag: "Done", result })
      })
    case "InvalidResponse":
      return failed(polled)
    default:
      return decide(state, polled, at, flow.policy)
  }
}

// An answer without tokens: poll again (when, says PollSchedule), or stop with a typed error.
const decide = (state: Polling, reply: Reply, at: Instant, policy: PollSchedule.Policy): Next => {
  const endpoint = state.tokenEndpoint
  // Server text in events is cleaned as in error messages: one line, clipped (secrets were blanked when it was read).
  const said = (text: string) => clip(sanitize(text), 300)
  const wait = (outcome: PollSchedule.Outcome, report: Report, giveUp: () => DeviceFlowError): Next => {
    const decision = PollSchedule.next(state.timing, outcome, at.mono, policy)
    switch (decision._tag) {
      case "PollAt":
        return {
          _tag: "Continue",
          state: { ...state, attempt: state.attempt + 1, timing: decision.timing, nextPollAt: decision.at },
          report,
          at,
          reply
        }
      case "DeadlineReached":
        return failed(deadlineError(endpoint, decision, at), reply)
      case "TooManyFailures":
        return failed(giveUp(), reply)
    }
  }
  const { retryAfterMs } = reply
  const protocol = reply._tag === "ErrorBody" && !retryableError(reply) ? reply : undefined
  if (protocol === undefined) {
    switch (reply._tag) {
      case "TransportError":
        return wait({ _tag: "Failure", retryAfterMs }, {
          _tag: "Retrying",
          reason: said(reply.reason),
          status: undefined
        }, () => reply)
      case "Unavailable": {
        const reason = `the server answered HTTP ${reply.status}`
        // a bare 429 asks the same as slow_down
        return reply.status === 429
          ? wait(
            { _tag: "RateLimited", retryAfterMs },
            SLOWED_DOWN,
            () => new TransportError({ endpoint, status: 429, reason })
          )
          : wait(
            { _tag: "Failure", retryAfterMs },
            { _tag: "Retrying", reason, status: reply.status },
            () =>
              new TransportError({
                endpoint,
                status: reply.status,
                reason: `${reason} ${policy.maxConsecutiveFailures} times in a row`
              })
          )
      }
      case "ErrorBody":
        // a 429 is rate limiting whatever word comes with it: it asks the same as slow_down
        if (reply.status === 429) {
          return wait(
            { _tag: "RateLimited", retryAfterMs },
            SLOWED_DOWN,
            () => new OAuthError(oauthFields(endpoint, reply.status, reply.body))
          )
        }
        return wait(
          { _tag: "Failure", retryAfterMs },
          { _tag: "Retrying", reason: `the server answered ${said(reply.body.error)}`, status: reply.status },
          () => new OAuthError(oauthFields(endpoint, reply.status, reply.body))
        )
    }
  }
  // an OAuth error the protocol gives a meaning to
  const { body, status } = protocol
  const fields = () => oauthFields(endpoint, status, body)
  switch (body.error) {
    // RFC 8628 §3.5 authorization_pending: keep polling at the interval
    case "authorization_pending":
      return wait({ _tag: "Pending", retryAfterMs }, PENDING, () => new OAuthError(fields()))
    // RFC 8628 §3.5 slow_down: the interval grows by 5 s (or to the server's, GitHub)
    case "slow_down":
      return wait(
        { _tag: "SlowDown", serverIntervalMs: body.intervalMs, retryAfterMs },
        SLOWED_DOWN,
        () => new OAuthError(fields())
      )
    // RFC 8628 §3.5 access_denied and expired_token end the flow;
    // authorization_declined is Entra's name for access_denied (Microsoft identity platform docs)
    case "access_denied":
    case "authorization_declined":
      return failed(new AccessDenied(fields()), reply)
    case "expired_token": {
      const description = fields().errorDescription
      return failed(
        new DeviceCodeExpired({
          reason: "expired_token",
          expiredAt: at.wall,
          endpoint,
          status,
          ...(description === undefined ? {} : { errorDescription: description })
        }),
        reply
      )
    }
    // RFC 9449 §5.2: the server refused the proof; its hint is the description
    case "invalid_dpop_proof":
      return failed(new DpopProofRejected(fields()), reply)
    default:
      return failed(new OAuthError(fields()), reply)
  }
}

/** @internal */
export const deadlineError = (
  endpoint: string,
  decision: { readonly timing: PollSchedule.Timing; readonly retryAfterMs?: number | undefined },
  at: Instant
) =>
  new DeviceCodeExpired({
    reason: "deadline",
    expiredAt: toWall(decision.timing.deadline, at, "down"),
    endpoint,
    ...(decision.retryAfterMs === undefined ? {} : { retryAfterMs: decision.retryAfterMs })
  })

const instant = (clock: Clock.Clock): Instant => ({
  mono: monotonicMillis(clock),
  wall: clock.unsafeCurrentTimeMillis()
})

/**
 * Never early: the poll waits until the instant the schedule allowed, on the
 * monotonic clock. Node's timers count from the event loop's cached time,
 * which lags the clock when the loop is busy, so a timer can fire a few ms
 * before that instant (docs/benchmarks.md, B3): it sleeps the rest then.
 * The wait is computed when the step is built (right after the previous
 * answer), so a waiting flow holds one frame and its timer, nothing more.
 * @internal
 */
const waitThen = <A, E, R>(
  clock: Clock.Clock,
  at: number,
  then: (now: number) => Effect.Effect<A, E, R>
): Effect.Effect<A, E, R> => {
  const now = monotonicMillis(clock)
  return now >= at
    ? then(now)
    : Effect.flatMap(clock.sleep(Duration.millis(at - now)), () => waitThen(clock, at, then))
}

/**
 * Wait for the state's next poll, send it (RFC 8628 §3.4) and say what
 * happens next. Never fails: an error ends the flow as `Failed`.
 * @internal
 */
export const step = (flow: Flow, state: Polling): Effect.Effect<Next, never, HttpClient.HttpClient> =>
  waitThen(flow.clock, state.nextPollAt, (now) => {
    // RFC 8628 §3.2 expires_in: checked right before sending too — a slow onCode or
    // a late timer must not send a poll at or after the code's end.
    if (now >= state.timing.deadline) {
      return Effect.succeed(failed(deadlineError(state.tokenEndpoint, state, instant(flow.clock))))
    }
    return flow.ops.poll(flow, state)
  })

/** @internal */
export type Continue = Extract<Next, { readonly _tag: "Continue" }>

/** @internal */
export type Done = Extract<Next, { readonly _tag: "Done" }>

/**
 * Who follows a running flow: told of the code once it is issued, then of
 * every poll that did not fail the flow. Events are built from these only
 * when someone listens (internal/deviceFlow.ts).
 * @internal
 */
export interface Listener<R> {
  readonly issued: (state: Polling, code: DeviceAuthorization.DeviceCode, at: Instant) => Effect.Effect<void, never, R>
  readonly polled: ((next: Continue | Done) => Effect.Effect<void, never, R>) | undefined
}

/**
 * The one loop that drives a flow to its result, whichever way it was
 * entered (`acquireToken`, `resume`, the event streams, the flow stores):
 * request the code when starting, then one {@link step} after another.
 * Bounded: every step sends at most one poll, and the schedule ends the flow
 * at the code's deadline or after the failure budget.
 * @internal
 */
export const run = <R>(
  flow: Flow,
  from: Start | Polling,
  listener: Listener<R> | undefined
): Effect.Effect<TokenResponse.AuthenticationResult, DeviceFlowError, HttpClient.HttpClient | R> => {
  const polled = listener?.polled
  if (from._tag === "Polling") return loop(flow, from, polled)
  return Effect.flatMap(
    flow.ops.requestCode(flow, from.scopes, from.extraParams, from.tokenParams),
    ([state, code, at]) =>
      listener === undefined
        ? loop(flow, state, polled)
        : Effect.zipRight(listener.issued(state, code, at), Effect.suspend(() => loop(flow, state, polled)))
  )
}

// Between polls a flow holds this frame, the step's and its timer's. A step measures its wait
// when it is built: after a listener ran, never before (suspend).
const loop = <R>(
  flow: Flow,
  state: Polling,
  polled: Listener<R>["polled"]
): Effect.Effect<TokenResponse.AuthenticationResult, DeviceFlowError, HttpClient.HttpClient | R> =>
  Effect.flatMap(step(flow, state), (next) => {
    switch (next._tag) {
      case "Continue":
        return polled === undefined
          ? loop(flow, next.state, polled)
          : Effect.zipRight(polled(next), Effect.suspend(() => loop(flow, next.state, polled)))
      case "Done":
        return polled === undefined ? Effect.succeed(next.result) : Effect.as(polled(next), next.result)
      case "Failed":
        return Effect.fail(next.error)
    }
  })

// RFC 8628 §3.4 one poll, through the public pair: DeviceTokenRequest.request, then transition (which calls its process).
const pollOnce = (flow: Flow, state: Polling): Effect.Effect<Next, never, HttpClient.HttpClient> => {
  const { clock } = flow
  const sentAt = clock.unsafeCurrentTimeMillis()
  const decided = (polled: Polled): Next => transition(flow, state, polled, sentAt, instant(clock))
  return Effect.match(DeviceTokenRequest.request(flow.config, state, { timeoutMs: flow.timeoutMs }), {
    onFailure: decided,
    onSuccess: decided
  })
}

// The longest Retry-After the device authorization request waits for before trying again.
const MAX_CODE_RETRY_AFTER_MS = 60_000

/**
 * RFC 8628 §3.1: request a code. A new code is harmless, so an answer that
 * is {@link retryable} is simply asked again (three tries, 1 s then 2 s
 * apart), never before the server's Retry-After (RFC 9110 §10.2.3), and not
 * at all when that is over a minute away.
 * @internal
 */
export const requestCode = (
  flow: Flow,
  scopes: ReadonlyArray<string>,
  extraParams: Readonly<Record<string, string>> | undefined,
  tokenParams: Readonly<Record<string, string>>
): Effect.Effect<
  readonly [Polling, DeviceAuthorization.DeviceCode, Instant],
  DeviceFlowError,
  HttpClient.HttpClient
> => {
  const { config, clock } = flow
  const endpoint = config.endpoints.deviceAuthorization
  const attempt = (
    n: number
  ): Effect.Effect<
    readonly [Polling, DeviceAuthorization.DeviceCode, Instant],
    DeviceFlowError,
    HttpClient.HttpClient
  > =>
    Effect.suspend(() => {
      // the code's life counts from the request (monotonic clock), as the server counts it
      const sentAt = monotonicMillis(clock)
      const issuedAt = DateTime.unsafeMake(clock.unsafeCurrentTimeMillis())
      const again = (reply: Reply, otherwise: Effect.Effect<never, DeviceFlowError>) => {
        const wait = Math.max(1_000 * 2 ** n, reply.retryAfterMs ?? 0)
        return n >= 2 || wait > MAX_CODE_RETRY_AFTER_MS
          ? otherwise
          : Effect.zipRight(clock.sleep(Duration.millis(wait)), attempt(n + 1))
      }
      // through the public pair: DeviceAuthorization.request, then DeviceAuthorization.process
      return Effect.matchEffect(
        DeviceAuthorization.request(config, scopes, extraParams, { timeoutMs: flow.timeoutMs }),
        {
          onFailure: (
            error
          ) => (error._tag === "TransportError" ? again(error, Effect.fail(error)) : Effect.fail(error)),
          onSuccess: (answer) => {
            // the first poll's interval counts from the end of the answer, not from after its checks
            const at = instant(clock)
            const code = DeviceAuthorization.process(config, scopes, issuedAt, endpoint, answer)
            if (Either.isLeft(code)) {
              return answer._tag !== "Success" && retryable(answer)
                ? again(answer, Effect.fail(code.left))
                : Effect.fail(code.left)
            }
            const state = start(config, code.right, tokenParams, sentAt, at)
            return isFailed(state) ? Effect.fail(state.error) : Effect.succeed([state, code.right, at] as const)
          }
        }
      )
    })
  return attempt(0)
}

/**
 * The flow's server calls as they are, untraced.
 * @internal
 */
export const plain: Ops = { poll: pollOnce, requestCode }

/**
 * The state as a saved session: monotonic instants become wall-clock ones
 * as the wall clock reads now, for another process to read. Every field
 * comes from decoded, checked input, so the constructor's validation is
 * skipped (it cost about 3 % of a flow's CPU when run per poll).
 * @internal
 */
export const toSession = (state: Polling, at: Instant): DeviceSession =>
  new DeviceSession({
    version: 1,
    clientId: state.clientId,
    tokenEndpoint: state.tokenEndpoint,
    deviceCode: state.deviceCode,
    userCode: state.userCode,
    verificationUri: state.verificationUri,
    ...(state.verificationUriComplete === undefined ? {} : { verificationUriComplete: state.verificationUriComplete }),
    issuedAt: state.issuedAt,
    expiresOn: toWall(state.timing.deadline, at, "down"),
    intervalMs: state.timing.intervalMs,
    nextPollAt: toWall(state.nextPollAt, at, "up"),
    scopes: state.scopes,
    tokenParams: state.tokenParams
  }, true)

/**
 * A saved session as a polling state. Its wall-clock deadline and next poll
 * are converted to monotonic instants once, here; the interval keeps the
 * 1 s floor; a number that is not finite is refused rather than polled on.
 * @internal
 */
export const fromSession = (
  session: DeviceSession,
  at: Instant,
  unobservedPoll = false
): Polling | Failed => {
  for (const field of ["issuedAt", "expiresOn", "intervalMs", "nextPollAt"] as const) {
    if (!Number.isFinite(session[field])) {
      return failed(new InvalidConfiguration({ field: `session.${field}`, reason: "is not a finite number" }))
    }
  }
  const resumed = resumeTiming(session, at.wall, unobservedPoll)
  const timing = PollSchedule.initial({ intervalMs: resumed.intervalMs, deadline: fromWall(session.expiresOn, at) })
  const nextPollAt = fromWall(resumed.nextPollAt, at)
  if (nextPollAt >= timing.deadline) return failed(deadlineError(session.tokenEndpoint, { timing }, at))
  return {
    _tag: "Polling",
    clientId: session.clientId,
    tokenEndpoint: session.tokenEndpoint,
    deviceCode: session.deviceCode,
    userCode: session.userCode,
    verificationUri: session.verificationUri,
    verificationUriComplete: session.verificationUriComplete,
    issuedAt: session.issuedAt,
    scopes: session.scopes,
    tokenParams: session.tokenParams,
    timing,
    attempt: 0,
    nextPollAt
  }
}
