import { PublicClient } from "@devflow/core"
import * as CacheContent from "@devflow/core/CacheContent"
import { TestKit, TestKitCache } from "@devflow/core/testing"
import * as TokenCache from "@devflow/core/TokenCache"
import { late } from "@devflow/dev-server/wallClock"
import { assert, describe, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Ref from "effect/Ref"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { accountFor, signIn, tokenCacheContract } from "../../core/test/tokenCacheContract.js"
import { deadPid } from "../test/fixtures/processes.js"
import * as FileTokenCache from "./FileTokenCache.js"
import * as FileCache from "./internal/fileCache.js"
import { processStarted } from "./internal/io.js"

/** A fresh directory under the system's temp dir, removed afterwards. */
const tempDir = Effect.acquireRelease(
  Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "devflow-cache-test-"))),
  (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
)

// The file's own mechanics: secrets stay in it (the keychain has test/keychain.test.ts).
const fileLayer = (options: FileTokenCache.Options = {}) =>
  Layer.unwrapScoped(
    Effect.map(tempDir, (dir) =>
      FileTokenCache.layer({ directory: path.join(dir, "devflow"), secretStore: "file", ...options }))
  )

tokenCacheContract("FileTokenCache", fileLayer())

const mode = (file: string) => fs.statSync(file).mode & 0o777

const open = (directory: string, options: FileTokenCache.Options = {}) =>
  FileTokenCache.make({ directory, secretStore: "file", ...options })

const lockText = (holder: Partial<{ pid: number; host: string; started: number; nonce: string; acquiredAt: number }>) =>
  JSON.stringify({
    pid: process.pid,
    host: os.hostname(),
    started: processStarted,
    nonce: "n",
    acquiredAt: Date.now(),
    ...holder
  })

