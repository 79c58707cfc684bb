import { assert, describe, it } from "@effect/vitest"
import * as fc from "effect/FastCheck"
import * as PollSchedule from "./PollSchedule.js"

type Outcome = PollSchedule.Outcome

// What a server may send as an interval: sensible, huge (1e306 s is Infinity ms), not finite, negative, zero.
const serverSeconds: fc.Arbitrary<number> = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: 1, max: 120 }) },
  fc.constantFrom(1e306, Number.MAX_VALUE, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, Number.NaN, 0, -5),
  fc.double({ min: -1e308, max: 1e308 })
)

const outcome: fc.Arbitrary<Outcome> = fc.oneof(
  fc.record({ _tag: fc.constant("Pending" as const), retryAfterMs: fc.option(fc.nat(120_000), { nil: undefined }) }),
  fc.record({
    _tag: fc.constant("SlowDown" as const),
    // in ms, as the answer carries it (internal/oauthAnswer.ts)
    serverIntervalMs: fc.option(serverSeconds.map((seconds) => seconds * 1000), { nil: undefined }),
    retryAfterMs: fc.option(fc.nat(120_000), { nil: undefined })
  }),
  fc.record({
    _tag: fc.constant("RateLimited" as const),
    retryAfterMs: fc.option(fc.nat(120_000), { nil: undefined })
  }),
  fc.record({ _tag: fc.constant("Failure" as const), retryAfterMs: fc.option(fc.nat(120_000), { nil: undefined }) })
)

interface Step {
  readonly sentAt: number
  readonly answeredAt: number
  readonly intervalBefore: number
  readonly intervalAfter: number
  readonly outcome: Outcome
  readonly decision: PollSchedule.Decision
}

/**
 * Drive the schedule with a server that answers `outcomes` in order (the
 * last one forever) after `latencies`, the way DeviceFlow does: poll at the
 * decided instant, ask again when the answer has ended.
 */
const simulate = (input: {
  readonly intervalSeconds: number | undefined
  readonly expiresInSeconds: number
  readonly outcomes: ReadonlyArray<Outcome>
  readonly latencies: ReadonlyArray<number>
  readonly policy?: PollSchedule.Policy
}) => {
  const timing = PollSchedule.initial({
    intervalMs: input.intervalSeconds === undefined ? undefined : input.intervalSeconds * 1000,
    deadline: input.expiresInSeconds * 1000
  })
  const codeAnsweredAt = input.latencies[0] ?? 0
  let decision = PollSchedule.first(timing, codeAnsweredAt)
  const steps: Array<Step> = []
  // Far more than any schedule can take: if it is reached, the schedule did not terminate.
  for (let i = 0; i < 100_000 && decision._tag === "PollAt"; i++) {
    const current = decision
    const o = input.outcomes[Math.min(i, input.outcomes.length - 1)]!
    const answeredAt = current.at + (input.latencies[(i + 1) % Math.max(1, input.latencies.length)] ?? 0)
    decision = PollSchedule.next(current.timing, o, answeredAt, input.policy)
    steps.push({
      sentAt: current.at,
      answeredAt,
      intervalBefore: current.timing.intervalMs,
      intervalAfter: decision.timing.intervalMs,
      outcome: o,
      decision
    })
  }
  return { timing, codeAnsweredAt, steps, end: decision }
}

const scheduleInput = {
  intervalSeconds: fc.option(serverSeconds, { nil: undefined }),
  expiresInSeconds: fc.integer({ min: 1, max: 1_800 }),
  outcomes: fc.array(outcome, { minLength: 1, maxLength: 40 }),
  latencies: fc.array(fc.nat(10_000), { minLength: 1, maxLength: 40 })
}

