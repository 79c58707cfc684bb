import { assert, describe, it } from "@effect/vitest"
import * as fc from "effect/FastCheck"
import * as DeviceSession from "./DeviceSession.js"
import * as PollSchedule from "./PollSchedule.js"

const saved = fc.record({
  intervalMs: fc.integer({ min: 1, max: 3_600_000 }),
  nextPollAt: fc.integer({ min: 0, max: 2_000_000_000_000 })
})
const now = fc.integer({ min: 0, max: 2_000_000_000_000 })

describe("DeviceSession.resumeTiming: how a saved session polls again", () => {
  it.prop("never early: not before the saved next poll, nor sooner than a full interval from now", [
    saved,
    now,
    fc.boolean()
  ], ([session, at, unobserved]) => {
    const timing = DeviceSession.resumeTiming(session, at, unobserved)
    assert.isAtLeast(timing.nextPollAt, session.nextPollAt)
    assert.isAtLeast(timing.nextPollAt - at, timing.intervalMs)
  })

  it.prop(
    "never faster: the interval is the saved one, raised by a slow_down's 5 s when a poll may have gone unseen (RFC 8628 §3.5)",
    [saved, now, fc.boolean()],
    ([session, at, unobserved]) => {
      const { intervalMs } = DeviceSession.resumeTiming(session, at, unobserved)
      const expected = PollSchedule.clampInterval(
        session.intervalMs + (unobserved ? PollSchedule.SLOW_DOWN_INCREMENT_MS : 0)
      )
      assert.strictEqual(intervalMs, expected)
      assert.isAtLeast(intervalMs, Math.min(session.intervalMs, PollSchedule.MAX_INTERVAL_MS))
    }
  )

  it("a session saved with its next poll far ahead keeps it", () => {
    const timing = DeviceSession.resumeTiming({ intervalMs: 5_000, nextPollAt: 60_000 }, 10_000, false)
    assert.deepStrictEqual(timing, { intervalMs: 5_000, nextPollAt: 60_000 })
  })

  it("a session whose next poll passed unseen waits the raised interval from now", () => {
    const timing = DeviceSession.resumeTiming({ intervalMs: 5_000, nextPollAt: 9_000 }, 10_000, true)
    assert.deepStrictEqual(timing, { intervalMs: 10_000, nextPollAt: 20_000 })
  })
})
