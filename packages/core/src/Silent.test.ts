import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as TestClock from "effect/TestClock"
import { failure, runVirtual } from "../test/virtual.js"
import * as Account from "./Account.js"
import * as CacheContent from "./CacheContent.js"
import * as Silent from "./Silent.js"
import * as TestKit from "./TestKit.js"
import * as TestKitCache from "./TestKitCache.js"
import * as TokenCache from "./TokenCache.js"

const MINUTE = 60_000

/** A fresh memory cache and fake server for one test. */
const withServer = (server: TestKitCache.RefreshServer) =>
  Effect.provide(Layer.merge(TokenCache.layerMemory, TestKit.layer(server.script)))

const silent = (
  scopes: ReadonlyArray<string>,
  options: Partial<Omit<Silent.SilentRequest, "config" | "scopes">> = {}
) =>
  Effect.gen(function*() {
    const config = yield* TestKit.config()
    return yield* Silent.acquireSilent({ config, account: TestKitCache.account, scopes, ...options })
  })

const tokenRequests = Effect.flatMap(TestKit.FakeServer, (s) => s.polls)

const accessToken = (result: Silent.TokenResult) => Redacted.value(result.accessToken)

const succeeded = <A, E>(exit: Exit.Exit<A, E>): A => {
  if (Exit.isFailure(exit)) throw new Error(`expected success, got ${String(exit)}`)
  return exit.value
}

describe("Silent: the cached access token", () => {
  it.effect("is used when it covers the scopes and expires more than 5 minutes from now; nothing is sent", () => {
    const server = TestKitCache.refreshServer()
    return Effect.gen(function*() {
      yield* TestKitCache.seed({ expiresIn: 3600 })
      yield* TestClock.setTime(60 * MINUTE - 5 * MINUTE - 1)
      const result = yield* silent(["api.read"])
      assert.strictEqual(result.source, "cache")
      assert.strictEqual(accessToken(result), TestKitCache.accessToken(0))
      assert.deepStrictEqual(result.account, TestKitCache.account)
      assert.deepStrictEqual(Option.map(result.expiresOn, (d) => d.epochMillis), Option.some(60 * MINUTE))
      assert.deepStrictEqual(
        Option.map(result.idTokenClaims, (c) => c.sub),
        Option.some(TestKit.secrets.idTokenSubject)
      )
      assert.strictEqual((yield* tokenRequests).length, 0)
    }).pipe(withServer(server))
  })

  it.effect("is refreshed once it expires within the skew", () => {
    const server = TestKitCache.refreshServer()
    return Effect.gen(function*() {
      yield* TestKitCache.seed({ expiresIn: 3600 })
      yield* TestClock.setTime(60 * MINUTE - 5 * MINUTE)
      const result = yield* silent(["api.read"])
      assert.strictEqual(result.source, "refresh")
      assert.strictEqual(accessToken(result), TestKitCache.accessToken(1))
      assert.strictEqual(yield* server.refreshes, 1)
    }).pipe(withServer(server))
  })

  it.effect("honours a caller's skew", () => {
    const server = TestKitCache.refreshServer()
    return Effect.gen(function*() {
      yield* TestKitCache.seed({ expiresIn: 3600 })
      yield* TestClock.setTime(59 * MINUTE)
      assert.strictEqual((yield* silent(["api.read"], { expirySkew: "30 seconds" })).source, "cache")
      assert.strictEqual((yield* silent(["api.read"], { expirySkew: "2 minutes" })).source, "refresh")
    }).pipe(withServer(server))
  })

  it.effect("OIDC scopes (openid, profile, email, offline_access) are ignored for matching", () => {
    const server = TestKitCache.refreshServer()
    return Effect.gen(function*() {
      yield* TestKitCache.seed({ scopes: ["api.read"] })
      const result = yield* silent(["openid", "profile", "email", "offline_access", "api.read"])
      assert.strictEqual(result.source, "cache")
    }).pipe(withServer(server))
  })

  it.effect("a token that lacks a requested scope is not used: the refresh asks for exactly the requested scopes", () => {
    const server = TestKitCache.refreshServer({ scope: "api.read api.admin" })
    return Effect.gen(function*() {
      yield* TestKitCache.seed({ scopes: ["api.read"] })
      const result = yield* silent(["api.read", "api.admin"])
      assert.strictEqual(result.source, "refresh")
      const [request] = yield* tokenRequests
      assert.deepStrictEqual(request!.params, {
        grant_type: "refresh_token",
        refresh_token: TestKitCache.refreshToken(0),
        scope: "api.read api.admin",
        client_id: TestKit.CLIENT_ID
      })
      // the new token serves both, the old one is gone (its scopes overlap)
      assert.strictEqual((yield* silent(["api.admin"])).source, "cache")
      assert.strictEqual(accessToken(yield* silent(["api.read"])), TestKitCache.accessToken(1))
    }).pipe(withServer(server))
  })

  it.effect("a token without expires_in (GitHub) is used until a forced refresh", () => {
    const server = TestKitCache.refreshServer()
    return Effect.gen(function*() {
      yield* TestKitCache.seed({ expiresIn: undefined })
      yield* TestClock.setTime(365 * 24 * 60 * MINUTE)
      const cached = yield* silent(["api.read"])
      assert.strictEqual(cached.source, "cache")
      assert.isTrue(Option.isNone(cached.expiresOn))
      assert.strictEqual((yield* silent(["api.read"], { forceRefresh: true })).source, "refresh")
    }).pipe(withServer(server))
  })

  it.effect("GitHub's comma-separated granted scopes are understood (the github scope form)", () => {
    const server = TestKitCache.refreshServer({ scope: "repo,gist", idToken: false })
    return Effect.gen(function*() {
      yield* TestKitCache.seed({ withoutAccessToken: true })
      const config = yield* TestKit.config({ scopeForm: "github" })
      const github = (scopes: ReadonlyArray<string>) =>
        Silent.acquireSilent({ config, account: TestKitCache.account, scopes })
      const refreshed = yield* github(["repo"])
      assert.deepStrictEqual(refreshed.scopes, ["gist", "repo"])
      assert.strictEqual((yield* github(["gist"])).source, "cache")
    }).pipe(withServer(server))
  })
})

