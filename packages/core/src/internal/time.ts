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

/** @internal */
export const monotonicMillis = (clock: Clock.Clock): number => Number(clock.unsafeCurrentTimeNanos() / 1_000_000n)

/** @internal */
export const monoNow: Effect.Effect<number> = Clock.clockWith((clock) => Effect.sync(() => monotonicMillis(clock)))

/** @internal */
export const now: Effect.Effect<Instant> = Clock.clockWith((clock) =>
  Effect.sync(() => ({ mono: monotonicMillis(clock), wall: clock.unsafeCurrentTimeMillis() }))
)

/**
 * A monotonic instant as the wall clock reads it now.
 * @internal
 */
export const toWall = (mono: number, at: Instant): number => mono - at.mono + at.wall

/**
 * A wall-clock instant (stored by another process) as a monotonic one, converted once.
 * @internal
 */
export const fromWall = (wall: number, at: Instant): number => wall - at.wall + at.mono
