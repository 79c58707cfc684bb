/**
 * B7 — every CLI command's start-up, whole process, against `node -e 0`:
 * help, `providers`, `accounts`, `token`, `exec`, git's `get` and `store`, `logout` to
 * exit, and `login` to the user code on screen (against the dev server).
 * Runs interleaved, the order rotated each round.
 */
import { startDevServer } from "@devflow/dev-server"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import type { Row, Target } from "../report.js"
import { compared } from "../report.js"
import { quantile, summarize } from "../stats.js"
import { copyCli, devflowLogin, type Run, type Sample, timeProcess } from "./cliProcess.js"
import { bench, type Context } from "./common.js"

/** issue 23: every command within this many times `node -e 0`. */
const TARGET_RATIO = 1.5

const FLOOR = "node -e 0"

interface Case {
  readonly name: string
  /** a fresh run (a new cache to sign out of, a new directory to sign in to) */
  readonly run: () => Run
}

export const b7 = (ctx: Context) =>
  bench(ctx, "B7", "CLI start-up per command, whole process (ratio to node -e 0)", async () => {
    const runs = ctx.quick ? 2 : 20
    const warmup = ctx.quick ? 1 : 2
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "devflow-bench-b7-"))
    try {
      const cli = await copyCli(path.join(dir, "cli"))
      if (cli === undefined) {
        return {
          rows: [],
          targets: [],
          notes: [],
          pending: "packages/cli/dist/devflow.mjs (run `pnpm bundle`) has no `token`/`login` command"
        }
      }
      const dev = await startDevServer({ pollIntervalSeconds: 5 })
      try {
        const cache = path.join(dir, "signed-in")
        await devflowLogin(dev, cli, cache)
        let fresh = 0
        const freshDir = (from?: string) => {
          const d = path.join(dir, `run-${fresh++}`)
          if (from === undefined) fs.mkdirSync(d)
          else fs.cpSync(from, d, { recursive: true })
          return d
        }
        const env = ctx.env
        const devflow = (...args: ReadonlyArray<string>): Run => ({ args: [cli, ...args], env })
        const cases: ReadonlyArray<Case> = [
          { name: FLOOR, run: () => ({ args: ["-e", "0"], env }) },
          { name: "--help", run: () => devflow("--help") },
          { name: "login --help", run: () => devflow("login", "--help") },
          { name: "providers", run: () => devflow("providers") },
          { name: "accounts", run: () => devflow("accounts", "--cache-dir", cache) },
          { name: "token", run: () => devflow("token", "--cache-dir", cache) },
          {
            name: "exec -- true",
            run: () => ({ ...devflow("exec", "--cache-dir", cache, "--", "true"), silent: true })
          },
          {
            name: "git-credential get",
            run: () => ({
              ...devflow("git-credential", "--cache-dir", cache, "get"),
              stdin: "protocol=https\nhost=git.example.com\n\n"
            })
          },
          {
            // what git runs after every request the `get` answer served
            name: "git-credential store",
            run: () => ({
              ...devflow("git-credential", "--cache-dir", cache, "store"),
              stdin: "protocol=https\nhost=git.example.com\nusername=x\npassword=y\n\n",
              silent: true
            })
          },
          { name: "logout", run: () => ({ ...devflow("logout", "--cache-dir", freshDir(cache)), silent: true }) },
          {
            name: "login (to the code on screen)",
            run: () => ({
              ...devflow(
                "login",
                "--issuer",
                dev.issuer,
                "--client-id",
                dev.clientId,
                "--scope",
                "openid",
                "--cache-dir",
                freshDir(),
                "--no-qr"
              ),
              until: /[A-Z0-9]{4}-[A-Z0-9]{4}/
            })
          }
        ]
        const samples = new Map<string, Array<Sample>>(cases.map((c) => [c.name, []]))
        for (let i = 0; i < warmup + runs; i++) {
          // rotate the order so that no command always runs right after another
          for (let j = 0; j < cases.length; j++) {
            const c = cases[(i + j) % cases.length]!
            const sample = await timeProcess(c.run())
            if (i >= warmup) samples.get(c.name)!.push(sample)
          }
        }
        const walls = (name: string) => (samples.get(name) ?? []).flatMap((s) => (s.ok ? [s.wallMs] : []))
        const floor = summarize(walls(FLOOR))
        const floorP90 = quantile(walls(FLOOR), 0.9)
        const rows: Array<Row> = []
        const targets: Array<Target> = []
        for (const c of cases.slice(1)) {
          const wall = summarize(walls(c.name))
          const failed = (samples.get(c.name) ?? []).filter((s) => !s.ok).length
          rows.push({
            metric: `${c.name}: wall`,
            unit: "ms",
            values: { devflow: wall ?? "–", [FLOOR]: floor ?? "–" },
            ratioTo: [FLOOR],
            digits: 0
          })
          const p90 = quantile(walls(c.name), 0.9)
          targets.push(compared(
            `\`${c.name}\` ≤ ${TARGET_RATIO}× node -e 0 (median wall)`,
            "ms",
            wall?.median,
            { label: FLOOR, value: floor?.median },
            (d, f) => f !== undefined && d <= TARGET_RATIO * f,
            [
              p90 === undefined || floorP90 === undefined
                ? ""
                : `p90 ${Math.round(p90)} ms vs ${Math.round(floorP90)} ms (${(p90 / floorP90).toFixed(2)}×)`,
              failed === 0 ? "" : `${failed} failed run(s)`
            ].filter((x) => x !== "").join("; ")
          ))
        }
        return {
          rows,
          targets,
          notes: [
            `${runs} runs of each after ${warmup} warm-up round(s), interleaved with \`node -e 0\` (order rotated each round); wall from spawn to exit, except \`login\`: from spawn to the user code in its output (then killed).`,
            "devflow: a copy of the bundled CLI (packages/cli/dist, as `pnpm bundle` makes it), signed in once against the dev server (oidc-provider, in this process, on loopback); `accounts`, `token`, `exec`, `git-credential get` and `store`, and `logout` use that cache (`logout` a fresh copy each run, revoking at the dev server); `login` a new empty cache directory each run.",
            `load ${
              os.loadavg().map((x) => x.toFixed(2)).join(" / ")
            } (1/5/15 min) at the end, on ${os.availableParallelism()} cores: figures taken under load vary with it.`
          ]
        }
      } finally {
        await dev.close()
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })
