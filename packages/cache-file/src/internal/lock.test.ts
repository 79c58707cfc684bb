import { assert, describe, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { writeAtomic } from "./fileCache.js"
import { processStartTicks } from "./io.js"
import * as Lock from "./lock.js"

const HOUR = 3_600_000
const seen = (holder: Partial<Lock.Holder>, ageMs: number): Lock.Seen => {
  const full = { pid: 1, host: os.hostname(), started: 0, nonce: "n", acquiredAt: 0, ...holder }
  return { text: JSON.stringify(full), holder: full, ino: 1n, mtimeMs: Date.now() - ageMs }
}
const staleAfter = Duration.seconds(10)

describe("lock staleness", () => {
  it("a live holder on this machine is never judged by its file's age (the wall clock that measures it can step)", () => {
    // process 1 is alive on every Unix machine
    assert.isUndefined(Lock.staleness(seen({ pid: 1 }, HOUR), staleAfter, Date.now()))
  })

  it.skipIf(process.platform !== "linux")(
    "a holder whose pid now belongs to another process (its start differs) has exited",
    () => {
      const ticks = processStartTicks(1)!
      assert.isNumber(ticks)
      assert.isUndefined(Lock.staleness(seen({ pid: 1, startTicks: ticks }, 0), staleAfter, Date.now()))
      assert.match(
        Lock.staleness(seen({ pid: 1, startTicks: ticks + 1 }, 0), staleAfter, Date.now())!,
        /process 1 that took it has exited/
      )
    }
  )

  it("a holder on another machine is judged by the age of its file", () => {
    const other = { pid: 1, host: "another-host.example" }
    assert.isUndefined(Lock.staleness(seen(other, 5_000), staleAfter, Date.now()))
    assert.match(Lock.staleness(seen(other, 11_000), staleAfter, Date.now())!, /has not touched it for 11 s/)
  })

  it("a lock file naming this very process was left behind: it takes its locks one fiber at a time", () => {
    const own = {
      pid: process.pid,
      started: Math.round(Date.now() - process.uptime() * 1000),
      startTicks: processStartTicks(process.pid)
    }
    assert.match(Lock.staleness(seen(own, 0), staleAfter, Date.now())!, /left it behind/)
  })
})

describe("the lock re-checked before a write becomes visible", () => {
  it.scoped("a lock taken over while its holder was stalled: the write is refused before the rename, the file keeps what it had", () =>
    Effect.gen(function*() {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "devflow-lock-"))
      yield* Effect.addFinalizer(() => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true })))
      const file = path.join(dir, "tokens.json")
      fs.writeFileSync(file, "before")
      const options = { path: `${file}.lock`, location: file, timeout: Duration.seconds(5), staleAfter }
      const error = yield* Effect.flip(Lock.withLockChecked(options, (held) =>
        Effect.gen(function*() {
          // another process judged this one dead and took the lock over
          fs.writeFileSync(
            options.path,
            JSON.stringify({ pid: 1, host: os.hostname(), started: 0, nonce: "theirs", acquiredAt: Date.now() })
          )
          yield* writeAtomic(file, "after", held)
        })))
      assert.strictEqual(error._tag, "CacheUnavailable")
      assert.include(error.message, "was taken over while this process was stalled")
      assert.strictEqual(fs.readFileSync(file, "utf8"), "before")
      assert.deepStrictEqual(fs.readdirSync(dir).filter((n) => n.endsWith(".tmp")), [])
      // theirs is left alone
      assert.include(fs.readFileSync(options.path, "utf8"), "theirs")
    }))
})
