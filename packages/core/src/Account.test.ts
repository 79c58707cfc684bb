import { assert, describe, it } from "@effect/vitest"
import * as Equal from "effect/Equal"
import * as Account from "./Account.js"
import { isPrintable } from "./ServerText.js"

const AUTHORITY = "https://login.devflow.test/tenant/oauth2/v2.0/token"

describe("Account from id_token claims (OpenID Connect Core §2)", () => {
  it("issuer + subject is the identity; tid, username and name are read", () => {
    const a = Account.fromClaims(AUTHORITY, {
      iss: "https://login.devflow.test/tid-1/v2.0",
      sub: "abc",
      tid: "tid-1",
      preferred_username: "ada@contoso.test",
      name: "Ada Lovelace",
      email: "other@contoso.test"
    })!
    assert.strictEqual(a.id, "https://login.devflow.test/tid-1/v2.0#abc")
    assert.strictEqual(a.kind, "oidc")
    assert.strictEqual(a.authority, AUTHORITY)
    assert.strictEqual(a.issuer, "https://login.devflow.test/tid-1/v2.0")
    assert.strictEqual(a.subject, "abc")
    assert.strictEqual(a.tenantId, "tid-1")
    assert.strictEqual(a.username, "ada@contoso.test")
    assert.strictEqual(a.name, "Ada Lovelace")
    assert.strictEqual(a.label, "ada@contoso.test")
  })

  it("the username falls back from preferred_username to upn (Entra v1, ADFS) to email", () => {
    const base = { iss: "https://i.test", sub: "s" }
    assert.strictEqual(Account.fromClaims(AUTHORITY, { ...base, upn: "u@x", email: "e@x" })!.username, "u@x")
    assert.strictEqual(Account.fromClaims(AUTHORITY, { ...base, email: "e@x" })!.username, "e@x")
    assert.isUndefined(Account.fromClaims(AUTHORITY, { ...base, preferred_username: "  " })!.username)
  })

  it("display names from the claims have their controls removed, so they cannot rewrite the line they are shown on", () => {
    const a = Account.fromClaims(AUTHORITY, {
      iss: "https://i.test",
      sub: "s",
      name: "\x1b[2K\rSigned in as admin",
      preferred_username: "ada\u009b2K@contoso.test"
    })!
    assert.strictEqual(a.name, "Signed in as admin")
    assert.strictEqual(a.username, "ada 2K@contoso.test")
    assert.isTrue(isPrintable(a.label))
  })

  it("without iss or sub there is no account", () => {
    assert.isUndefined(Account.fromClaims(AUTHORITY, { sub: "s" }))
    assert.isUndefined(Account.fromClaims(AUTHORITY, { iss: "https://i.test", sub: "" }))
    assert.isUndefined(Account.fromClaims(AUTHORITY, { iss: "https://i.test", sub: 42 }))
  })

  it("the same user at two issuers is two accounts; the same claims are one", () => {
    const one = Account.fromClaims(AUTHORITY, { iss: "https://a.test", sub: "s" })!
    const two = Account.fromClaims(AUTHORITY, { iss: "https://b.test", sub: "s" })!
    assert.notStrictEqual(one.id, two.id)
    assert.isTrue(Equal.equals(one, Account.fromClaims(AUTHORITY, { iss: "https://a.test", sub: "s" })!))
  })
})

describe("Account without id_token (GitHub)", () => {
  it("one account per authority and client", () => {
    const a = Account.forClient(AUTHORITY, "Iv1.x")
    assert.strictEqual(a.kind, "client")
    assert.strictEqual(a.label, "client:Iv1.x")
  })

  it("or the identity the caller supplies", () => {
    const a = Account.supplied(AUTHORITY, { id: "583231", username: "octocat", name: "The Octocat" })
    assert.strictEqual(a.id, "user:583231")
    assert.strictEqual(a.kind, "supplied")
    assert.strictEqual(a.label, "octocat")
  })

  it("fromResult prefers the id_token, then the supplied identity, then the client's account", () => {
    const claims = { iss: "https://i.test", sub: "s" }
    assert.strictEqual(Account.fromResult(AUTHORITY, "c", claims, { id: "1" }).kind, "oidc")
    assert.strictEqual(Account.fromResult(AUTHORITY, "c", undefined, { id: "1" }).kind, "supplied")
    assert.strictEqual(Account.fromResult(AUTHORITY, "c", undefined).kind, "client")
  })
})
