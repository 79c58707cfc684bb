/**
 * Every polling rule of the device authorization grant, as pure functions of
 * time. The flow asks {@link next} after each answer when (and whether) to
 * poll again; nothing else decides timing, so the invariants proven for these
 * functions hold for the flow.
 *
 * All times are milliseconds on one clock — the flow uses the monotonic
 * clock, so that a wall clock that jumps cannot end or stall it — and all
 * durations milliseconds.
 *
 * @since 0.1.0
 */
import { MAX_SECONDS } from "./internal/decode.js"

/**
 * RFC 8628 §3.5: "If no value is provided, clients MUST use 5 as the default."
 *
 * @since 0.1.0
 * @category constants
 */
export const DEFAULT_INTERVAL_MS = 5_000

/**
 * RFC 8628 §3.5: on slow_down "the interval MUST be increased by 5 seconds".
 *
 * @since 0.1.0
 * @category constants
 */
export const SLOW_DOWN_INCREMENT_MS = 5_000

/**
 * The floor under a server-sent interval: a server asking for sub-second
 * polling is misconfigured, and obeying it would hammer it.
 *
 * @since 0.1.0
 * @category constants
 */
export const MIN_INTERVAL_MS = 1_000

/**
 * The ceiling over a server-sent interval: ten years, the longest count of
 * seconds devflow decodes (internal/decode.ts), so no code lives long enough
 * to see it. The ceiling keeps the arithmetic finite: `1e306` seconds is
 * `Infinity` ms, and an infinite interval must mean "not before the deadline",
 * never "no interval".
 *
 * @since 0.1.0
 * @category constants
 */
export const MAX_INTERVAL_MS = MAX_SECONDS * 1000

/**
 * Defaults for {@link Policy}.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultPolicy: Policy = {
  maxBackoffMs: 30_000,
  maxConsecutiveFailures: 10
}

/**
 * What the caller may tune.
 *
 * @since 0.1.0
 * @category models
 */
export interface Policy {
  /** Cap of the exponential backoff after transport failures, so one outage does not stall the flow for minutes. Never below the interval. */
  readonly maxBackoffMs: number
  /** After this many failures in a row (transport errors, 5xx), the flow gives up with the last error. */
  readonly maxConsecutiveFailures: number
}

/**
 * The schedule's memory between two polls.
 *
 * @since 0.1.0
 * @category models
 */
export interface Timing {
  /** the current minimum spacing between the end of one answer and the next request */
  readonly intervalMs: number
  /** no request is sent at or after this instant (issue time + expires_in) */
  readonly deadline: number
  /** transport failures and 5xx answers since the last usable answer */
  readonly consecutiveFailures: number
}

/**
 * What the last poll came back with, as far as timing is concerned.
 *
 * @since 0.1.0
 * @category models
 */
export type Outcome =
  /** RFC 8628 §3.5 authorization_pending */
  | { readonly _tag: "Pending"; readonly retryAfterMs?: number | undefined }
  /** RFC 8628 §3.5 slow_down, possibly with the server's new interval (GitHub), in ms */
  | {
    readonly _tag: "SlowDown"
    readonly serverIntervalMs?: number | undefined
    readonly retryAfterMs?: number | undefined
  }
  /** HTTP 429 without an OAuth error body */
  | { readonly _tag: "RateLimited"; readonly retryAfterMs?: number | undefined }
  /** HTTP 5xx without an OAuth error body, or no answer at all */
  | { readonly _tag: "Failure"; readonly retryAfterMs?: number | undefined }

/**
 * The schedule's answer: poll again at `at`, or stop because the next poll
 * would not happen before the deadline, or give up after too many failures.
 *
 * @since 0.1.0
 * @category models
 */
export type Decision =
  | { readonly _tag: "PollAt"; readonly at: number; readonly timing: Timing }
  | {
    readonly _tag: "DeadlineReached"
    readonly timing: Timing
    /** set when the interval alone would have fitted, but the server's Retry-After (ms) reached past the deadline */
    readonly retryAfterMs?: number | undefined
  }
  | { readonly _tag: "TooManyFailures"; readonly timing: Timing }

