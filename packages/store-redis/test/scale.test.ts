/**
 * Three instances of the example service share DEVFLOW_SCALE_FLOWS (default
 * 600 in .ci/run's long step, where it must fit a busy CI machine; `DEVFLOW_SCALE_FLOWS=3000`
 * is the figure run reported in docs/scaling.md) flows through one Redis, against a loopback authorization server
 * that logs every poll. Mid-run one instance is killed with SIGKILL and
 * Redis is restarted (append-only file, so it comes back with its data).
 *
 * Then: every flow ends with the outcome its plan dictates (0 lost), no
 * device code was polled sooner than its interval (by the same or another
 * instance), refreshes requested on every instance at once happen once per
 * account, and nothing in Redis holds a token or a device code in clear.
 */
import { afterAll, assert, describe, it } from "@effect/vitest"
import { dumpAll, KEY_1, percentile, redisInfo as info, until } from "./helpers.js"
import { call, type Instance, serviceEnv, startInstance, stopInstance } from "./instances.js"
import type { CodeRecord, Violation } from "./pollLogServer.js"
import { hasRedis, type RedisServer, startRedis } from "./redisServer.js"

interface ServerLog {
  readonly codes: ReadonlyArray<CodeRecord>
  readonly violations: ReadonlyArray<Violation>
  readonly counters: { polls: number; refreshes: number; refreshReuse: number; afterAnswer: number }
  readonly refreshesBySubject: Record<string, number>
}

const FLOWS = Number(process.env.DEVFLOW_SCALE_FLOWS ?? 600)
const LEASE_MS = 4_000

const planOf = (i: number): string =>
  i % 20 === 0 ? "slow:1" : i % 10 === 3 ? "deny:1" : i % 10 === 7 ? "expire" : `approve:${1 + (i % 3)}`

const expected = (plan: string): string =>
  plan.startsWith("approve") || plan.startsWith("slow")
    ? "succeeded"
    : plan.startsWith("deny")
    ? "failed:AccessDenied"
    : "failed:expired"

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

const pool = async <A>(items: ReadonlyArray<A>, concurrency: number, f: (item: A, index: number) => Promise<void>) => {
  let next = 0
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < items.length) {
      const i = next++
      await f(items[i]!, i)
    }
  }))
}

