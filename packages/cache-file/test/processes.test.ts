/**
 * The file cache under fire: real OS processes sharing one cache file,
 * updating it concurrently, killed with SIGKILL in the middle of writes,
 * refreshing the same account at the same moment.
 */
import * as Account from "@devflow/core/Account"
import * as CacheContent from "@devflow/core/CacheContent"
import { TestKitCache } from "@devflow/core/testing"
import * as TokenCache from "@devflow/core/TokenCache"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as FileTokenCache from "../src/FileTokenCache.js"
import { spawnWorker, type Worker, workerBundle } from "./fixtures/processes.js"

const tempDir = () => fs.mkdtempSync(path.join(os.tmpdir(), "devflow-cache-procs-"))

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** The cache file as a reader that takes no lock sees it: it must always decode. */
const readStored = (dir: string): CacheContent.CacheContent => {
  const file = path.join(dir, "tokens.json")
  return Effect.runSync(CacheContent.fromJson(fs.readFileSync(file, "utf8"), file))
}

const accountIds = (content: CacheContent.CacheContent) => new Set([...content.accounts.values()].map((a) => a.id))

const acknowledged = (workers: ReadonlyArray<Worker>) =>
  workers.flatMap((w) => w.lines.filter((l) => l.startsWith("ok ")).map((l) => `user:w${l.slice(3)}`))

const startWriter = async (dir: string, id: string, count: number, pauseMs = 0) => {
  const worker = await spawnWorker(["write", dir, id, String(count), String(pauseMs)])
  await worker.waitFor((l) => l === "ready")
  return worker
}

