/**
 * The bundled CLI as a benchmark runs it (B1, B7): a private copy of the
 * bundle, a sign-in against the dev server, and one process timed from spawn
 * to exit — or to the moment its output shows what the user waits for.
 */
import type { DevServer } from "@devflow/dev-server"
import { spawn, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { repoRoot } from "../build.js"
import { round } from "./common.js"

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
export const copyCli = async (into: string): Promise<string | undefined> => {
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      fs.rmSync(into, { recursive: true, force: true })
      fs.mkdirSync(into, { recursive: true })
      fs.copyFileSync(path.join(cliDist, "devflow.mjs"), path.join(into, "devflow.mjs"))
      if (fs.existsSync(path.join(cliDist, "chunks"))) {
        fs.cpSync(path.join(cliDist, "chunks"), path.join(into, "chunks"), { recursive: true })
      }
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

export interface Sample {
  readonly wallMs: number
  readonly maxRssMB: number | undefined
  readonly ok: boolean
}

export interface Run {
  /** node's arguments */
  readonly args: ReadonlyArray<string>
  readonly env: Readonly<Record<string, string>>
  /** written to stdin, which is then closed (default: no stdin) */
  readonly stdin?: string | undefined
  /**
   * Time to the first output (stdout and stderr together) that matches, then
   * kill the process: what a user waits for is on screen. Default: to exit.
   */
  readonly until?: RegExp | undefined
  /** a run that exits 0 counts as done (default: it must also print on stdout) */
  readonly silent?: boolean | undefined
}

/** Whether /usr/bin/time is there to give the peak RSS. */
export const hasTime = fs.existsSync("/usr/bin/time")

/** Bounds every timed process: a hung one is killed and counted as failed. */
const LIMIT_MS = 30_000

/**
 * One process, timed from spawn to exit (peak RSS through /usr/bin/time when
 * present) or, with `until`, from spawn to the matching output.
 */
export const timeProcess = (run: Run): Promise<Sample> =>
  new Promise((resolve) => {
    // /usr/bin/time would outlive a kill aimed at it: a run cut short is node itself
    const timed = hasTime && run.until === undefined
    const argv = timed ? ["-f", "%M", process.execPath, ...run.args] : [...run.args]
    const t0 = performance.now()
    const child = spawn(timed ? "/usr/bin/time" : process.execPath, argv, {
      env: { ...process.env, ...run.env },
      stdio: [run.stdin === undefined ? "ignore" : "pipe", "pipe", "pipe"]
    })
    if (run.stdin !== undefined) child.stdin!.end(run.stdin)
    let stderr = ""
    let stdout = ""
    let seenMs: number | undefined
    const look = () => {
      if (run.until === undefined || seenMs !== undefined || !run.until.test(stdout + stderr)) return
      seenMs = performance.now() - t0
      child.kill("SIGKILL")
    }
    child.stdout!.on("data", (c: Buffer) => {
      stdout += c.toString()
      look()
    })
    child.stderr!.on("data", (c: Buffer) => {
      stderr += c.toString()
      look()
    })
    const timer = setTimeout(() => child.kill("SIGKILL"), LIMIT_MS)
    child.on("close", (code) => {
      clearTimeout(timer)
      if (run.until !== undefined) {
        resolve({ wallMs: seenMs ?? performance.now() - t0, maxRssMB: undefined, ok: seenMs !== undefined })
        return
      }
      const wallMs = performance.now() - t0
      const kb = timed ? Number(stderr.trim().split("\n").pop()) : NaN
      resolve({
        wallMs,
        maxRssMB: Number.isFinite(kb) ? round(kb / 1024) : undefined,
        ok: code === 0 && (run.args[0] === "-e" || run.silent === true || stdout.trim().length > 0)
      })
    })
  })

/**
 * Sign in once with the CLI against the dev server, approving the code it prints;
 * `flags` go to `login` as well (B1: `--dpop`, for DPoP-bound tokens).
 */
export const devflowLogin = async (
  dev: DevServer,
  cliBundle: string,
  cacheDir: string,
  flags: ReadonlyArray<string> = []
): Promise<void> => {
  const child = spawn(process.execPath, [
    cliBundle,
    "login",
    "--issuer",
    dev.issuer,
    "--client-id",
    dev.clientId,
    "--scope",
    "openid",
    "--scope",
    "offline_access",
    "--scope",
    "api",
    "--cache-dir",
    cacheDir,
    "--json",
    "--no-qr",
    ...flags
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
  if (code !== 0) throw new Error(`devflow login exited with ${code}: ${err.slice(0, 500)}`)
}
