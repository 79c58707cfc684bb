import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import { accountFor, signIn, tokenCacheContract } from "../test/tokenCacheContract.js"
import * as Account from "./Account.js"
import * as CacheContent from "./CacheContent.js"
import * as TokenCache from "./TokenCache.js"

tokenCacheContract("layerMemory", TokenCache.layerMemory)

const sample = () => {
  let content = CacheContent.empty
  content = CacheContent.withTokens(content, signIn(accountFor("alice")))
  content = CacheContent.withTokens(content, signIn(accountFor("bob"), { expiresOn: undefined }))
  return content
}

const error = <E>(effect: Effect.Effect<unknown, E>): E => {
  const exit = Effect.runSyncExit(Effect.flip(effect))
  if (exit._tag === "Failure") throw new Error("expected a failure")
  return exit.value
}

describe("TokenCache stored form (version 1)", () => {
  it("toJson / fromJson round-trip every entry, secrets included", () => {
    const content = sample()
    const text = CacheContent.toJson(content)
    assert.include(text, "SECRET-rt-") // the stored form necessarily holds the secrets
    const back = Effect.runSync(CacheContent.fromJson(text, "test"))
    assert.deepStrictEqual(CacheContent.toJson(back), text)
    assert.deepStrictEqual([...back.accounts.values()], [...content.accounts.values()])
    assert.isTrue([...back.refreshTokens.values()].every((e) => Redacted.isRedacted(e.secret)))
  })

  it("the stored form is four lists, the kept clients and DPoP keys under a version", () => {
    const stored = CacheContent.encode(sample())
    assert.deepStrictEqual(Object.keys(stored), [
      "version",
      "accounts",
      "accessTokens",
      "refreshTokens",
      "idTokens",
      "clients",
      "dpopKeys"
    ])
    assert.strictEqual(stored.version, 1)
    assert.strictEqual(stored.accessTokens.length, 2)
  })

  it("keys are rebuilt from the entries, and scopes normalised, so a hand-edited file still works", () => {
    const stored = CacheContent.encode(sample()) as any
    stored.accessTokens[0].scopes = ["openid", "api.read", "api.read", "offline_access"]
    const back = Effect.runSync(CacheContent.decode(stored, "test"))
    const alice = accountFor("alice")
    const at = CacheContent.findAccessToken(back, alice.authority, "client-a", alice.id, ["api.read"])
    assert.deepStrictEqual(at?.scopes, ["api.read", "offline_access", "openid"])
  })

  it("a newer format version is refused as such, not as corruption", () => {
    const e = error(CacheContent.decode({ version: 2, whatever: [] }, "/home/u/.cache/devflow/tokens.json"))
    assert.strictEqual(e._tag, "CacheVersionUnsupported")
    if (e._tag !== "CacheVersionUnsupported") return
    assert.strictEqual(e.version, 2)
    assert.strictEqual(e.supported, 1)
    assert.include(e.message, "newer devflow")
    assert.include(e.message, "left untouched")
  })

  it("anything else that does not decode is CacheCorrupt, naming the field, never quoting the value", () => {
    const cases: Array<[unknown, string]> = [
      [[], "an array"],
      ["x", "string"],
      [{}, "version"],
      [{ version: "1" }, "version"],
      [{ version: 0 }, "version"],
      [{ ...CacheContent.encode(sample()), refreshTokens: undefined }, "refreshTokens"],
      [{ ...CacheContent.encode(sample()), refreshTokens: [{ secret: 12 }] }, "refreshTokens.0"]
    ]
    for (const [stored, mention] of cases) {
      const e = error(CacheContent.decode(stored, "loc"))
      assert.strictEqual(e._tag, "CacheCorrupt", JSON.stringify(stored))
      assert.include(e.message, mention)
    }
    const leaky = CacheContent.encode(sample()) as any
    leaky.accessTokens[0].tokenType = 42
    leaky.accessTokens[0].secret = 43
    const e = error(CacheContent.decode(leaky, "loc"))
    assert.notInclude(e.message, "SECRET")
    assert.notInclude(e.message, "43")
  })

  it("text that is not JSON is CacheCorrupt", () => {
    assert.include(error(CacheContent.fromJson("{\"version\":1,\"acc", "loc")).message, "not valid JSON")
    assert.include(error(CacheContent.fromJson("", "loc")).message, "is empty")
  })

  it("CacheCorrupt says where the file went and what to do", () => {
    const e = new TokenCache.CacheCorrupt({
      location: "/c/tokens.json",
      reason: "is empty",
      movedTo: "/c/tokens.json.corrupt-1"
    })
    assert.include(e.message, "moved to /c/tokens.json.corrupt-1")
    assert.include(e.message, "Sign in again")
    assert.isTrue(TokenCache.isTokenCacheError(e))
    assert.isFalse(TokenCache.isTokenCacheError({ _tag: "CacheCorrupt" }))
  })
})

describe("TokenCache scope matching", () => {
  it("OIDC scopes never decide whether a token fits", () => {
    assert.isTrue(CacheContent.covers(["api.read"], ["openid", "profile", "email", "offline_access", "api.read"]))
    assert.isTrue(CacheContent.covers(["api.read", "api.write"], ["api.write"]))
    assert.isFalse(CacheContent.covers(["api.read"], ["api.read", "api.write"]))
  })

  it("scopes are case-sensitive (RFC 6749 §3.3)", () => {
    assert.isFalse(CacheContent.covers(["API.Read"], ["api.read"]))
  })

  it("entra: a token of the US Government cloud's Graph is never served for DoD Graph, behind the same sign-in host", () => {
    const alice = accountFor("alice", "https://login.microsoftonline.us/contoso.onmicrosoft.us/v2.0")
    const content = CacheContent.withTokens(CacheContent.empty, signIn(alice, { scopes: ["User.Read"] }))
    const find = (scope: string) =>
      CacheContent.findAccessToken(content, alice.authority, "client-a", alice.id, [scope], "entra")
    assert.isDefined(find("https://graph.microsoft.us/User.Read"))
    assert.isUndefined(find("https://dod-graph.microsoft.us/User.Read"))
    assert.isUndefined(find("https://graph.microsoft.com/User.Read"))
    assert.isFalse(
      CacheContent.covers(["User.Read"], ["https://dod-graph.microsoft.us/User.Read"], "entra", alice.authority)
    )
  })

  it("the longest-lived of several covering tokens is chosen", () => {
    const alice = accountFor("alice")
    let content = CacheContent.withTokens(
      CacheContent.empty,
      signIn(alice, { scopes: ["a"], label: "short", expiresOn: 1_000 })
    )
    content = CacheContent.withTokens(content, signIn(alice, { scopes: ["b"], label: "long", expiresOn: 9_000 }))
    const at = CacheContent.findAccessToken(content, alice.authority, "client-a", alice.id, [])
    assert.strictEqual(Redacted.value(at!.secret), "SECRET-at-long-canary")
  })

  it("accounts of providers without id_token are one per authority and client", () => {
    const a = Account.forClient("https://github.com/login/oauth/access_token", "Iv1.abc")
    assert.strictEqual(a.id, "client:Iv1.abc")
    assert.strictEqual(a.kind, "client")
  })
})
