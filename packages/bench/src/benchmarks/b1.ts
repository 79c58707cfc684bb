/**
 * B1 — a cached token, whole process: `devflow token` reading a warm file
 * cache vs a msal-node script doing `acquireTokenSilent` from its file cache
 * vs `node -e 0` (the floor). Wall time per process, runs interleaved.
 */
import { startDevServer } from "@devflow/dev-server"
import { spawn, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { entryFile, repoRoot } from "../build.js"
import { compared, type Row, type Target } from "../report.js"
import { runEntry } from "../runner.js"
import { pendingThenToken } from "../server/loopbackServer.js"
import { summarize } from "../stats.js"
import { bench, type Context, endpointsOf, round, withServer } from "./common.js"

const cliDist = path.join(repoRoot, "packages/cli/dist")

/** Which of the commands B1 needs a CLI bundle has. */
export const cliCommands = (bundle: string): { readonly login: boolean; readonly token: boolean } => {
  if (!fs.existsSync(bundle)) return { login: false, token: false }
  const help = spawnSync(process.execPath, [bundle, "--help"], { encoding: "utf8", timeout: 30_000 })
  const text = `${help.stdout}${help.stderr}`
  return { login: /^\s*-?\s*login\b/m.test(text), token: /^\s*-?\s*token\b/m.test(text) }
}

/**
 * A private copy of the bundled CLI (devflow.mjs and its chunks), taken when
 * it answers --help with `token` and `login`: `pnpm bundle` may rewrite
 * packages/cli/dist while the benchmark runs. A few tries, a second apart.
 */
const copyCli = async (into: string): Promise<string | undefined> => {
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      fs.rmSync(into, { recursive: true, force: true })
      fs.mkdirSync(into, { recursive: true })
      fs.copyFileSync(path.join(cliDist, "devflow.mjs"), path.join(into, "devflow.mjs"))
      if (fs.existsSync(path.join(cliDist, "chunks"))) fs.cpSync(path.join(cliDist, "chunks"), path.join(into, "chunks"), { recursive: true })
      const bundle = path.join(into, "devflow.mjs")
      const commands = cliCommands(bundle)
      if (commands.login && commands.token) return bundle
    } catch {
      // being rewritten: try again
    }
    await new Promise((resolve) => setTimeout(resolve, 1_000))
  }
  return undefined
}

interface Sample {
  readonly wallMs: number
  readonly maxRssMB: number | undefined
  readonly ok: boolean
}

const hasTime = fs.existsSync("/usr/bin/time")

/** One process, timed from spawn to exit; peak RSS through /usr/bin/time when present. */
const timeProcess = (args: ReadonlyArray<string>, env: Readonly<Record<string, string>>): Promise<Sample> =>
  new Promise((resolve) => {
    const argv = hasTime ? ["-f", "%M", process.execPath, ...args] : [...args]
    const t0 = performance.now()
    const child = spawn(hasTime ? "/usr/bin/time" : process.execPath, argv, {
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"]
    })
    let stderr = ""
    let stdout = ""
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()))
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()))
    const timer = setTimeout(() => child.kill("SIGKILL"), 30_000)
    child.on("close", (code) => {
      clearTimeout(timer)
      const wallMs = performance.now() - t0
      const kb = hasTime ? Number(stderr.trim().split("\n").pop()) : NaN
      resolve({ wallMs, maxRssMB: Number.isFinite(kb) ? round(kb / 1024) : undefined, ok: code === 0 && (args[0] === "-e" || stdout.trim().length > 0) })
    })
  })

