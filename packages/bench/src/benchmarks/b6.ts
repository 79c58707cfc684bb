/**
 * B6 — protocol behaviour under the same script: each client against the
 * same scripted server, one flow each; the server records every request.
 * Peers are recorded as they are, never worked around.
 */
import { type ClientName, CLIENTS } from "../clients/types.js"
import { compared, type Row, type Target } from "../report.js"
import { runEntry } from "../runner.js"
import type { FlowRecord, Step } from "../server/loopbackServer.js"
import type { OneReport } from "../workers/worker.js"
import { bench, type Context, endpointsOf, withServer } from "./common.js"

export interface Scenario {
  readonly id: string
  readonly title: string
  readonly interval: number | null
  readonly script: ReadonlyArray<Step>
  /** what RFC 8628 (and the design notes) ask for */
  readonly expected: string
  /** cancel this long after the client reported the code */
  readonly cancelAfterMs?: number | undefined
  /** in quick mode */
  readonly quick: boolean
}

const pending: Step = { kind: "pending" }

export const SCENARIOS: ReadonlyArray<Scenario> = [
  {
    id: "slow_down",
    title: "slow_down",
    interval: 1,
    script: [pending, { kind: "slow_down" }, pending],
    expected: "gaps 1, 1, 6, 6 s: +5 s from the slow_down on (RFC 8628 §3.5)",
    quick: false
  },
  {
    id: "slow_down_interval",
    title: "slow_down with a new interval (GitHub)",
    interval: 1,
    script: [{ kind: "slow_down", interval: 8 }],
    expected: "gaps 1, 8 s: the server's 8 s beats 1 + 5",
    quick: false
  },
  {
    id: "missing_interval",
    title: "no interval in the device authorization response",
    interval: null,
    script: [pending, pending],
    expected: "gaps 5, 5, 5 s (RFC 8628 §3.5 default)",
    quick: false
  },
  {
    id: "server_interval",
    title: "server-sent interval 2 s",
    interval: 2,
    script: [pending],
    expected: "gaps 2, 2 s",
    quick: true
  },
  {
    id: "subsecond_interval",
    title: "server-sent interval 0.5 s",
    interval: 0.5,
    script: [pending, pending],
    expected: "no RFC rule; devflow floors intervals at 1 s",
    quick: false
  },
  {
    id: "429",
    title: "HTTP 429 + Retry-After: 3",
    interval: 1,
    script: [pending, { kind: "429", retryAfter: 3 }],
    expected: "poll after the 429 ≥ 3 s later; the design treats a 429 as slow_down (+5 s → 6 s)",
    quick: false
  },
  {
    id: "503",
    title: "HTTP 503 + Retry-After: 2",
    interval: 1,
    script: [{ kind: "503", retryAfter: 2 }],
    expected: "keep polling, next poll ≥ 2 s later",
    quick: false
  },
  {
    id: "transport",
    title: "transport failure (connection dropped without an answer)",
    interval: 1,
    script: [pending, { kind: "drop" }],
    expected: "keep polling with backoff (RFC 8628 §3.5: reduce the polling frequency)",
    quick: true
  },
  {
    id: "cancel_sleeping",
    title: "cancel while sleeping (interval 3 s, cancelled 1.5 s after the code)",
    interval: 3,
    script: Array.from({ length: 20 }, () => pending),
    cancelAfterMs: 1_500,
    expected: "stops at once, no further poll",
    quick: false
  },
  {
    id: "cancel_in_flight",
    title: "cancel while a request is in flight (the server never answers the first poll)",
    interval: 1,
    script: [{ kind: "hang" }],
    cancelAfterMs: 1_500,
    expected: "stops at once and closes the in-flight request",
    quick: true
  }
]

export interface Behaviour {
  readonly scenario: string
  readonly client: ClientName
  readonly polls: number
  /** seconds: code answer → first poll, then end of each answer → next request */
  readonly gaps: ReadonlyArray<number>
  readonly outcome: string
  /** code → end of the flow */
  readonly durationS: number | undefined
  readonly cancelToStopMs: number | undefined
  readonly stopped: boolean
  readonly pollsAfterCancel: number | undefined
  /** the in-flight request's connection was closed this long after the cancel */
  readonly inFlightClosedAfterMs: number | undefined
  readonly nonRfcGrantType: boolean
}

const gapsOf = (flow: FlowRecord | undefined): Array<number> => {
  if (flow === undefined) return []
  const gaps: Array<number> = []
  let previousEnd = flow.issuedFinishedAt
  for (const poll of flow.polls) {
    if (previousEnd !== undefined) gaps.push(Math.round((poll.arrivedAt - previousEnd) / 100) / 10)
    previousEnd = poll.finishedAt ?? poll.closedAt ?? poll.arrivedAt
  }
  return gaps
}

