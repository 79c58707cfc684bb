/**
 * What one poll costs Redis on the instance that holds the flow's lease
 * (issue 23 item 3), counted, not timed: the commands Redis executes
 * (`INFO commandstats`: a script's own calls included), the commands this
 * instance sends (each one round trip at most), and the memory a pending
 * flow holds (`MEMORY USAGE` over its keys, plus its share of the index).
 *
 * Takeover scans and watcher re-reads are switched off (an hour apart), so
 * that what is left between two polls is the poll's own cost.
 */
import * as TestKit from "@devflow/core/TestKit"
import { afterAll, assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Ref from "effect/Ref"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import { Redis } from "ioredis"
import { planScript } from "../../core/test/flowStoreContract.js"
import { RedisConnection } from "../src/RedisConnection.js"
import * as RedisFlowStore from "../src/RedisFlowStore.js"
import { connect } from "./helpers.js"
import { hasRedis, startRedis } from "./redisServer.js"

const server = hasRedis ? await startRedis() : undefined
afterAll(() => server?.close())

/**
 * Redis' own counters: calls per command (INFO itself left out), the CPU time Redis spent in scripts (µs: a
 * script's time includes the commands it calls, which count their calls apart), and the
 * bytes it read from and wrote to its clients (INFO's own included).
 */
const redisStats = async (redis: Redis) => {
  const text = await redis.info("all")
  const calls = new Map<string, number>()
  let scriptUsec = 0
  for (const [, name, n, u] of text.matchAll(/^cmdstat_(\S+?):calls=(\d+),usec=(\d+)/gm)) {
    if (name === "info") continue
    calls.set(name!, Number(n))
    if (name === "evalsha" || name === "eval") scriptUsec += Number(u)
  }
  const counter = (name: string) => Number(new RegExp(`^${name}:(\\d+)`, "m").exec(text)?.[1] ?? NaN)
  return { calls, scriptUsec, netIn: counter("total_net_input_bytes"), netOut: counter("total_net_output_bytes") }
}

const delta = (before: Map<string, number>, after: Map<string, number>) =>
  [...after].map(([name, n]) => [name, n - (before.get(name) ?? 0)] as const).filter(([, n]) => n > 0)

describe.runIf(server !== undefined)("the cost of one poll on Redis", () => {
  const url = server?.url ?? ""
  const quiet = { lease: "10 seconds", scanEvery: "1 hour", resyncEvery: "1 hour" } as const

  it.live(
    "the holder's poll is one command sent, at most 3 commands run by Redis; a pending flow holds under 1 KB",
    () =>
      Effect.gen(function*() {
        const config = yield* TestKit.config()
        const connection = yield* connect(url, { prefix: "cost" })
        const store = yield* RedisFlowStore.make(config, quiet).pipe(
          Effect.provideService(RedisConnection, connection),
          Effect.provide(TestKit.layer(planScript()))
        )
        const redis = new Redis(url)
        yield* Effect.addFinalizer(() => Effect.sync(() => redis.disconnect()))

        // one flow while counting: between two polls nothing else is in flight
        const flows = [yield* store.start({ extraParams: { plan: "never" } })]
        // the first flow's polls, as its watcher hears them (interval 1 s)
        const heard = yield* Ref.make(0)
        yield* store.watch(flows[0]!.id).pipe(
          Stream.runForEach((u) =>
            u._tag === "Pending" && u.step === "Pending" ? Ref.set(heard, u.attempt) : Effect.void
          ),
          Effect.forkScoped
        )
        const pollNumber = (n: number) =>
          Ref.get(heard).pipe(
            Effect.repeat({ until: (attempt) => attempt >= n, schedule: Schedule.spaced("5 millis") }),
            Effect.timeout("15 seconds")
          )
        yield* pollNumber(2)
        // heard poll 2: its command has run, the next is an interval away
        const full0 = yield* Effect.promise(() => redisStats(redis))
        const sent0 = connection.stats.commands
        yield* pollNumber(5)
        const full1 = yield* Effect.promise(() => redisStats(redis))
        const sent1 = connection.stats.commands
        // what one INFO exchange adds to the byte counters, to take out of the polls' share
        const full2 = yield* Effect.promise(() => redisStats(redis))
        const stats0 = full0.calls
        const stats1 = full1.calls

        const pollsCounted = 3
        const ran = delta(stats0, stats1)
        const perPoll = ran.reduce((sum, [, n]) => sum + n, 0) / pollsCounted
        const sentPerPoll = (sent1 - sent0) / pollsCounted
        // the capacity model's inputs (docs/scaling.md): Redis CPU and network per poll, this watcher's delivery included
        const redisCpuUsPerPoll = (full1.scriptUsec - full0.scriptUsec) / pollsCounted
        const netInPerPoll = (full1.netIn - full0.netIn - (full2.netIn - full1.netIn)) / pollsCounted
        const netOutPerPoll = (full1.netOut - full0.netOut - (full2.netOut - full1.netOut)) / pollsCounted

        // memory: every key of each of ten flows that have polled, and their share of the pending index
        flows.push(
          ...yield* Effect.forEach(Array.from({ length: 9 }), () => store.start({ extraParams: { plan: "never" } }))
        )
        yield* pollNumber(7)
        const keys = yield* Effect.promise(() => redis.keys("cost:flow:*"))
        const sizes = yield* Effect.promise(() =>
          Promise.all(keys.map((k) => redis.memory("USAGE", k, "SAMPLES", "0")))
        )
        const index = yield* Effect.promise(() => redis.memory("USAGE", "cost:flows:pending", "SAMPLES", "0"))
        const bytesPerFlow = (sizes.reduce<number>((a, b) => a + Number(b ?? 0), 0) + Number(index ?? 0)) / flows.length

        console.log(
          JSON.stringify({
            commandsRunPerPoll: perPoll,
            commandsSentPerPoll: sentPerPoll,
            ran,
            bytesPerFlow,
            redisCpuUsPerPoll,
            netInPerPoll,
            netOutPerPoll
          })
        )
        assert.isAtMost(sentPerPoll, 1, "one command sent per poll: one round trip")
        assert.isAtMost(perPoll, 3, `commands Redis ran per poll: ${JSON.stringify(ran)}`)
        assert.isAtMost(bytesPerFlow, 1024)
        // a poll sends its session and update to Redis, and Redis publishes the update to the watcher
        assert.isAbove(netInPerPoll, 0)
        assert.isAbove(netOutPerPoll, 0)
        yield* Effect.forEach(flows, (f) => store.cancel(f.id), { discard: true })
      }).pipe(Effect.scoped),
    { timeout: 30_000 }
  )
})
