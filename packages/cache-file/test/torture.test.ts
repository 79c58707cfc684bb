/**
 * Cache torture, at a larger scale than processes.test.ts: 8 writer
 * processes each committing their updates to one cache file while random
 * writers are killed with SIGKILL (and restarted from their last
 * acknowledged update) until every update is in. Meanwhile the test reads
 * the file without a lock, again and again. Reported and asserted:
 *
 * - entries lost: acknowledged updates missing from the file (must be 0);
 * - torn files: reads of the file that do not decode (must be 0);
 * - stale-lock recovery: how long after a holder's SIGKILL its data lock
 *   passed to another process (dead pid on this host), and how long a lock
 *   whose holder cannot be checked (another host) blocks before it is broken.
 *
 * Default: 8 processes × 40 updates, ~12 kills (a few seconds).
 * `TORTURE=full`: 8 processes × 200 updates, ~60 kills.
 */
import * as Account from "@devflow/core/Account"
import * as CacheContent from "@devflow/core/CacheContent"
import { late } from "@devflow/dev-server/wallClock"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as FileTokenCache from "../src/FileTokenCache.js"
import { STALE_LOCK_AFTER_MS } from "./fixtures/limits.js"
import { spawnWorker, type Worker, workerBundle } from "./fixtures/processes.js"

const FULL = process.env.TORTURE === "full"
const PROCESSES = 8
const UPDATES = FULL ? 200 : 40
const KILLS = FULL ? 60 : 12

const tempDir = () => fs.mkdtempSync(path.join(os.tmpdir(), "devflow-cache-torture-"))
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

const percentile = (values: ReadonlyArray<number>, p: number) => {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!
}

const lockHolder = (file: string): { readonly pid: number; readonly nonce: string } | undefined => {
  try {
    return JSON.parse(fs.readFileSync(file, "utf8")) as { pid: number; nonce: string }
  } catch {
    return undefined
  }
}

