/**
 * Three instances of the example service on a real Redis Cluster (3 masters,
 * 3 replicas on loopback), flows started and watched across them; mid-run
 * one instance is killed with SIGKILL and the master serving one of its
 * flows' slots is killed too (its replica takes over). Every flow ends with
 * its true outcome (0 lost), no device code is polled sooner than its
 * interval by any two instances, and no instance answers with a CROSSSLOT
 * error. About 40 s, in `pnpm test`.
 */
import { afterAll, assert, describe, it } from "@effect/vitest"
import { KEY_1, until } from "./helpers.js"
import { call, type Instance, serviceEnv, startInstance, stopInstance } from "./instances.js"
import type { ServerLog } from "./pollLogServer.js"
import { hasCluster, type RedisCluster, startCluster } from "./redisCluster.js"

const FLOWS = 15
const LEASE_MS = 2_000

describe.runIf(hasCluster)("three instances on a Redis Cluster, one killed, one master failed over", () => {
  let cluster: RedisCluster | undefined
  const processes: Array<Instance> = []
  afterAll(async () => {
    await Promise.all(processes.map((p) => stopInstance(p, "SIGKILL")))
    await cluster?.close()
  })

  it("0 lost, 0 polls sooner than the interval, no CROSSSLOT", { timeout: 120_000 }, async () => {
    cluster = await startCluster()
    const auth = await startInstance("auth", { INTERVAL_SECONDS: "1", EXPIRE_SECONDS: "120" }, "./pollLogServerMain.ts")
    processes.push(auth)
    const env = serviceEnv("", auth.url, `k1:${KEY_1}`, {
      REDIS_CLUSTER: cluster.startup.map((n) => `${n.host}:${n.port}`).join(","),
      LEASE_MS: String(LEASE_MS)
    })
    const instances = await Promise.all(["A", "B", "C"].map((name) => startInstance(name, env)))
    processes.push(...instances)
    const [a, b, c] = instances as [Instance, Instance, Instance]

    const flows: Array<{ id: string; by: Instance; final?: string }> = []
    for (let i = 0; i < FLOWS; i++) {
      const by = instances[i % 3]!
      const started = await call(`${by.url}/flows`, { method: "POST", body: { params: { plan: "approve:4" } } })
      assert.strictEqual(started?.status, 201, JSON.stringify(started?.body))
      flows.push({ id: started!.body.id, by })
    }
    const log = () => call(`${auth.url}/__log`).then((r) => r!.body as ServerLog)
    await until(
      "every code to be polled",
      log,
      (l) => l.codes.length === FLOWS && l.codes.every((r) => r.polls.length >= 1)
    )

    // mid-run: B dies, and so does the master serving one of B's flows
    b.process.kill("SIGKILL")
    const killedAt = Date.now()
    const victim = flows.find((f) => f.by === b)!
    await cluster.kill(await cluster.masterOf(`devflow:flow:{${victim.id}}`))

    const errors: Array<string> = []
    await Promise.all(flows.map(async (flow, i) => {
      const live = [a, c]
      const deadline = Date.now() + 60_000
      // long polls: the next answer comes with the flow's next update
      let since = 0
      for (let round = 0; flow.final === undefined; round++) {
        if (Date.now() > deadline) throw new Error(`flow ${flow.id} did not end: ${errors.slice(-3).join(" / ")}`)
        const answer = await call(`${live[(i + round) % 2]!.url}/flows/${flow.id}?wait=10&since=${since}`, {
          any: true
        })
        if (answer === undefined || answer.status !== 200) {
          errors.push(
            answer === undefined
              ? "no answer"
              : `${answer.status} ${answer.body?.error?.tag}: ${answer.body?.error?.message}`
          )
          await new Promise((resolve) => setTimeout(resolve, 200))
        } else if (answer.body.status === "pending") {
          since = answer.body.nextPollAt
        } else {
          flow.final = answer.body.status === "failed" ? `failed:${answer.body.error.tag}` : answer.body.status
        }
      }
    }))
    const final = await log()
    // B's flows were running when it died, and others polled them to their end
    const byB = new Set(flows.filter((f) => f.by === b).map((f) => f.id))
    assert.isAbove(byB.size, 0)
    assert.isTrue(
      final.codes.filter((r) => r.issuedBy === "B").every((r) =>
        r.polls.some((p) => p.instance !== "B" && p.at > killedAt)
      )
    )
    // a code whose tokens went to B just before it died was redeemed by a process that is gone:
    // the taker's invalid_grant is its true outcome
    const diedWithB = final.codes.filter((r) =>
      r.polls.some((p) => p.answer === "tokens" && p.instance === "B" && p.at <= killedAt)
    ).length
    const outcomes = flows.map((f) => f.final)
    console.log(JSON.stringify({ outcomes, errors, violations: final.violations.length }))
    assert.isTrue(outcomes.every((o) => o === "succeeded" || o === "failed:OAuthError"), JSON.stringify(outcomes))
    assert.isAtMost(outcomes.filter((o) => o !== "succeeded").length, diedWithB)
    assert.deepStrictEqual(final.violations, [])
    // only typed answers while the cluster re-forms, never a slot error
    assert.isTrue(
      errors.every((e) => e.startsWith("503 FlowStoreUnavailable") && !/CROSSSLOT/.test(e)),
      errors.join("\n")
    )
  })
})
