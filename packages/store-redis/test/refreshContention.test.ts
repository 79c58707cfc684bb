/**
 * Refreshes of different accounts do not wait for each other (issue 23):
 * 4 processes × 50 accounts whose access tokens expired at once, each
 * process asking for all 50 together, after a warm-up burst of its own on
 * other accounts (a service that has run before). Exactly one refresh per account
 * (asserted), and each call's time and CPU (printed against the targets:
 * median ≤ 100 ms, max ≤ 500 ms on the 2-core development machine). On demand:
 * `DEVFLOW_REFRESH_FIGURES=1 pnpm exec vitest run --project store-redis test/refreshContention.test.ts`.
 */
import * as TestKitCache from "@devflow/core/TestKitCache"
import * as TokenCache from "@devflow/core/TokenCache"
import { afterAll, assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { Redis } from "ioredis"
import * as os from "node:os"
import * as RedisTokenCache from "../src/RedisTokenCache.js"
import { KEY_1, percentile, withConnection } from "./helpers.js"
import { type Instance, startInstance, stopInstance } from "./instances.js"
import { hasRedis, type RedisServer, startRedis } from "./redisServer.js"
import {
  account,
  ACCOUNTS,
  GO,
  PROCESSES,
  WARMUP_ACCOUNTS,
  WARMUP_NAMESPACE,
  type WorkerResult
} from "./refreshContention.js"

describe.runIf(hasRedis && process.env.DEVFLOW_REFRESH_FIGURES === "1")("refresh contention across processes", () => {
  let redis: RedisServer | undefined
  const workers: Array<Instance> = []
  afterAll(async () => {
    await Promise.all(workers.map((w) => stopInstance(w, "SIGKILL")))
    await redis?.close()
  })

  it(
    `${PROCESSES} processes × ${ACCOUNTS} expired accounts: one refresh per account, no call waits on another account`,
    {
      timeout: 120_000
    },
    async () => {
      redis = await startRedis()
      const url = redis.url
      const namespace = "contention"
      // every account signed in, its access token expired a minute ago (and the workers' warm-up accounts)
      const seed = (where: string, count: number) =>
        Effect.gen(function*() {
          const cache = yield* RedisTokenCache.make({ namespace: where })
          yield* Effect.forEach(
            Array.from({ length: count }, (_, i) => account(i)),
            (target) =>
              Effect.provideService(
                TestKitCache.seed({ account: target, expiresIn: -60 }),
                TokenCache.TokenCache,
                cache
              ),
            { discard: true }
          )
        })
      await Effect.runPromise(
        Effect.zipRight(seed(namespace, ACCOUNTS), seed(WARMUP_NAMESPACE, WARMUP_ACCOUNTS)).pipe(
          withConnection(url),
          Effect.scoped
        )
      )

      const env = { REDIS_URL: url, KEY: KEY_1, NAMESPACE: namespace }
      workers.push(
        ...await Promise.all(
          Array.from({ length: PROCESSES }, (_, i) => startInstance(`W${i}`, env, "./refreshWorkerMain.ts"))
        )
      )
      const publisher = new Redis(url)
      await publisher.publish(GO, "go")
      publisher.disconnect()

      const deadline = Date.now() + 60_000
      const results = (): Array<WorkerResult | undefined> =>
        workers.map((w) => {
          const line = w.logs.find((l) => l.startsWith("result ") || l.startsWith("failed "))
          if (line?.startsWith("failed ")) throw new Error(`${w.name}: ${line}`)
          return line === undefined ? undefined : JSON.parse(line.slice("result ".length)) as WorkerResult
        })
      while (results().some((r) => r === undefined)) {
        if (Date.now() > deadline) throw new Error("the workers did not all answer within 60 s")
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
      const all = results() as Array<WorkerResult>
      const durations = all.flatMap((r) => r.durations)
      const figures = {
        calls: durations.length,
        refreshes: all.reduce((n, r) => n + r.refreshes, 0),
        sources: all.reduce<Record<string, number>>((m, r) => {
          for (const [k, v] of Object.entries(r.sources)) m[k] = (m[k] ?? 0) + v
          return m
        }, {}),
        medianMs: Math.round(percentile(durations, 50)),
        p95Ms: Math.round(percentile(durations, 95)),
        maxMs: Math.round(Math.max(...durations)),
        cpuMsPerCall: Math.round(all.reduce((n, r) => n + r.cpuMs, 0) / durations.length),
        redisCommandsPerCall: Number((all.reduce((n, r) => n + r.commands, 0) / durations.length).toFixed(1)),
        loadAverage: os.loadavg()[0]!.toFixed(1)
      }
      // the timings depend on the machine and its load: reported against the targets, not asserted
      const targets = {
        median: figures.medianMs <= 100 ? "met" : "not met",
        max: figures.maxMs <= 500 ? "met" : "not met"
      }
      console.log(JSON.stringify({ ...figures, targets }))
      assert.strictEqual(figures.calls, PROCESSES * ACCOUNTS)
      assert.strictEqual(figures.refreshes, ACCOUNTS)
    }
  )
})
