import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import * as Schema from "effect/Schema"
import * as TestClock from "effect/TestClock"
import { flowStoreContract, planScript } from "../test/flowStoreContract.js"
import * as FlowStore from "./FlowStore.js"
import * as MemoryFlowStore from "./MemoryFlowStore.js"
import * as TestKit from "./TestKit.js"

flowStoreContract("MemoryFlowStore", (config) => MemoryFlowStore.layer(config))

describe("MemoryFlowStore", () => {
  it.scoped("forgets a finished flow after its retention, not before", () =>
    Effect.gen(function*() {
      const config = yield* TestKit.config()
      const store = yield* MemoryFlowStore.make(config, { retention: "1 minute" }).pipe(
        Effect.provide(TestKit.layer(planScript()))
      )
      const flow = yield* store.start({ extraParams: { plan: "deny" } })
      const done = yield* Effect.fork(FlowStore.awaitResult(store, flow.id))
      yield* TestClock.adjust("2 seconds")
      assert.strictEqual((yield* Fiber.join(done))._tag, "Failed")
      yield* TestClock.adjust("59 seconds")
      assert.strictEqual((yield* store.get(flow.id))._tag, "Failed")
      yield* TestClock.adjust("1 second")
      assert.strictEqual((yield* Effect.flip(store.get(flow.id)))._tag, "FlowNotFound")
    }))

  it("a stored update is server text too: read back, a user code or address with a control is refused, a reason cleaned", () => {
    const stored = {
      _tag: "Pending",
      id: "x",
      step: "Retrying",
      userCode: "U",
      verificationUri: "https://v/",
      expiresOn: 2,
      attempt: 1,
      intervalMs: 5_000,
      nextPollAt: 1
    }
    const decode = Schema.decodeUnknownEither(FlowStore.FlowUpdate)
    for (const field of ["userCode", "verificationUri", "verificationUriComplete"]) {
      assert.isTrue(Either.isLeft(decode({ ...stored, [field]: "https://v/\x1b[2K\rSigned in" })), field)
    }
    const read = Either.getOrThrow(decode({ ...stored, reason: "timeout\x1b[2K\rSigned in as admin" }))
    assert.strictEqual(read._tag === "Pending" ? read.reason : undefined, "timeout Signed in as admin")
  })

  it.scoped("the Failed update of a transport error keeps no device code, in any spelling", () =>
    Effect.gen(function*() {
      const deviceCode = "dc/FLOWSTORE+code ==3b7d"
      const echo = `reset while sending device_code=${encodeURIComponent(deviceCode)} (${deviceCode})`
      const config = yield* TestKit.config()
      const store = yield* MemoryFlowStore.make(config, { policy: { maxConsecutiveFailures: 2 } }).pipe(
        Effect.provide(
          TestKit.layer(
            TestKit.sequence(
              [TestKit.transportFailure(echo)],
              TestKit.deviceCode({ device_code: deviceCode, interval: 1 })
            )
          )
        )
      )
      const flow = yield* store.start({})
      const done = yield* Effect.fork(FlowStore.awaitResult(store, flow.id))
      yield* TestClock.adjust("10 seconds")
      const update = yield* Fiber.join(done)
      assert.strictEqual(update._tag, "Failed")
      const stored = JSON.stringify(yield* Schema.encode(FlowStore.FlowUpdate)(update))
      for (const spelling of [deviceCode, encodeURIComponent(deviceCode)]) assert.notInclude(stored, spelling)
      assert.include(stored, "<redacted>")
    }))

  it("flow updates survive a JSON round trip, tokens and typed errors included", () => {
    const update = new FlowStore.Pending({
      id: "x",
      step: "SlowedDown",
      userCode: "U",
      verificationUri: "https://v/",
      expiresOn: 2,
      attempt: 1,
      intervalMs: 10_000,
      nextPollAt: 1
    })
    const json = FlowStore.FlowUpdate
    const encoded = JSON.stringify(Effect.runSync(Schema.encode(json)(update)))
    assert.deepStrictEqual(Effect.runSync(Schema.decodeUnknown(json)(JSON.parse(encoded))), update)
  })
})
