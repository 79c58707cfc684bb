/**
 * The figures in docs/scaling.md, measured on demand (DEVFLOW_SCALE_FIGURES=1;
 * DEVFLOW_SCALE_PENDING sets the number of flows, default 1,500): three
 * instances of the example service, flows that stay pending, then
 *
 * - flows started per second per instance (POST /flows end to end);
 * - Redis commands per poll in the steady state (Redis' own count against
 *   the authorization server's count of polls), and the instances' own
 *   count of round trips;
 * - Redis memory per pending flow;
 * - CPU per poll: the instances' (from /proc, Linux) and Redis' own, and
 *   Redis' network bytes per poll (docs/scaling.md's capacity model);
 * - takeover time after `kill -9` of one instance: until each of its flows
 *   has a lease held by a survivor (its fencing token moved on).
 */
import { afterAll, assert, describe, it } from "@effect/vitest"
import { Redis } from "ioredis"
import * as fs from "node:fs"
import { flowRecord, KEY_1, redisInfo } from "./helpers.js"
import { call, type Instance, serviceEnv, startInstance, stopInstance } from "./instances.js"
import { hasRedis, type RedisServer, startRedis } from "./redisServer.js"

const FLOWS = Number(process.env.DEVFLOW_SCALE_PENDING ?? 1500)
const LEASE_MS = 10_000
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** CPU milliseconds a process has used (user + system), from /proc; NaN where there is none. */
const cpuMsOf = (pid: number | undefined): number => {
  try {
    // fields 14 and 15 (utime, stime) after the parenthesised command name, in clock ticks (100 Hz on Linux)
    const fields = fs.readFileSync(`/proc/${pid}/stat`, "utf8").replace(/^.*\) /s, "").split(" ")
    return (Number(fields[11]) + Number(fields[12])) * 10
  } catch {
    return NaN
  }
}

describe.runIf(hasRedis && process.env.DEVFLOW_SCALE_FIGURES === "1")("scaling figures", () => {
  let redis: RedisServer | undefined
  const processes: Array<Instance> = []
  afterAll(async () => {
    await Promise.all(processes.map((p) => stopInstance(p, "SIGKILL")))
    await redis?.close()
  })

  it("flows/s, Redis commands per poll, memory per pending flow, takeover time", { timeout: 600_000 }, async () => {
    redis = await startRedis()
    const r = new Redis(redis.url)
    const info = () => redisInfo(redis!.url)
    const auth = await startInstance("auth", { INTERVAL_SECONDS: "5", EXPIRE_SECONDS: "900" }, "./pollLogServerMain.ts")
    processes.push(auth)
    const polls = async () => (await call(`${auth.url}/__counters`))!.body.polls as number
    const env = serviceEnv(redis.url, auth.url, `k1:${KEY_1}`, { LEASE_MS: String(LEASE_MS) })
    const instances = await Promise.all(["A", "B", "C"].map((name) => startInstance(name, env)))
    processes.push(...instances)
    const empty = await info()

    const started = Date.now()
    const ids: Array<{ id: string; by: number }> = []
    let next = 0
    await Promise.all(Array.from({ length: 48 }, async () => {
      while (next < FLOWS) {
        const i = next++
        const answer = await call(`${instances[i % 3]!.url}/flows`, {
          method: "POST",
          body: { params: { plan: "approve:100000" } }
        })
        assert.strictEqual(answer?.status, 201)
        ids.push({ id: answer!.body.id, by: i % 3 })
      }
    }))
    const startSeconds = (Date.now() - started) / 1000
    const loaded = await info()

    // steady state: every flow polls every 5 s
    await sleep(6_000)
    const stats = async () =>
      Promise.all(instances.map(async (i) => (await call(`${i.url}/stats`))!.body.commands as number))
    const cpu = () => instances.reduce((sum, i) => sum + cpuMsOf(i.process.pid), 0)
    const [c0, p0, s0, u0] = [await info(), await polls(), await stats(), cpu()]
    await sleep(15_000)
    const [c1, p1, s1, u1] = [await info(), await polls(), await stats(), cpu()]

    // takeover: kill B, then watch its flows' fencing tokens move on
    const victims = ids.filter((f) => f.by === 1).map((f) => f.id)
    instances[1]!.process.kill("SIGKILL")
    const killedAt = Date.now()
    const takenAt = new Map<string, number>()
    while (takenAt.size < victims.length && Date.now() - killedAt < 60_000) {
      const fences = await Promise.all(victims.map(async (id) => (await flowRecord(r, "devflow", id))?.f ?? null))
      victims.forEach((id, k) => {
        if (!takenAt.has(id) && fences[k] !== null && Number(fences[k]) >= 2) takenAt.set(id, Date.now() - killedAt)
      })
      await sleep(100)
    }
    const takeovers = [...takenAt.values()].sort((a, b) => a - b)
    const figures = {
      pendingFlows: FLOWS,
      startSeconds,
      flowsStartedPerSecondPerInstance: Math.round(FLOWS / startSeconds / 3),
      redisBytesPerPendingFlow: Math.round((loaded.memory - empty.memory) / FLOWS),
      pollsInWindow: p1 - p0,
      redisCommandsPerPoll: +((c1.commands - c0.commands) / (p1 - p0)).toFixed(2),
      clientRoundTripsPerPoll: +(s1.reduce((a, b) => a + b, 0) - s0.reduce((a, b) => a + b, 0)) / (p1 - p0),
      instanceCpuMsPerPoll: +((u1 - u0) / (p1 - p0)).toFixed(3),
      redisCpuUsPerPoll: +(((c1.cpuSeconds - c0.cpuSeconds) * 1e6) / (p1 - p0)).toFixed(1),
      redisNetInBytesPerPoll: Math.round((c1.netIn - c0.netIn) / (p1 - p0)),
      redisNetOutBytesPerPoll: Math.round((c1.netOut - c0.netOut) / (p1 - p0)),
      takeover: {
        flows: victims.length,
        takenOver: takeovers.length,
        firstMs: takeovers[0],
        medianMs: takeovers[Math.floor(takeovers.length / 2)],
        lastMs: takeovers.at(-1)
      }
    }
    console.log(JSON.stringify(figures, null, 2))
    r.disconnect()
    assert.strictEqual(takeovers.length, victims.length)
  })
})
