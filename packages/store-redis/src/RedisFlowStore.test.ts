import * as FlowStore from "@devflow/core/FlowStore"
import * as TestKit from "@devflow/core/TestKit"
import { afterAll, assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import { flowStoreContract, planScript } from "../../core/test/flowStoreContract.js"
import { connectionLayer, dumpAll } from "../test/helpers.js"
import { hasRedis, startRedis } from "../test/redisServer.js"
import * as RedisFlowStore from "./RedisFlowStore.js"

const server = hasRedis ? await startRedis() : undefined
afterAll(() => server?.close())

let prefixes = 0
const freshPrefix = () => `t${process.pid}-${++prefixes}`

describe.runIf(server !== undefined)("RedisFlowStore", () => {
  const url = server?.url ?? ""

  flowStoreContract("RedisFlowStore", (config) =>
    Layer.suspend(() =>
      RedisFlowStore.layer(config, { lease: "2 seconds", resyncEvery: "1 second" }).pipe(
        Layer.provide(connectionLayer(url, { prefix: freshPrefix() }))
      )
    ))

  /** Two instances of an app: two connections and two stores on one prefix, one fake server. */
  const twoInstances = Effect.gen(function*() {
    const config = yield* TestKit.config()
    const prefix = freshPrefix()
    const instance = RedisFlowStore.make(config, { lease: "2 seconds", resyncEvery: "1 second" })
    const http = yield* Layer.build(TestKit.layer(planScript()))
    const build = () =>
      Effect.flatMap(Layer.build(connectionLayer(url, { prefix })), (connection) =>
        instance.pipe(Effect.provide(connection), Effect.provide(http)))
    return { a: yield* build(), b: yield* build(), prefix, http }
  })

  it.live("a flow started on one instance is watched, listed and cancelled from another", () =>
    Effect.gen(function*() {
      const { a, b } = yield* twoInstances
      const approved = yield* a.start({ extraParams: { plan: "approve" } })
      const final = yield* FlowStore.awaitResult(b, approved.id).pipe(Effect.timeout("10 seconds"))
      assert.strictEqual(final._tag, "Succeeded")
      const waiting = yield* a.start({ extraParams: { plan: "never" } })
      assert.deepStrictEqual((yield* b.pending).map((f) => f.id), [waiting.id])
      assert.isTrue(yield* b.cancel(waiting.id))
      assert.deepStrictEqual((yield* Stream.runCollect(a.watch(waiting.id))).pipe((c) => [...c].map((u) => u._tag)), ["Cancelled"])
      assert.deepStrictEqual(yield* a.pending, [])
    }).pipe(Effect.scoped))

  it.live("at rest: no device code and no token in clear in Redis", () =>
    Effect.gen(function*() {
      const { a, b } = yield* twoInstances
      const flows = yield* Effect.forEach(["approve", "never", "deny"], (plan) => a.start({ extraParams: { plan } }))
      yield* FlowStore.awaitResult(b, flows[0]!.id).pipe(Effect.timeout("10 seconds"))
      yield* FlowStore.awaitResult(b, flows[2]!.id).pipe(Effect.timeout("10 seconds"))
      const dump = yield* Effect.promise(() => dumpAll(url))
      assert.include(dump, flows[1]!.id)
      assert.include(dump, flows[1]!.userCode)
      for (const canary of ["canary", "CANARY", TestKit.secrets.accessToken, TestKit.secrets.refreshToken]) {
        assert.notInclude(dump, canary)
      }
    }).pipe(Effect.scoped))
})
