/**
 * B1 — a cached token, whole process: `devflow token` reading a warm file
 * cache vs a msal-node script doing `acquireTokenSilent` from its file cache
 * vs `node -e 0` (the floor). Wall time per process, runs interleaved.
 * Issue 24: the same `devflow token` with a DPoP-bound token in its cache
 * (`login --dpop`), beside the Bearer one: `token` from the cache is unchanged.
 */
import { startDevServer } from "@devflow/dev-server"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { entryFile } from "../build.js"
import { compared, type Row, type Target } from "../report.js"
import { runEntry } from "../runner.js"
import { pendingThenToken } from "../server/loopbackServer.js"
import { summarize, type Summary } from "../stats.js"
import { copyCli, devflowLogin, hasTime, type Sample, timeProcess } from "./cliProcess.js"
import { bench, type Context, endpointsOf, withServer } from "./common.js"

/** The sample key of `devflow token` with a DPoP-bound token cached (a row of its own, in devflow's column). */
const DPOP = "devflow, DPoP-bound token"

/** The `token_type` of the token `devflow token` gives from `cacheDir` (B1 checks its DPoP cache really is). */
const cachedTokenType = (cliBundle: string, cacheDir: string, env: Readonly<Record<string, string>>): unknown => {
  const out = execFileSync(process.execPath, [cliBundle, "token", "--format", "json", "--cache-dir", cacheDir], {
    encoding: "utf8",
    env: { ...process.env, ...env },
    timeout: 30_000
  })
  return (JSON.parse(out) as { token_type?: unknown }).token_type
}

