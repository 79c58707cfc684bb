import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as TestClock from "effect/TestClock"
import { failure, runVirtual } from "../test/virtual.js"
import * as CacheContent from "./CacheContent.js"
import * as PublicClient from "./PublicClient.js"
import * as TestKit from "./TestKit.js"
import * as TestKitCache from "./TestKitCache.js"
import * as TokenCache from "./TokenCache.js"

const withServer = (script: TestKit.Script) =>
  Effect.provide(Layer.merge(TokenCache.layerMemory, TestKit.layer(script)))

const client = (options: Partial<PublicClient.PublicClientOptions> = {}) =>
  Effect.flatMap(TestKit.config(), (config) => PublicClient.make({ config, ...options }))

const succeeded = <A, E>(exit: Exit.Exit<A, E>): A => {
  if (Exit.isFailure(exit)) throw new Error(`expected success, got ${String(exit)}`)
  return exit.value
}

const scopes = ["openid", "offline_access", "api.read"]

describe("PublicClient (the MSAL PublicClientApplication model)", () => {
  it.effect("a device code sign-in stores its tokens under the id_token's account; later calls are silent", () => {
    const server = TestKitCache.refreshServer()
    return Effect.gen(function*() {
      const app = yield* client()
      assert.deepStrictEqual(yield* app.getAccounts, [])
      const prompt = yield* TestKit.recordingPrompt
      const signedIn = succeeded(
        yield* runVirtual(app.acquireTokenWithDeviceCode({ scopes }, { onCode: prompt.onCode }))
      )
      assert.strictEqual(signedIn.source, "device_code")
      assert.strictEqual((yield* prompt.shown).length, 1)
      assert.deepStrictEqual(signedIn.account, TestKitCache.account)
      const accounts = yield* app.getAccounts
      assert.deepStrictEqual(accounts, [TestKitCache.account])
      assert.deepStrictEqual(yield* app.getAccount(TestKitCache.account.id), Option.some(TestKitCache.account))
      const silent = yield* app.acquireTokenSilent(scopes, accounts[0]!)
      assert.strictEqual(silent.source, "cache")
      assert.strictEqual(Redacted.value(silent.accessToken), TestKitCache.accessToken(0))
      assert.deepStrictEqual(silent.scopes, ["api.read", "api.write", "offline_access"])
    }).pipe(withServer(server.script))
  })

  for (
    const [what, claims] of [
      ["another issuer", { ...TestKitCache.claims, iss: "https://evil.example" }],
      ["another client", { ...TestKitCache.claims, aud: "someone-else" }]
    ] as const
  ) {
    it.effect(`an id_token from ${what} names no account: the sign-in fails with InvalidResponse(id_token), nothing is stored`, () =>
      Effect.gen(function*() {
        const config = yield* TestKit.config({ issuer: TestKit.ISSUER })
        const app = yield* PublicClient.make({ config })
        const error = failure(yield* runVirtual(app.acquireTokenWithDeviceCode({ scopes }, { onCode: () => {} })))
        assert.isTrue(error._tag === "InvalidResponse" && error.field === "id_token", String(error))
        assert.deepStrictEqual(yield* app.getAccounts, [])
      }).pipe(withServer(TestKit.sequence([TestKit.tokens({ id_token: TestKit.idToken(claims) })]))))
  }

  it.effect("acquireTokenSilent refreshes once the token is near expiry, and on forceRefresh", () => {
    const server = TestKitCache.refreshServer({ expiresIn: 600 })
    return Effect.gen(function*() {
      const app = yield* client()
      const { account } = succeeded(yield* runVirtual(app.acquireTokenWithDeviceCode({ scopes }, { onCode: () => {} })))
      assert.strictEqual((yield* app.acquireTokenSilent(scopes, account)).source, "cache")
      yield* TestClock.adjust("5 minutes")
      assert.strictEqual((yield* app.acquireTokenSilent(scopes, account)).source, "refresh")
      assert.strictEqual((yield* app.acquireTokenSilent(scopes, account)).source, "cache")
      const forced = yield* app.acquireTokenSilent(scopes, account, { forceRefresh: true })
      assert.strictEqual(forced.source, "refresh")
      assert.strictEqual(Redacted.value(forced.accessToken), TestKitCache.accessToken(2))
    }).pipe(withServer(server.script))
  })

  it.effect("no scopes means the configuration's scopes", () => {
    const server = TestKitCache.refreshServer()
    return Effect.gen(function*() {
      const app = yield* client()
      const account = yield* TestKitCache.seed({ scopes: ["api.read"], expiresIn: 1 })
      yield* TestClock.adjust("1 hour")
      yield* app.acquireTokenSilent([], account)
      const [request] = yield* Effect.flatMap(TestKit.FakeServer, (s) => s.polls)
      assert.strictEqual(request!.params.scope, "openid profile offline_access")
    }).pipe(withServer(server.script))
  })

  it.effect("removeAccount signs out: the account is gone and silent calls need interaction", () => {
    const server = TestKitCache.refreshServer()
    return Effect.gen(function*() {
      const app = yield* client()
      const { account } = succeeded(yield* runVirtual(app.acquireTokenWithDeviceCode({ scopes }, { onCode: () => {} })))
      yield* app.removeAccount(account)
      assert.deepStrictEqual(yield* app.getAccounts, [])
      const error = failure(yield* Effect.exit(app.acquireTokenSilent(scopes, account)))
      assert.strictEqual(error._tag === "InteractionRequired" && error.reason, "no_account")
      const cache = yield* TokenCache.TokenCache
      assert.strictEqual(CacheContent.size(yield* cache.read), 0)
    }).pipe(withServer(server.script))
  })

  it.effect("a server without id_token (GitHub): one account per authority and client, replaced by a new sign-in", () => {
    const github = TestKit.sequence([
      TestKit.tokens({
        token_type: "bearer",
        scope: "repo,gist",
        expires_in: undefined,
        refresh_token: undefined,
        id_token: undefined
      })
    ])
    return Effect.gen(function*() {
      const app = yield* Effect.flatMap(
        TestKit.config({ scopeForm: "github" }),
        (config) => PublicClient.make({ config })
      )
      const first = succeeded(
        yield* runVirtual(app.acquireTokenWithDeviceCode({ scopes: ["repo"] }, { onCode: () => {} }))
      )
      assert.strictEqual(first.account.kind, "client")
      succeeded(yield* runVirtual(app.acquireTokenWithDeviceCode({ scopes: ["repo"] }, { onCode: () => {} })))
      const accounts = yield* app.getAccounts
      assert.strictEqual(accounts.length, 1)
      const silent = yield* app.acquireTokenSilent(["gist"], accounts[0]!)
      assert.strictEqual(silent.source, "cache")
      assert.strictEqual(silent.tokenType, "bearer")
    }).pipe(withServer(github))
  })

  it.effect("a supplied identity files such tokens per user", () => {
    const github = TestKit.sequence([TestKit.tokens({ scope: "repo", id_token: undefined })])
    return Effect.gen(function*() {
      const app = yield* client()
      for (const id of ["1", "2"]) {
        succeeded(
          yield* runVirtual(
            app.acquireTokenWithDeviceCode({ scopes: ["repo"], identity: { id, username: `user${id}` } }, {
              onCode: () => {}
            })
          )
        )
      }
      assert.deepStrictEqual((yield* app.getAccounts).map((a) => a.username), ["user1", "user2"])
      const error = failure(
        yield* runVirtual(
          app.acquireTokenWithDeviceCode({ scopes: ["repo"], identity: { id: " " } }, { onCode: () => {} })
        )
      )
      assert.strictEqual(error._tag, "InvalidConfiguration")
    }).pipe(withServer(github))
  })

  it.effect("a failed sign-in stores nothing", () =>
    Effect.gen(function*() {
      const app = yield* client()
      const error = failure(yield* runVirtual(app.acquireTokenWithDeviceCode({ scopes }, { onCode: () => {} })))
      assert.strictEqual(error._tag, "AccessDenied")
      const cache = yield* TokenCache.TokenCache
      assert.strictEqual(CacheContent.size(yield* cache.read), 0)
    }).pipe(withServer(TestKit.scenarios.denied())))

  it.effect("accounts are partitioned by authority", () => {
    const server = TestKitCache.refreshServer()
    return Effect.gen(function*() {
      const a = yield* client({ authority: "https://login.devflow.test/tenant-a" })
      const b = yield* client({ authority: "https://login.devflow.test/tenant-b" })
      succeeded(yield* runVirtual(a.acquireTokenWithDeviceCode({ scopes }, { onCode: () => {} })))
      assert.strictEqual((yield* a.getAccounts).length, 1)
      assert.strictEqual((yield* b.getAccounts).length, 0)
      const error = failure(yield* Effect.exit(client({ authority: "http://evil.test/" })))
      assert.strictEqual(error._tag, "InvalidConfiguration")
    }).pipe(withServer(server.script))
  })
})

describe("PublicClient: a client secret the refresh grant needs (Google, GitHub Apps)", () => {
  const SECRET = "GOCSPX-kept-with-the-tokens"
  // Google's token endpoint: the refresh grant without client_secret is refused.
  const google = () => {
    const server = TestKitCache.refreshServer({
      expiresIn: 600,
      onRefresh: ({ params }) =>
        params.client_secret === SECRET
          ? undefined
          : TestKit.oauthError("invalid_request", { fields: { error_description: "client_secret is missing." } })
    })
    return server
  }
  const withSecret = Effect.flatMap(
    TestKit.config({ clientSecret: Redacted.make(SECRET) }),
    (config) => PublicClient.make({ config })
  )
  // a later process that was not given the secret (the CLI's `devflow token`)
  const withoutSecret = Effect.flatMap(TestKit.config(), (config) => PublicClient.make({ config }))

  it.effect("the secret given at sign-in is kept in the cache and refreshes the tokens later without it", () => {
    const server = google()
    return Effect.gen(function*() {
      const app = yield* withSecret
      const { account } = succeeded(yield* runVirtual(app.acquireTokenWithDeviceCode({ scopes }, { onCode: () => {} })))
      const cache = yield* TokenCache.TokenCache
      const kept = CacheContent.findClient(yield* cache.read, TestKit.TOKEN_ENDPOINT, TestKit.CLIENT_ID)
      assert.strictEqual(kept === undefined ? undefined : Redacted.value(kept.secret), SECRET)
      // the secret is Redacted in memory like every token
      assert.notInclude(JSON.stringify(kept), SECRET)
      yield* TestClock.adjust("6 minutes")
      const later = yield* withoutSecret
      const refreshed = yield* later.acquireTokenSilent(scopes, account)
      assert.strictEqual(refreshed.source, "refresh")
      const refresh = (yield* Effect.flatMap(TestKit.FakeServer, (s) => s.polls)).at(-1)!
      assert.strictEqual(refresh.params.client_secret, SECRET)
    }).pipe(withServer(server.script))
  })

  it.effect("storeClientSecret: false keeps nothing; the refresh then fails as client_secret_missing, not a raw server error", () => {
    const server = google()
    return Effect.gen(function*() {
      const app = yield* Effect.flatMap(
        TestKit.config({ clientSecret: Redacted.make(SECRET) }),
        (config) => PublicClient.make({ config, storeClientSecret: false })
      )
      const { account } = succeeded(yield* runVirtual(app.acquireTokenWithDeviceCode({ scopes }, { onCode: () => {} })))
      const cache = yield* TokenCache.TokenCache
      assert.strictEqual(
        CacheContent.findClient(yield* cache.read, TestKit.TOKEN_ENDPOINT, TestKit.CLIENT_ID),
        undefined
      )
      yield* TestClock.adjust("6 minutes")
      const error = failure(yield* Effect.exit((yield* withoutSecret).acquireTokenSilent(scopes, account)))
      assert.strictEqual(error._tag, "InteractionRequired")
      if (error._tag !== "InteractionRequired") return
      assert.strictEqual(error.reason, "client_secret_missing")
      assert.include(error.message, "client's secret")
      // the refresh token is not thrown away: giving the secret again works
      const again = yield* (yield* withSecret).acquireTokenSilent(scopes, account)
      assert.strictEqual(again.source, "refresh")
    }).pipe(withServer(server.script))
  })

  it.effect("signing out of the last account forgets the secret too", () => {
    const server = google()
    return Effect.gen(function*() {
      const app = yield* withSecret
      const { account } = succeeded(yield* runVirtual(app.acquireTokenWithDeviceCode({ scopes }, { onCode: () => {} })))
      yield* app.removeAccount(account)
      const cache = yield* TokenCache.TokenCache
      assert.strictEqual(CacheContent.size(yield* cache.read), 0)
    }).pipe(withServer(server.script))
  })
})
