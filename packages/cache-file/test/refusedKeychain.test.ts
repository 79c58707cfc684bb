/**
 * Issue 20 item 5: the keychain refuses the write after a refresh (locked,
 * timed out): the new tokens still reach the caller, and the rotated refresh
 * token is not lost to the dead one.
 */
import * as PublicClient from "@devflow/core/PublicClient"
import * as Silent from "@devflow/core/Silent"
import * as TestKit from "@devflow/core/TestKit"
import * as TestKitCache from "@devflow/core/TestKitCache"
import * as TokenCache from "@devflow/core/TokenCache"
import { assert, describe, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Redacted from "effect/Redacted"
import * as TestClock from "effect/TestClock"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { accountFor, signIn } from "../../core/test/tokenCacheContract.js"
import * as FileCache from "../src/internal/fileCache.js"
import * as Keychain from "../src/internal/keychain.js"
import * as SecretStore from "../src/internal/secretStore.js"
import { logged } from "./fixtures/logged.js"

const tempDir = Effect.acquireRelease(
  Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "devflow-refused-keychain-test-"))),
  (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
)

/** A keychain in memory that refuses every write once `refusing` is set. */
const memoryKeychain = () => {
  const items = new Map<string, string>()
  const state = { refusing: false, sets: 0 }
  const keychain: Keychain.Keychain = {
    get: (name) => Effect.sync(() => items.get(name)),
    set: (name, secret) =>
      Effect.suspend(() => {
        state.sets++
        return state.refusing
          ? Effect.fail(new Keychain.KeychainFailure({ operation: "set", detail: "the collection is locked" }))
          : Effect.sync(() => void items.set(name, secret))
      }),
    remove: (name) => Effect.sync(() => items.delete(name)),
    names: Effect.sync(() => [...items.keys()])
  }
  return { keychain, items, state }
}

const open = (directory: string, keychain: Keychain.Keychain, secretStore: "keychain" | "auto" = "keychain") =>
  FileCache.make({
    directory,
    fileName: "tokens.json",
    lockTimeout: Duration.seconds(10),
    refreshLockTimeout: Duration.seconds(10),
    staleLockAfter: Duration.seconds(10),
    secretStore,
    keychainTimeout: Duration.seconds(5),
    keychain,
    onWarning: () => Effect.void
  })

describe("FileTokenCache (secretStore keychain) whose keychain refuses the save after a refresh", () => {
  it.scoped("the caller gets the new tokens, and a warning says the rotated refresh token is kept in memory only", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const { keychain, items, state } = memoryKeychain()
      const server = TestKitCache.refreshServer({ rotate: true })
      const cache = yield* open(dir, keychain)
      const silent = (forceRefresh: boolean) =>
        Effect.flatMap(
          TestKit.config(),
          (config) =>
            Silent.acquireSilent({ config, account: TestKitCache.account, scopes: ["api.read"], forceRefresh })
        )
      return yield* Effect.gen(function*() {
        yield* TestKitCache.seed({ withoutAccessToken: true })
        assert.deepStrictEqual([...items.values()], [TestKitCache.refreshToken(0)])
        state.refusing = true
        const { result, warnings } = yield* logged(silent(false))
        assert.strictEqual(Redacted.value(result.accessToken), TestKitCache.accessToken(1))
        assert.strictEqual(warnings.length, 1)
        assert.include(warnings[0], "refused the tokens of a refresh")
        assert.include(warnings[0], "kept in this process's memory")
        assert.notInclude(fs.readFileSync(cache.location, "utf8"), TestKitCache.refreshToken(1))
      }).pipe(Effect.provideService(TokenCache.TokenCache, cache), Effect.provide(TestKit.layer(server.script)))
    }))
})

