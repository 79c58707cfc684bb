import type * as HttpClient from "@effect/platform/HttpClient"
import { assert, describe, it } from "@effect/vitest"
import * as Clock from "effect/Clock"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import { failure, runVirtual } from "../test/virtual.js"
import type * as ClientConfig from "./ClientConfig.js"
import * as DeviceFlow from "./DeviceFlow.js"
import * as TestKit from "./TestKit.js"

/**
 * A clock whose wall time (`currentTimeMillis`, CLOCK_REALTIME) jumps by
 * `jumpMs` at virtual instant `jumpAt` while its monotonic time
 * (`currentTimeNanos`) and its sleeps are the TestClock's, untouched — what
 * NTP does to a device that booted with a wrong date. `lateMs` makes every
 * timer fire that much late (a busy or suspended machine).
 */
const jumpingClock = (
  test: TestClock.TestClock,
  options: { readonly jumpAt?: number; readonly jumpMs?: number; readonly lateMs?: number }
): Clock.Clock => {
  const wall = () => {
    const t = test.unsafeCurrentTimeMillis()
    return t >= (options.jumpAt ?? Infinity) ? t + (options.jumpMs ?? 0) : t
  }
  return {
    [Clock.ClockTypeId]: Clock.ClockTypeId,
    unsafeCurrentTimeMillis: wall,
    currentTimeMillis: Effect.sync(wall),
    unsafeCurrentTimeNanos: () => test.unsafeCurrentTimeNanos(),
    currentTimeNanos: Effect.sync(() => test.unsafeCurrentTimeNanos()),
    sleep: (duration) => test.sleep(Duration.sum(duration, Duration.millis(options.lateMs ?? 0)))
  }
}

/** Run `flow` under a jumping clock against `script`; the server records each poll's monotonic instant. */
const underClock = <A, E>(
  script: TestKit.Script,
  options: Parameters<typeof jumpingClock>[1],
  flow: (config: ClientConfig.ClientConfig) => Effect.Effect<A, E, HttpClient.HttpClient>
) =>
  Effect.gen(function*() {
    const test = yield* TestClock.testClock()
    const polledAt: Array<number> = []
    const recording: TestKit.Script = {
      ...script,
      token: (context) => {
        polledAt.push(test.unsafeCurrentTimeMillis())
        return script.token(context)
      }
    }
    const exit = yield* Effect.gen(function*() {
      const config = yield* TestKit.config()
      return yield* runVirtual(flow(config).pipe(Effect.withClock(jumpingClock(test, options))))
    }).pipe(Effect.provide(TestKit.layer(recording)))
    return { exit, polledAt }
  })

const HOUR = 3_600_000
const DAY = 24 * HOUR
const jumps = [["forward 1 hour", HOUR], ["back 1 hour", -HOUR], ["forward 30 days", 30 * DAY], [
  "back 30 days",
  -30 * DAY
]] as const

const acquire = (config: ClientConfig.ClientConfig) => DeviceFlow.acquireToken(config, {}, { onCode: () => {} })

