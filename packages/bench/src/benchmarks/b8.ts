/**
 * B8 — many instances on Redis (issue 23 items 3 and 4), so that their
 * targets join the one targets table: what a poll costs Redis, what a
 * pending flow holds there, refreshes of 50 accounts by 4 processes, and the
 * 3-instance run on a Redis Cluster with a master failover. The figures come
 * from store-redis' own tests (each measures against a real redis-server it
 * starts on loopback), run here as child processes; quick mode skips them
 * (`pnpm test` runs those tests itself).
 */
import { spawn } from "node:child_process"
import { repoRoot } from "../build.js"
import { compared, type Row, type Target } from "../report.js"
import { summarize } from "../stats.js"
import { bench, type Context } from "./common.js"

interface TestRun {
  readonly passed: boolean
  /** the last JSON object the test printed on a line of its own */
  readonly figures: Record<string, unknown> | undefined
  readonly why: string
}

/** One store-redis test file through vitest, bounded by `timeoutMs`. */
const runTest = (file: string, env: Readonly<Record<string, string>>, timeoutMs: number): Promise<TestRun> =>
  new Promise((resolve) => {
    const child = spawn("pnpm", ["exec", "vitest", "run", "--project", "store-redis", file], {
      cwd: repoRoot,
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"]
    })
    let out = ""
    const keep = (chunk: Buffer) => {
      out = (out + chunk.toString("utf8")).slice(-200_000)
    }
    child.stdout.on("data", keep)
    child.stderr.on("data", keep)
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs)
    child.on("close", (code, signal) => {
      clearTimeout(timer)
      const json = out.split("\n").map((l) => l.trim()).filter((l) => l.startsWith("{") && l.endsWith("}")).at(-1)
      const skipped = /\bskipped\b/.test(out) && !/\bpassed\b/.test(out)
      resolve({
        passed: code === 0 && !skipped,
        figures: json === undefined ? undefined : (JSON.parse(json) as Record<string, unknown>),
        why: signal !== null
          ? `stopped after ${timeoutMs / 1000} s`
          : skipped
          ? "skipped (no redis-server or redis-cli on PATH)"
          : code === 0
          ? ""
          : `failed: ${
            out.split("\n").filter((l) => /FAIL|AssertionError|Error:/.test(l)).slice(0, 3).join(" ").slice(0, 300)
          }`
      })
    })
  })

const num = (run: TestRun, key: string): number | undefined => {
  const v = run.figures?.[key]
  return typeof v === "number" ? v : undefined
}

const bytes = (value: number | undefined) => (value === undefined ? "–" : Math.round(value).toString())

const single = (value: number | undefined) => (value === undefined ? {} : { devflow: summarize([value])! })

export const b8 = (ctx: Context) =>
  bench(
    ctx,
    "B8",
    "many instances on Redis (store-redis' measuring tests, real redis-server on loopback)",
    async () => {
      if (ctx.quick) {
        return {
          rows: [],
          targets: [],
          notes: [],
          pending: "not run in quick mode: `pnpm test` runs these store-redis tests itself"
        }
      }
      const poll = await runTest("test/pollCost.test.ts", {}, 120_000)
      ctx.log(`  B8 poll cost: ${JSON.stringify(poll.figures ?? poll.why)}`)
      const refresh = await runTest("test/refreshContention.test.ts", { DEVFLOW_REFRESH_FIGURES: "1" }, 180_000)
      ctx.log(`  B8 refresh contention: ${JSON.stringify(refresh.figures ?? refresh.why)}`)
      const cluster = await runTest("test/clusterInstances.test.ts", {}, 180_000)
      ctx.log(`  B8 cluster failover: ${cluster.passed ? "passed" : cluster.why}`)

      const rows: Array<Row> = [
        {
          metric: "Redis commands the holder sends per poll (round trips)",
          unit: "commands",
          values: single(num(poll, "commandsSentPerPoll")),
          digits: 2
        },
        {
          metric: "Redis commands run per poll",
          unit: "commands",
          values: single(num(poll, "commandsRunPerPoll")),
          digits: 2
        },
        {
          metric: "Redis time per poll (the script's own, wall time inside Redis)",
          unit: "µs",
          values: single(num(poll, "redisCpuUsPerPoll")),
          digits: 0
        },
        {
          metric: "Redis network in / out per poll (one watcher)",
          unit: "B",
          values: { devflow: `${bytes(num(poll, "netInPerPoll"))} / ${bytes(num(poll, "netOutPerPoll"))}` }
        },
        { metric: "Redis memory per pending flow", unit: "B", values: single(num(poll, "bytesPerFlow")), digits: 0 },
        {
          metric: "4 processes × 50 expired accounts: refreshes",
          unit: "refreshes",
          values: single(num(refresh, "refreshes")),
          digits: 0
        },
        {
          metric: "4 × 50: median / max per call",
          unit: "ms",
          values: { devflow: `${num(refresh, "medianMs") ?? "–"} / ${num(refresh, "maxMs") ?? "–"}` }
        },
        {
          metric: "4 × 50: CPU per call (all processes)",
          unit: "ms",
          values: single(num(refresh, "cpuMsPerCall")),
          digits: 0
        },
        {
          metric: "4 × 50: Redis commands per call (all processes)",
          unit: "commands",
          values: single(num(refresh, "redisCommandsPerCall")),
          digits: 1
        }
      ]
      const none = { label: "devflow", value: undefined } as const
      const why = (run: TestRun) => (run.figures === undefined ? run.why : "")
      const targets: Array<Target> = [
        compared(
          "≤ 1 Redis round trip per poll on the owning instance",
          "commands",
          num(poll, "commandsSentPerPoll"),
          none,
          (d) => d <= 1,
          why(poll)
        ),
        compared("≤ 3 Redis commands per poll", "commands", num(poll, "commandsRunPerPoll"), none, (d) =>
          d <= 3, why(poll)),
        compared("Redis memory ≤ 1 KB per pending flow", "B", num(poll, "bytesPerFlow"), none, (d) =>
          d <= 1024, why(poll)),
        compared(
          "4 processes × 50 expired accounts → exactly 50 refreshes",
          "refreshes",
          num(refresh, "refreshes"),
          none,
          (d) =>
            d === 50,
          why(refresh)
        ),
        compared("4 × 50: median call ≤ 100 ms", "ms", num(refresh, "medianMs"), none, (d) =>
          d <= 100, why(refresh)),
        compared("4 × 50: max call ≤ 500 ms", "ms", num(refresh, "maxMs"), none, (d) =>
          d <= 500, why(refresh)),
        {
          name:
            "Redis Cluster (3 masters + 3 replicas), 3 instances, one killed, a master failed over: 0 lost, 0 early polls, no CROSSSLOT",
          met: cluster.why.startsWith("skipped") || cluster.why.startsWith("stopped") ? null : cluster.passed,
          detail: cluster.passed ? "store-redis test/clusterInstances.test.ts passed" : cluster.why
        }
      ]
      return {
        rows,
        targets,
        notes: [
          "Figures from store-redis' tests: test/pollCost.test.ts (one instance, interval 1 s, lease 10 s, scans off; INFO commandstats, MEMORY USAGE), test/refreshContention.test.ts (DEVFLOW_REFRESH_FIGURES=1; token endpoint answering in 20 ms) and test/clusterInstances.test.ts (asserts its own outcome). No peer does this work, so there is no ratio.",
          "Times depend on the machine and its load (see the load column); command counts and bytes do not."
        ]
      }
    }
  )
