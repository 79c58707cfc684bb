import { until } from "@devflow/dev-server/wallClock"
import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { inject } from "vitest"

/** What a finished devflow process left behind. */
export interface Run {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
  /** wall time of the process, ms */
  readonly ms: number
}

export interface Options {
  readonly env?: Readonly<Record<string, string | undefined>>
  readonly cwd?: string
}

/** The environment without anything that would change devflow's behaviour behind a test's back. */
export const cleanEnv = (extra: Readonly<Record<string, string | undefined>> = {}): NodeJS.ProcessEnv => {
  const env: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith("DEVFLOW_") || k === "NO_COLOR" || k === "FORCE_COLOR" || k.startsWith("VITEST")) continue
    env[k] = v
  }
  for (const [k, v] of Object.entries(extra)) {
    if (v === undefined) delete env[k]
    else env[k] = v
  }
  return env
}

/** All stdout and stderr ever produced in this test file, with the exception of `token`'s stdout. */
export const transcript: Array<string> = []

/** A devflow process that may run for a while (a sign-in): read its JSON Lines as they come. */
export class Devflow {
  readonly child: ChildProcess
  readonly started = Date.now()
  stdout = ""
  stderr = ""
  readonly exit: Promise<Run>
  private waiters: Array<() => void> = []

  constructor(readonly args: ReadonlyArray<string>, options: Options & { readonly tokenOutput?: boolean } = {}) {
    this.child = spawn(process.execPath, [inject("devflowBin"), ...args], {
      env: cleanEnv(options.env),
      cwd: options.cwd,
      stdio: ["ignore", "pipe", "pipe"]
    })
    this.child.stdout!.setEncoding("utf8").on("data", (d: string) => {
      this.stdout += d
      this.wake()
    })
    this.child.stderr!.setEncoding("utf8").on("data", (d: string) => {
      this.stderr += d
      this.wake()
    })
    this.exit = new Promise((resolve) =>
      this.child.on("close", (code, signal) => {
        if (options.tokenOutput !== true) transcript.push(this.stdout)
        transcript.push(this.stderr)
        this.wake()
        resolve({ code, signal, stdout: this.stdout, stderr: this.stderr, ms: Date.now() - this.started })
      })
    )
  }

  private wake() {
    const waiters = this.waiters
    this.waiters = []
    for (const w of waiters) w()
  }

  /** The stdout lines parsed as JSON (non-JSON lines are skipped). */
  get events(): ReadonlyArray<Record<string, any>> {
    return this.stdout.split("\n").flatMap((line) => {
      try {
        const value = JSON.parse(line)
        return typeof value === "object" && value !== null ? [value] : []
      } catch {
        return []
      }
    })
  }

  /** Wait until `find` returns something, or the process ends, or `timeoutMs` passes. */
  async until<A>(find: (self: this) => A | undefined, timeoutMs = 20_000): Promise<A> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const found = find(this)
      if (found !== undefined) return found
      if (this.child.exitCode !== null || this.child.signalCode !== null) {
        throw new Error(
          `devflow ${this.args.join(" ")} ended (${
            this.child.exitCode ?? this.child.signalCode
          }) first:\n${this.stdout}\n${this.stderr}`
        )
      }
      if (Date.now() > deadline) throw new Error(`timed out; stdout:\n${this.stdout}\nstderr:\n${this.stderr}`)
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 200)
        this.waiters.push(() => {
          clearTimeout(timer)
          resolve()
        })
      })
    }
  }

  /** The first JSON event named `name`. */
  event(name: string, timeoutMs?: number): Promise<Record<string, any>> {
    return this.until((self) => self.events.find((e) => e.event === name), timeoutMs)
  }

  /** The user code, from the JSON event or from the text on stderr. */
  userCode(timeoutMs?: number): Promise<string> {
    return this.until(
      (self) =>
        self.events.find((e) => e.event === "code_issued")?.user_code ??
          // eslint-disable-next-line no-control-regex
          /enter the code (?:\x1b\[[0-9;]*m)*([A-Z]{4}-[A-Z]{4})/.exec(self.stderr)?.[1],
      timeoutMs
    )
  }
}

/** Run devflow to completion. */
export const devflow = (
  args: ReadonlyArray<string>,
  options: Options & { readonly tokenOutput?: boolean } = {}
): Promise<Run> => new Devflow(args, options).exit

/** A fresh cache directory (0700, as mkdtemp makes it). */
export const tempDir = (prefix = "devflow-cli-test-"): string => fs.mkdtempSync(path.join(os.tmpdir(), prefix))