describe("PollSchedule rules", () => {
  it("defaults to 5 s without an interval (RFC 8628 §3.5)", () => {
    const timing = PollSchedule.initial({ intervalMs: undefined, deadline: 600_000 })
    assert.strictEqual(timing.intervalMs, 5_000)
    assert.deepStrictEqual(PollSchedule.first(timing, 300), { _tag: "PollAt", at: 5_300, timing })
  })

  it("never polls faster than 1 s, whatever the server asks", () => {
    const timing = PollSchedule.initial({ intervalMs: 10, deadline: 600_000 })
    assert.strictEqual(timing.intervalMs, 1_000)
  })

  it("measures the interval from the end of the answer", () => {
    const timing = PollSchedule.initial({ intervalMs: 5_000, deadline: 600_000 })
    const decision = PollSchedule.next(timing, { _tag: "Pending" }, 12_345)
    assert.deepStrictEqual(decision, { _tag: "PollAt", at: 17_345, timing })
  })

  it("slow_down adds 5 s, or takes the server's interval when that is larger", () => {
    const timing = PollSchedule.initial({ intervalMs: 5_000, deadline: 600_000 })
    const plus5 = PollSchedule.next(timing, { _tag: "SlowDown" }, 0)
    assert.strictEqual(plus5.timing.intervalMs, 10_000)
    const server = PollSchedule.next(timing, { _tag: "SlowDown", serverIntervalMs: 30_000 }, 0)
    assert.strictEqual(server.timing.intervalMs, 30_000)
    const smallServer = PollSchedule.next(timing, { _tag: "SlowDown", serverIntervalMs: 2_000 }, 0)
    assert.strictEqual(smallServer.timing.intervalMs, 10_000)
  })

  it("slow_down with a huge or non-finite server interval never shortens the interval (RFC 8628 §3.5)", () => {
    const timing = PollSchedule.initial({ intervalMs: 1_000, deadline: 600_000 })
    for (const serverIntervalSeconds of [1e306, Number.MAX_VALUE, Number.POSITIVE_INFINITY]) {
      const decision = PollSchedule.next(
        timing,
        { _tag: "SlowDown", serverIntervalMs: serverIntervalSeconds * 1000 },
        1_000
      )
      assert.isAtLeast(decision.timing.intervalMs, 6_000, String(serverIntervalSeconds))
      assert.strictEqual(decision._tag, "DeadlineReached", String(serverIntervalSeconds))
    }
    for (const serverIntervalSeconds of [Number.NaN, Number.NEGATIVE_INFINITY, -30, 0]) {
      const decision = PollSchedule.next(
        timing,
        { _tag: "SlowDown", serverIntervalMs: serverIntervalSeconds * 1000 },
        1_000
      )
      assert.deepStrictEqual(decision._tag === "PollAt" && [decision.at, decision.timing.intervalMs], [7_000, 6_000])
    }
  })

  it("an advertised interval longer than the code's life leaves no poll; a nonsensical one is the 5 s default", () => {
    for (const intervalSeconds of [1e306, Number.POSITIVE_INFINITY]) {
      const timing = PollSchedule.initial({ intervalMs: intervalSeconds * 1000, deadline: 600_000 })
      assert.strictEqual(PollSchedule.first(timing, 0)._tag, "DeadlineReached", String(intervalSeconds))
    }
    for (const intervalSeconds of [Number.NaN, Number.NEGATIVE_INFINITY, -1, 0]) {
      const timing = PollSchedule.initial({ intervalMs: intervalSeconds * 1000, deadline: 600_000 })
      assert.strictEqual(timing.intervalMs, PollSchedule.DEFAULT_INTERVAL_MS, String(intervalSeconds))
    }
  })

  it("Retry-After delays the next poll but changes the interval only for 429", () => {
    const timing = PollSchedule.initial({ intervalMs: 5_000, deadline: 600_000 })
    const unavailable = PollSchedule.next(timing, { _tag: "Failure", retryAfterMs: 40_000 }, 1_000)
    assert.deepStrictEqual(unavailable._tag === "PollAt" && [unavailable.at, unavailable.timing.intervalMs], [
      41_000,
      5_000
    ])
    const limited = PollSchedule.next(timing, { _tag: "RateLimited", retryAfterMs: 40_000 }, 1_000)
    assert.deepStrictEqual(limited._tag === "PollAt" && [limited.at, limited.timing.intervalMs], [41_000, 10_000])
  })

  it("backs off exponentially after failures, capped, and gives up after the budget", () => {
    let timing = PollSchedule.initial({ intervalMs: 5_000, deadline: 3_600_000 })
    const delays: Array<number> = []
    let decision: PollSchedule.Decision = { _tag: "PollAt", at: 0, timing }
    for (let i = 0; i < 10 && decision._tag === "PollAt"; i++) {
      decision = PollSchedule.next(timing, { _tag: "Failure" }, 0)
      if (decision._tag === "PollAt") delays.push(decision.at / 1000)
      timing = decision.timing
    }
    assert.deepStrictEqual(delays, [10, 20, 30, 30, 30, 30, 30, 30, 30])
    assert.strictEqual(decision._tag, "TooManyFailures")
  })

  it("refuses a poll at or after the deadline", () => {
    const timing = PollSchedule.initial({ intervalMs: 5_000, deadline: 10_000 })
    assert.strictEqual(PollSchedule.next(timing, { _tag: "Pending" }, 4_999)._tag, "PollAt")
    assert.strictEqual(PollSchedule.next(timing, { _tag: "Pending" }, 5_000)._tag, "DeadlineReached")
  })
})

