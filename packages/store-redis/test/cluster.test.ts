/**
 * The FlowStore and TokenCache contracts on a real Redis Cluster (3 masters,
 * 3 replicas on loopback): every script touches one slot (a flow's keys share
 * the hash tag `{<id>}`, a token cache's `{…:tokens:<namespace>}`), so no
 * CROSSSLOT error; commands follow MOVED/ASK through ioredis' `Cluster`.
 * Then the master serving a polling flow's slot is killed: its replica takes
 * over, reads fail only with the store's typed error meanwhile, and the flow
 * polls on, never twice within its interval. About 35 s, in `pnpm test`.
 */
import * as TestKit from "@devflow/core/TestKit"
import { afterAll, assert, describe, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Schedule from "effect/Schedule"
import { Cluster } from "ioredis"
import { flowStoreContract, planScript } from "../../core/test/flowStoreContract.js"
import { tokenCacheContract } from "../../core/test/tokenCacheContract.js"
import * as RedisFlowStore from "../src/RedisFlowStore.js"
import * as RedisTokenCache from "../src/RedisTokenCache.js"
import { connectionLayer } from "./helpers.js"
import { hasCluster, type RedisCluster, startCluster } from "./redisCluster.js"

const cluster: RedisCluster | undefined = hasCluster ? await startCluster() : undefined
afterAll(() => cluster?.close())

/**
 * The clients a service on a cluster builds: a `Cluster` for commands, another for subscriptions.
 * Without auto-pipelining: ioredis 5.9.3's Cluster refuses an automatic pipeline whose commands
 * fall on slots of different nodes ("All keys in the pipeline should belong to the same slots
 * allocation group"), as concurrent flows' scripts do.
 */
export const clusterClients = (c: RedisCluster) => () => {
  const options = { redisOptions: { maxRetriesPerRequest: 1 } }
  return { client: new Cluster([...c.startup], options), subscriber: new Cluster([...c.startup], options) }
}

let prefixes = 0

describe.runIf(cluster !== undefined)("on a Redis Cluster (3 masters + 3 replicas)", () => {
  const connection = () =>
    connectionLayer(`redis://127.0.0.1:${cluster!.nodes[0]!.port}`, {
      prefix: `c${process.pid}-${++prefixes}`,
      connect: clusterClients(cluster!)
    })

  flowStoreContract(
    "RedisFlowStore on a Redis Cluster",
    (config) =>
      Layer.suspend(() =>
        RedisFlowStore.layer(config, { lease: "2 seconds", resyncEvery: "1 second" }).pipe(Layer.provide(connection()))
      )
  )

  tokenCacheContract(
    "RedisTokenCache on a Redis Cluster",
    Layer.suspend(() => RedisTokenCache.layer({ namespace: `n${++prefixes}` }).pipe(Layer.provide(connection())))
  )

  it.live(
    "the master holding a polling flow's slot is killed: a replica takes over, the flow polls on, never twice in an interval",
    () =>
      Effect.gen(function*() {
        const config = yield* TestKit.config()
        const http = yield* Layer.build(TestKit.layer(planScript()))
        const server = Context.get(http, TestKit.FakeServer)
        const prefix = `failover${process.pid}`
        // the connection lives as long as the test (a layer provided to `make` alone would close with it)
        const connection = yield* Layer.build(
          connectionLayer(`redis://127.0.0.1:${cluster!.nodes[0]!.port}`, { prefix, connect: clusterClients(cluster!) })
        )
        const store = yield* RedisFlowStore.make(config, {
          lease: "3 seconds",
          scanEvery: "500 millis",
          resyncEvery: "1 second"
        }).pipe(
          Effect.provide(connection),
          Effect.provide(http)
        )
        const flow = yield* store.start({ extraParams: { plan: "never" } })
        const code = flow.userCode.replace("USER-", "DC-") + "-canary"
        const polls = Effect.map(server.polls, (all) => all.filter((p) => p.params.device_code === code))
        yield* polls.pipe(Effect.repeat({ until: (p) => p.length >= 2, schedule: Schedule.spaced("50 millis") }))

        const master = yield* Effect.promise(() => cluster!.masterOf(`${prefix}:flow:{${flow.id}}`))
        yield* Effect.promise(() => cluster!.kill(master))
        const killedAt = Date.now()
        // while the cluster re-forms, reading the flow fails only with the store's typed error
        const errors: Array<string> = []
        const reads = yield* store.get(flow.id).pipe(
          Effect.tapError((e) => Effect.sync(() => errors.push(e._tag))),
          Effect.either,
          Effect.repeat({ schedule: Schedule.spaced("100 millis") }),
          Effect.fork
        )
        yield* Effect.promise(() => cluster!.settled(`${prefix}:flow:{${flow.id}}`))
        // the flow polls again after the failover
        yield* polls.pipe(
          Effect.repeat({
            until: (p) => p.filter((x) => x.sentAt > killedAt).length >= 2,
            schedule: Schedule.spaced("100 millis")
          }),
          Effect.timeout("30 seconds")
        )
        yield* Fiber.interrupt(reads)
        assert.isTrue(errors.every((tag) => tag === "FlowStoreUnavailable"), errors.join(","))
        assert.strictEqual((yield* store.get(flow.id))._tag, "Pending")
        const sent = yield* polls
        for (let i = 1; i < sent.length; i++) {
          // RFC 8628 §3.5: never two polls within the interval (1 s), whoever holds the lease
          assert.isAtLeast(sent[i]!.sentAt - sent[i - 1]!.endedAt!, 1_000 - 5)
        }
        assert.isTrue(yield* store.cancel(flow.id))
      }).pipe(Effect.scoped),
    { timeout: 90_000 }
  )
})