describe("FileTokenCache across processes", () => {
  it("4 processes × 50 concurrent updates: every update is in the file", { timeout: 60_000 }, async () => {
    await workerBundle()
    const dir = tempDir()
    try {
      const P = 4
      const U = 50
      const started = Date.now()
      const workers = await Promise.all(Array.from({ length: P }, (_, p) => startWriter(dir, String(p), U)))
      for (const w of workers) w.send("go")
      await Promise.all(workers.map((w) => w.waitFor((l) => l === "done", 45_000)))
      const exits = await Promise.all(workers.map((w) => w.exited))
      assert.deepStrictEqual(exits.map((e) => e.code), Array(P).fill(0))
      const content = readStored(dir)
      const ids = accountIds(content)
      const missing = acknowledged(workers).filter((id) => !ids.has(id))
      assert.strictEqual(ids.size, P * U)
      assert.strictEqual(content.accessTokens.size, P * U)
      assert.strictEqual(content.refreshTokens.size, P * U)
      assert.deepStrictEqual(missing, [])
      assert.deepStrictEqual(fs.readdirSync(dir).filter((n) => n !== "tokens.json"), [])
      console.info(
        `[cache-file] concurrency: ${P} processes × ${U} updates = ${P * U} read-modify-writes in ${
          Date.now() - started
        } ms; ` +
          `entries in the file: ${ids.size} accounts; lost: ${missing.length}`
      )
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })

  it(
    "SIGKILL in the middle of writes: the file always parses, nothing acknowledged is lost, dead holders' locks are recovered",
    {
      timeout: 60_000
    },
    async () => {
      await workerBundle()
      const dir = tempDir()
      try {
        // Padding with long tokens (about 3 MB in all) makes writing the file the longest part of
        // every update, so that kills land inside writes (and inside the lock).
        const padding = 200
        const long = "p".repeat(15_000)
        const authority = "https://login.devflow.test/workers/token"
        const ids = Array.from({ length: padding }, (_, i) => `pad-${i}`)
        await Effect.runPromise(Effect.gen(function*() {
          const cache = yield* FileTokenCache.make({ directory: dir })
          yield* cache.update(() =>
            CacheContent.fromFile({
              version: 1,
              accounts: ids.map((id) => Account.supplied(authority, { id })),
              accessTokens: ids.map((id) => ({
                authority,
                clientId: "padding",
                accountId: `user:${id}`,
                scopes: ["x"],
                secret: Redacted.make(`at-${id}-${long}`),
                tokenType: "Bearer",
                cachedAt: 0
              })),
              refreshTokens: ids.map((id) => ({
                authority,
                clientId: "padding",
                accountId: `user:${id}`,
                secret: Redacted.make(`rt-${id}`),
                cachedAt: 0
              })),
              idTokens: []
            })
          )
        }))
        const all: Array<Worker> = []
        let next = 0
        const spawn = async () => {
          const w = await startWriter(dir, String(next++), 1_000_000, 5)
          w.send("go")
          all.push(w)
          return w
        }
        const live = new Set<Worker>(await Promise.all([spawn(), spawn(), spawn()]))
        const kills = 6
        let heldLock = 0
        let midWrite = 0
        let parsedChecks = 0
        const started = Date.now()
        const timings: Array<number> = []
        for (let k = 0; k < kills; k++) {
          const victim = [...live][Math.floor(Math.random() * live.size)]!
          await victim.waitFor((l) => l.startsWith("ok "))
          const lock = path.join(dir, "tokens.json.lock")
          const holderNow = () => {
            try {
              return JSON.parse(fs.readFileSync(lock, "utf8")) as { pid: number; nonce: string }
            } catch {
              return undefined
            }
          }
          const tempOf = (pid: number) => fs.readdirSync(dir).find((n) => n.startsWith(`tokens.json.${pid}-`))
          const t0 = Date.now()
          if (k % 2 === 0) {
            // Targeted: spin (bounded) until the victim's temp file exists, i.e. it is between
            // creating it and renaming it over the cache file, and kill it right there.
            const until = Date.now() + 3_000
            while (Date.now() < until && tempOf(victim.pid) === undefined) {
              // busy-wait on purpose: the window is a few milliseconds
            }
          } else {
            await sleep(30 + Math.random() * 150)
          }
          const before = holderNow()
          victim.process.kill("SIGKILL")
          const after = holderNow()
          // its lock, still there after the kill: it died holding it (a lower bound; others break it within ms)
          if (before?.pid === victim.pid && after?.nonce === before.nonce) heldLock++
          await victim.exited
          if (tempOf(victim.pid) !== undefined) midWrite++
          live.delete(victim)
          readStored(dir) // throws if the kill left a damaged file
          parsedChecks++
          live.add(await spawn())
          timings.push(Date.now() - t0)
        }
        // Progress after the kills: every writer commits again, so no dead holder's lock stalls them
        // (the workers' staleLockAfter is 60 s; recovery comes from the dead pid).
        const progress = await Promise.all([...live].map(async (w) => {
          const before = w.lines.length
          const t = Date.now()
          await w.waitFor((l) => l.startsWith("ok ") && w.lines.indexOf(l) >= before + 2, 10_000)
          return Date.now() - t
        }))
        // the last ones die mid-write too
        for (const w of live) w.process.kill("SIGKILL")
        await Promise.all([...live].map((w) => w.exited))
        const content = readStored(dir)
        const stored = accountIds(content)
        const acked = acknowledged(all)
        const lost = acked.filter((id) => !stored.has(id))
        assert.deepStrictEqual(lost, [])
        assert.isAbove(acked.length, 0)
        assert.isAtLeast(stored.size - padding, acked.length)
        assert.isAtLeast(midWrite, 1) // the targeted kills did land inside writes
        const leftovers = fs.readdirSync(dir).filter((n) => n.endsWith(".tmp"))
        const fileSize = fs.statSync(path.join(dir, "tokens.json")).size
        console.info(
          `[cache-file] kills: ${all.length} writer processes, ${kills + live.size} killed with SIGKILL ` +
            `(${heldLock}+ of them while holding the data lock), ${parsedChecks + 1} file checks all parsed; ` +
            `${acked.length} acknowledged updates, ${stored.size - padding} in the file, lost: ${lost.length}; ` +
            `slowest writer resumed ${Math.max(...progress)} ms after the kills; ` +
            `${midWrite} killed between creating their temp file and renaming it; ` +
            `file ${(fileSize / 1e6).toFixed(1)} MB; ` +
            `${Date.now() - started} ms (kill+respawn: ${timings.join(", ")} ms)`
        )
        // A new opener sweeps dead writers' temp files once they are old enough (10 s); age them.
        const old = new Date(Date.now() - 60_000)
        for (const name of leftovers) fs.utimesSync(path.join(dir, name), old, old)
        await Effect.runPromise(FileTokenCache.make({ directory: dir }))
        assert.deepStrictEqual(fs.readdirSync(dir).filter((n) => n.endsWith(".tmp")), [])
      } finally {
        fs.rmSync(dir, { recursive: true, force: true })
      }
    }
  )

  it(
    "4 processes needing the same refresh at once: one refreshes, the others read its result",
    { timeout: 60_000 },
    async () => {
      await workerBundle()
      const dir = tempDir()
      try {
        await Effect.runPromise(
          TestKitCache.seed({ expiresIn: 60 }).pipe(
            Effect.provide(Layer.effect(TokenCache.TokenCache, FileTokenCache.make({ directory: dir })))
          )
        )
        const workers = await Promise.all(Array.from({ length: 4 }, () => spawnWorker(["silent", dir])))
        await Promise.all(workers.map((w) => w.waitFor((l) => l === "ready")))
        for (const w of workers) w.send("go")
        const results = await Promise.all(
          workers.map(async (w) => JSON.parse(await w.waitFor((l) => l.startsWith("{"), 30_000)))
        )
        assert.strictEqual(results.reduce((n, r) => n + r.refreshes, 0), 1)
        assert.deepStrictEqual(results.map((r) => r.source).sort(), ["cache", "cache", "cache", "refresh"])
        assert.deepStrictEqual(new Set(results.map((r) => r.accessToken)), new Set([TestKitCache.accessToken(1)]))
        const stored = readStored(dir)
        assert.deepStrictEqual([...stored.refreshTokens.values()].map((e) => Redacted.value(e.secret)), [
          TestKitCache.refreshToken(1)
        ])
      } finally {
        fs.rmSync(dir, { recursive: true, force: true })
      }
    }
  )

  it("a live holder in another process makes waiters time out; once it is killed its lock is taken at once", {
    timeout: 30_000
  }, async () => {
    await workerBundle()
    const dir = tempDir()
    try {
      const holder = await spawnWorker(["hold", dir, "account-1"])
      await holder.waitFor((l) => l === "held")
      const impatient = await Effect.runPromise(
        FileTokenCache.make({ directory: dir, refreshLockTimeout: "300 millis" })
      )
      const error = await Effect.runPromise(Effect.flip(impatient.withRefreshLock("account-1", Effect.void)))
      assert.strictEqual(error._tag === "CacheUnavailable" && error.reason, "lock_timeout")
      assert.include(error.message, `process ${holder.pid}`)
      holder.process.kill("SIGKILL")
      await holder.exited
      const patient = await Effect.runPromise(
        FileTokenCache.make({ directory: dir, refreshLockTimeout: "10 seconds", staleLockAfter: "1 minute" })
      )
      const t = Date.now()
      assert.strictEqual(await Effect.runPromise(patient.withRefreshLock("account-1", Effect.succeed("mine"))), "mine")
      assert.isBelow(Date.now() - t, 1_000)
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })
})