describe("PollSchedule invariants over arbitrary server behaviour", () => {
  it.prop(
    "never early: each poll waits at least the current interval after the previous answer",
    scheduleInput,
    (input) => {
      const { codeAnsweredAt, steps } = simulate(input)
      steps.forEach((step, i) => {
        const previousEnd = i === 0 ? codeAnsweredAt : steps[i - 1]!.answeredAt
        assert.isAtLeast(step.sentAt - previousEnd, step.intervalBefore)
      })
    },
    { fastCheck: { numRuns: 500 } }
  )

  it.prop("Retry-After is honoured: no poll before answer end + Retry-After", scheduleInput, (input) => {
    const { steps } = simulate(input)
    steps.forEach((step, i) => {
      const next = steps[i + 1]
      if (next !== undefined && step.outcome.retryAfterMs !== undefined) {
        assert.isAtLeast(next.sentAt - step.answeredAt, step.outcome.retryAfterMs)
      }
    })
  }, { fastCheck: { numRuns: 500 } })

  it.prop(
    "the interval never decreases, and every slow_down or 429 raises it by at least 5 s",
    scheduleInput,
    (input) => {
      const { steps } = simulate(input)
      for (const step of steps) {
        assert.isAtLeast(step.intervalAfter, step.intervalBefore)
        if (step.outcome._tag === "SlowDown" || step.outcome._tag === "RateLimited") {
          assert.isAtLeast(step.intervalAfter - step.intervalBefore, PollSchedule.SLOW_DOWN_INCREMENT_MS)
        }
      }
    },
    { fastCheck: { numRuns: 500 } }
  )

  it.prop(
    "the server's interval is honoured: no poll sooner than the interval it advertised or sent with slow_down",
    scheduleInput,
    (input) => {
      const { codeAnsweredAt, steps } = simulate(input)
      // RFC 8628 §3.5: the client waits "the number of seconds" the server asked for, however many that is
      const asked = (seconds: number | undefined) => seconds !== undefined && seconds > 0 ? seconds * 1000 : 0
      if (steps.length > 0) assert.isAtLeast(steps[0]!.sentAt - codeAnsweredAt, asked(input.intervalSeconds))
      steps.forEach((step, i) => {
        const next = steps[i + 1]
        if (next !== undefined && step.outcome._tag === "SlowDown") {
          const ms = step.outcome.serverIntervalMs
          assert.isAtLeast(next.sentAt - step.answeredAt, ms !== undefined && ms > 0 ? ms : 0)
        }
      })
    },
    { fastCheck: { numRuns: 500 } }
  )

  it.prop("no poll at or after issue time + expires_in", scheduleInput, (input) => {
    const { steps } = simulate(input)
    for (const step of steps) assert.isBelow(step.sentAt, input.expiresInSeconds * 1000)
  }, { fastCheck: { numRuns: 500 } })

  it.prop("bounded: at most expires_in / interval polls, and the schedule always ends", scheduleInput, (input) => {
    const { end, steps, timing } = simulate(input)
    assert.notStrictEqual(end._tag, "PollAt")
    assert.isAtMost(steps.length, Math.floor((input.expiresInSeconds * 1000) / timing.intervalMs) + 1)
  }, { fastCheck: { numRuns: 500 } })

  it.prop("a failure streak never waits longer than max(interval, cap, Retry-After)", scheduleInput, (input) => {
    const { steps } = simulate(input)
    steps.forEach((step, i) => {
      const next = steps[i + 1]
      if (next === undefined || step.outcome._tag !== "Failure") return
      const allowed = Math.max(
        step.intervalAfter,
        PollSchedule.defaultPolicy.maxBackoffMs,
        step.outcome.retryAfterMs ?? 0
      )
      assert.isAtMost(next.sentAt - step.answeredAt, allowed)
    })
  }, { fastCheck: { numRuns: 500 } })
})
