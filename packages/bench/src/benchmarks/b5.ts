/**
 * B5 — approval → token latency through the real dev server (oidc-provider,
 * which answers slow_down to polls faster than its interval): the user
 * approves at a fixed phase of the polling interval; the figure is the time
 * from the approval's last page to the client holding the tokens.
 */
import { startDevServer } from "@devflow/dev-server"
import { type ClientName, CLIENTS, type Endpoints, now } from "../clients/types.js"
import type { Row } from "../report.js"
import { runEntry } from "../runner.js"
import { startTlsProxy } from "../server/tlsProxy.js"
import { summarize } from "../stats.js"
import type { OneReport } from "../workers/worker.js"
import { bench, type Context, round } from "./common.js"

interface Sample {
  readonly client: ClientName
  readonly interval: number
  readonly phase: number
  readonly latencyMs: number | undefined
  readonly outcome: string
}

const ISSUER_PATH = "/oidc"

export const b5 = (ctx: Context) =>
  bench(ctx, "B5", "approval → token latency through the real dev server (oidc-provider)", async () => {
    const intervals = ctx.quick ? [1] : [1, 5]
    const phases = ctx.quick ? [0.5] : [0.2, 0.5, 0.8]
    const samples: Array<Sample> = []
    const translations = { devicecodePath: 0, grantType: 0 }
    for (const interval of intervals) {
      const dev = await startDevServer({ pollIntervalSeconds: interval, issuerPath: ISSUER_PATH })
      const proxy = await startTlsProxy(
        dev.issuer,
        { cert: ctx.cert.cert, key: ctx.cert.key },
        `${ISSUER_PATH}/device/auth`
      )
      try {
        const via = `${proxy.origin}${ISSUER_PATH}`
        const endpoints = (client: ClientName): Endpoints => ({
          // openid-client checks the id_token's iss against the issuer identifier; msal-node needs an https authority
          issuer: client === "msal-node" ? via : dev.issuer,
          deviceAuthorization: `${via}/device/auth`,
          token: `${via}/token`,
          clientId: dev.clientId,
          scopes: ["openid", "profile", "offline_access", "api"]
        })
        for (const phase of phases) {
          // the three clients side by side, each with its own code
          const round1 = await Promise.all(CLIENTS.map(async (client): Promise<Sample> => {
            let approved: Promise<number> | undefined
            const report = await runEntry<OneReport>(`flows-${client}`, { kind: "one", endpoints: endpoints(client) }, {
              env: ctx.env,
              timeoutMs: 90_000,
              onMessage: (m) => {
                if (m.type !== "code") return
                const wait = (1 + phase) * interval * 1000
                approved = new Promise((resolve, reject) =>
                  setTimeout(() => dev.approve(String(m.userCode)).then(() => resolve(now()), reject), wait)
                )
              }
            })
            const approvedAt = await approved?.catch(() => undefined)
            return {
              client,
              interval,
              phase,
              latencyMs: report.ok && approvedAt !== undefined ? report.endedAt - approvedAt : undefined,
              outcome: report.ok ? "tokens" : (report.error ?? "failed")
            }
          }))
          for (const s of round1) {
            ctx.log(
              `  B5 interval ${interval} s phase ${phase} ${s.client}: ${
                s.latencyMs === undefined ? s.outcome : `${round(s.latencyMs, 0)} ms`
              }`
            )
          }
          samples.push(...round1)
        }
      } finally {
        translations.devicecodePath += proxy.translated.devicecodePath
        translations.grantType += proxy.translated.grantType
        await proxy.close()
        await dev.close()
      }
    }
    const rows: Array<Row> = intervals.flatMap((interval) => [
      {
        metric: `interval ${interval} s: approval → tokens`,
        unit: "ms",
        values: Object.fromEntries(
          CLIENTS.map((
            c
          ) => [
            c,
            summarize(samples.filter((s) => s.client === c && s.interval === interval).map((s) => s.latencyMs)) ??
              "failed"
          ])
        ),
        ratioTo: ["openid-client", "msal-node"] as const,
        digits: 0
      },
      {
        metric: `interval ${interval} s: failed flows`,
        unit: "flows",
        values: Object.fromEntries(
          CLIENTS.map((
            c
          ) => [
            c,
            String(samples.filter((s) => s.client === c && s.interval === interval && s.latencyMs === undefined).length)
          ])
        )
      }
    ])
    const failures = samples.filter((s) => s.latencyMs === undefined).map((s) =>
      `${s.client} (interval ${s.interval} s, phase ${s.phase}): ${s.outcome}`
    )
    return {
      rows,
      targets: [],
      notes: [
        `Approval starts (1 + phase) × interval after the client reported the code, phases ${
          phases.join(", ")
        }: the median is the typical case, the range the phase's effect. The expected latency is the time to the client's next poll (about (1 − phase) × interval minus the approval's own duration) plus one round trip.`,
        `All three reach the dev server through the same TLS proxy. It translated msal-node's Entra-style device code path ${translations.devicecodePath} time(s) and its grant_type=device_code ${translations.grantType} time(s) (oidc-provider rejects both).`,
        ...failures.map((f) => `failed: ${f}`)
      ],
      detail: samples
    }
  })
