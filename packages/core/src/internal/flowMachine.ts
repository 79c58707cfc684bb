import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Redacted from "effect/Redacted"
import type { ClientConfig } from "../ClientConfig.js"
import type { DeviceCode } from "../DeviceAuthorization.js"
import {
  AccessDenied,
  DeviceCodeExpired,
  type DeviceFlowError,
  type InvalidResponse,
  InvalidConfiguration,
  OAuthError,
  TransportError
} from "../DeviceFlowError.js"
import { DeviceSession } from "../DeviceSession.js"
import * as PollSchedule from "../PollSchedule.js"
import type { AuthenticationResult } from "../TokenResponse.js"
import { oauthFields, scrub } from "./errors.js"
import { PROTOCOL_CODES } from "./oauthCodes.js"
import type { OAuthErrorBody } from "./oauthHttp.js"
import { clip, oneLine } from "./text.js"
import { fromWall, type Instant, toWall } from "./time.js"

/**
 * What the flow knows while it polls: the code, its scopes and token
 * parameters, and the schedule's memory. `timing.deadline` and `nextPollAt`
 * are monotonic-clock instants (internal/time.ts): a wall clock that jumps
 * neither ends nor stalls the flow. `issuedAt` is the wall-clock instant the
 * code was requested, kept for the saved session.
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
 * The explicit states of the flow after the code is issued: `Polling` waits
 * and polls; the two ends carry the result or the typed error.
 * @internal
 */
export type FlowState =
  | Polling
  | { readonly _tag: "Succeeded"; readonly result: AuthenticationResult }
  | { readonly _tag: "Failed"; readonly error: DeviceFlowError }

/**
 * One token request's answer, classified.
 * @internal
 */
export type PollAnswer =
  | { readonly _tag: "Tokens"; readonly result: AuthenticationResult }
  | {
    readonly _tag: "ErrorBody"
    readonly status: number
    readonly body: OAuthErrorBody
    readonly retryAfterMs: number | undefined
  }
  | { readonly _tag: "Unavailable"; readonly status: number; readonly retryAfterMs: number | undefined }
  | { readonly _tag: "NoAnswer"; readonly error: TransportError }
  | { readonly _tag: "Invalid"; readonly error: InvalidResponse }

/**
 * Events the flow reports; mirrors the public `DeviceFlowEvent`.
 * @internal
 */
export type MachineEvent =
  | { readonly _tag: "Pending"; readonly state: Polling }
  | { readonly _tag: "SlowedDown"; readonly state: Polling }
  | { readonly _tag: "Retrying"; readonly state: Polling; readonly reason: string; readonly status: number | undefined }
  | { readonly _tag: "Succeeded"; readonly result: AuthenticationResult }