// ~50 s: out of `pnpm test`, run by .ci/run's long step (DEVFLOW_LONG_TESTS=1)
describe.runIf(hasRedis && process.env.DEVFLOW_LONG_TESTS === "1")(
  `${FLOWS} flows on 3 instances sharing one Redis`,
  () => {
    let redis: RedisServer | undefined
    const instances: Array<Instance> = []
    const helpers: Array<Instance> = []
    afterAll(async () => {
      await Promise.all([...instances, ...helpers].map((i) => stopInstance(i, "SIGKILL")))
      await redis?.close()
    })

    it("kill -9 of an instance and a Redis restart: no flow lost, no early poll, one refresh per account", {
      timeout: 300_000
    }, async () => {
      redis = await startRedis({ aof: true })
      const authProcess = await startInstance(
        "auth",
        { INTERVAL_SECONDS: "1", EXPIRE_SECONDS: "3" },
        "./pollLogServerMain.ts"
      )
      helpers.push(authProcess)
      const auth = { origin: authProcess.url }
      const env = serviceEnv(redis.url, auth.origin, `k1:${KEY_1}`, {
        SCOPES: "openid offline_access api",
        LEASE_MS: String(LEASE_MS),
        REQUEST_TIMEOUT_MS: "5000"
      })
      instances.push(...await Promise.all(["A", "B", "C"].map((name) => startInstance(name, env))))
      const [, victim] = instances
      const alive = () => instances.filter((i) => i.process.exitCode === null && i.process.signalCode === null)
      const before = await info(redis.url)

      // -- start every flow, round-robin over the live instances, killing B halfway
      const flows: Array<{ id: string; plan: string; final?: string }> = []
      const userCodes = new Map<string, string>()
      let killedAt = 0
      let created = 0
      let chaosStarted = false
      let restartAt = 0
      let restartedAt = 0
      const started = Date.now()
      let chaos: Promise<void> = Promise.resolve()
      let sample: { commands: number; memory: number; pending: number; polls: number } | undefined
      await pool(Array.from({ length: FLOWS }, (_, i) => i), 48, async (i) => {
        // halfway: once half the flows exist (B holds about a third of them)
        if (created >= FLOWS / 2 && !chaosStarted) {
          chaosStarted = true
          sample = { ...await info(redis!.url), polls: (await call(`${auth.origin}/__counters`))!.body.polls }
          victim!.process.kill("SIGKILL")
          killedAt = Date.now()
          // Redis goes down and comes back (with its append-only file) while B's flows are being taken over
          chaos = sleep(LEASE_MS + 500).then(async () => {
            restartAt = Date.now()
            await redis!.stop()
            await redis!.restart()
            restartedAt = Date.now()
          })
        }
        const plan = planOf(i)
        for (let attempt = 0; attempt < 20; attempt++) {
          const live = alive()
          const answer = await call(`${live[(i + attempt) % live.length]!.url}/flows`, {
            method: "POST",
            body: { params: { plan } }
          })
          if (answer?.status === 201) {
            flows[i] = { id: answer.body.id, plan }
            created++
            userCodes.set(answer.body.id, answer.body.userCode)
            return
          }
          await sleep(100)
        }
        throw new Error(`flow ${i} could not be started`)
      })
      const startSeconds = (Date.now() - started) / 1000
      await chaos

      // -- watch every flow to its end from any live instance (long polls)
      const deadline = Date.now() + 120_000
      await pool(flows, 300, async (flow, i) => {
        let since = 0
        for (let round = 0; Date.now() < deadline && flow.final === undefined; round++) {
          const live = alive()
          const answer = await call(`${live[(i + round) % live.length]!.url}/flows/${flow.id}?wait=10&since=${since}`)
          if (answer === undefined) {
            await sleep(200)
            continue
          }
          const state = answer.body
          if (answer.status === 404) flow.final = "lost"
          else if (state.status === "pending") since = state.nextPollAt
          else {
            flow.final = state.status === "failed"
              ? `failed:${
                state.error.tag === "DeviceCodeExpired" || state.error.code === "expired_token"
                  ? "expired"
                  : state.error.tag
              }`
              : state.status
          }
        }
      })
      const doneSeconds = (Date.now() - started) / 1000
      const fetchLog = async () => (await call(`${auth.origin}/__log`, { timeoutMs: 60_000 }))!.body as ServerLog
      let log = await fetchLog()

      // A flow whose tokens the server handed to B just before B was killed, and that B never stored, was
      // redeemed by a process that no longer exists: the next poller's invalid_grant is its true outcome.
      // Any time of the answer counts: the server logs a poll when it handles it, which under load can be
      // milliseconds after the kill for a poll B sent before it (a CI-like run saw one at +3 ms).
      const diedWithVictim = new Set(
        log.codes
          .filter((r) => r.polls.some((p) => p.answer === "tokens" && p.instance === "B"))
          .map((r) => `U-${r.n}`)
      )
      const trueOutcome = (f: { id: string; plan: string }) =>
        diedWithVictim.has(userCodes.get(f.id) ?? "") ? "failed:OAuthError" : expected(f.plan)
      const wrong = flows.filter((f) => f.final !== expected(f.plan) && f.final !== trueOutcome(f))
      const outcomes = new Map<string, number>()
      for (const f of flows) outcomes.set(f.final ?? "unfinished", (outcomes.get(f.final ?? "unfinished") ?? 0) + 1)

      // -- takeover after the kill: for each code B requested, the first poll by another instance after the kill
      const takeovers: Array<number> = []
      for (const record of log.codes) {
        if (record.issuedBy !== "B") continue
        const next = record.polls.find((p) => p.at > killedAt && p.instance !== "B")
        if (next !== undefined) takeovers.push(Math.round(next.at - killedAt))
      }

      // -- refresh: every live instance asks for a fresh token for the same accounts at once
      const signedIn = flows.filter((f) => f.final === "succeeded").slice(0, 200)
      const refreshAnswers: Array<string> = []
      await pool(signedIn, 20, async (flow) => {
        const answers = await Promise.all(
          alive().flatMap((instance) => [instance, instance]).map((instance) =>
            call(`${instance.url}/flows/${flow.id}/token`, { method: "POST", any: true })
          )
        )
        for (const a of answers) {
          refreshAnswers.push(
            a === undefined
              ? "no answer"
              : a.status === 200
              ? a.body.source
              : `${a.status} ${JSON.stringify(a.body).slice(0, 300)}`
          )
        }
      })

      log = await fetchLog()
      const refreshCounts = Object.values(log.refreshesBySubject)
      const dump = await dumpAll(redis.url)
      const after = await info(redis.url)
      const figures = {
        flows: FLOWS,
        outcomes: Object.fromEntries(outcomes),
        lost: wrong.length,
        tokensAnsweredToKilledInstance: flows.filter((f) => diedWithVictim.has(userCodes.get(f.id) ?? "")).length,
        earlyPollDetails: log.violations.slice(0, 5),
        earlyPolls: log.violations.length,
        earlyPollsByTwoInstances: log.violations.filter((v) => v.instances[0] !== v.instances[1]).length,
        pollsAfterTokens: log.counters.afterAnswer,
        polls: log.counters.polls,
        startSeconds,
        flowsStartedPerSecondPerInstance: Math.round(FLOWS / startSeconds / 3),
        doneSeconds,
        takeoverMs: {
          n: takeovers.length,
          p50: percentile(takeovers, 50),
          p95: percentile(takeovers, 95),
          max: percentile(takeovers, 100)
        },
        redisCommandsPerPoll: sample === undefined
          ? NaN
          : +((sample.commands - before.commands) / Math.max(1, sample.polls)).toFixed(2),
        redisBytesPerPendingFlow: sample === undefined
          ? NaN
          : Math.round((sample.memory - before.memory) / Math.max(1, sample.pending)),
        pendingAtSample: sample?.pending,
        refreshAccounts: signedIn.length,
        refreshes: log.counters.refreshes,
        refreshReuse: log.counters.refreshReuse,
        refreshAnswers: refreshAnswers.reduce<Record<string, number>>((m, a) => ({ ...m, [a]: (m[a] ?? 0) + 1 }), {}),
        pendingLeft: after.pending
      }
      console.log(JSON.stringify(figures, null, 2))
      for (const i of instances) {
        if (i.process.exitCode !== null) console.log(i.name, "exited", i.process.exitCode, i.stderr().slice(-3000))
      }
      if (wrong.length > 0) {
        const details = log.codes.filter((r) => r.tokensIssued > 0 && r.polls.at(-1)?.answer !== "tokens").map((r) => ({
          n: r.n,
          plan: r.plan,
          issuedBy: r.issuedBy,
          polls: r.polls.map((p) => `${p.instance}@${Math.round(p.at - killedAt)}:${p.answer}`)
        }))
        for (const i of instances) {
          console.log(
            i.name,
            i.logs.filter((l) => /WARN|ERROR/.test(l)).slice(-8).join("\n"),
            i.stderr().slice(-2000)
          )
        }
        console.log(
          "killed at 0; Redis down",
          restartAt - killedAt,
          "→",
          restartedAt - killedAt,
          JSON.stringify(details)
        )
      }

      assert.deepStrictEqual(
        wrong.slice(0, 5),
        [],
        `${wrong.length} flows did not end with their true outcome: ${JSON.stringify(wrong.slice(0, 5))}`
      )
      assert.deepStrictEqual(log.violations.slice(0, 5), [], "polls sooner than the interval")
      // the only polls after tokens are the next holder's, for codes whose tokens died with the killed instance
      assert.isAtMost(log.counters.afterAnswer, diedWithVictim.size)
      // with a few hundred flows or more, B still holds pending flows when it is killed
      if (FLOWS >= 300) assert.isAbove(takeovers.length, 0, "the killed instance held flows that others took over")
      assert.strictEqual(log.counters.refreshReuse, 0)
      assert.strictEqual(refreshCounts.length, signedIn.length)
      assert.isTrue(refreshCounts.every((n) => n === 1), "one refresh per account")
      assert.isTrue(
        refreshAnswers.every((a) => a === "refresh" || a === "cache"),
        JSON.stringify(figures.refreshAnswers)
      )
      assert.notInclude(dump, "CANARY")
      // The index is a hint, kept apart from the flows: an entry may outlive its flow (a hint written by a
      // scan as the flow ended, a removal lost while Redis was down). The first scan after the entry falls
      // due (within a lease) sees the flow ended and removes it: the index empties itself.
      const redisUrl = redis.url
      await until(
        "the pending index to empty itself",
        () => info(redisUrl).then((i) => i.pending),
        (pending) => pending === 0,
        3 * LEASE_MS
      )
      await stopInstance(authProcess)
    })
  }
)