const runScenario = (ctx: Context, scenario: Scenario, client: ClientName): Promise<Behaviour> =>
  withServer(
    ctx,
    { interval: scenario.interval, expiresIn: 120, script: scenario.script, record: true },
    async (server) => {
      const report = await runEntry<OneReport>(`flows-${client}`, {
        kind: "one",
        endpoints: endpointsOf(server),
        cancelAfterMs: scenario.cancelAfterMs,
        stopWithinMs: ctx.quick ? 1_000 : 5_000
      }, { env: ctx.env, timeoutMs: 60_000 })
      const flow = [...server.flows.values()][0]
      const cancelAt = report.cancelAt
      const hung = flow?.polls.find((p) => p.step === "hang")
      return {
        scenario: scenario.id,
        client,
        polls: flow?.polls.length ?? 0,
        gaps: gapsOf(flow),
        outcome: report.ok ? "tokens" : (report.error ?? "failed"),
        durationS: report.codeAt === undefined ? undefined : Math.round((report.endedAt - report.codeAt) / 100) / 10,
        cancelToStopMs: cancelAt === undefined || !report.stopped ? undefined : Math.round(report.endedAt - cancelAt),
        stopped: report.stopped,
        pollsAfterCancel: cancelAt === undefined
          ? undefined
          : (flow?.polls.filter((p) => p.arrivedAt > cancelAt).length ?? 0),
        inFlightClosedAfterMs: cancelAt === undefined || hung?.closedAt === undefined || !report.stopped
          ? undefined
          : Math.round(hung.closedAt - cancelAt),
        nonRfcGrantType: server.counters.legacyGrantType > 0
      }
    }
  )

const describe = (b: Behaviour, stopWithinS: number): string => {
  const gaps = b.gaps.length === 0 ? "" : ` at +${b.gaps.join(", +")} s`
  const base = `${b.polls} poll${b.polls === 1 ? "" : "s"}${gaps}`
  if (b.cancelToStopMs !== undefined || !b.stopped) {
    const stop = b.stopped
      ? `stopped ${b.cancelToStopMs} ms after cancel`
      : `did not stop within ${stopWithinS} s of cancel`
    const inflight = b.inFlightClosedAfterMs !== undefined
      ? `, request aborted after ${b.inFlightClosedAfterMs} ms`
      : ""
    return `${base}; ${stop}${inflight}; ${b.pollsAfterCancel ?? 0} poll(s) after cancel → ${b.outcome}`
  }
  return `${base} → ${b.outcome}`
}

export const b6 = (ctx: Context) =>
  bench(ctx, "B6", "protocol behaviour under the same script", async () => {
    const scenarios = SCENARIOS.filter((s) => !ctx.quick || s.quick)
    const behaviours: Array<Behaviour> = []
    const stopWithinS = ctx.quick ? 1 : 5
    const runAll = async (scenario: Scenario) => {
      // the three clients run side by side, each against its own server
      const results = await Promise.all(CLIENTS.map((client) => runScenario(ctx, scenario, client)))
      for (const r of results) ctx.log(`  B6 ${scenario.id} ${r.client}: ${describe(r, stopWithinS)}`)
      behaviours.push(...results)
    }
    // three scenarios at a time (nine mostly idle processes); quick mode: all at once
    const width = ctx.quick ? scenarios.length : 3
    for (let i = 0; i < scenarios.length; i += width) await Promise.all(scenarios.slice(i, i + width).map(runAll))
    behaviours.sort((a, b) =>
      scenarios.findIndex((s) => s.id === a.scenario) - scenarios.findIndex((s) => s.id === b.scenario)
    )
    const rows: Array<Row> = scenarios.map((s) => ({
      metric: `${s.title} — expected: ${s.expected}`,
      unit: "polls, gaps, outcome",
      values: Object.fromEntries(
        CLIENTS.map((c) => {
          const b = behaviours.find((x) => x.scenario === s.id && x.client === c)
          return [c, b === undefined ? "–" : describe(b, stopWithinS)]
        })
      )
    }))
    const legacy = CLIENTS.filter((c) => behaviours.some((b) => b.client === c && b.nonRfcGrantType))
    const cancelTarget = (scenario: "cancel_sleeping" | "cancel_in_flight", name: string): Target => {
      const of = (client: ClientName) => behaviours.find((b) => b.scenario === scenario && b.client === client)
      const mine = of("devflow")
      const target = compared(name, "ms", mine?.cancelToStopMs, {
        label: "openid-client",
        value: of("openid-client")?.cancelToStopMs
      }, (d) =>
        d <= 10 && mine?.pollsAfterCancel === 0 &&
        (scenario === "cancel_sleeping" || mine.inFlightClosedAfterMs !== undefined))
      if (mine === undefined) {
        return { ...target, detail: ctx.quick ? "not run in quick mode" : "not run" }
      }
      // a flow that did not stop is a miss, not a missing figure
      if (!mine.stopped) {
        return { ...target, met: false, detail: `devflow did not stop within ${stopWithinS} s of the cancel` }
      }
      return {
        ...target,
        detail: `${mine.pollsAfterCancel ?? 0} poll(s) after the cancel${
          scenario === "cancel_in_flight"
            ? mine.inFlightClosedAfterMs === undefined
              ? "; the in-flight request was NOT aborted"
              : `; in-flight request aborted ${mine.inFlightClosedAfterMs} ms after the cancel`
            : ""
        }`
      }
    }
    const targets: Array<Target> = [
      cancelTarget("cancel_sleeping", "cancel while sleeping: stopped ≤ 10 ms after, no poll after"),
      cancelTarget("cancel_in_flight", "cancel mid-request: stopped ≤ 10 ms after, the request aborted")
    ]
    return {
      rows,
      layout: "list" as const,
      targets,
      notes: [
        "Gaps are measured by the server: from the end of the device authorization answer to the first poll, then from the end of each answer (or the dropped connection) to the next request.",
        ...(legacy.length > 0
          ? [
            `${
              legacy.join(", ")
            } sent grant_type=device_code (Entra's legacy name) instead of urn:ietf:params:oauth:grant-type:device_code; an RFC 8628 server (oidc-provider included) rejects it with unsupported_grant_type. The loopback server accepts it, as Entra does, so the rest could be observed.`
          ]
          : [])
      ],
      detail: behaviours
    }
  })