describe("FileTokenCache: where and how it stores", () => {
  it("the default directory follows each platform's convention", () => {
    const at = (platform: NodeJS.Platform, env: Record<string, string>, home: string) =>
      FileTokenCache.defaultDirectoryFor({ platform, env, home })
    assert.strictEqual(at("linux", {}, "/home/u"), "/home/u/.cache/devflow")
    assert.strictEqual(at("linux", { XDG_CACHE_HOME: "/var/cache/u" }, "/home/u"), "/var/cache/u/devflow")
    assert.strictEqual(at("linux", { XDG_CACHE_HOME: "relative/dir" }, "/home/u"), "/home/u/.cache/devflow")
    assert.strictEqual(at("freebsd", { XDG_CACHE_HOME: "" }, "/home/u"), "/home/u/.cache/devflow")
    assert.strictEqual(at("darwin", {}, "/Users/u"), "/Users/u/Library/Caches/devflow")
    assert.strictEqual(
      at("win32", { LOCALAPPDATA: "C:\\Users\\u\\AppData\\Local" }, "C:\\Users\\u"),
      "C:\\Users\\u\\AppData\\Local\\devflow"
    )
    assert.strictEqual(at("win32", {}, "C:\\Users\\u"), "C:\\Users\\u\\AppData\\Local\\devflow")
  })

  it.scoped("writes one JSON file, 0600 in a 0700 directory, with no temp file left behind", () =>
    Effect.gen(function*() {
      const dir = path.join(yield* tempDir, "nested", "devflow")
      const cache = yield* open(dir)
      yield* cache.save(signIn(accountFor("alice")))
      assert.strictEqual(cache.location, path.join(dir, "tokens.json"))
      assert.strictEqual(mode(dir), 0o700)
      assert.strictEqual(mode(cache.location), 0o600)
      assert.deepStrictEqual(fs.readdirSync(dir), ["tokens.json"])
      const stored = JSON.parse(fs.readFileSync(cache.location, "utf8"))
      assert.strictEqual(stored.version, 1)
      assert.strictEqual(stored.accounts.length, 1)
      // the stored form holds the secret in clear: that is why it is 0600
      assert.include(fs.readFileSync(cache.location, "utf8"), "SECRET-rt-")
    }))

  it.scoped("another instance (another process, later) reads what was written", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const first = yield* open(dir)
      yield* first.save(signIn(accountFor("alice")))
      const second = yield* open(dir)
      assert.strictEqual((yield* second.getAccounts(accountFor("alice").authority)).length, 1)
      yield* second.save(signIn(accountFor("bob")))
      // the first instance sees the second's write: it re-reads when the file changed
      assert.strictEqual((yield* first.read).accounts.size, 2)
    }))

  it.scoped("unchanged files are not parsed again", () =>
    Effect.gen(function*() {
      const cache = yield* open(yield* tempDir)
      yield* cache.save(signIn(accountFor("alice")))
      const a = yield* cache.read
      const b = yield* cache.read
      assert.strictEqual(a, b)
    }))

  it.scoped("a directory open to others is tightened to 0700; a cache file open to others to 0600", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      fs.chmodSync(dir, 0o755)
      const cache = yield* open(dir)
      assert.strictEqual(mode(dir), 0o700)
      yield* cache.save(signIn(accountFor("alice")))
      fs.chmodSync(cache.location, 0o644)
      const other = yield* open(dir)
      assert.strictEqual((yield* other.read).accounts.size, 1)
      assert.strictEqual(mode(cache.location), 0o600)
    }))

  it.scoped("a directory open to others that holds other files, or is shared like /tmp, is refused and left as it is", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      fs.writeFileSync(path.join(dir, "notes.txt"), "")
      fs.chmodSync(dir, 0o755)
      const busy = yield* Effect.flip(open(dir))
      assert.strictEqual(busy.reason, "insecure")
      assert.include(busy.message, "holds other files (notes.txt)")
      assert.strictEqual(mode(dir), 0o755)
      const shared = path.join(dir, "shared")
      fs.mkdirSync(shared)
      fs.chmodSync(shared, 0o1777)
      const sticky = yield* Effect.flip(open(shared))
      assert.include(sticky.message, "sticky bit")
      assert.strictEqual(fs.statSync(shared).mode & 0o7777, 0o1777)
    }))

  it.scoped("a directory or file owned by another user is refused", () =>
    Effect.gen(function*() {
      if (process.getuid?.() !== 0) return // needs root to give a file away
      const dir = yield* tempDir
      fs.chownSync(dir, 4242, 4242)
      const refused = yield* Effect.flip(open(dir))
      assert.strictEqual(refused.reason, "insecure")
      assert.include(refused.message, "owned by uid 4242")
      fs.chownSync(dir, 0, 0)
      const cache = yield* open(dir)
      yield* cache.save(signIn(accountFor("alice")))
      fs.chownSync(cache.location, 4242, 4242)
      const error = yield* Effect.flip((yield* open(dir)).read)
      assert.strictEqual(error._tag === "CacheUnavailable" && error.reason, "insecure")
    }))

  it.scoped("a cache file that is a symbolic link is refused", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      fs.writeFileSync(path.join(dir, "elsewhere.json"), "{}")
      fs.symlinkSync(path.join(dir, "elsewhere.json"), path.join(dir, "tokens.json"))
      const cache = yield* open(dir)
      const error = yield* Effect.flip(cache.read)
      assert.strictEqual(error._tag === "CacheUnavailable" && error.reason, "insecure")
      assert.include(error.message, "symbolic link")
      const writeError = yield* Effect.flip(cache.save(signIn(accountFor("a"))))
      assert.strictEqual(writeError._tag, "CacheUnavailable")
    }))

  it.scoped("temp files of dead writers are removed when the cache is opened", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const pid = yield* Effect.promise(deadPid)
      const leftover = path.join(dir, `tokens.json.${pid}-abcdef.tmp`)
      const fresh = path.join(dir, `tokens.json.${pid}-123456.tmp`)
      fs.writeFileSync(leftover, "partial")
      fs.writeFileSync(fresh, "partial")
      const old = new Date(Date.now() - 60_000)
      fs.utimesSync(leftover, old, old)
      yield* open(dir)
      assert.isFalse(fs.existsSync(leftover))
      assert.isTrue(fs.existsSync(fresh)) // could be a writer on another machine: left for a while
    }))
})

