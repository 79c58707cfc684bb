import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"

/**
 * One instant read from both of Effect's clocks. `mono` (from
 * `currentTimeNanos`: Node's `process.hrtime`, CLOCK_MONOTONIC) drives every
 * wait — sleeps, poll instants, the code's deadline, backoff — because it never
 * jumps; `wall` (`currentTimeMillis`, CLOCK_REALTIME) may jump by hours when
 * NTP corrects a device's boot date, a laptop wakes or a VM is restored, and
 * is used only to show times and to stamp absolute times other processes read.
 * Both in milliseconds.
 * @internal
 */
export interface Instant {
  readonly mono: number
  readonly wall: number
}

/**
 * Monotonic milliseconds with their fraction: truncated to whole ms, an
 * answer read at 1000.9 ms would schedule the next poll from 1000 ms, up to
 * 1 ms early (docs/benchmarks.md, B3).
 * @internal
 */
export const monotonicMillis = (clock: Clock.Clock): number => {
  // Effect counts from the epoch: whole ms and the fraction apart, each exact in a double
  const nanos = clock.unsafeCurrentTimeNanos()
  return Number(nanos / 1_000_000n) + Number(nanos % 1_000_000n) / 1_000_000
}

/** @internal */
export const now: Effect.Effect<Instant> = Clock.clockWith((clock) =>
  Effect.sync(() => ({ mono: monotonicMillis(clock), wall: clock.unsafeCurrentTimeMillis() }))
)

/**
 * A monotonic instant as the wall clock reads it now, in whole ms: rounded
 * up for an instant not to act before (a next poll), down for a deadline.
 * @internal
 */
export const toWall = (mono: number, at: Instant, rounding: "up" | "down"): number =>
  (rounding === "up" ? Math.ceil : Math.floor)(mono - at.mono + at.wall)

/**
 * A wall-clock instant (stored by another process) as a monotonic one, converted once.
 * @internal
 */
export const fromWall = (wall: number, at: Instant): number => wall - at.wall + at.mono
