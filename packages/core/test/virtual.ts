import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as TestClock from "effect/TestClock"
import { webCryptoUsed } from "../src/internal/dpop.js"
import * as TestKit from "../src/TestKit.js"

/**
 * Run `self` to its end in virtual time: fork it, then move the TestClock to
 * each next scheduled wake-up until the fiber is done. The clock never moves
 * past the last wake-up the fiber needed, so "now" after the run is when the
 * flow really ended. Bounded: more than `limit` of virtual time, or a fiber
 * blocked on nothing the clock can release, fails the test instead of hanging it.
 */
export const runVirtual = <A, E, R>(
  self: Effect.Effect<A, E, R>,
  options: { readonly limit?: Duration.DurationInput } = {}
): Effect.Effect<Exit.Exit<A, E>, never, R> =>
  Effect.gen(function*() {
    const start = yield* TestClock.currentTimeMillis
    const limit = start + Duration.toMillis(options.limit ?? "3 hours")
    const fiber = yield* Effect.fork(self)
    let idle = 0
    let lastListed: ReadonlyArray<number> = []
    for (let step = 0; step < 100_000; step++) {
      // Real asynchronous work (Web Crypto for DPoP proofs and keys, the web streams around it)
      // must not be run past: the clock moves only once the fiber's timers and the work in flight
      // stay the same over two real ticks. Checked once Web Crypto was used, and whenever no new
      // timer appeared since the last move (at the first step too): TestClock keeps the sleeps of
      // interrupted timeouts (the code request's 20 s), and a fiber starting its first real work
      // while only such a stale sleep is listed would otherwise see the clock jump to it.
      const listed = Chunk.toReadonlyArray(yield* TestClock.sleeps())
      const fresh = listed.some((at) => !lastListed.includes(at))
      if (webCryptoUsed() || !fresh) {
        let before = ""
        for (let tick = 0; tick < 50; tick++) {
          yield* Effect.promise(() => new Promise<void>((resolve) => setTimeout(resolve, 0)))
          for (let i = 0; i < 5; i++) yield* Effect.yieldNow()
          if (webCryptoUsed()) yield* TestKit.awaitWebCrypto
          const now = Chunk.toReadonlyArray(yield* TestClock.sleeps()).join() +
            (Option.isSome(yield* Fiber.poll(fiber)) ? "done" : "")
          if (now === before) break
          before = now
        }
      }
      const done = yield* Fiber.poll(fiber)
      if (Option.isSome(done)) return done.value
      const sleeps = Chunk.toReadonlyArray(yield* TestClock.sleeps())
      if (sleeps.length === 0) {
        if (++idle > 200) break
        yield* Effect.yieldNow()
        continue
      }
      idle = 0
      const next = Math.min(...sleeps)
      if (next > limit) break
      lastListed = sleeps
      yield* TestClock.setTime(next)
    }
    yield* Fiber.interrupt(fiber)
    return yield* Effect.dieMessage("the effect did not finish: blocked, or past its virtual time limit")
  })

/** The typed failure of an exit; throws (failing the test) on success or a defect. */
export const failure = <A, E>(exit: Exit.Exit<A, E>): E => {
  if (exit._tag === "Success") throw new Error("expected a failure, got a success")
  const error = Cause.failureOption(exit.cause)
  if (Option.isNone(error)) throw new Error(`expected a typed failure, got ${Cause.pretty(exit.cause)}`)
  return error.value
}

/** The value of a successful exit; throws (failing the test) on a failure. */
export const success = <A, E>(exit: Exit.Exit<A, E>): A => {
  if (exit._tag === "Failure") throw new Error(`expected a success, got ${Cause.pretty(exit.cause)}`)
  return exit.value
}