/** Sign in once with the CLI against the dev server, approving the code it prints. */
const devflowLogin = async (cliBundle: string, cacheDir: string): Promise<() => Promise<void>> => {
  const dev = await startDevServer({ pollIntervalSeconds: 1 })
  const child = spawn(process.execPath, [
    cliBundle, "login", "--issuer", dev.issuer, "--client-id", dev.clientId, "--scope", "openid", "--scope", "offline_access",
    "--scope", "api", "--cache-dir", cacheDir, "--json", "--no-qr"
  ], { stdio: ["ignore", "pipe", "pipe"] })
  let out = ""
  let err = ""
  child.stderr.on("data", (c: Buffer) => (err += c.toString()))
  const approved: Array<Promise<void>> = []
  child.stdout.on("data", (c: Buffer) => {
    out += c.toString()
    const m = /"user_code":"([^"]+)"/.exec(out)
    if (m && approved.length === 0) approved.push(dev.approve(m[1]!))
  })
  const code = await new Promise<number | null>((resolve) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000)
    child.on("close", (c) => {
      clearTimeout(timer)
      resolve(c)
    })
  })
  await Promise.all(approved)
  if (code !== 0) {
    await dev.close()
    throw new Error(`devflow login exited with ${code}: ${err.slice(0, 500)}`)
  }
  return () => dev.close()
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
      const commands = await withServer(ctx, { interval: 1, expiresIn: 600, script: pendingThenToken(0), record: false }, async (server) => {
        const endpoints = endpointsOf(server)
        await runEntry("login-msal-node", { endpoints, cacheFile: msalCache, scopes }, { env: ctx.env, timeoutMs: 60_000 })
        return {
          floor: ["-e", "0"],
          msal: [entryFile("token-msal-node"), JSON.stringify({ endpoints, cacheFile: msalCache, scopes })]
        }
      })
      let stopDev: (() => Promise<void>) | undefined
      const devflowCache = path.join(dir, "devflow")
      if (cliBundle !== undefined) stopDev = await devflowLogin(cliBundle, devflowCache)
      try {
        const plan: Array<readonly ["devflow" | "msal-node" | "node -e 0", ReadonlyArray<string>]> = [
          ["node -e 0", commands.floor],
          ["msal-node", commands.msal],
          ...(cliBundle !== undefined ? [["devflow", [cliBundle, "token", "--cache-dir", devflowCache]] as const] : [])
        ]
        const samples = new Map<string, Array<Sample>>(plan.map(([name]) => [name, []]))
        for (let i = 0; i < warmup + runs; i++) {
          // rotate the order so that no command always runs right after another
          for (let j = 0; j < plan.length; j++) {
            const [name, args] = plan[(i + j) % plan.length]!
            const sample = await timeProcess(args, ctx.env)
            if (i >= warmup) samples.get(name)!.push(sample)
          }
        }
        const figure = (name: string, f: (s: Sample) => number | undefined) => summarize((samples.get(name) ?? []).map(f))
        const values = (f: (s: Sample) => number | undefined) =>
          Object.fromEntries(plan.map(([name]) => [name, figure(name, f)]).filter(([, v]) => v !== undefined))
        const rows: Array<Row> = [
          { metric: "wall per process", unit: "ms", values: values((s) => (s.ok ? s.wallMs : undefined)), ratioTo: ["node -e 0", "msal-node"], digits: 0 },
          { metric: "peak RSS", unit: "MB", values: values((s) => s.maxRssMB), ratioTo: ["node -e 0", "msal-node"], digits: 0 },
          {
            metric: "failed runs",
            unit: "runs",
            values: Object.fromEntries(plan.map(([name]) => [name, String((samples.get(name) ?? []).filter((s) => !s.ok).length)]))
          }
        ]
        const dev = figure("devflow", (s) => (s.ok ? s.wallMs : undefined))?.median
        const floor = { label: "node -e 0", value: figure("node -e 0", (s) => s.wallMs)?.median } as const
        const targets: Array<Target> = [
          compared("devflow ≤ 2× the floor (wall per process)", "ms", dev, floor, (d, f) => f !== undefined && d <= 2 * f),
          compared("goal: devflow ≤ 1.5× the floor (wall per process)", "ms", dev, floor, (d, f) => f !== undefined && d <= 1.5 * f)
        ]
        return {
          rows,
          targets,
          pending,
          notes: [
            `${runs} runs each after ${warmup} warm-up round(s), interleaved; wall from spawn to exit${hasTime ? ", through /usr/bin/time (which also gives the peak RSS)" : ""}.`,
            "devflow: the bundled CLI (a copy of packages/cli/dist/devflow.mjs and its chunks, as `pnpm bundle` makes it) after `devflow login` against the dev server; `token` reads the profile and the file cache and sends no request.",
            "msal-node: a bundled script with the file cache plugin from msal-node's docs and the authority metadata in its configuration (no request either)."
          ]
        }
      } finally {
        await stopDev?.()
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })
