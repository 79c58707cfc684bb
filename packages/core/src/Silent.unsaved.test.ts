/**
 * Issue 20 item 5: a refresh token the server rotated is never lost, even
 * when the cache refuses the write that should keep it.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import { failure, runVirtual } from "../test/virtual.js"
import * as CacheContent from "./CacheContent.js"
import * as PublicClient from "./PublicClient.js"
import * as Silent from "./Silent.js"
import * as TestKit from "./TestKit.js"
import * as TestKitCache from "./TestKitCache.js"
import * as TokenCache from "./TokenCache.js"

/**
 * A memory cache whose writes fail while `refusing` returns true for them
 * (e.g. a fenced write after the lock lapsed, a keychain that refused);
 * `onRefused` runs against the real content when one is refused.
 */
const refusingCache = (
  refusing: (write: number) => boolean,
  onRefused: (content: CacheContent.CacheContent) => CacheContent.CacheContent = (c) => c,
  /** applied to the real content right before write `n` runs (another writer just got in first) */
  before?: {
    readonly write: number
    readonly change: (content: CacheContent.CacheContent) => CacheContent.CacheContent
  }
) =>
  Layer.effect(
    TokenCache.TokenCache,
    Effect.gen(function*() {
      const inner = yield* TokenCache.makeMemory()
      let writes = 0
      return TokenCache.make({
        location: "refusing",
        read: inner.read,
        withRefreshLock: inner.withRefreshLock,
        modify: (f) =>
          Effect.suspend(() => {
            const write = writes++
            const first = before?.write === write ? inner.update(before.change) : Effect.void
            if (!refusing(write)) return Effect.zipRight(first, inner.modify(f))
            return Effect.zipRight(
              inner.update(onRefused),
              Effect.fail(
                new TokenCache.CacheUnavailable({ location: "refusing", reason: "keychain", detail: "refused" })
              )
            )
          })
      })
    })
  )

/** Another sign-in of the same account, with its own refresh token. */
const newerSignIn = (content: CacheContent.CacheContent) =>
  CacheContent.withTokens(content, {
    authority: TestKitCache.AUTHORITY,
    clientId: TestKit.CLIENT_ID,
    account: TestKitCache.account,
    refreshToken: Redacted.make("newer-sign-in-rt"),
    now: 0
  })

const withServer = (server: TestKitCache.RefreshServer, cache: Layer.Layer<TokenCache.TokenCache>) =>
  Effect.provide(Layer.merge(cache, TestKit.layer(server.script)))

const silent = (options: Partial<Omit<Silent.SilentRequest, "config" | "scopes">> = {}) =>
  Effect.gen(function*() {
    const config = yield* TestKit.config()
    return yield* Silent.acquireSilent({ config, account: TestKitCache.account, scopes: ["api.read"], ...options })
  })

const storedRefreshToken = Effect.gen(function*() {
  const cache = yield* TokenCache.TokenCache
  const entry = CacheContent.findRefreshToken(
    yield* cache.read,
    TestKitCache.AUTHORITY,
    TestKit.CLIENT_ID,
    TestKitCache.account.id
  )
  return entry === undefined ? undefined : Redacted.value(entry.secret)
})

const sentRefreshTokens = Effect.map(
  Effect.flatMap(TestKit.FakeServer, (s) => s.polls),
  (requests) => requests.map((r) => r.params.refresh_token)
)