/**
 * The timing of a flow that has not polled yet: after the device
 * authorization answer, or when a saved session resumes. The interval is
 * clamped ({@link clampInterval}; none given is the RFC 8628 §3.5 default);
 * both are milliseconds, the deadline an instant on the clock the caller
 * schedules with.
 *
 * @since 0.1.0
 * @category constructors
 */
export const initial = (options: { readonly intervalMs: number | undefined; readonly deadline: number }): Timing => ({
  intervalMs: options.intervalMs === undefined ? DEFAULT_INTERVAL_MS : clampInterval(options.intervalMs),
  deadline: options.deadline,
  consecutiveFailures: 0
})

/**
 * An interval in whole ms between {@link MIN_INTERVAL_MS} and
 * {@link MAX_INTERVAL_MS}. One that is not a positive number (NaN, zero,
 * negative) says nothing, so it is the RFC default.
 *
 * @since 0.1.0
 * @category utils
 */
export const clampInterval = (ms: number): number =>
  ms > 0 ? Math.ceil(Math.min(MAX_INTERVAL_MS, Math.max(MIN_INTERVAL_MS, ms))) : DEFAULT_INTERVAL_MS

// A slow_down's interval, capped before it is compared: one that is not a positive number asks for nothing.
const askedMs = (ms: number | undefined): number =>
  ms !== undefined && ms > 0 ? Math.ceil(Math.min(MAX_INTERVAL_MS, ms)) : 0

/**
 * When to send the first poll: one interval after the device authorization
 * answer arrived (RFC 8628 §3.4 polls "at the rate specified by interval").
 *
 * @since 0.1.0
 * @category combinators
 */
export const first = (timing: Timing, answeredAt: number): Decision => schedule(timing, answeredAt, timing.intervalMs)

/**
 * When to poll after an answer that left the flow pending. `answeredAt` is
 * the end of that answer: the interval is measured from there, never from
 * when the request was sent.
 *
 * @since 0.1.0
 * @category combinators
 */
export const next = (
  timing: Timing,
  outcome: Outcome,
  answeredAt: number,
  policy: Policy = defaultPolicy
): Decision => {
  switch (outcome._tag) {
    case "Pending": {
      const t = { ...timing, consecutiveFailures: 0 }
      return schedule(t, answeredAt, t.intervalMs, outcome.retryAfterMs)
    }
    case "SlowDown":
    case "RateLimited": {
      // RFC 8628 §3.5: slow_down adds 5 s to this and every later interval; a bare 429 means the same.
      // GitHub sends the new interval with slow_down: take it when it is larger.
      const increased = timing.intervalMs + SLOW_DOWN_INCREMENT_MS
      const serverMs = outcome._tag === "SlowDown" ? askedMs(outcome.serverIntervalMs) : 0
      const t = { ...timing, intervalMs: Math.max(increased, serverMs), consecutiveFailures: 0 }
      return schedule(t, answeredAt, t.intervalMs, outcome.retryAfterMs)
    }
    case "Failure": {
      const failures = timing.consecutiveFailures + 1
      const t = { ...timing, consecutiveFailures: failures }
      if (failures >= policy.maxConsecutiveFailures) return { _tag: "TooManyFailures", timing: t }
      // RFC 8628 §3.5: on connection timeouts clients "MUST reduce their polling frequency" — exponentially, capped.
      const backoff = Math.min(policy.maxBackoffMs, t.intervalMs * 2 ** failures)
      return schedule(t, answeredAt, Math.max(t.intervalMs, backoff), outcome.retryAfterMs)
    }
  }
}

// RFC 8628 §3.2 expires_in: no poll once the code's lifetime is over.
const schedule = (timing: Timing, from: number, waitMs: number, retryAfterMs: number | undefined = 0): Decision => {
  const at = from + Math.max(waitMs, retryAfterMs)
  if (at < timing.deadline) return { _tag: "PollAt", at, timing }
  // Say so when it is the server's Retry-After, not the code's life, that leaves no time for another poll.
  return from + waitMs < timing.deadline
    ? { _tag: "DeadlineReached", timing, retryAfterMs }
    : { _tag: "DeadlineReached", timing }
}
