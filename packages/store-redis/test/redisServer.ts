/**
 * A real `redis-server` (Debian's package) for the tests: started on a
 * random loopback port, in a temp directory, without snapshots; with an
 * append-only file when a test restarts it and expects its data back.
 *
 * Missing locally → the suites skip; missing when `CI=true` or
 * `DEVFLOW_REQUIRE_REDIS=1` → they fail (`.ci/run` installs the package).
 */
import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"

export const REDIS_SERVER = process.env.DEVFLOW_REDIS_SERVER ?? "/usr/bin/redis-server"
export const hasRedis = fs.existsSync(REDIS_SERVER)

if ((process.env.CI === "true" || process.env.DEVFLOW_REQUIRE_REDIS === "1") && !hasRedis) {
  throw new Error(
    `CI=true but ${REDIS_SERVER} is missing: install Debian's redis-server package (apt-get install -y redis-server)`
  )
}

export const canListen = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const server = net.createServer()
    server.once("error", () => resolve(false))
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)))
  })

/**
 * A free port below Linux's ephemeral range (32768+): a port the OS hands out
 * for outgoing connections could be taken by one while Redis is restarting.
 */
export const freePort = async (): Promise<number> => {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000)
    if (await canListen(port)) return port
  }
  throw new Error("no free port in 20000–32000")
}

export interface RedisServer {
  readonly port: number
  readonly url: string
  readonly dir: string
  /** SIGTERM and wait (Redis writes its AOF and exits) */
  stop(): Promise<void>
  /** SIGKILL and wait */
  kill(): Promise<void>
  /** start again on the same port and directory */
  restart(): Promise<void>
  /** stop and remove the directory */
  close(): Promise<void>
}

const waitReady = (child: ChildProcess, port: number): Promise<void> =>
  new Promise((resolve, reject) => {
    let out = ""
    const timer = setTimeout(() => reject(new Error(`redis-server on ${port} not ready within 10 s:\n${out}`)), 10_000)
    const onData = (chunk: Buffer) => {
      out += chunk.toString()
      if (out.includes("Ready to accept connections")) {
        clearTimeout(timer)
        child.stdout?.off("data", onData)
        resolve()
      }
    }
    child.stdout?.on("data", onData)
    child.once("exit", (code) => {
      clearTimeout(timer)
      reject(new Error(`redis-server exited with ${code}:\n${out}`))
    })
  })

const exited = (child: ChildProcess): Promise<void> =>
  child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve()
    : new Promise((resolve) => child.once("exit", () => resolve()))

export const startRedis = async (options: { readonly aof?: boolean } = {}): Promise<RedisServer> => {
  const port = await freePort()
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "devflow-redis-"))
  const args = [
    "--port",
    String(port),
    "--bind",
    "127.0.0.1",
    "--dir",
    dir,
    "--save",
    "",
    "--daemonize",
    "no",
    "--protected-mode",
    "yes",
    ...(options.aof ? ["--appendonly", "yes", "--appendfsync", "always"] : ["--appendonly", "no"])
  ]
  let child: ChildProcess
  const launch = async () => {
    // the port was just released: a few tries, in case the kernel still holds it
    for (let attempt = 1;; attempt++) {
      child = spawn(REDIS_SERVER, args, { stdio: ["ignore", "pipe", "pipe"] })
      child.stderr?.resume()
      try {
        await waitReady(child, port)
        child.stdout?.resume()
        return
      } catch (error) {
        if (attempt >= 10) throw error
        await new Promise((resolve) => setTimeout(resolve, 100))
      }
    }
  }
  await launch()
  const signal = async (name: NodeJS.Signals) => {
    child.kill(name)
    await exited(child)
  }
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    dir,
    stop: () => signal("SIGTERM"),
    kill: () => signal("SIGKILL"),
    restart: launch,
    close: async () => {
      await signal("SIGKILL")
      fs.rmSync(dir, { recursive: true, force: true })
    }
  }
}