describe("Silent: a rotated refresh token survives a refused save", () => {
  it.effect("the save under the lock is refused: the caller gets the tokens, and the rotated refresh token is merged", () => {
    const server = TestKitCache.refreshServer({ rotate: true })
    // write 0 is the seed, write 1 the save under the refresh lock
    return Effect.gen(function*() {
      yield* TestKitCache.seed({ withoutAccessToken: true })
      const result = yield* silent()
      assert.strictEqual(result.source, "refresh")
      assert.strictEqual(Redacted.value(result.accessToken), TestKitCache.accessToken(1))
      assert.strictEqual(yield* storedRefreshToken, TestKitCache.refreshToken(1))
      const later = yield* silent({ forceRefresh: true })
      assert.strictEqual(Redacted.value(later.accessToken), TestKitCache.accessToken(2))
      assert.deepStrictEqual(yield* sentRefreshTokens, [TestKitCache.refreshToken(0), TestKitCache.refreshToken(1)])
    }).pipe(withServer(server, refusingCache((write) => write === 1)))
  })

  it.effect("a cache refusing every write: the next refresh in this process sends the rotated token, not the dead one", () => {
    const server = TestKitCache.refreshServer({ rotate: true })
    return Effect.gen(function*() {
      yield* TestKitCache.seed({ withoutAccessToken: true })
      const first = yield* silent()
      assert.strictEqual(Redacted.value(first.accessToken), TestKitCache.accessToken(1))
      assert.strictEqual(yield* storedRefreshToken, TestKitCache.refreshToken(0))
      const second = yield* silent()
      assert.strictEqual(Redacted.value(second.accessToken), TestKitCache.accessToken(2))
      assert.deepStrictEqual(yield* sentRefreshTokens, [TestKitCache.refreshToken(0), TestKitCache.refreshToken(1)])
    }).pipe(withServer(server, refusingCache((write) => write >= 1)))
  })

  it.effect("refused under the lock and at the merge, then writable: the next refresh sends the successor and stores its answer", () => {
    const server = TestKitCache.refreshServer({ rotate: true })
    return Effect.gen(function*() {
      yield* TestKitCache.seed({ withoutAccessToken: true })
      yield* silent()
      assert.strictEqual(yield* storedRefreshToken, TestKitCache.refreshToken(0))
      yield* silent({ forceRefresh: true })
      assert.strictEqual(yield* storedRefreshToken, TestKitCache.refreshToken(2))
      assert.deepStrictEqual(yield* sentRefreshTokens, [TestKitCache.refreshToken(0), TestKitCache.refreshToken(1)])
    }).pipe(withServer(server, refusingCache((write) => write === 1 || write === 2)))
  })

  it.effect("a sign-in stored while the refresh was in flight is kept: by the save under the lock, and by the merge", () =>
    Effect.forEach([
      refusingCache(() => false, undefined, { write: 1, change: newerSignIn }),
      refusingCache((write) => write === 1, newerSignIn)
    ], (cache) =>
      Effect.gen(function*() {
        yield* TestKitCache.seed({ withoutAccessToken: true })
        const result = yield* silent()
        assert.strictEqual(Redacted.value(result.accessToken), TestKitCache.accessToken(1))
        assert.strictEqual(yield* storedRefreshToken, "newer-sign-in-rt")
      }).pipe(withServer(TestKitCache.refreshServer({ rotate: true }), cache))))

  it.effect("the merge does not bring back an account signed out meanwhile", () => {
    const server = TestKitCache.refreshServer({ rotate: true })
    const signOut = (content: CacheContent.CacheContent) =>
      CacheContent.withoutAccount(content, TestKitCache.AUTHORITY, TestKitCache.account.id)
    return Effect.gen(function*() {
      yield* TestKitCache.seed({ withoutAccessToken: true })
      const result = yield* silent()
      assert.strictEqual(Redacted.value(result.accessToken), TestKitCache.accessToken(1))
      const cache = yield* TokenCache.TokenCache
      assert.strictEqual(CacheContent.size(yield* cache.read), 0)
    }).pipe(withServer(server, refusingCache((write) => write === 1, signOut)))
  })
})

describe("PublicClient: a device code sign-in whose save is refused", () => {
  it.effect("still returns the tokens, and says why the cache did not keep them", () => {
    const server = TestKitCache.refreshServer()
    return Effect.gen(function*() {
      const app = yield* Effect.flatMap(TestKit.config(), (config) => PublicClient.make({ config }))
      const exit = yield* runVirtual(
        app.acquireTokenWithDeviceCode({ scopes: ["openid", "api.read"] }, { onCode: () => {} })
      )
      if (exit._tag === "Failure") assert.fail(`expected the tokens, got ${failure(exit)._tag}`)
      else {
        assert.strictEqual(exit.value.source, "device_code")
        assert.strictEqual(Redacted.value(exit.value.accessToken), TestKitCache.accessToken(0))
        assert.isDefined(exit.value.unsaved)
      }
    }).pipe(withServer(server, refusingCache(() => true)))
  })
})
