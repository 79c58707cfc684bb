import { assert, describe, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Ref from "effect/Ref"
import * as KeyedLock from "./KeyedLock.js"

describe("KeyedLock", () => {
  it.effect("one fiber at a time holds a key's lock", () =>
    Effect.gen(function*() {
      const locks = KeyedLock.make()
      const inside = yield* Ref.make(0)
      const most = yield* Ref.make(0)
      const holder = locks.withLock(
        "alice",
        Effect.gen(function*() {
          const now = yield* Ref.updateAndGet(inside, (n) => n + 1)
          yield* Ref.update(most, (m) => Math.max(m, now))
          yield* Effect.yieldNow()
          yield* Ref.update(inside, (n) => n - 1)
        })
      )
      yield* Effect.all(Array.from({ length: 8 }, () => holder), { concurrency: "unbounded", discard: true })
      assert.strictEqual(yield* Ref.get(most), 1)
    }))

  it.effect("another key does not wait", () =>
    Effect.gen(function*() {
      const locks = KeyedLock.make()
      const release = yield* Deferred.make<void>()
      const entered = yield* Deferred.make<void>()
      const first = yield* Effect.fork(
        locks.withLock("alice", Effect.zipRight(Deferred.succeed(entered, undefined), Deferred.await(release)))
      )
      yield* Deferred.await(entered)
      assert.strictEqual(yield* locks.withLock("bob", Effect.succeed("bob's")), "bob's")
      yield* Deferred.succeed(release, undefined)
      yield* Fiber.join(first)
    }))

  it.effect("a key is forgotten once nobody holds or awaits it: after success, failure and an interrupted wait", () =>
    Effect.gen(function*() {
      const locks = KeyedLock.make()
      yield* locks.withLock("a", Effect.void)
      yield* Effect.flip(locks.withLock("b", Effect.fail("no")))
      assert.strictEqual(locks.size, 0)
      const release = yield* Deferred.make<void>()
      const entered = yield* Deferred.make<void>()
      const holder = yield* Effect.fork(
        locks.withLock("c", Effect.zipRight(Deferred.succeed(entered, undefined), Deferred.await(release)))
      )
      yield* Deferred.await(entered)
      const waiter = yield* Effect.fork(locks.withLock("c", Effect.void))
      yield* Effect.yieldNow()
      yield* Fiber.interrupt(waiter)
      assert.strictEqual(locks.size, 1)
      yield* Deferred.succeed(release, undefined)
      yield* Fiber.join(holder)
      assert.strictEqual(locks.size, 0)
    }))

  it.live("take and release: a wait given up (a timeout) holds nothing and leaves the lock to others", () =>
    Effect.gen(function*() {
      const locks = KeyedLock.make()
      yield* locks.take("k")
      const gaveUp = yield* Effect.timeout(locks.take("k"), "10 millis").pipe(Effect.option)
      assert.isTrue(gaveUp._tag === "None")
      yield* locks.release("k")
      assert.strictEqual(locks.size, 0)
      yield* locks.take("k")
      yield* locks.release("k")
      assert.strictEqual(locks.size, 0)
    }))
})