describe("Silent: the refresh-token grant (RFC 6749 §6)", () => {
  it.effect("stores the rotated refresh token and never sends the old one again", () => {
    const server = TestKitCache.refreshServer({ rotate: true })
    return Effect.gen(function*() {
      yield* TestKitCache.seed({ expiresIn: 3600 })
      yield* TestClock.setTime(2 * 60 * MINUTE)
      assert.strictEqual((yield* silent(["api.read"])).source, "refresh")
      yield* TestClock.setTime(4 * 60 * MINUTE)
      const second = yield* silent(["api.read"])
      assert.strictEqual(second.source, "refresh")
      assert.strictEqual(accessToken(second), TestKitCache.accessToken(2))
      const sent = (yield* tokenRequests).map((r) => r.params.refresh_token)
      assert.deepStrictEqual(sent, [TestKitCache.refreshToken(0), TestKitCache.refreshToken(1)])
      const cache = yield* TokenCache.TokenCache
      const rt = CacheContent.findRefreshToken(
        yield* cache.read,
        TestKitCache.AUTHORITY,
        TestKit.CLIENT_ID,
        TestKitCache.account.id
      )
      assert.strictEqual(Redacted.value(rt!.secret), TestKitCache.refreshToken(2))
    }).pipe(withServer(server))
  })

  it.effect("keeps the refresh token when the server does not rotate it", () => {
    const server = TestKitCache.refreshServer({ rotate: false })
    return Effect.gen(function*() {
      yield* TestKitCache.seed({ withoutAccessToken: true })
      yield* silent(["api.read"], { forceRefresh: true })
      yield* silent(["api.read"], { forceRefresh: true })
      const sent = (yield* tokenRequests).map((r) => r.params.refresh_token)
      assert.deepStrictEqual(sent, [TestKitCache.refreshToken(0), TestKitCache.refreshToken(0)])
    }).pipe(withServer(server))
  })

  it.effect("N concurrent calls needing the same refresh perform one, and all get its token", () => {
    const server = TestKitCache.refreshServer({ delay: "2 seconds" })
    return Effect.gen(function*() {
      yield* TestKitCache.seed({ expiresIn: 60 })
      const exit = yield* runVirtual(
        Effect.all(Array.from({ length: 25 }, () => silent(["api.read"])), { concurrency: "unbounded" })
      )
      const results = succeeded(exit)
      assert.strictEqual(yield* server.refreshes, 1)
      assert.deepStrictEqual(new Set(results.map(accessToken)), new Set([TestKitCache.accessToken(1)]))
      assert.strictEqual(results.filter((r) => r.source === "refresh").length, 1)
    }).pipe(withServer(server))
  })

  it.effect("concurrent forced refreshes perform one; a later forced refresh performs another", () => {
    const server = TestKitCache.refreshServer({ delay: "1 second" })
    return Effect.gen(function*() {
      yield* TestKitCache.seed()
      const exit = yield* runVirtual(
        Effect.all(Array.from({ length: 5 }, () => silent(["api.read"], { forceRefresh: true })), {
          concurrency: "unbounded"
        })
      )
      assert.deepStrictEqual(new Set(succeeded(exit).map(accessToken)), new Set([TestKitCache.accessToken(1)]))
      assert.strictEqual(yield* server.refreshes, 1)
      const later = succeeded(yield* runVirtual(silent(["api.read"], { forceRefresh: true })))
      assert.strictEqual(accessToken(later), TestKitCache.accessToken(2))
    }).pipe(withServer(server))
  })

  it.effect("calls for different accounts refresh independently", () => {
    const server = TestKitCache.refreshServer({
      delay: "1 second",
      onRefresh: ({ params }) =>
        params.refresh_token === "other-rt"
          ? TestKit.tokens({ scope: "api.read", id_token: undefined }, { delay: "1 second" })
          : undefined
    })
    return Effect.gen(function*() {
      const other = Account.supplied(TestKitCache.AUTHORITY, { id: "42" })
      yield* TestKitCache.seed({ withoutAccessToken: true })
      yield* TestKitCache.seed({ account: other, withoutAccessToken: true, refreshToken: "other-rt" })
      const exit = yield* runVirtual(
        Effect.all([silent(["api.read"]), silent(["api.read"], { account: other })], { concurrency: "unbounded" })
      )
      const [mine, theirs] = succeeded(exit)
      assert.strictEqual(mine.account.id, TestKitCache.account.id)
      assert.strictEqual(theirs.account.id, other.id)
      // both were in flight at once: one account's refresh lock did not hold up the other
      const requests = yield* tokenRequests
      assert.deepStrictEqual(requests.map((r) => r.sentAt), [0, 0])
    }).pipe(withServer(server))
  })

  it.effect("an id_token from the refresh naming another user is refused and nothing is stored", () => {
    const server = TestKitCache.refreshServer({
      onRefresh: () =>
        TestKit.tokens({
          id_token: TestKit.idToken({ iss: TestKit.ISSUER, sub: "someone-else", aud: TestKit.CLIENT_ID }),
          scope: "api.read"
        })
    })
    return Effect.gen(function*() {
      yield* TestKitCache.seed({ expiresIn: 1 })
      yield* TestClock.setTime(10 * MINUTE)
      const exit = yield* Effect.exit(silent(["api.read"]))
      const error = failure(exit)
      assert.strictEqual(error._tag, "InvalidResponse")
      assert.include(error.message, "§12.2")
      const cache = yield* TokenCache.TokenCache
      const rt = CacheContent.findRefreshToken(
        yield* cache.read,
        TestKitCache.AUTHORITY,
        TestKit.CLIENT_ID,
        TestKitCache.account.id
      )
      assert.strictEqual(Redacted.value(rt!.secret), TestKitCache.refreshToken(0))
    }).pipe(withServer(server))
  })

  it.effect("a refresh with no answer within the request timeout is a TransportError", () => {
    const server = TestKitCache.refreshServer({ onRefresh: () => TestKit.hang })
    return Effect.gen(function*() {
      yield* TestKitCache.seed({ withoutAccessToken: true })
      const exit = yield* runVirtual(silent(["api.read"], { requestTimeout: "20 seconds" }))
      const error = failure(exit)
      assert.strictEqual(error._tag, "TransportError")
      assert.include(error.message, "20s")
      assert.deepStrictEqual((yield* tokenRequests).map((r) => r.outcome), ["interrupted"])
    }).pipe(withServer(server))
  })
})

