/**
 * B4 — silent acquisition: 10,000 cached access tokens (1,000 accounts × 10
 * resources), median time per `acquireTokenSilent` cache hit, in process,
 * devflow vs msal-node (openid-client keeps no token cache).
 */
import { compared, type Row, type Target } from "../report.js"
import { runEntry } from "../runner.js"
import { summarize } from "../stats.js"
import type { Timing } from "../workers/silentCommon.js"
import { bench, type Context, round } from "./common.js"

interface DevflowSilent {
  readonly inProgram: Timing
  readonly perRunPromise: Timing
  readonly file: {
    readonly writeMs: number
    readonly coldMs: number
    readonly fileBytes: number
    readonly warm: Timing
  }
}

interface MsalSilent {
  readonly inProgram: Timing
}

export const b4 = (ctx: Context) =>
  bench(ctx, "B4", "silent acquisition from 10,000 cached access tokens (in process, cache hits)", async () => {
    const runs = ctx.quick ? 1 : 2
    const job = ctx.quick
      ? { calls: 200, warmup: 50, budgetMs: 1_000, accounts: 100 }
      : { calls: 20_000, warmup: 5_000, budgetMs: 3_000 }
    const devflow: Array<DevflowSilent> = []
    const msal: Array<MsalSilent> = []
    for (let i = 0; i < runs; i++) {
      devflow.push(await runEntry<DevflowSilent>("silent-devflow", job, { env: ctx.env, timeoutMs: 120_000 }))
      msal.push(await runEntry<MsalSilent>("silent-msal-node", job, { env: ctx.env, timeoutMs: 120_000 }))
      ctx.log(
        `  B4 run ${i + 1}: devflow ${round(devflow[i]!.inProgram.medianUs)} µs, msal-node ${
          round(msal[i]!.inProgram.medianUs)
        } µs`
      )
    }
    const dev = summarize(devflow.map((d) => d.inProgram.medianUs))
    const peer = summarize(msal.map((m) => m.inProgram.medianUs))
    const rows: Array<Row> = [
      {
        metric: "median per silent hit, in one program",
        unit: "µs",
        values: { devflow: dev!, "msal-node": peer! },
        ratioTo: ["msal-node"]
      },
      {
        metric: "p99 per silent hit, in one program",
        unit: "µs",
        values: {
          devflow: summarize(devflow.map((d) => d.inProgram.p99Us))!,
          "msal-node": summarize(msal.map((m) => m.inProgram.p99Us))!
        },
        ratioTo: ["msal-node"]
      },
      {
        metric: "calls timed per run",
        unit: "calls",
        values: {
          devflow: summarize(devflow.map((d) => d.inProgram.calls))!,
          "msal-node": summarize(msal.map((m) => m.inProgram.calls))!
        },
        digits: 0
      },
      {
        metric: "median, one Effect.runPromise per call",
        unit: "µs",
        values: { devflow: summarize(devflow.map((d) => d.perRunPromise.medianUs))! }
      },
      {
        metric: "median, file cache, file unchanged (one stat per call)",
        unit: "µs",
        values: { devflow: summarize(devflow.map((d) => d.file.warm.medianUs))! }
      },
      {
        metric: "file cache: load + parse + first hit",
        unit: "ms",
        values: { devflow: summarize(devflow.map((d) => d.file.coldMs))! }
      },
      {
        metric: "file cache: write (lock, encode, fsync, rename)",
        unit: "ms",
        values: { devflow: summarize(devflow.map((d) => d.file.writeMs))! }
      }
    ]
    const targets: Array<Target> = [
      compared(
        "≤ 20 µs median per silent hit",
        "µs",
        dev?.median,
        { label: "msal-node", value: peer?.median },
        (d) => d <= 20
      ),
      compared(
        "≥ 10× faster than msal-node",
        "µs",
        dev?.median,
        { label: "msal-node", value: peer?.median },
        (d, p) => p !== undefined && p / d >= 10
      )
    ]
    return {
      rows,
      targets,
      notes: [
        `${ctx.quick ? "quick mode: 1,000" : "10,000"} access tokens, ${job.calls} timed calls at most (${
          job.budgetMs / 1000
        } s budget) after ${job.warmup} warm-up calls, random account and resource per call (same sequence for both), ${runs} process(es) per library.`,
        `devflow file: ${round((devflow[0]?.file.fileBytes ?? 0) / 1e6)} MB for these tokens.`
      ],
      detail: { devflow, msal }
    }
  })