/** @internal */
export const startPolling = (
  config: ClientConfig,
  code: DeviceCode,
  tokenParams: Readonly<Record<string, string>>,
  /** monotonic ms: when the device authorization request was sent, and when its answer ended */
  sentAt: number,
  answeredAt: Instant
): Polling | { readonly _tag: "Failed"; readonly error: DeviceFlowError } => {
  const issuedAt = DateTime.toEpochMillis(code.issuedAt)
  // RFC 8628 §3.2 expires_in counts from the request, on the monotonic clock
  const timing = PollSchedule.initial({
    intervalSeconds: Duration.toSeconds(code.interval),
    issuedAt: sentAt,
    expiresInSeconds: (DateTime.toEpochMillis(code.expiresOn) - issuedAt) / 1000
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
 * The pure transition after one poll: given the state that sent it, the
 * answer and when the answer ended, the next state and what to report.
 * @internal
 */
export const transition = (
  state: Polling,
  answer: PollAnswer,
  answeredAt: Instant,
  policy: PollSchedule.Policy,
  /** besides the device code, secrets the request carried (the client secret), blanked out of the server's text */
  requestSecrets: ReadonlyArray<string> = []
): { readonly next: FlowState; readonly event: MachineEvent | undefined } => {
  const endpoint = state.tokenEndpoint
  const polled = { ...state, attempt: state.attempt + 1 }
  const schedule = (
    outcome: PollSchedule.Outcome,
    report: (s: Polling) => MachineEvent,
    onGiveUp: () => DeviceFlowError
  ) => {
    const decision = PollSchedule.next(state.timing, outcome, answeredAt.mono, policy)
    switch (decision._tag) {
      case "PollAt": {
        const next: Polling = { ...polled, timing: decision.timing, nextPollAt: decision.at }
        return { next, event: report(next) }
      }
      case "DeadlineReached":
        return { next: failed(deadlineError(endpoint, decision, answeredAt)), event: undefined }
      case "TooManyFailures":
        return { next: failed(onGiveUp()), event: undefined }
    }
  }
  const secrets = [Redacted.value(state.deviceCode), ...requestSecrets]
  // Server text in events is cleaned as in error messages: one line, clipped, secrets blanked.
  const said = (text: string) => clip(oneLine(scrub(text, secrets)), 300)
  switch (answer._tag) {
    case "Tokens":
      return { next: { _tag: "Succeeded", result: answer.result }, event: { _tag: "Succeeded", result: answer.result } }
    case "Invalid":
      return { next: failed(answer.error), event: undefined }
    case "NoAnswer":
      return schedule(
        { _tag: "Failure" },
        (s) => ({ _tag: "Retrying", state: s, reason: said(answer.error.reason), status: undefined }),
        () => answer.error
      )
    case "Unavailable": {
      const reason = `the server answered HTTP ${answer.status}`
      return schedule(
        answer.status === 429
          ? { _tag: "RateLimited", retryAfterMs: answer.retryAfterMs }
          : { _tag: "Failure", retryAfterMs: answer.retryAfterMs },
        (s) =>
          answer.status === 429
            ? { _tag: "SlowedDown", state: s }
            : { _tag: "Retrying", state: s, reason, status: answer.status },
        () => new TransportError({ endpoint, status: answer.status, reason: `${reason} ${policy.maxConsecutiveFailures} times in a row` })
      )
    }
    case "ErrorBody": {
      const body = answer.body
      const fields = oauthFields(endpoint, answer.status, body, secrets)
      // A server that is down may say so in OAuth words (RFC 6749 §4.1.2.1 server_error,
      // temporarily_unavailable), and a gateway in front of it may put any word of its own
      // in a 5xx body: retry those. A code the protocol defines keeps its meaning whatever
      // the status (an access_denied with HTTP 500 is still a denial).
      if (
        body.error === "temporarily_unavailable" || body.error === "server_error" ||
        (answer.status >= 500 && !PROTOCOL_CODES.has(body.error))
      ) {
        return schedule(
          { _tag: "Failure", retryAfterMs: answer.retryAfterMs },
          (s) => ({ _tag: "Retrying", state: s, reason: `the server answered ${said(body.error)}`, status: answer.status }),
          () => new OAuthError(fields)
        )
      }
      switch (body.error) {
        // RFC 8628 §3.5 authorization_pending: keep polling at the interval
        case "authorization_pending":
          return schedule(
            { _tag: "Pending", retryAfterMs: answer.retryAfterMs },
            (s) => ({ _tag: "Pending", state: s }),
            () => new OAuthError(fields)
          )
        case "slow_down":
          return schedule(
            { _tag: "SlowDown", serverIntervalSeconds: body.interval, retryAfterMs: answer.retryAfterMs },
            (s) => ({ _tag: "SlowedDown", state: s }),
            () => new OAuthError(fields)
          )
        // RFC 8628 §3.5 access_denied and expired_token end the flow;
        // authorization_declined is Entra's name for access_denied (Microsoft identity platform docs)
        case "access_denied":
        case "authorization_declined":
          return { next: failed(new AccessDenied(fields)), event: undefined }
        case "expired_token":
          return {
            next: failed(
              new DeviceCodeExpired({
                reason: "expired_token",
                expiredAt: answeredAt.wall,
                endpoint,
                status: answer.status,
                ...(fields.errorDescription === undefined ? {} : { errorDescription: fields.errorDescription })
              })
            ),
            event: undefined
          }
        default:
          return { next: failed(new OAuthError(fields)), event: undefined }
      }
    }
  }
}

const failed = (error: DeviceFlowError) => ({ _tag: "Failed", error }) as const

/** @internal */
export const deadlineError = (
  endpoint: string,
  decision: { readonly timing: PollSchedule.Timing; readonly retryAfterMs?: number | undefined },
  at: Instant
) =>
  new DeviceCodeExpired({
    reason: "deadline",
    expiredAt: toWall(decision.timing.deadline, at),
    endpoint,
    ...(decision.retryAfterMs === undefined ? {} : { retryAfterMs: decision.retryAfterMs })
  })

/**
 * The state as a saved session: monotonic instants become wall-clock ones
 * as the wall clock reads now, for another process to read.
 *
 * Every field comes from a state built from decoded, checked input, so the
 * constructor's validation is skipped: it ran on every poll's event and cost
 * about 3 % of a flow's CPU (docs/benchmarks.md, B2).
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
    expiresOn: toWall(state.timing.deadline, at),
    intervalMs: state.timing.intervalMs,
    nextPollAt: toWall(state.nextPollAt, at),
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
  at: Instant
): Polling | { readonly _tag: "Failed"; readonly error: DeviceFlowError } => {
  for (const field of ["issuedAt", "expiresOn", "intervalMs", "nextPollAt"] as const) {
    if (!Number.isFinite(session[field])) {
      return failed(new InvalidConfiguration({ field: `session.${field}`, reason: "is not a finite number" }))
    }
  }
  const intervalMs = PollSchedule.clampInterval(session.intervalMs)
  const timing: PollSchedule.Timing = { intervalMs, deadline: fromWall(session.expiresOn, at), consecutiveFailures: 0 }
  // The previous process may have polled just before it stopped, and its
  // answer is lost with it: a full interval from now can never be early.
  const nextPollAt = Math.max(fromWall(session.nextPollAt, at), at.mono + intervalMs)
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
