/**
 * The example service (example/service.ts) as real processes: bundled once
 * per test file with esbuild, started on a random loopback port each.
 */
import { bundleForTest } from "@devflow/dev-server/testBundle"
import * as child from "node:child_process"
import * as readline from "node:readline"
import { CLIENT_ID } from "./pollLogServer.js"

const bundles = new Map<string, Promise<string>>()

const bundle = (entry: string): Promise<string> => {
  const known = bundles.get(entry)
  if (known !== undefined) return known
  const made = bundleForTest(new URL(entry, import.meta.url).pathname, { prefix: "devflow-service" })
  bundles.set(entry, made)
  return made
}

export interface Instance {
  readonly name: string
  /** what the process printed after `listening ` (a port is made a loopback URL) */
  readonly url: string
  readonly process: child.ChildProcess
  readonly stderr: () => string
  /** stdout lines other than `listening` (Effect's logger) */
  readonly logs: Array<string>
  readonly exited: Promise<void>
}

/** Start a process of `entry` (default: the example service) and wait for its `listening …` line. */
export const startInstance = async (
  name: string,
  env: Record<string, string>,
  entry = "../example/service.ts"
): Promise<Instance> => {
  const file = await bundle(entry)
  const proc = child.spawn(process.execPath, [file], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, PORT: "0", INSTANCE: name, ...env }
  })
  let err = ""
  proc.stderr!.on("data", (c: Buffer) => {
    err = (err + c.toString()).slice(-20_000)
  })
  const exited = new Promise<void>((resolve) => proc.once("exit", () => resolve()))
  const logs: Array<string> = []
  const where = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start within 20 s: ${err}`)), 20_000)
    readline.createInterface({ input: proc.stdout! }).on("line", (line) => {
      const match = /^listening (\S+)$/.exec(line)
      if (!match) logs.push(line)
      if (match) {
        clearTimeout(timer)
        resolve(match[1]!)
      }
    })
    void exited.then(() => reject(new Error(`${name} exited: ${err}`)))
  })
  return {
    name,
    url: /^\d+$/.test(where) ? `http://127.0.0.1:${where}` : where,
    process: proc,
    stderr: () => err,
    logs,
    exited
  }
}

/** The example service's environment: this Redis, the poll-logging server at `auth`, these keys, and `extra`. */
export const serviceEnv = (
  redisUrl: string,
  auth: string,
  keys: string,
  extra: Record<string, string> = {}
): Record<string, string> => ({
  REDIS_URL: redisUrl,
  DEVFLOW_REDIS_KEYS: keys,
  CLIENT_ID,
  DEVICE_AUTHORIZATION_ENDPOINT: `${auth}/device`,
  TOKEN_ENDPOINT: `${auth}/token`,
  ...extra
})

export const stopInstance = async (instance: Instance, signal: NodeJS.Signals = "SIGTERM") => {
  if (instance.process.exitCode === null && instance.process.signalCode === null) {
    instance.process.kill(signal)
    await instance.exited
  }
}

/** JSON over fetch; a refused connection or a 5xx is `undefined` (the caller tries another instance). */
export const call = async (
  url: string,
  init: { readonly method?: string; readonly body?: unknown; readonly timeoutMs?: number; readonly any?: boolean } = {}
): Promise<{ readonly status: number; readonly body: any } | undefined> => {
  try {
    const res = await fetch(url, {
      method: init.method ?? "GET",
      ...(init.body === undefined
        ? {}
        : { body: JSON.stringify(init.body), headers: { "content-type": "application/json" } }),
      signal: AbortSignal.timeout(init.timeoutMs ?? 30_000)
    })
    const body = await res.json()
    return res.status >= 500 && !init.any ? undefined : { status: res.status, body }
  } catch {
    return undefined
  }
}
