/**
 * The file cache with its long-lived secrets in a real Secret Service
 * (GNOME Keyring on a private D-Bus session bus, see secretService.ts).
 */
import * as CacheContent from "@devflow/core/CacheContent"
import * as Dpop from "@devflow/core/Dpop"
import type * as TokenCache from "@devflow/core/TokenCache"
import { afterAll, assert, beforeAll, beforeEach, describe, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as DpopCrypto from "../../core/src/internal/dpop.js"
import { accountFor, signIn, tokenCacheContract } from "../../core/test/tokenCacheContract.js"
import * as FileTokenCache from "../src/FileTokenCache.js"
import * as Keychain from "../src/internal/keychain.js"
import { logged } from "./fixtures/logged.js"
import { spawnWorker } from "./fixtures/processes.js"
import * as SecretService from "./secretService.js"

const enabled = SecretService.available()

let service: SecretService.SecretService | undefined
beforeAll(async () => {
  if (!enabled) return
  service = await SecretService.start()
  // the keychain binding connects to the bus this names (read once per process, by libdbus)
  process.env.DBUS_SESSION_BUS_ADDRESS = service.address
}, 30_000)
afterAll(async () => {
  await service?.stop()
})
// gnome-keyring-daemon is the fixture, not the subject: if it broke, the next test gets a working one
beforeEach(async () => {
  if (await service?.revivedIfBroken()) console.error("[secret service] gnome-keyring-daemon revived for the next test")
}, 30_000)

/**
 * Run a scenario; if it failed while gnome-keyring-daemon broke under it, run it once more on a
 * revived daemon (a failure with the daemon working is the test's own, and stands).
 */
const onLiveKeyring = <A, E, R>(scenario: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.catchAllCause(
    scenario,
    (cause) =>
      Effect.flatMap(Effect.promise(() => service!.revivedIfBroken()), (revived) =>
        revived
          ? Effect.zipRight(
            Effect.sync(() => console.error("[secret service] the keyring broke under this test: running it again")),
            scenario
          )
          : Effect.failCause(cause))
  )

/** A test of this file: scoped, and run once more if the keyring broke under it. */
const scenario = <A, E>(title: string, body: () => Effect.Effect<A, E, Scope.Scope>) =>
  it.live(title, () => onLiveKeyring(Effect.scoped(body())))

const tempDir = Effect.acquireRelease(
  Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "devflow-keychain-test-"))),
  (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
)

const GOOGLE_TOKEN = "https://oauth2.googleapis.com/token"

/** A sign-in that also keeps a client secret, as Google's TV clients need. */
const withClient = (sub: string): CacheContent.SaveInput => ({
  ...signIn(accountFor(sub), { label: sub }),
  client: {
    tokenEndpoint: GOOGLE_TOKEN,
    secret: Redacted.make(`SECRET-cs-${sub}-canary`),
    authMethod: "client_secret_post"
  }
})

const items = () => Effect.promise(() => service!.items())
const fileText = (cache: TokenCache.TokenCache) => fs.readFileSync(cache.location, "utf8")