describe("Silent: InteractionRequired and other failures", () => {
  const refusal = (reply: TestKit.Reply) => {
    const server = TestKitCache.refreshServer({ onRefresh: () => reply })
    return Effect.gen(function*() {
      yield* TestKitCache.seed({ withoutAccessToken: true })
      return failure(yield* Effect.exit(silent(["api.read"])))
    }).pipe(withServer(server))
  }

  it.effect("no account in the cache: no_account, nothing sent", () => {
    const server = TestKitCache.refreshServer()
    return Effect.gen(function*() {
      const error = failure(yield* Effect.exit(silent(["api.read"])))
      assert.strictEqual(error._tag, "InteractionRequired")
      if (error._tag !== "InteractionRequired") return
      assert.strictEqual(error.reason, "no_account")
      assert.strictEqual(error.accountId, TestKitCache.account.id)
      assert.strictEqual((yield* tokenRequests).length, 0)
    }).pipe(withServer(server))
  })

  it.effect("an expired token and no refresh token: no_refresh_token, nothing sent", () => {
    const server = TestKitCache.refreshServer()
    return Effect.gen(function*() {
      yield* TestKitCache.seed({ expiresIn: 60, refreshToken: false })
      yield* TestClock.setTime(MINUTE)
      const error = failure(yield* Effect.exit(silent(["api.read"])))
      assert.strictEqual(error._tag === "InteractionRequired" && error.reason, "no_refresh_token")
      assert.strictEqual((yield* tokenRequests).length, 0)
    }).pipe(withServer(server))
  })

  it.effect("invalid_grant: InteractionRequired(invalid_grant), and the dead refresh token is forgotten", () => {
    const server = TestKitCache.refreshServer()
    return Effect.gen(function*() {
      yield* TestKitCache.seed({ withoutAccessToken: true, refreshToken: "revoked-refresh-token" })
      const first = failure(yield* Effect.exit(silent(["api.read"])))
      assert.strictEqual(first._tag === "InteractionRequired" && first.reason, "invalid_grant")
      assert.include(first.message, "invalid_grant")
      const second = failure(yield* Effect.exit(silent(["api.read"])))
      assert.strictEqual(second._tag === "InteractionRequired" && second.reason, "no_refresh_token")
      assert.strictEqual(yield* server.refreshes, 1)
    }).pipe(withServer(server))
  })

  it.effect("Entra AADSTS65001 and OIDC consent_required: consent_required; the refresh token is kept", () =>
    Effect.gen(function*() {
      for (
        const reply of [
          TestKit.oauthError("invalid_grant", { fields: { error_codes: [65001], suberror: "consent_required" } }),
          TestKit.oauthError("consent_required"),
          TestKit.oauthError("interaction_required", { fields: { suberror: "consent_required" } }),
          TestKit.oauthError("invalid_scope")
        ]
      ) {
        const error = yield* refusal(reply)
        assert.strictEqual(error._tag === "InteractionRequired" && error.reason, "consent_required")
      }
    }))

  it.effect("a claims challenge: claims_required, carrying the challenge for the next sign-in", () =>
    Effect.gen(function*() {
      const claims = "{\"access_token\":{\"acrs\":{\"essential\":true,\"value\":\"c1\"}}}"
      const error = yield* refusal(
        TestKit.oauthError("interaction_required", {
          fields: { claims, error_codes: [50076], suberror: "basic_action" }
        })
      )
      assert.strictEqual(error._tag, "InteractionRequired")
      if (error._tag !== "InteractionRequired") return
      assert.strictEqual(error.reason, "claims_required")
      assert.strictEqual(error.claims, claims)
      assert.strictEqual(error.suberror, "basic_action")
      assert.deepStrictEqual(error.errorCodes, [50076])
    }))

  it.effect("MFA and sign-in demands: interaction_required / login_required", () =>
    Effect.gen(function*() {
      const mfa = yield* refusal(TestKit.oauthError("invalid_grant", { fields: { error_codes: [50076] } }))
      assert.strictEqual(mfa._tag === "InteractionRequired" && mfa.reason, "interaction_required")
      const login = yield* refusal(TestKit.oauthError("login_required"))
      assert.strictEqual(login._tag === "InteractionRequired" && login.reason, "login_required")
    }))

  it.effect("errors a sign-in does not fix keep the device flow's classes", () =>
    Effect.gen(function*() {
      const client = yield* refusal(TestKit.oauthError("invalid_client", { status: 401 }))
      assert.strictEqual(client._tag, "OAuthError")
      const busy = yield* refusal(TestKit.text("busy", "text/plain", { status: 503 }))
      assert.strictEqual(busy._tag, "TransportError")
      // a rate limiter's own word with HTTP 429 is "try again later", as a bare 429 is
      const limited = yield* refusal(TestKit.oauthError("rate_limit_exceeded", { status: 429 }))
      assert.isTrue(limited._tag === "TransportError" && limited.status === 429, String(limited))
      const junk = yield* refusal(TestKit.json({ token_type: "Bearer" }))
      assert.strictEqual(junk._tag, "InvalidResponse")
    }))

  it.effect("a refresh token the server echoes back is scrubbed from the error", () =>
    Effect.gen(function*() {
      const error = yield* refusal(
        TestKit.oauthError("invalid_grant", {
          fields: { error_description: `refresh token ${TestKitCache.refreshToken(0)} was revoked` }
        })
      )
      assert.notInclude(error.message, TestKitCache.refreshToken(0))
      assert.notInclude(JSON.stringify(error), TestKitCache.refreshToken(0))
      assert.include(error.message, "<redacted>")
    }))

  it.effect("a transport error echoing the refresh token, raw or form-encoded, is scrubbed from the error", () =>
    Effect.gen(function*() {
      const token = TestKitCache.refreshToken(0)
      const error = yield* refusal(
        TestKit.transportFailure(`POST refresh_token=${encodeURIComponent(token)} (${token})`)
      )
      assert.strictEqual(error._tag, "TransportError")
      assert.notInclude(JSON.stringify(error), token)
      assert.notInclude(JSON.stringify(error), encodeURIComponent(token))
      assert.include(error.message, "<redacted>")
    }))

  it.effect("malformed scopes are refused before anything else", () => {
    const server = TestKitCache.refreshServer()
    return Effect.gen(function*() {
      yield* TestKitCache.seed()
      const error = failure(yield* Effect.exit(silent(["api read"])))
      assert.strictEqual(error._tag, "InvalidConfiguration")
    }).pipe(withServer(server))
  })
})

