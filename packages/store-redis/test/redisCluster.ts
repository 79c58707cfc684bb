/**
 * A real Redis Cluster for the tests: 3 masters and 3 replicas of Debian's
 * `redis-server` on loopback ports, formed with `redis-cli --cluster create
 * … --cluster-replicas 1`, each node in its own temp directory.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { promisify } from "node:util"
import { canListen, REDIS_SERVER } from "./redisServer.js"

const run = promisify(execFile)
export const REDIS_CLI = process.env.DEVFLOW_REDIS_CLI ?? "/usr/bin/redis-cli"
export const hasCluster = fs.existsSync(REDIS_SERVER) && fs.existsSync(REDIS_CLI)

if ((process.env.CI === "true" || process.env.DEVFLOW_REQUIRE_REDIS === "1") && !hasCluster) {
  throw new Error(`CI=true but ${REDIS_CLI} is missing: install Debian's redis-server package (it brings redis-tools)`)
}

export interface ClusterNode {
  readonly port: number
  readonly process: ChildProcess
}

export interface RedisCluster {
  readonly nodes: ReadonlyArray<ClusterNode>
  /** host/port pairs for ioredis `Cluster` */
  readonly startup: ReadonlyArray<{ readonly host: string; readonly port: number }>
  /** `CLUSTER INFO` field `name` as seen by the node on `port` */
  readonly info: (port: number, name: string) => Promise<string | undefined>
  /** the port of the master serving `key`'s slot */
  readonly masterOf: (key: string) => Promise<number>
  /** kill the node on `port` with SIGKILL */
  readonly kill: (port: number) => Promise<void>
  /** wait until every node still running says `cluster_state:ok`, every replica is in sync and `key`'s slot has a live master */
  readonly settled: (key?: string) => Promise<void>
  readonly close: () => Promise<void>
}

const cli = async (port: number, ...args: ReadonlyArray<string>) =>
  (await run(REDIS_CLI, ["-h", "127.0.0.1", "-p", String(port), ...args], { timeout: 10_000 })).stdout.trim()

const until = async (what: string, check: () => Promise<boolean>, timeoutMs = 30_000) => {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (await check().catch(() => false)) return
    if (Date.now() > deadline) throw new Error(`cluster: timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

/**
 * A free port for a cluster node whose bus port (`port + 10000`) is free too, both below Linux's
 * ephemeral range (32768+), which outgoing connections could take meanwhile.
 */
const nodePort = async (): Promise<number> => {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 2_700)
    if (await canListen(port) && await canListen(port + 10_000)) return port
  }
  throw new Error("cluster: no free port pair in 20000–22700 / 30000–32700")
}

export const startCluster = async (): Promise<RedisCluster> => {
  const nodes: Array<ClusterNode> = []
  const dirs: Array<string> = []
  for (let i = 0; i < 6; i++) {
    const port = await nodePort()
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "devflow-cluster-"))
    dirs.push(dir)
    const child = spawn(REDIS_SERVER, [
      "--port",
      String(port),
      "--bind",
      "127.0.0.1",
      "--dir",
      dir,
      "--save",
      "",
      "--appendonly",
      "no",
      "--cluster-enabled",
      "yes",
      "--cluster-config-file",
      "nodes.conf",
      // a dead master is replaced within about a second and a half
      "--cluster-node-timeout",
      "1000",
      // a replica fails over however long ago it last heard its master (the tests' replicas are young)
      "--cluster-replica-validity-factor",
      "0",
      // replicas sync at once (the default waits 5 s to serve several with one transfer)
      "--repl-diskless-sync-delay",
      "0"
    ], { stdio: ["ignore", fs.openSync(path.join(dir, "log"), "a"), fs.openSync(path.join(dir, "log"), "a")] })
    nodes.push({ port, process: child })
  }
  const stopAll = () => {
    for (const node of nodes) node.process.kill("SIGKILL")
    for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true })
  }
  try {
    for (const [i, node] of nodes.entries()) {
      await until(`node ${node.port}`, async () => (await cli(node.port, "ping")) === "PONG", 30_000).catch((error) => {
        const log = fs.readFileSync(path.join(dirs[i]!, "log"), "utf8").slice(-1_000)
        throw new Error(`${error.message}; exit ${node.process.exitCode ?? node.process.signalCode}; its log:\n${log}`)
      })
    }
    await run(REDIS_CLI, [
      "--cluster",
      "create",
      ...nodes.map((n) => `127.0.0.1:${n.port}`),
      "--cluster-replicas",
      "1",
      "--cluster-yes"
    ], { timeout: 60_000 })
  } catch (error) {
    // nothing is left running when the cluster cannot be formed
    stopAll()
    throw error
  }
  const alive = () => nodes.filter((n) => n.process.exitCode === null && n.process.signalCode === null)
  const info = async (port: number, name: string) =>
    new RegExp(`^${name}:(\\S+)`, "m").exec(await cli(port, "cluster", "info"))?.[1]
  const masterOf = async (key: string) => {
    const slot = Number(await cli(alive()[0]!.port, "cluster", "keyslot", key))
    const lines = (await cli(alive()[0]!.port, "cluster", "nodes")).split("\n")
    for (const line of lines) {
      const fields = line.split(" ")
      if (!fields[2]!.includes("master") || fields[2]!.includes("fail")) continue
      for (const range of fields.slice(8)) {
        const [from, to] = range.split("-").map(Number)
        if (slot >= from! && slot <= (to ?? from)!) return Number(fields[1]!.split(":")[1]!.split("@")[0])
      }
    }
    throw new Error(`cluster: no master for slot ${slot}`)
  }
  const settled = (key?: string) =>
    until("the cluster to be ok", async () => {
      for (const node of alive()) {
        if ((await info(node.port, "cluster_state")) !== "ok") return false
        // and every replica holds its master's data: a failover then loses nothing written before
        const replication = await cli(node.port, "info", "replication")
        if (/^role:slave/m.test(replication) && !/^master_link_status:up/m.test(replication)) return false
      }
      if (key !== undefined) {
        const port = await masterOf(key)
        if (!alive().some((n) => n.port === port)) return false
      }
      return true
    }, 60_000).catch(async (error) => {
      const port = alive()[0]!.port
      throw new Error(
        `${error.message}\n${await cli(port, "cluster", "info").catch(String)}\n${await cli(port, "cluster", "nodes")
          .catch(String)}`
      )
    })
  await settled().catch((error) => {
    stopAll()
    throw error
  })
  return {
    nodes,
    startup: nodes.map((n) => ({ host: "127.0.0.1", port: n.port })),
    info,
    masterOf,
    kill: async (port) => {
      const node = nodes.find((n) => n.port === port)!
      node.process.kill("SIGKILL")
      await new Promise((resolve) =>
        node.process.exitCode !== null || node.process.signalCode !== null
          ? resolve(undefined)
          : node.process.once("exit", resolve)
      )
    },
    settled,
    close: async () => {
      const exits = alive().map((node) => new Promise((resolve) => node.process.once("exit", resolve)))
      for (const node of alive()) node.process.kill("SIGKILL")
      await Promise.all(exits)
      for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true })
    }
  }
}
