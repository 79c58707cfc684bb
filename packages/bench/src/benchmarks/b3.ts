/**
 * B3 — poll timing accuracy: many flows polling at interval 1 s, every poll
 * timed by the server from the end of the answer before it (or of the
 * device authorization answer, for the first poll). Lateness = actual gap −
 * required interval; negative means the client polled early.
 */
import { type ClientName, CLIENTS } from "../clients/types.js"
import { compared, type Row, type Target } from "../report.js"
import { runEntry } from "../runner.js"
import { type FlowRecord, pendingThenToken } from "../server/loopbackServer.js"
import { quantile, summarize } from "../stats.js"
import type { FlowsReport } from "../workers/worker.js"
import { bench, type Context, endpointsOf, round, withServer } from "./common.js"

const INTERVAL_MS = 1_000

interface Lateness {
  readonly polls: number
  readonly p50: number | undefined
  readonly p99: number | undefined
  readonly max: number | undefined
  readonly min: number | undefined
  /** p99 over the polls after each flow's first (the first absorbs the start-up burst of connections) */
  readonly p99Steady: number | undefined
  /** polls sent before the interval had passed */
  readonly early: number
  /** polls sent with no interval at all after the device authorization answer (a first poll at once) */
  readonly immediateFirst: number
}

export const lateness = (flows: Iterable<FlowRecord>, intervalMs: number): Lateness => {
  const all: Array<number> = []
  const steady: Array<number> = []
  let immediateFirst = 0
  for (const flow of flows) {
    let previousEnd = flow.issuedFinishedAt
    for (const [i, poll] of flow.polls.entries()) {
      if (previousEnd !== undefined) {
        const late = poll.arrivedAt - (previousEnd + intervalMs)
        all.push(late)
        if (i > 0) steady.push(late)
        if (i === 0 && poll.arrivedAt - previousEnd < intervalMs / 2) immediateFirst++
      }
      previousEnd = poll.finishedAt
    }
  }
  return {
    polls: all.length,
    p50: quantile(all, 0.5),
    p99: quantile(all, 0.99),
    max: quantile(all, 1),
    min: quantile(all, 0),
    p99Steady: quantile(steady, 0.99),
    early: all.filter((x) => x < 0).length,
    immediateFirst
  }
}

export const b3 = (ctx: Context) =>
  bench(
    ctx,
    "B3",
    "poll timing accuracy (lateness of each poll after the required interval, measured by the server)",
    async () => {
      const n = ctx.quick ? 5 : 100
      const pending = ctx.quick ? 2 : 10
      const runs = ctx.quick ? 1 : 2
      const results: Array<{ client: ClientName; lateness: Lateness; failed: number }> = []
      const one = async (client: ClientName) => {
        {
          const result = await withServer(
            ctx,
            { interval: INTERVAL_MS / 1000, expiresIn: 600, script: pendingThenToken(pending), record: true },
            async (server) => {
              const report = await runEntry<FlowsReport>(`flows-${client}`, {
                kind: "flows",
                endpoints: endpointsOf(server),
                n
              }, {
                env: ctx.env,
                timeoutMs: 120_000
              })
              return { client, lateness: lateness(server.flows.values(), INTERVAL_MS), failed: report.failed }
            }
          )
          ctx.log(
            `  B3 ${client}: ${result.lateness.polls} polls, p50 ${round(result.lateness.p50 ?? NaN)} ms, p99 ${
              round(result.lateness.p99 ?? NaN)
            } ms, early ${result.lateness.early}`
          )
          results.push(result)
        }
      }
      for (let i = 0; i < runs; i++) {
        if (ctx.quick) await Promise.all(CLIENTS.map(one))
        else for (const client of CLIENTS) await one(client)
      }
      const per = (f: (l: Lateness) => number | undefined) =>
        Object.fromEntries(
          CLIENTS.map((c) => [c, summarize(results.filter((r) => r.client === c).map((r) => f(r.lateness)))]).filter((
            [, v]
          ) => v !== undefined)
        )
      const rows: Array<Row> = [
        { metric: "polls timed per run", unit: "polls", values: per((l) => l.polls), digits: 0 },
        { metric: "p50 lateness", unit: "ms", values: per((l) => l.p50), digits: 1 },
        { metric: "p99 lateness", unit: "ms", values: per((l) => l.p99), digits: 1 },
        {
          metric: "p99 lateness, polls after each flow's first",
          unit: "ms",
          values: per((l) => l.p99Steady),
          digits: 1
        },
        { metric: "max lateness", unit: "ms", values: per((l) => l.max), digits: 1 },
        { metric: "min lateness (negative: early)", unit: "ms", values: per((l) => l.min), digits: 1 },
        { metric: "early polls", unit: "polls", values: per((l) => l.early), digits: 0 },
        { metric: "first poll sent at once", unit: "flows", values: per((l) => l.immediateFirst), digits: 0 }
      ]
      const of = (client: ClientName) => results.filter((r) => r.client === client)
      const worstP99 = (client: ClientName) => summarize(of(client).map((r) => r.lateness.p99))?.max
      const earlyPolls = (
        client: ClientName
      ) => (of(client).length === 0 ? undefined : of(client).reduce((s, r) => s + r.lateness.early, 0))
      const steady = summarize(of("devflow").map((r) => r.lateness.p99Steady))
      const min = summarize(of("devflow").map((r) => r.lateness.min))
      const targets: Array<Target> = [
        compared(
          "p99 lateness ≤ 20 ms, first polls included (worst run)",
          "ms",
          worstP99("devflow"),
          { label: "openid-client", value: worstP99("openid-client") },
          (d) => d <= 20,
          `devflow after each flow's first poll: ${round(steady?.median ?? NaN)} ms`
        ),
        compared(
          "never early (polls before the interval had passed)",
          "polls",
          earlyPolls("devflow"),
          { label: "openid-client", value: earlyPolls("openid-client") },
          (d) => d === 0,
          `devflow's earliest ${round(min?.min ?? NaN, 2)} ms`
        )
      ]
      return {
        rows,
        targets,
        notes: [
          `${n} flows at once per client, interval 1 s, ${pending} pending answers then tokens; ${runs} run(s) per client.`,
          "Measured on the server: arrival of a poll − (end of the previous answer + interval). Loopback latency and the client's own event-loop delay are included, so an exact client reads slightly positive."
        ],
        detail: results
      }
    }
  )