describe("FileTokenCache torture", () => {
  it(`${PROCESSES} processes × ${UPDATES} updates with ${KILLS} random SIGKILLs: nothing lost, nothing torn`, {
    timeout: FULL ? 600_000 : 120_000
  }, async () => {
    await workerBundle()
    const dir = tempDir()
    const file = path.join(dir, "tokens.json")
    const lock = `${file}.lock`
    try {
      const started = Date.now()
      /** the next update each writer still has to make */
      const next = Array.from({ length: PROCESSES }, () => 0)
      const live = new Map<number, Worker>()
      const all: Array<Worker> = []
      const acked = new Set<string>()

      const watchAcks = (id: number, worker: Worker) => {
        const scan = setInterval(() => {
          for (const line of worker.lines) {
            if (!line.startsWith("ok ")) continue
            acked.add(line.slice(3))
            const i = Number(line.split("-")[1])
            if (i + 1 > next[id]!) next[id] = i + 1
          }
        }, 5)
        void worker.exited.then(() => {
          clearInterval(scan)
          for (const line of worker.lines) {
            if (!line.startsWith("ok ")) continue
            acked.add(line.slice(3))
            const i = Number(line.split("-")[1])
            if (i + 1 > next[id]!) next[id] = i + 1
          }
        })
      }

      const spawn = async (id: number) => {
        const worker = await spawnWorker(["write", dir, String(id), String(UPDATES), "0", String(next[id])])
        await worker.waitFor((l) => l === "ready")
        watchAcks(id, worker)
        live.set(id, worker)
        all.push(worker)
        worker.send("go")
        return worker
      }

      // a reader that takes no lock, all along: every version it sees must decode
      let reads = 0
      let torn = 0
      const tornSamples: Array<string> = []
      let reading = true
      const reader = (async () => {
        while (reading) {
          let text: string | undefined
          try {
            text = fs.readFileSync(file, "utf8")
          } catch {
            // not created yet
          }
          if (text !== undefined) {
            reads++
            try {
              Effect.runSync(CacheContent.fromJson(text, file))
            } catch (error) {
              torn++
              if (tornSamples.length < 3) tornSamples.push(`${String(error).slice(0, 200)} (${text.length} bytes)`)
            }
          }
          await sleep(15)
        }
      })()

      await Promise.all(Array.from({ length: PROCESSES }, (_, id) => spawn(id)))

      const recoveries: Array<number> = []
      let kills = 0
      let killedHoldingLock = 0
      const done = (id: number) => next[id]! >= UPDATES
      // spread the kills over the run: a kill every few updates of the whole pool
      const killEvery = Math.max(1, Math.floor((PROCESSES * UPDATES) / (KILLS + 1)))
      while (kills < KILLS) {
        const total = next.reduce((a, b) => a + b, 0)
        if (total >= (kills + 1) * killEvery || [...live.keys()].every(done)) {
          const candidates = [...live.entries()].filter(([id]) => !done(id))
          if (candidates.length === 0) break
          const [id, victim] = candidates[Math.floor(Math.random() * candidates.length)]!
          // half the kills wait (bounded) until the victim holds the data lock
          if (kills % 2 === 0) {
            const until = Date.now() + 500
            while (Date.now() < until && lockHolder(lock)?.pid !== victim.pid) await sleep(0)
          }
          victim.process.kill("SIGKILL")
          const killedAt = Date.now()
          const held = lockHolder(lock)
          await victim.exited
          live.delete(id)
          kills++
          // back at once: were every other writer finished, nobody would be left to break the dead lock
          if (!done(id)) await spawn(id)
          if (held?.pid === victim.pid) {
            killedHoldingLock++
            // how long until another process has broken the dead holder's lock and taken it
            const until = killedAt + STALE_LOCK_AFTER_MS
            while (Date.now() < until) {
              const now = lockHolder(lock)
              if (now === undefined || now.nonce !== held.nonce) break
              await sleep(1)
            }
            recoveries.push(Date.now() - killedAt)
          }
        } else {
          await sleep(2)
        }
      }
      // every writer finishes
      for (const [id, worker] of live) {
        if (!done(id)) await worker.waitFor((l) => l === "done", FULL ? 300_000 : 60_000)
      }
      await Promise.all([...live.values()].map((w) => w.exited))
      reading = false
      await reader

      const content = Effect.runSync(CacheContent.fromJson(fs.readFileSync(file, "utf8"), file))
      const stored = new Set([...content.accounts.values()].map((a) => a.id))
      const lost = [...acked].filter((id) => !stored.has(`user:w${id}`))
      const missing: Array<string> = []
      for (let w = 0; w < PROCESSES; w++) {
        for (let i = 0; i < UPDATES; i++) if (!stored.has(`user:w${w}-${i}`)) missing.push(`w${w}-${i}`)
      }
      const leftovers = fs.readdirSync(dir).filter((n) => n !== "tokens.json" && !n.endsWith(".tmp"))
      const elapsed = Date.now() - started
      console.info(
        `[cache-file] torture: ${PROCESSES} processes × ${UPDATES} updates = ${PROCESSES * UPDATES} updates, ` +
          `${all.length} processes started, ${kills} SIGKILLs (${killedHoldingLock} while holding the data lock); ` +
          `acknowledged ${acked.size}, in the file ${stored.size}, lost ${lost.length}, never written ${missing.length}; ` +
          `unlocked reads ${reads}, torn ${torn}; ` +
          `stale lock of a killed holder taken over after ${
            recoveries.length === 0 ? "-" : `median ${percentile(recoveries, 50)} ms, ` +
              `max ${Math.max(...recoveries)} ms`
          } (${recoveries.length} measured); ` +
          `${(elapsed / 1000).toFixed(1)} s`
      )
      assert.deepStrictEqual(lost, [])
      assert.deepStrictEqual(missing, [])
      assert.strictEqual(torn, 0, tornSamples.join("\n"))
      assert.isAbove(reads, 0)
      assert.strictEqual(kills, KILLS)
      // nothing but the cache file and (dead writers') temp files, which the next opener sweeps
      assert.deepStrictEqual(leftovers.filter((n) => !n.startsWith("tokens.json.lock")), [])
      // a dead holder's lock is broken by its pid, checked at once, not by its age (the figure above
      // includes the replacement writer's start-up; how fast is for the bench, not an assertion here)
      for (const ms of recoveries) assert.isBelow(ms, STALE_LOCK_AFTER_MS)
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })

  it("a lock whose holder cannot be checked (another host) is broken once it is staleLockAfter old", {
    timeout: 30_000
  }, async () => {
    const dir = tempDir()
    try {
      const staleAfterMs = FULL ? 10_000 : 2_000
      const cache = await Effect.runPromise(
        FileTokenCache.make({ directory: dir, staleLockAfter: `${staleAfterMs} millis`, lockTimeout: "30 seconds" })
      )
      const lock = path.join(dir, "tokens.json.lock")
      fs.writeFileSync(
        lock,
        JSON.stringify({
          pid: 4_000_000,
          host: "another-host.example",
          started: Date.now(),
          nonce: crypto.randomUUID(),
          acquiredAt: Date.now()
        }),
        { mode: 0o600 }
      )
      const authority = "https://login.devflow.test/torture/token"
      const t0 = Date.now()
      await Effect.runPromise(cache.save({
        authority,
        clientId: "torture",
        account: Account.supplied(authority, { id: "after-stale" }),
        accessToken: {
          secret: Redacted.make("at"),
          tokenType: "Bearer",
          scopes: ["x"],
          expiresOn: Date.now() + 60_000
        },
        now: Date.now()
      }))
      const waited = Date.now() - t0
      console.info(
        `[cache-file] torture: a lock held by an uncheckable holder (another host) was broken after ${waited} ms (staleLockAfter ${staleAfterMs} ms)`
      )
      assert.isAtLeast(waited, staleAfterMs - 50)
      assert.isBelow(waited, late(staleAfterMs)) // not the 30 s lockTimeout
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })
})