describe("FileTokenCache (secretStore auto) after a keychain failure", () => {
  it.scoped("keeps to the file for a while, then asks the keychain again and moves the secrets there", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const { keychain, items, state } = memoryKeychain()
      const cache = yield* open(dir, keychain, "auto")
      const inFile = () => fs.readFileSync(cache.location, "utf8")
      state.refusing = true
      const { warnings } = yield* logged(cache.save(signIn(accountFor("alice"), { label: "alice" })))
      assert.include(warnings.join("\n"), "is kept in clear")
      assert.include(inFile(), "SECRET-rt-alice-canary")
      // the keychain is back, but this cache does not ask it again at once (each call could wait its timeout)
      state.refusing = false
      yield* cache.save(signIn(accountFor("bob"), { label: "bob" }))
      assert.include(inFile(), "SECRET-rt-bob-canary")
      assert.strictEqual(items.size, 0)
      // a while later it does: every refresh token moves to the keychain, none is left in the file
      yield* TestClock.adjust(SecretStore.KEYCHAIN_RETRY_AFTER)
      yield* cache.save(signIn(accountFor("carol"), { label: "carol" }))
      for (const who of ["alice", "bob", "carol"]) assert.notInclude(inFile(), `SECRET-rt-${who}-canary`)
      assert.sameMembers([...items.values()], [
        "SECRET-rt-alice-canary",
        "SECRET-rt-bob-canary",
        "SECRET-rt-carol-canary"
      ])
    }))
})

describe("a device-code sign-in into a cache whose keychain refuses items (a locked keyring)", () => {
  const signInWith = (cache: TokenCache.TokenCache, script = TestKit.scenarios.pendingThenSuccess(0)) =>
    Effect.gen(function*() {
      const client = yield* PublicClient.make({ config: yield* TestKit.config() })
      const fiber = yield* Effect.fork(
        Effect.exit(client.acquireTokenWithDeviceCode({ scopes: ["openid", "api.read"] }, { onCode: () => {} }))
      )
      yield* TestClock.adjust("1 minute") // the polling interval, in virtual time
      const exit = yield* Fiber.join(fiber)
      const requests = yield* Effect.flatMap(TestKit.FakeServer, (server) => server.requests)
      return { exit, requests }
    }).pipe(
      Effect.provideService(TokenCache.TokenCache, cache),
      Effect.provide(TestKit.layer(script))
    )

  it.scoped("secretStore keychain: fails before a code is asked for, so nobody approves for nothing", () =>
    Effect.gen(function*() {
      const { keychain, state } = memoryKeychain()
      const cache = yield* open(yield* tempDir, keychain, "keychain")
      state.refusing = true
      const { exit, requests } = yield* signInWith(cache)
      assert.isTrue(exit._tag === "Failure")
      const error = yield* Effect.flip(exit)
      assert.strictEqual(error._tag, "CacheUnavailable")
      assert.strictEqual(error._tag === "CacheUnavailable" && error.reason, "keychain")
      assert.deepStrictEqual(requests, [])
    }))

  it.scoped("secretStore auto: the refusal is learnt before the flow, so the save goes to the file at once, with one warning", () =>
    Effect.gen(function*() {
      const { keychain, items, state } = memoryKeychain()
      const cache = yield* open(yield* tempDir, keychain, "auto")
      state.refusing = true
      const { result: { exit, requests }, warnings } = yield* logged(signInWith(cache))
      assert.isTrue(exit._tag === "Success")
      // the probe is the keychain's only write: the save does not wait on it a second time
      assert.strictEqual(state.sets, 1)
      assert.strictEqual(warnings.length, 1)
      assert.match(warnings[0]!, /the refresh token of .* is kept in clear/)
      assert.strictEqual(requests[0]?.endpoint, "deviceAuthorization")
      assert.strictEqual(items.size, 0)
    }))

  it.scoped("secretStore auto: a sign-in that brings no refresh token keeps no secret, and warns of nothing", () =>
    Effect.gen(function*() {
      const { keychain, state } = memoryKeychain()
      const cache = yield* open(yield* tempDir, keychain, "auto")
      state.refusing = true
      const { result: { exit }, warnings } = yield* logged(
        signInWith(cache, TestKit.sequence([TestKit.tokens({ refresh_token: undefined })]))
      )
      assert.isTrue(exit._tag === "Success")
      assert.deepStrictEqual(warnings, [])
    }))

  it.scoped("a keychain that accepts items: the probe leaves none behind", () =>
    Effect.gen(function*() {
      const { keychain, items } = memoryKeychain()
      const cache = yield* open(yield* tempDir, keychain, "keychain")
      const { exit } = yield* signInWith(cache)
      assert.isTrue(exit._tag === "Success")
      assert.isTrue([...items.keys()].every((name) => !name.startsWith("probe/")))
    }))
})