export const b1 = (ctx: Context) =>
  bench(ctx, "B1", "cached token, whole process (warm file cache → token on stdout)", async () => {
    const runs = ctx.quick ? 2 : 20
    const warmup = ctx.quick ? 1 : 3
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "devflow-bench-b1-"))
    const cliBundle = await copyCli(path.join(dir, "cli"))
    const pending = cliBundle !== undefined
      ? undefined
      : "packages/cli/dist/devflow.mjs (run `pnpm bundle`) has no `token`/`login` command: devflow's column is missing; msal-node and the floor were measured"
    try {
      const msalCache = path.join(dir, "msal-cache.json")
      const scopes = ["api"]
      const commands = await withServer(ctx, {
        interval: 1,
        expiresIn: 600,
        script: pendingThenToken(0),
        record: false
      }, async (server) => {
        const endpoints = endpointsOf(server)
        await runEntry("login-msal-node", { endpoints, cacheFile: msalCache, scopes }, {
          env: ctx.env,
          timeoutMs: 60_000
        })
        return {
          floor: ["-e", "0"],
          msal: [entryFile("token-msal-node"), JSON.stringify({ endpoints, cacheFile: msalCache, scopes })]
        }
      })
      const devServer = cliBundle === undefined ? undefined : await startDevServer({ pollIntervalSeconds: 1 })
      const devflowCache = path.join(dir, "devflow")
      const dpopCache = path.join(dir, "devflow-dpop")
      try {
        if (devServer !== undefined) {
          await devflowLogin(devServer, cliBundle!, devflowCache)
          await devflowLogin(devServer, cliBundle!, dpopCache, ["--dpop"])
          const tokenType = cachedTokenType(cliBundle!, dpopCache, ctx.env)
          if (tokenType !== "DPoP") throw new Error(`login --dpop cached a ${String(tokenType)} token, not a DPoP one`)
        }
        const plan: Array<readonly ["devflow" | "msal-node" | "node -e 0" | typeof DPOP, ReadonlyArray<string>]> = [
          ["node -e 0", commands.floor],
          ["msal-node", commands.msal],
          ...(cliBundle !== undefined
            ? [
              ["devflow", [cliBundle, "token", "--cache-dir", devflowCache]] as const,
              [DPOP, [cliBundle, "token", "--cache-dir", dpopCache]] as const
            ]
            : [])
        ]
        const samples = new Map<string, Array<Sample>>(plan.map(([name]) => [name, []]))
        for (let i = 0; i < warmup + runs; i++) {
          // rotate the order so that no command always runs right after another
          for (let j = 0; j < plan.length; j++) {
            const [name, args] = plan[(i + j) % plan.length]!
            const sample = await timeProcess({ args, env: ctx.env })
            if (i >= warmup) samples.get(name)!.push(sample)
          }
        }
        const figure = (name: string, f: (s: Sample) => number | undefined) =>
          summarize((samples.get(name) ?? []).map(f))
        // the main rows: one column per command; the DPoP-bound run has rows of its own
        const values = (f: (s: Sample) => number | undefined) =>
          Object.fromEntries(
            plan.filter(([name]) => name !== DPOP).map(([name]) => [name, figure(name, f)]).filter(([, v]) =>
              v !== undefined
            )
          )
        const withDpop = (f: (s: Sample) => number | undefined): Record<string, Summary> => {
          const [dpop, floor] = [figure(DPOP, f), figure("node -e 0", f)]
          return {
            ...(dpop === undefined ? {} : { devflow: dpop }),
            ...(floor === undefined ? {} : { "node -e 0": floor })
          }
        }
        const rows: Array<Row> = [
          {
            metric: "wall per process",
            unit: "ms",
            values: values((s) => (s.ok ? s.wallMs : undefined)),
            ratioTo: ["node -e 0", "msal-node"],
            digits: 0
          },
          {
            metric: "peak RSS",
            unit: "MB",
            values: values((s) => s.maxRssMB),
            ratioTo: ["node -e 0", "msal-node"],
            digits: 0
          },
          {
            metric: "failed runs",
            unit: "runs",
            values: Object.fromEntries(
              plan.filter(([name]) => name !== DPOP).map((
                [name]
              ) => [name, String((samples.get(name) ?? []).filter((s) => !s.ok).length)])
            )
          },
          {
            metric: "DPoP-bound token cached: wall per process",
            unit: "ms",
            values: withDpop((s) => (s.ok ? s.wallMs : undefined)),
            ratioTo: ["node -e 0"],
            digits: 0
          },
          {
            metric: "DPoP-bound token cached: peak RSS",
            unit: "MB",
            values: withDpop((s) => s.maxRssMB),
            ratioTo: ["node -e 0"],
            digits: 0
          },
          {
            metric: "DPoP-bound token cached: failed runs",
            unit: "runs",
            values: cliBundle === undefined
              ? {}
              : { devflow: String((samples.get(DPOP) ?? []).filter((s) => !s.ok).length) }
          }
        ]
        const dev = figure("devflow", (s) => (s.ok ? s.wallMs : undefined))?.median
        const floor = { label: "node -e 0", value: figure("node -e 0", (s) => s.wallMs)?.median } as const
        const targets: Array<Target> = [
          compared(
            "devflow ≤ 2× the floor (wall per process)",
            "ms",
            dev,
            floor,
            (d, f) => f !== undefined && d <= 2 * f
          ),
          compared(
            "goal: devflow ≤ 1.5× the floor (wall per process)",
            "ms",
            dev,
            floor,
            (d, f) => f !== undefined && d <= 1.5 * f
          ),
          // issue 24: "B1 unchanged when DPoP tokens are cached"; 10 %: within the runs' spread on a quiet machine
          compared(
            "devflow with a DPoP-bound token cached ≤ 1.1× with a Bearer one (wall per process)",
            "ms",
            figure(DPOP, (s) => (s.ok ? s.wallMs : undefined))?.median,
            { label: "devflow (Bearer)", value: dev },
            (d, b) => b !== undefined && d <= 1.1 * b
          )
        ]
        return {
          rows,
          targets,
          pending,
          notes: [
            `${runs} runs each after ${warmup} warm-up round(s), interleaved; wall from spawn to exit${
              hasTime ? ", through /usr/bin/time (which also gives the peak RSS)" : ""
            }.`,
            "devflow: the bundled CLI (a copy of packages/cli/dist/devflow.mjs and its chunks, as `pnpm bundle` makes it) after `devflow login` against the dev server; `token` reads the profile and the file cache and sends no request.",
            "devflow, DPoP-bound token cached: the same `token` after `devflow login --dpop` (token_type DPoP, checked once before the runs; the key kept with the tokens in the secret store the CLI picks, as for the Bearer refresh token); it prints the token from the cache and sends no request either. Its rows put it in devflow's column; the target compares it with the Bearer run.",
            "msal-node: a bundled script with the file cache plugin from msal-node's docs and the authority metadata in its configuration (no request either)."
          ]
        }
      } finally {
        await devServer?.close()
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })
