import { assert, describe, it } from "@effect/vitest"
import * as CacheQuery from "./CacheQuery.js"

const authority = "https://login.example.com"
const query: CacheQuery.Query = { authority, clientId: "app", accountId: "alice", scopes: ["api"], form: "oauth" }
const token = (overrides: Partial<CacheQuery.Candidate> & { readonly name: string }) => ({
  authority,
  clientId: "app",
  accountId: "alice",
  scopes: ["api"],
  cachedAt: 0,
  ...overrides
})

describe("CacheQuery", () => {
  describe("best", () => {
    it("among the tokens of the authority, client and account that cover the scopes, the one living longest", () => {
      const found = CacheQuery.best([
        token({ name: "short", expiresOn: 1_000 }),
        token({ name: "long", expiresOn: 9_000 }),
        token({ name: "other account", accountId: "bob", expiresOn: 99_000 }),
        token({ name: "other client", clientId: "cli", expiresOn: 99_000 }),
        token({ name: "too narrow", scopes: ["read"], expiresOn: 99_000 })
      ], query)
      assert.strictEqual(found?.name, "long")
    })

    it("a token without expiry counts as longest", () => {
      const found = CacheQuery.best([token({ name: "dated", expiresOn: 9_000 }), token({ name: "undated" })], query)
      assert.strictEqual(found?.name, "undated")
    })

    it("OpenID Connect scopes never decide whether a token fits", () => {
      const found = CacheQuery.best([token({ name: "api only" })], {
        ...query,
        scopes: ["openid", "offline_access", "api"]
      })
      assert.strictEqual(found?.name, "api only")
    })

    it("compares in the provider's form (GitHub's commas, Entra's Graph prefix)", () => {
      const graph = token({ name: "graph", scopes: ["https://graph.microsoft.com/User.Read"] })
      assert.strictEqual(CacheQuery.best([graph], { ...query, scopes: ["user.read"], form: "entra" })?.name, "graph")
      assert.isUndefined(CacheQuery.best([graph], { ...query, scopes: ["user.read"], form: "oauth" }))
    })
  })

  describe("usable", () => {
    const skew = CacheQuery.DEFAULT_EXPIRY_SKEW_MS
    const now = 1_000_000_000

    it("a token living longer than the skew is handed out; one within it is not", () => {
      assert.isTrue(CacheQuery.usable({ cachedAt: now, expiresOn: now + skew + 1 }, now, skew))
      assert.isFalse(CacheQuery.usable({ cachedAt: now, expiresOn: now + skew }, now, skew))
      assert.isTrue(CacheQuery.usable({ cachedAt: now }, now, skew))
    })

    it("a token stored later than the clock now reads (the clock went back past the skew) is not", () => {
      assert.isTrue(CacheQuery.usable({ cachedAt: now + skew }, now, skew))
      assert.isFalse(CacheQuery.usable({ cachedAt: now + skew + 1 }, now, skew))
    })

    it("a record without a stamp, or no record, is not", () => {
      assert.isFalse(CacheQuery.usable({ expiresOn: now + 2 * skew }, now, skew))
      assert.isFalse(CacheQuery.usable(undefined, now, skew))
    })
  })
})