/** Every secret in a cache directory's tokens.json. */
export const cachedSecrets = (dir: string): ReadonlyArray<string> => {
  const file = path.join(dir, "tokens.json")
  if (!fs.existsSync(file)) return []
  const content = JSON.parse(fs.readFileSync(file, "utf8")) as Record<
    string,
    ReadonlyArray<{ readonly secret: string }>
  >
  return ["accessTokens", "refreshTokens", "idTokens"].flatMap((k) => (content[k] ?? []).map((e) => e.secret))
}

/**
 * `devflow` as the hints of a process these helpers start spell it: the bundle run by path
 * (`node packages/cli/dist/…/devflow.mjs`), so that the hint can be typed as it is.
 */
export const asRun = (cwd: string = process.cwd()): string => {
  const relative = path.relative(cwd, inject("devflowBin"))
  return `node ${relative.startsWith("..") || path.isAbsolute(relative) ? inject("devflowBin") : relative}`
}

/** `text` made a regular expression that matches it literally. */
export const literally = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")

/** A stack trace line, as Node prints them. */
export const STACK = /\n\s+at /

// eslint-disable-next-line no-control-regex
export const ESCAPE = /\x1b/

/**
 * `devflow login` against a dev server as `user` (generic issuer, openid and
 * offline_access, so that the token works at userinfo and refreshes),
 * approved over HTTP as soon as the code shows.
 */
export const signIn = async (
  server: { readonly issuer: string; approve(userCode: string, opts: { readonly accountId: string }): Promise<void> },
  cache: string,
  user = "alice",
  extra: ReadonlyArray<string> = []
): Promise<Run> => {
  const login = new Devflow([
    "login",
    "--issuer",
    server.issuer,
    "--client-id",
    "devflow-demo",
    "--scope",
    "openid",
    "--scope",
    "offline_access",
    "--json",
    "--cache-dir",
    cache,
    ...extra
  ])
  await server.approve(await login.userCode(), { accountId: user })
  const run = await login.exit
  if (run.code !== 0) throw new Error(`login failed: ${run.stderr}`)
  return run
}

/** A process with stdin given, whose output a test can wait on (git or a shell showing devflow's sign-in code). */
export class Proc {
  readonly child: ChildProcess
  stdout = ""
  stderr = ""
  readonly exit: Promise<{ readonly code: number | null; readonly stdout: string; readonly stderr: string }>

  constructor(
    command: string,
    args: ReadonlyArray<string>,
    options: { readonly cwd: string; readonly env: NodeJS.ProcessEnv; readonly input?: string }
  ) {
    this.child = spawn(command, args, { cwd: options.cwd, env: options.env, stdio: ["pipe", "pipe", "pipe"] })
    // git may exit without reading its stdin
    this.child.stdin!.on("error", () => {}).end(options.input ?? "")
    this.child.stdout!.setEncoding("utf8").on("data", (d: string) => void (this.stdout += d))
    this.child.stderr!.setEncoding("utf8").on("data", (d: string) => void (this.stderr += d))
    this.exit = new Promise((resolve) =>
      this.child.on("close", (code) => resolve({ code, stdout: this.stdout, stderr: this.stderr }))
    )
  }

  /** The sign-in code devflow shows (on stderr, which git hands to its helper; on stdout under script(1)). */
  async userCode(): Promise<string> {
    let code: string | undefined
    await until(
      () => {
        // eslint-disable-next-line no-control-regex
        code = /enter the code (?:\x1b\[[0-9;]*m)*([A-Z]{4}-[A-Z]{4})/.exec(this.stderr + this.stdout)?.[1]
        return code !== undefined || this.child.exitCode !== null
      },
      "the sign-in code on stderr",
      20_000
    )
    if (code === undefined) throw new Error(`no code shown:\n${this.stderr}${this.stdout}`)
    return code
  }
}

/** util-linux `script`: runs a command line on a pseudo-terminal (stdin, stdout and stderr a TTY). */
export const HAS_SCRIPT = fs.existsSync("/usr/bin/script")

/** `command` (already quoted for sh) on a pseudo-terminal; everything it writes arrives on stdout. */
export const onTerminal = (command: string, options: { readonly cwd: string; readonly env: NodeJS.ProcessEnv }): Proc =>
  new Proc("script", ["-qfec", `stty cols 100 rows 40; ${command}`, "/dev/null"], options)

/** One word for sh. */
export const shQuote = (s: string): string => `'${s.replace(/'/g, "'\\''")}'`
