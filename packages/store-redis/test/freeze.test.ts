/**
 * A process frozen for longer than its lease (GC pause, SIGSTOP, VM pause)
 * must not send, once it runs again, the overdue polls of flows another
 * instance took over meanwhile: the poll is gated by the lease right before
 * it is sent (issue 20 item 6b). Two instances of the example service as
 * child processes; one is stopped with SIGSTOP until the other has taken
 * every flow over, then continued with SIGCONT.
 */
import { afterAll, assert, describe, it } from "@effect/vitest"
import { KEY_1, until } from "./helpers.js"
import { call, type Instance, serviceEnv, startInstance, stopInstance } from "./instances.js"
import type { CodeRecord, ServerLog } from "./pollLogServer.js"
import { hasRedis, type RedisServer, startRedis } from "./redisServer.js"

const FLOWS = 12
const LEASE_MS = 2_000

describe.runIf(hasRedis)("an instance frozen past its lease", () => {
  let redis: RedisServer | undefined
  const processes: Array<Instance> = []
  afterAll(async () => {
    for (const p of processes) p.process.kill("SIGCONT")
    await Promise.all(processes.map((p) => stopInstance(p, "SIGKILL")))
    await redis?.close()
  })

  it(
    "sends no poll of the flows taken over while it was stopped (SIGSTOP, then SIGCONT)",
    { timeout: 120_000 },
    async () => {
      redis = await startRedis()
      const auth = await startInstance("auth", { INTERVAL_SECONDS: "1" }, "./pollLogServerMain.ts")
      processes.push(auth)
      const env = serviceEnv(redis.url, auth.url, `k1:${KEY_1}`, {
        SCOPES: "openid offline_access api",
        LEASE_MS: String(LEASE_MS),
        REQUEST_TIMEOUT_MS: "5000"
      })
      const [a, b] = await Promise.all(["A", "B"].map((name) => startInstance(name, env)))
      processes.push(a!, b!)
      for (let i = 0; i < FLOWS; i++) {
        const started = await call(`${a!.url}/flows`, { method: "POST", body: { params: { plan: "approve:100000" } } })
        assert.strictEqual(started?.status, 201)
      }
      const log = () => call(`${auth.url}/__log`).then((r) => r!.body as ServerLog)
      const pollsBy = (record: CodeRecord, instance: string, after = 0) =>
        record.polls.filter((p) => p.instance === instance && p.at > after).length
      await until(
        "A to poll every flow",
        log,
        (l) => l.codes.length === FLOWS && l.codes.every((c) => pollsBy(c, "A") >= 1)
      )

      a!.process.kill("SIGSTOP")
      const stoppedAt = Date.now()
      await until("B to take every flow over", log, (l) => l.codes.every((c) => pollsBy(c, "B") >= 1))
      a!.process.kill("SIGCONT")
      const continuedAt = Date.now()
      // A's overdue timers fire at once: by B's second poll of every flow after SIGCONT they have all fired
      const final = await until(
        "B to poll every flow twice more",
        log,
        (l) => l.codes.every((c) => pollsBy(c, "B", continuedAt) >= 2),
        60_000,
        (l) =>
          `${Date.now() - continuedAt} ms after SIGCONT; per code, its polls (instance@ms after SIGCONT, answer): ${
            l.codes.map((c) =>
              `#${c.n}: ${c.polls.slice(-8).map((p) => `${p.instance}@${p.at - continuedAt}`).join(" ")}`
            ).join("; ")
          }; violations ${JSON.stringify(l.violations)}; A said: ${a!.logs.slice(-10).join(" | ")}; B said: ${
            b!.logs.slice(-10).join(" | ")
          }`
      )

      // once B polled a code, A (which held it before the stop) must never poll it again
      const late = final.codes.map((c) => {
        const takenAt = Math.min(...c.polls.filter((p) => p.instance === "B").map((p) => p.at))
        return pollsBy(c, "A", takenAt)
      }).reduce((x, y) => x + y, 0)
      assert.strictEqual(late, 0, `${late} polls from A after B took their flows over (A stopped at ${stoppedAt})`)
      assert.deepStrictEqual(final.violations, [])
    }
  )
})
