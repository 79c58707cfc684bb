/**
 * Runs one bundled entry in its own Node process: JSON job in, JSON lines
 * out. Every child is bounded by a hard timeout.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { type Entry, entryFile } from "./build.js"

export interface RunOptions {
  readonly env?: Readonly<Record<string, string>> | undefined
  /** kill the child after this long (default 120 s) */
  readonly timeoutMs?: number | undefined
  /** every JSON line the child prints, as it prints it */
  readonly onMessage?: ((message: Record<string, unknown>) => void) | undefined
  readonly nodeArgs?: ReadonlyArray<string> | undefined
  /** the child, once spawned (to signal it) */
  readonly onSpawn?: ((child: ChildProcess) => void) | undefined
}

export const runEntry = <R>(entry: Entry, job: unknown, options: RunOptions = {}): Promise<R> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...(options.nodeArgs ?? []), entryFile(entry), JSON.stringify(job)], {
      env: { ...process.env, ...options.env },
      stdio: ["ignore", "pipe", "pipe"]
    })
    options.onSpawn?.(child)
    let result: R | undefined
    let fatal: string | undefined
    let stderr = ""
    let buffer = ""
    // SIGTERM first (a flows worker then reports what it has), SIGKILL if that is not enough
    let killer: NodeJS.Timeout | undefined
    const timer = setTimeout(() => {
      child.kill("SIGTERM")
      killer = setTimeout(() => child.kill("SIGKILL"), 10_000)
    }, options.timeoutMs ?? 120_000)
    child.stdout.setEncoding("utf8")
    child.stdout.on("data", (chunk: string) => {
      buffer += chunk
      let nl: number
      while ((nl = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, nl)
        buffer = buffer.slice(nl + 1)
        if (!line.startsWith("{")) continue
        const message = JSON.parse(line) as Record<string, unknown>
        if (message.type === "result") result = message as R
        else if (message.type === "fatal") fatal = String(message.error)
        else options.onMessage?.(message)
      }
    })
    child.stderr.setEncoding("utf8")
    child.stderr.on("data", (chunk: string) => {
      if (stderr.length < 8_000) stderr += chunk
    })
    child.on("close", (code, signal) => {
      clearTimeout(timer)
      clearTimeout(killer)
      if (result !== undefined) resolve(result)
      else {
        const why = fatal ?? stderr
        reject(
          new Error(
            `${entry} exited with ${signal ?? code} and no result${
              why ? `: ${why.split("\n").slice(0, 3).join(" ")}` : ""
            }`
          )
        )
      }
    })
  })