describe("FileTokenCache: damaged and foreign files", () => {
  it.scoped("a corrupt file is moved aside, reported once, and the cache starts empty", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const file = path.join(dir, "tokens.json")
      fs.writeFileSync(file, "{\"version\":1,\"accounts\":[{\"id\":", { mode: 0o600 })
      const warnings = yield* Ref.make<ReadonlyArray<TokenCache.CacheCorrupt>>([])
      const onWarning = (w: TokenCache.CacheCorrupt) => Ref.update(warnings, (all) => [...all, w])
      const caches = [yield* open(dir, { onWarning }), yield* open(dir, { onWarning })]
      const contents = yield* Effect.all([...caches, ...caches].map((c) => c.read), { concurrency: "unbounded" })
      assert.isTrue(contents.every((c) => CacheContent.size(c) === 0))
      const reported = yield* Ref.get(warnings)
      assert.strictEqual(reported.length, 1)
      const moved = fs.readdirSync(dir).filter((n) => n.startsWith("tokens.json.corrupt-"))
      assert.strictEqual(moved.length, 1)
      assert.strictEqual(reported[0]!.movedTo, path.join(dir, moved[0]!))
      assert.include(reported[0]!.message, "not valid JSON")
      assert.include(reported[0]!.message, "Sign in again")
      assert.strictEqual(fs.readFileSync(path.join(dir, moved[0]!), "utf8"), "{\"version\":1,\"accounts\":[{\"id\":")
      yield* caches[0]!.save(signIn(accountFor("alice")))
      assert.strictEqual((yield* caches[1]!.read).accounts.size, 1)
      assert.strictEqual((yield* Ref.get(warnings)).length, 1)
    }))

  it.scoped("a corrupt copy moved aside (it may hold refresh tokens in clear) goes with a sign-out, and after a week", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const file = path.join(dir, "tokens.json")
      const corrupt = () => fs.readdirSync(dir).filter((n) => n.startsWith("tokens.json.corrupt-"))
      // signing out of one account
      fs.writeFileSync(file, "{\"refreshTokens\":[{\"secret\":\"SECRET-rt-bob", { mode: 0o600 })
      const cache = yield* open(dir)
      yield* cache.save(signIn(accountFor("alice")))
      assert.strictEqual(corrupt().length, 1)
      assert.isTrue(yield* cache.removeAccount(accountFor("alice").authority, accountFor("alice").id))
      assert.deepStrictEqual(corrupt(), [])
      // signing out of every account
      fs.writeFileSync(file, "not json", { mode: 0o600 })
      yield* cache.read
      assert.strictEqual(corrupt().length, 1)
      yield* cache.clear
      assert.deepStrictEqual(corrupt(), [])
      // a week after it was moved aside, the next opener removes it; a younger one is kept
      fs.writeFileSync(file, "not json", { mode: 0o600 })
      yield* (yield* open(dir)).read
      const [young] = corrupt()
      const old = path.join(dir, "tokens.json.corrupt-2026-01-01T00-00-00-000Z-1")
      fs.writeFileSync(old, "not json", { mode: 0o600 })
      const weekAgo = new Date(Date.now() - FileCache.QUARANTINE_KEPT_MS - 60_000)
      fs.utimesSync(old, weekAgo, weekAgo)
      yield* open(dir)
      assert.deepStrictEqual(corrupt(), [young])
    }))

  it.scoped("a file that parses but does not decode is corrupt too; a write goes through", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const file = path.join(dir, "tokens.json")
      fs.writeFileSync(file, JSON.stringify({ version: 1, accounts: "nope" }), { mode: 0o600 })
      let told = 0
      const cache = yield* open(dir, { onWarning: () => Effect.sync(() => told++) })
      yield* cache.save(signIn(accountFor("alice")))
      assert.strictEqual(told, 1)
      assert.strictEqual((yield* cache.read).accounts.size, 1)
    }))

  it.scoped("a newer format is refused for reading and writing, and never overwritten", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const file = path.join(dir, "tokens.json")
      const newer = JSON.stringify({ version: 2, credentials: { whatever: true } })
      fs.writeFileSync(file, newer, { mode: 0o600 })
      const cache = yield* open(dir)
      const readError = yield* Effect.flip(cache.read)
      assert.strictEqual(readError._tag, "CacheVersionUnsupported")
      const writeError = yield* Effect.flip(cache.save(signIn(accountFor("alice"))))
      assert.strictEqual(writeError._tag, "CacheVersionUnsupported")
      assert.include(writeError.message, "format version 2")
      assert.strictEqual(fs.readFileSync(file, "utf8"), newer)
      assert.deepStrictEqual(fs.readdirSync(dir), ["tokens.json"])
    }))
})

