/**
 * One process of the refresh contention figure (refreshContention.ts): it
 * waits for the test's go, asks for a token of every account at once, and
 * prints how long each call took and how many refreshes it sent.
 */
import * as Silent from "@devflow/core/Silent"
import * as TestKit from "@devflow/core/TestKit"
import * as TestKitCache from "@devflow/core/TestKitCache"
import * as TokenCache from "@devflow/core/TokenCache"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Redacted from "effect/Redacted"
import { Redis } from "ioredis"
import * as Keyring from "../src/Keyring.js"
import * as RedisConnection from "../src/RedisConnection.js"
import * as RedisTokenCache from "../src/RedisTokenCache.js"
import {
  account,
  ACCOUNTS,
  GO,
  TOKEN_ENDPOINT_MS,
  WARMUP_ACCOUNTS,
  WARMUP_NAMESPACE,
  type WorkerResult
} from "./refreshContention.js"

const url = process.env.REDIS_URL!
const keyring = Effect.runSync(Keyring.make([["k1", Redacted.make(process.env.KEY!)]]))
const server = TestKitCache.refreshServer({ rotate: false, idToken: false, delay: `${TOKEN_ENDPOINT_MS} millis` })
const layer = RedisTokenCache.layer({ namespace: process.env.NAMESPACE! }).pipe(
  Layer.provideMerge(RedisConnection.layer({ url, keyring })),
  Layer.provideMerge(TestKit.layer(server.script))
)

const refreshAll = (count: number) =>
  Effect.gen(function*() {
    const config = yield* TestKit.config()
    const durations: Array<number> = []
    const sources: Record<string, number> = {}
    yield* Effect.forEach(Array.from({ length: count }, (_, i) => account(i)), (target) =>
      Effect.gen(function*() {
        const started = performance.now()
        const token = yield* Silent.acquireSilent({ config, account: target, scopes: ["api.read"] })
        durations.push(performance.now() - started)
        sources[token.source] = (sources[token.source] ?? 0) + 1
      }), { concurrency: "unbounded", discard: true })
    return { durations, sources }
  })

// the same burst on the warm-up namespace, so that the code the figure runs has run before
const warmUp = Effect.flatMap(
  RedisTokenCache.make({ namespace: WARMUP_NAMESPACE }),
  (cache) => Effect.provideService(refreshAll(WARMUP_ACCOUNTS), TokenCache.TokenCache, cache)
)

const run = Effect.gen(function*() {
  const cpu = process.cpuUsage()
  const refreshesBefore = yield* server.refreshes
  const conn = yield* RedisConnection.RedisConnection
  const commandsBefore = conn.stats.commands
  const { durations, sources } = yield* refreshAll(ACCOUNTS)
  const used = process.cpuUsage(cpu)
  return {
    durations,
    cpuMs: (used.user + used.system) / 1000,
    refreshes: (yield* server.refreshes) - refreshesBefore,
    sources,
    commands: conn.stats.commands - commandsBefore
  } satisfies WorkerResult
})

const runtime = ManagedRuntime.make(layer)
await runtime.runPromise(warmUp)
const subscriber = new Redis(url)
await subscriber.subscribe(GO)
subscriber.on("message", () => {
  void runtime.runPromise(run).then(
    (result) => process.stdout.write(`result ${JSON.stringify(result)}\n`),
    (error) => process.stdout.write(`failed ${String(error)}\n`)
  ).finally(() => subscriber.disconnect())
})
process.stdout.write("listening 0\n")