describe("DeviceFlow under a wall clock that jumps (issue 15)", () => {
  for (const [what, jumpMs] of jumps) {
    it.effect(`wall clock ${what} while polling: the same polls at the same instants, and the server's tokens`, () =>
      Effect.gen(function*() {
        const script = TestKit.sequence([TestKit.pending(), TestKit.pending(), TestKit.tokens()])
        const { exit, polledAt } = yield* underClock(script, { jumpAt: 7_000, jumpMs }, acquire)
        assert.isTrue(Exit.isSuccess(exit), String(exit))
        assert.deepStrictEqual(polledAt, [5_000, 10_000, 15_000])
      }))

    it.effect(`wall clock ${what}: the server's expired_token and access_denied still end the flow`, () =>
      Effect.gen(function*() {
        const expired = yield* underClock(TestKit.sequence([TestKit.pending(), TestKit.expired()]), {
          jumpAt: 7_000,
          jumpMs
        }, acquire)
        const error = failure(expired.exit)
        assert.isTrue(error._tag === "DeviceCodeExpired" && error.reason === "expired_token")
        assert.deepStrictEqual(expired.polledAt, [5_000, 10_000])
        const denied = yield* underClock(TestKit.sequence([TestKit.pending(), TestKit.denied()]), {
          jumpAt: 7_000,
          jumpMs
        }, acquire)
        assert.strictEqual(failure(denied.exit)._tag, "AccessDenied")
      }))

    it.effect(`wall clock ${what}: the code's real lifetime, not the wall clock, ends a flow nobody approves`, () =>
      Effect.gen(function*() {
        const script = TestKit.sequence([TestKit.pending()], TestKit.deviceCode({ expires_in: 30 }))
        const { exit, polledAt } = yield* underClock(script, { jumpAt: 7_000, jumpMs }, acquire)
        const error = failure(exit)
        assert.isTrue(error._tag === "DeviceCodeExpired" && error.reason === "deadline")
        // every poll the code's life allows, none at or after issue time + expires_in
        assert.deepStrictEqual(polledAt, [5_000, 10_000, 15_000, 20_000, 25_000])
        // shown as the (jumped) wall clock reads it
        assert.strictEqual(error._tag === "DeviceCodeExpired" ? error.expiredAt : 0, 30_000 + jumpMs)
      }))
  }

  it.effect("events show the next poll and the session's expiry as the wall clock reads them now", () =>
    Effect.gen(function*() {
      const script = TestKit.sequence([TestKit.pending(), TestKit.pending(), TestKit.tokens()])
      const { exit } = yield* underClock(
        script,
        { jumpAt: 7_000, jumpMs: HOUR },
        (config) => Stream.runCollect(DeviceFlow.events(config)).pipe(Effect.map((chunk) => [...chunk]))
      )
      assert.isTrue(Exit.isSuccess(exit))
      const events = Exit.isSuccess(exit) ? exit.value : []
      const [issued, first, second] = events
      assert.strictEqual(issued?._tag, "CodeIssued")
      assert.strictEqual(issued?._tag === "CodeIssued" ? issued.session.expiresOn : 0, 900_000)
      // the first answer came before the jump, the second after it
      assert.strictEqual(first?._tag === "Pending" ? DateTime.toEpochMillis(first.nextPollAt) : 0, 10_000)
      assert.strictEqual(second?._tag === "Pending" ? DateTime.toEpochMillis(second.nextPollAt) : 0, 15_000 + HOUR)
      assert.strictEqual(second?._tag === "Pending" ? second.session.expiresOn : 0, 900_000 + HOUR)
    }))

  it.effect("a resumed session converts its stored deadline once: a jump after resuming changes nothing", () =>
    Effect.gen(function*() {
      // process 1 saves the session after its first poll
      const saved = yield* Effect.gen(function*() {
        const config = yield* TestKit.config()
        const exit = yield* runVirtual(
          DeviceFlow.events(config).pipe(Stream.takeUntil((e) => e._tag === "Pending"), Stream.runLast)
        )
        return Exit.isSuccess(exit) && exit.value._tag === "Some" && exit.value.value._tag === "Pending"
          ? exit.value.value.session
          : undefined
      }).pipe(
        Effect.provide(TestKit.layer(TestKit.sequence([TestKit.pending()], TestKit.deviceCode({ expires_in: 60 }))))
      )
      assert.isDefined(saved)
      // process 2 resumes it; two seconds later its wall clock jumps back a day
      const resumedAt = yield* TestClock.currentTimeMillis
      const { exit, polledAt } = yield* underClock(
        TestKit.sequence([TestKit.pending()]),
        { jumpAt: resumedAt + 2_000, jumpMs: -DAY },
        (config) => DeviceFlow.resume(config, saved!)
      )
      const error = failure(exit)
      assert.isTrue(error._tag === "DeviceCodeExpired" && error.reason === "deadline")
      // a poll every 5 s until the code's 60 s are over: not a day more
      const expected: Array<number> = []
      for (let t = resumedAt + 5_000; t < 60_000; t += 5_000) expected.push(t)
      assert.isAbove(expected.length, 3)
      assert.deepStrictEqual(polledAt, expected)
    }))

  it.effect("a timer that fires late never sends a poll at or after the code's end", () =>
    Effect.gen(function*() {
      // every sleep ends 40 s late: the first poll, due at 5 s, wakes at 45 s, past the 30 s life
      const script = TestKit.sequence([TestKit.tokens()], TestKit.deviceCode({ expires_in: 30 }))
      const { exit, polledAt } = yield* underClock(script, { lateMs: 40_000 }, acquire)
      const error = failure(exit)
      assert.isTrue(error._tag === "DeviceCodeExpired" && error.reason === "deadline")
      assert.deepStrictEqual(polledAt, [])
    }))
})

describe("id_token timestamps and the local clock (issue 15)", () => {
  for (const [what, shiftMs] of [["30 days behind", -30 * DAY], ["30 days ahead", 30 * DAY]] as const) {
    it.effect(`an id_token whose iat/exp are ${what} of the local clock does not fail the sign-in; its claims are kept`, () =>
      Effect.gen(function*() {
        const iat = Math.floor(shiftMs / 1000)
        const idToken = TestKit.idToken({
          iss: TestKit.ISSUER,
          sub: "user-1",
          aud: TestKit.CLIENT_ID,
          iat,
          exp: iat + 3600
        })
        const { exit } = yield* underClock(TestKit.sequence([TestKit.tokens({ id_token: idToken })]), {}, acquire)
        assert.isTrue(Exit.isSuccess(exit), String(exit))
        const claims = Exit.isSuccess(exit) ? exit.value.idTokenClaims : undefined
        assert.strictEqual(claims?._tag === "Some" ? claims.value.sub : undefined, "user-1")
      }))
  }
})

describe("Retry-After as an HTTP date under a jumped clock", () => {
  for (const [what, jumpMs] of jumps) {
    it.effect(`wall clock ${what}: the date counts from the answer's own Date header (the server's clock)`, () =>
      Effect.gen(function*() {
        // the server's clock is right: at the first poll (t = 5 s) it says "come back at 25 s"
        const script = TestKit.sequence([
          TestKit.text("", "text/plain", {
            status: 503,
            headers: { date: new Date(5_000).toUTCString(), "retry-after": new Date(25_000).toUTCString() }
          }),
          TestKit.tokens()
        ])
        const { exit, polledAt } = yield* underClock(script, { jumpAt: 1_000, jumpMs }, acquire)
        assert.isTrue(Exit.isSuccess(exit), String(exit))
        assert.deepStrictEqual(polledAt, [5_000, 25_000])
      }))
  }
})