describe("FileTokenCache: locks", () => {
  it.scoped("a lock left by a dead process is recovered at once, not waited out", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const cache = yield* open(dir, { lockTimeout: "5 seconds", staleLockAfter: "1 minute" })
      const pid = yield* Effect.promise(deadPid)
      fs.writeFileSync(`${cache.location}.lock`, lockText({ pid, started: 1 }))
      const started = Date.now()
      yield* cache.save(signIn(accountFor("alice")))
      assert.isBelow(Date.now() - started, 1_000)
      assert.isFalse(fs.existsSync(`${cache.location}.lock`))
    }))

  it.scoped("a lock left by an earlier process with this very pid (a restarted container) is recovered", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const cache = yield* open(dir, { lockTimeout: "5 seconds", staleLockAfter: "1 minute" })
      fs.writeFileSync(`${cache.location}.lock`, lockText({ started: processStarted - 3_600_000 }))
      const started = Date.now()
      yield* cache.save(signIn(accountFor("alice")))
      assert.isBelow(Date.now() - started, 1_000)
    }))

  it.scoped("a lock whose holder cannot be checked is recovered once untouched for staleLockAfter", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const cache = yield* open(dir, { lockTimeout: "5 seconds", staleLockAfter: "2 seconds" })
      const lock = `${cache.location}.lock`
      fs.writeFileSync(lock, lockText({ pid: 1, host: "another-machine" }))
      const old = new Date(Date.now() - 3_000)
      fs.utimesSync(lock, old, old)
      yield* cache.save(signIn(accountFor("alice")))
      // an unreadable lock file, old enough
      fs.writeFileSync(lock, "garbage")
      fs.utimesSync(lock, old, old)
      yield* cache.save(signIn(accountFor("bob")))
      assert.strictEqual((yield* cache.read).accounts.size, 2)
    }))

  it.scoped("a live holder makes others wait, bounded: CacheUnavailable(lock_timeout), never a hang", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const cache = yield* open(dir, { lockTimeout: "300 millis", staleLockAfter: "1 minute" })
      // process 1 (init) is alive on every Unix machine
      fs.writeFileSync(`${cache.location}.lock`, lockText({ pid: 1, started: 0 }))
      const started = Date.now()
      const error = yield* Effect.flip(cache.save(signIn(accountFor("alice"))))
      const waited = Date.now() - started
      assert.strictEqual(error._tag === "CacheUnavailable" && error.reason, "lock_timeout")
      assert.include(error.message, "process 1")
      assert.isAtLeast(waited, 290)
      assert.isBelow(waited, late(300)) // not the minute staleLockAfter
      assert.isTrue(fs.existsSync(`${cache.location}.lock`)) // a live holder's lock is left alone
    }))

  it.scopedLive("fibers of one process queue for the lock; waiting is bounded there too", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const cache = yield* open(dir, { refreshLockTimeout: "200 millis" })
      const held = yield* Deferred.make<void>()
      const holder = yield* Effect.fork(
        cache.withRefreshLock("k", Effect.zipRight(Deferred.succeed(held, undefined), Effect.never))
      )
      yield* Deferred.await(held)
      const exit = yield* Effect.exit(cache.withRefreshLock("k", Effect.void))
      assert.isTrue(Exit.isFailure(exit))
      const error = yield* Effect.flip(exit)
      assert.strictEqual(error._tag === "CacheUnavailable" && error.reason, "lock_timeout")
      assert.include(error.message, "another task of this process")
      yield* Fiber.interrupt(holder)
      assert.strictEqual(yield* cache.withRefreshLock("k", Effect.succeed("free")), "free")
    }))
})

describe("FileTokenCache: silent acquisition on the file cache", () => {
  it.scopedLive("N concurrent silent calls of one process perform one refresh and store the rotated refresh token", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const server = TestKitCache.refreshServer({ delay: "200 millis" })
      const layer = Layer.merge(Layer.succeed(TokenCache.TokenCache, yield* open(dir)), TestKit.layer(server.script))
      const results = yield* Effect.gen(function*() {
        yield* TestKitCache.seed({ expiresIn: 60 })
        const client = yield* PublicClient.make({ config: yield* TestKit.config() })
        return yield* Effect.all(
          Array.from({ length: 12 }, () => client.acquireTokenSilent(["api.read"], TestKitCache.account)),
          { concurrency: "unbounded" }
        )
      }).pipe(Effect.provide(layer))
      assert.strictEqual(yield* server.refreshes, 1)
      assert.deepStrictEqual(
        new Set(results.map((r) => Redacted.value(r.accessToken))),
        new Set([TestKitCache.accessToken(1)])
      )
      const stored = JSON.parse(fs.readFileSync(path.join(dir, "tokens.json"), "utf8"))
      assert.deepStrictEqual(stored.refreshTokens.map((e: { secret: string }) => e.secret), [
        TestKitCache.refreshToken(1)
      ])
    }))
})