describe("Silent under a wall clock that jumps (issue 15)", () => {
  it.effect("a clock that went back since the token was stored cannot tell its age: refreshed, not used", () => {
    const server = TestKitCache.refreshServer()
    return Effect.gen(function*() {
      yield* TestClock.setTime(24 * 60 * MINUTE)
      yield* TestKitCache.seed({ expiresIn: 3600 })
      // the clock goes back 6 hours: the token looks good for 7 more hours, but it may have expired
      yield* TestClock.setTime(18 * 60 * MINUTE)
      const result = yield* silent(["api.read"])
      assert.strictEqual(result.source, "refresh")
      assert.strictEqual(yield* server.refreshes, 1)
    }).pipe(withServer(server))
  })

  it.effect("a clock that went back by less than the skew still uses the token (the skew absorbs it)", () => {
    const server = TestKitCache.refreshServer()
    return Effect.gen(function*() {
      yield* TestClock.setTime(60 * MINUTE)
      yield* TestKitCache.seed({ expiresIn: 3600 })
      yield* TestClock.setTime(60 * MINUTE - 4 * MINUTE)
      assert.strictEqual((yield* silent(["api.read"])).source, "cache")
    }).pipe(withServer(server))
  })

  it.effect("a clock that jumped forward past the expiry refreshes instead of failing", () => {
    const server = TestKitCache.refreshServer()
    return Effect.gen(function*() {
      yield* TestKitCache.seed({ expiresIn: 3600 })
      yield* TestClock.setTime(30 * 24 * 60 * MINUTE)
      const result = yield* silent(["api.read"])
      assert.strictEqual(result.source, "refresh")
      assert.strictEqual(accessToken(result), TestKitCache.accessToken(1))
    }).pipe(withServer(server))
  })
})