describe.skipIf(!enabled)("FileTokenCache with the OS keychain (GNOME Keyring over D-Bus)", () => {
  tokenCacheContract(
    "FileTokenCache, secretStore keychain",
    Layer.unwrapScoped(Effect.map(tempDir, (dir) =>
      FileTokenCache.layer({
        directory: path.join(dir, "devflow"),
        secretStore: "keychain",
        // The contract queues 40 saves of one process on the lock at once, each a D-Bus round trip to the keyring:
        // the default 10 s bounds how long one user's command waits, not a queue that deep on a busy machine.
        lockTimeout: "2 minutes"
      }))),
    { around: onLiveKeyring }
  )

  scenario(
    "a cache reached through a symbolic link is the cache of its real path: signing out by either way removes the refresh token",
    () =>
      Effect.gen(function*() {
        const dir = yield* tempDir
        const real = path.join(dir, "real")
        fs.mkdirSync(real, { mode: 0o700 })
        const link = path.join(dir, "home-cache")
        fs.symlinkSync(real, link) // ~/.cache → /data/cache, say
        const account = accountFor("symlinked")
        const viaLink = yield* FileTokenCache.make({ directory: link, secretStore: "keychain" })
        yield* viaLink.save(signIn(account, { label: "symlinked" }))
        assert.include((yield* items()).map((i) => i.secret), "SECRET-rt-symlinked-canary")
        const viaReal = yield* FileTokenCache.make({ directory: real, secretStore: "keychain" })
        assert.isTrue(yield* viaReal.removeAccount(account.authority, account.id))
        assert.notInclude((yield* items()).map((i) => i.secret), "SECRET-rt-symlinked-canary")
      })
  )

  scenario(
    "a sign-in leaves references in the file and the refresh token and client secret in the keychain",
    () =>
      Effect.gen(function*() {
        const dir = yield* tempDir
        const cache = yield* FileTokenCache.make({ directory: dir, secretStore: "keychain" })
        yield* cache.save(withClient("ada"))
        const text = fileText(cache)
        assert.notInclude(text, "SECRET-rt-ada-canary")
        assert.notInclude(text, "SECRET-cs-ada-canary")
        // what stays in the file: the short-lived access token and id_token
        assert.include(text, "SECRET-at-ada-canary")
        assert.include(text, "SECRET-id-ada-canary")
        const stored = JSON.parse(text)
        assert.match(stored.refreshTokens[0].secret, /^devflow-keychain:refresh-token\/[0-9a-f]{12}\/[0-9a-f]{32}$/)
        assert.match(stored.clients[0].secret, /^devflow-keychain:client-secret\/[0-9a-f]{12}\/[0-9a-f]{32}$/)
        const secrets = (yield* items()).map((i) => i.secret)
        assert.includeMembers(secrets, ["SECRET-rt-ada-canary", "SECRET-cs-ada-canary"])

        // another cache on the same file (another process, say) reads them back
        const other = yield* FileTokenCache.make({ directory: dir, secretStore: "auto" })
        const content = yield* other.read
        const account = accountFor("ada")
        const rt = CacheContent.findRefreshToken(content, account.authority, "client-a", account.id)
        assert.strictEqual(rt && Redacted.value(rt.secret), "SECRET-rt-ada-canary")
        const client = CacheContent.findClient(content, GOOGLE_TOKEN, "client-a")
        assert.strictEqual(client && Redacted.value(client.secret), "SECRET-cs-ada-canary")
      })
  )

  scenario(
    "a DPoP key goes where the refresh token goes: the private key in the keychain, a reference in the file; sign-out removes it",
    () =>
      Effect.gen(function*() {
        const dir = yield* tempDir
        const cache = yield* FileTokenCache.make({ directory: dir, secretStore: "keychain" })
        const key = yield* Dpop.generateKeyPair()
        const stored = yield* DpopCrypto.toStored(key)
        const account = accountFor("dora")
        yield* cache.save({ ...signIn(account, { label: "dora" }), dpopKey: stored })
        const text = fileText(cache)
        assert.notInclude(text, Redacted.value(stored.secret))
        assert.notInclude(text, "\"d\":")
        const inFile = JSON.parse(text).dpopKeys
        assert.strictEqual(inFile[0].jkt, key.thumbprint)
        assert.match(inFile[0].secret, /^devflow-keychain:dpop-key\/[0-9a-f]{12}\/[0-9a-f]{32}$/)
        assert.include((yield* items()).map((i) => i.secret), Redacted.value(stored.secret))
        // another process reads it back and signs as the same key
        const other = yield* FileTokenCache.make({ directory: dir, secretStore: "keychain" })
        const kept = CacheContent.findDpopKey(yield* other.read, account.authority, "client-a", account.id)
        assert.strictEqual((yield* Effect.flatten(Dpop.restore(kept!))).thumbprint, key.thumbprint)
        assert.isTrue(yield* other.removeAccount(account.authority, account.id))
        assert.notInclude((yield* items()).map((i) => i.secret), Redacted.value(stored.secret))
      })
  )

  scenario(
    "a rotated refresh token replaces the item's secret; removing the account removes its items",
    () =>
      Effect.gen(function*() {
        const dir = yield* tempDir
        const cache = yield* FileTokenCache.make({ directory: dir, secretStore: "keychain" })
        const before = (yield* items()).length
        yield* cache.save(withClient("bea"))
        yield* cache.save(signIn(accountFor("bea"), { label: "bea-rotated" }))
        const secrets = (yield* items()).map((i) => i.secret)
        assert.include(secrets, "SECRET-rt-bea-rotated-canary")
        assert.notInclude(secrets, "SECRET-rt-bea-canary")
        assert.strictEqual(secrets.length, before + 2)

        const account = accountFor("bea")
        assert.isTrue(yield* cache.removeAccount(account.authority, account.id))
        const left = (yield* items()).map((i) => i.secret)
        assert.notInclude(left, "SECRET-rt-bea-rotated-canary")
        assert.notInclude(left, "SECRET-cs-bea-canary")
        assert.strictEqual(left.length, before)
      })
  )

  scenario("clear leaves no item of the cache behind", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const cache = yield* FileTokenCache.make({ directory: dir, secretStore: "keychain" })
      const before = (yield* items()).length
      yield* cache.save(withClient("cy"))
      yield* cache.save(withClient("dan"))
      assert.strictEqual((yield* items()).length, before + 3) // two refresh tokens, one client secret
      yield* cache.clear
      assert.strictEqual((yield* items()).length, before)
    }))

  scenario(
    "an item removed outside devflow means signing in again: the refresh token is absent, nothing fails",
    () =>
      Effect.gen(function*() {
        const dir = yield* tempDir
        const cache = yield* FileTokenCache.make({ directory: dir, secretStore: "keychain" })
        yield* cache.save(signIn(accountFor("eve")))
        const name = JSON.parse(fileText(cache)).refreshTokens[0].secret.slice("devflow-keychain:".length)
        assert.isTrue(yield* Keychain.make(Duration.seconds(5)).remove(name))

        const fresh = yield* FileTokenCache.make({ directory: dir, secretStore: "keychain" })
        const { result: content, warnings } = yield* logged(fresh.read)
        const account = accountFor("eve")
        assert.isUndefined(CacheContent.findRefreshToken(content, account.authority, "client-a", account.id))
        // the account and its access token are still there: only the refresh needs a new sign-in
        assert.isDefined(CacheContent.findAccount(content, account.authority, account.id))
        assert.strictEqual(warnings.length, 1)
        assert.include(warnings[0], "missing from the OS keychain")
        assert.include(warnings[0], "sign in again")
        // the next write drops the dead reference
        yield* fresh.save(signIn(accountFor("fay")))
        assert.strictEqual(JSON.parse(fileText(fresh)).refreshTokens.length, 1)
      })
  )

  scenario(
    "secrets kept in the file move to the keychain when it is there, without a new sign-in; and back",
    () =>
      Effect.gen(function*() {
        const dir = yield* tempDir
        const account = accountFor("gus")
        const plain = yield* FileTokenCache.make({ directory: dir, secretStore: "file" })
        yield* plain.save(withClient("gus"))
        assert.include(fileText(plain), "SECRET-rt-gus-canary")
        const before = (yield* items()).length

        const auto = yield* FileTokenCache.make({ directory: dir, secretStore: "auto" })
        const content = yield* auto.read
        const rt = CacheContent.findRefreshToken(content, account.authority, "client-a", account.id)
        assert.strictEqual(rt && Redacted.value(rt.secret), "SECRET-rt-gus-canary")
        assert.notInclude(fileText(auto), "SECRET-rt-gus-canary")
        assert.notInclude(fileText(auto), "SECRET-cs-gus-canary")
        assert.strictEqual((yield* items()).length, before + 2)

        // --secret-store file: back into the file, and the items are removed
        const back = yield* FileTokenCache.make({ directory: dir, secretStore: "file" })
        const again = yield* back.read
        const rt2 = CacheContent.findRefreshToken(again, account.authority, "client-a", account.id)
        assert.strictEqual(rt2 && Redacted.value(rt2.secret), "SECRET-rt-gus-canary")
        assert.include(fileText(back), "SECRET-rt-gus-canary")
        assert.strictEqual((yield* items()).length, before)
      })
  )

  scenario(
    "an item a crash left between keychain write and file write is removed by a later write",
    () =>
      Effect.gen(function*() {
        const dir = yield* tempDir
        const cache = yield* FileTokenCache.make({ directory: dir, secretStore: "keychain" })
        yield* cache.save(signIn(accountFor("ike"), { label: "ike" }))
        const fileId = JSON.parse(fileText(cache)).refreshTokens[0].secret.split("/")[1]
        // what a process killed after writing the item of a new sign-in, before the file, leaves behind
        const orphan = `refresh-token/${fileId}/${"0".repeat(32)}`
        const keychain = Keychain.make(Duration.seconds(5))
        yield* keychain.set(orphan, "SECRET-orphan-canary")
        yield* cache.save(signIn(accountFor("jo"), { label: "jo" }))
        const secrets = (yield* items()).map((i) => i.secret)
        assert.notInclude(secrets, "SECRET-orphan-canary")
        assert.includeMembers(secrets, ["SECRET-rt-ike-canary", "SECRET-rt-jo-canary"])
        yield* cache.clear
      })
  )

  it.live(
    "4 processes × 10 sign-ins into one cache at once: every refresh token in its item, none in the file, no item left over",
    () =>
      onLiveKeyring(
        Effect.gen(function*() {
          const dir = yield* Effect.acquireRelease(
            Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "devflow-keychain-procs-"))),
            (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
          )
          const before = (yield* items()).length
          const env = { DBUS_SESSION_BUS_ADDRESS: service!.address, DEVFLOW_TEST_SECRET_STORE: "keychain" }
          const workers = yield* Effect.promise(() =>
            Promise.all([0, 1, 2, 3].map((id) => spawnWorker(["write", dir, String(id), "10"], { env })))
          )
          yield* Effect.promise(() => Promise.all(workers.map((w) => w.waitFor((l) => l === "ready"))))
          for (const w of workers) w.send("go")
          const exits = yield* Effect.promise(() => Promise.all(workers.map((w) => w.exited)))
          assert.deepStrictEqual(exits.map((e) => e.code), [0, 0, 0, 0], workers.map((w) => w.stderr()).join("\n"))

          const text = fs.readFileSync(path.join(dir, "tokens.json"), "utf8")
          const stored = JSON.parse(text)
          assert.strictEqual(stored.refreshTokens.length, 40)
          assert.notMatch(text, /"rt-w/)
          const secrets = (yield* items()).map((i) => i.secret)
          assert.strictEqual(secrets.length, before + 40)
          for (let w = 0; w < 4; w++) for (let i = 0; i < 10; i++) assert.include(secrets, `rt-w${w}-${i}`)

          const cache = yield* FileTokenCache.make({ directory: dir, secretStore: "keychain" })
          yield* cache.clear
          assert.strictEqual((yield* items()).length, before)
        }).pipe(Effect.scoped)
      ),
    { timeout: 120_000 }
  )

  scenario("items of other cache files are left alone", () =>
    Effect.gen(function*() {
      const one = yield* FileTokenCache.make({ directory: yield* tempDir, secretStore: "keychain" })
      const two = yield* FileTokenCache.make({ directory: yield* tempDir, secretStore: "keychain" })
      yield* one.save(signIn(accountFor("hal"), { label: "hal" }))
      yield* two.save(signIn(accountFor("hal"), { label: "hal" }))
      yield* two.clear
      const content =
        yield* (yield* FileTokenCache.make({ directory: path.dirname(one.location), secretStore: "keychain" })).read
      const account = accountFor("hal")
      const rt = CacheContent.findRefreshToken(content, account.authority, "client-a", account.id)
      assert.strictEqual(rt && Redacted.value(rt.secret), "SECRET-rt-hal-canary")
    }))
})
