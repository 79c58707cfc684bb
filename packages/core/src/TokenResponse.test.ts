import { assert, describe, it } from "@effect/vitest"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Encoding from "effect/Encoding"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import { failure } from "../test/virtual.js"
import type { InvalidResponse } from "./DeviceFlowError.js"
import * as TestKit from "./TestKit.js"
import * as TokenResponse from "./TokenResponse.js"

const CONTEXT = { endpoint: TestKit.TOKEN_ENDPOINT, status: 200 } as const
const SENT_AT = DateTime.unsafeMake(1_700_000_000_000)
const REQUESTED = ["openid", "profile", "offline_access"]
const ID_TOKEN = TestKit.idToken({ iss: TestKit.ISSUER, sub: "user-123", aud: TestKit.CLIENT_ID, name: "Test User" })

/** A complete RFC 6749 §5.1 answer. */
const valid: Readonly<Record<string, unknown>> = {
  access_token: TestKit.secrets.accessToken,
  token_type: "Bearer",
  expires_in: 3600,
  refresh_token: TestKit.secrets.refreshToken,
  scope: "openid profile",
  id_token: ID_TOKEN
}

/** `valid` with `fields` set; a field set to `undefined` is left out. */
const answer = (fields: Readonly<Record<string, unknown>> = {}): Record<string, unknown> =>
  Object.fromEntries(Object.entries({ ...valid, ...fields }).filter(([, v]) => v !== undefined))

const processBody = (body: Readonly<Record<string, unknown>>, requested: ReadonlyArray<string> = REQUESTED) =>
  Effect.exit(TokenResponse.process(CONTEXT, body, requested, SENT_AT))

const succeeded = <A, E>(exit: Exit.Exit<A, E>): A => {
  if (Exit.isFailure(exit)) assert.fail(`expected a success, got ${String(exit.cause)}`)
  return (exit as Exit.Success<A, E>).value
}

const invalidResponse = <A>(exit: Exit.Exit<A, InvalidResponse>): InvalidResponse => {
  const error = failure(exit)
  assert.strictEqual(error._tag, "InvalidResponse")
  return error
}

const b64url = (text: string) => Encoding.encodeBase64Url(text)
const HEADER = b64url(JSON.stringify({ alg: "RS256", typ: "JWT" }))

/** Every secret value a test body may carry. */
const CANARIES = [TestKit.secrets.accessToken, TestKit.secrets.refreshToken, "ID-TOKEN-CANARY-93ad1e"]

const assertNoSecrets = (error: InvalidResponse) => {
  for (const canary of CANARIES) {
    assert.notInclude(error.message, canary)
    assert.notInclude(JSON.stringify(error), canary)
    assert.notInclude(String(error), canary)
  }
}

describe("TokenResponse.process: tokens (RFC 6749 §5.1)", () => {
  it.effect("access_token, refresh_token and id_token are Redacted, holding the server's values", () =>
    Effect.gen(function*() {
      const result = succeeded(yield* processBody(answer()))
      assert.isTrue(Redacted.isRedacted(result.accessToken))
      assert.strictEqual(Redacted.value(result.accessToken), TestKit.secrets.accessToken)
      const refresh = Option.getOrThrow(result.refreshToken)
      assert.isTrue(Redacted.isRedacted(refresh))
      assert.strictEqual(Redacted.value(refresh), TestKit.secrets.refreshToken)
      const idToken = Option.getOrThrow(result.idToken)
      assert.isTrue(Redacted.isRedacted(idToken))
      assert.strictEqual(Redacted.value(idToken), ID_TOKEN)
    }))

  it.effect("no token shows when the result is serialised or printed", () =>
    Effect.gen(function*() {
      const result = succeeded(yield* processBody(answer()))
      for (const secret of [TestKit.secrets.accessToken, TestKit.secrets.refreshToken, ID_TOKEN]) {
        assert.notInclude(JSON.stringify(result), secret)
        assert.notInclude(String(result.accessToken), secret)
      }
    }))

  it.effect("the token type is kept as the server spelled it (GitHub's lowercase bearer)", () =>
    Effect.gen(function*() {
      const result = succeeded(yield* processBody(answer({ token_type: "bearer" })))
      assert.strictEqual(result.tokenType, "bearer")
    }))

  it.effect("refresh_token and id_token are OPTIONAL: none when absent or null", () =>
    Effect.gen(function*() {
      for (const value of [undefined, null]) {
        const result = succeeded(yield* processBody(answer({ refresh_token: value, id_token: value })))
        assert.isTrue(Option.isNone(result.refreshToken))
        assert.isTrue(Option.isNone(result.idToken))
        assert.isTrue(Option.isNone(result.idTokenClaims))
      }
    }))
})

describe("TokenResponse.process: expiry", () => {
  it.effect("expiresOn is sentAt + expires_in", () =>
    Effect.gen(function*() {
      const result = succeeded(yield* processBody(answer({ expires_in: 3600 })))
      assert.deepStrictEqual(
        Option.map(result.expiresOn, DateTime.toEpochMillis),
        Option.some(DateTime.toEpochMillis(SENT_AT) + 3_600_000)
      )
    }))

  it.effect("expires_in as a numeric string (Entra v1, ADFS) is read as seconds", () =>
    Effect.gen(function*() {
      const result = succeeded(yield* processBody(answer({ expires_in: "3599" })))
      assert.deepStrictEqual(
        Option.map(result.expiresOn, DateTime.toEpochMillis),
        Option.some(DateTime.toEpochMillis(SENT_AT) + 3_599_000)
      )
    }))

  it.effect("without expires_in (RECOMMENDED, not REQUIRED) expiresOn is none", () =>
    Effect.gen(function*() {
      for (const value of [undefined, null]) {
        const result = succeeded(yield* processBody(answer({ expires_in: value })))
        assert.isTrue(Option.isNone(result.expiresOn))
      }
    }))

  for (const value of [0, -1, "abc", "Infinity", ""]) {
    it.effect(`an expires_in of ${JSON.stringify(value)} is an InvalidResponse naming expires_in`, () =>
      Effect.gen(function*() {
        const error = invalidResponse(yield* processBody(answer({ expires_in: value })))
        assert.strictEqual(error.field, "expires_in")
        assertNoSecrets(error)
      }))
  }
  // Regression test (this bug was found by the suite and fixed): TokenResponse.process adds any finite positive expires_in to sentAt unchecked: expires_in 1e13
  // (~317,000 years) gives an expiresOn past the JS date range (epochMillis 1e16 > 8.64e15), an invalid
  // DateTime.Utc on which DateTime.formatIso and JSON.stringify(result) throw RangeError("Invalid time value").
  // Expected: an InvalidResponse naming expires_in (or a usable date).
  it.effect("an expires_in too large for a date (1e13 s) is refused rather than giving an unusable expiresOn", () =>
    Effect.gen(function*() {
      const exit = yield* processBody(answer({ expires_in: 1e13 }))
      if (Exit.isSuccess(exit)) {
        assert.doesNotThrow(() => Option.map(exit.value.expiresOn, DateTime.formatIso))
        assert.doesNotThrow(() => JSON.stringify(exit.value))
      } else {
        assert.strictEqual(invalidResponse(exit).field, "expires_in")
      }
    }))
})

describe("TokenResponse.process: scopes (RFC 6749 §5.1, §3.3)", () => {
  it.effect("without scope, the granted scopes are the requested ones", () =>
    Effect.gen(function*() {
      const result = succeeded(yield* processBody(answer({ scope: undefined })))
      assert.deepStrictEqual(result.scopes, REQUESTED)
    }))

  it.effect("a null or empty scope counts as no scope", () =>
    Effect.gen(function*() {
      for (const scope of [null, "", "  "]) {
        const result = succeeded(yield* processBody(answer({ scope })))
        assert.deepStrictEqual(result.scopes, REQUESTED)
      }
    }))

  it.effect("a scope is split on spaces, whatever the spacing", () =>
    Effect.gen(function*() {
      const result = succeeded(yield* processBody(answer({ scope: " openid  email User.Read " })))
      assert.deepStrictEqual(result.scopes, ["openid", "email", "User.Read"])
    }))

  it.effect("the granted scope wins over the requested one, even when narrower", () =>
    Effect.gen(function*() {
      const result = succeeded(yield* processBody(answer({ scope: "openid" }), ["openid", "admin"]))
      assert.deepStrictEqual(result.scopes, ["openid"])
    }))
})

describe("TokenResponse.process: fields beyond RFC 6749 §5.1", () => {
  it.effect("are kept in extra; numbers stay raw, strings named like secrets become Redacted", () =>
    Effect.gen(function*() {
      const result = succeeded(
        yield* processBody(answer({
          refresh_token_expires_in: 7200,
          ext_expires_in: 3599,
          foo_token: "FOO-TOKEN-CANARY",
          client_secret: "CLIENT-SECRET-CANARY",
          user_password: "PASSWORD-CANARY",
          session_code: "CODE-CANARY",
          tenant: "contoso",
          nested: { a: 1 }
        }))
      )
      const extra = result.extra
      assert.strictEqual(extra.refresh_token_expires_in, 7200)
      assert.strictEqual(extra.ext_expires_in, 3599)
      assert.strictEqual(extra.tenant, "contoso")
      assert.deepStrictEqual(extra.nested, { a: 1 })
      for (
        const [key, value] of [
          ["foo_token", "FOO-TOKEN-CANARY"],
          ["client_secret", "CLIENT-SECRET-CANARY"],
          ["user_password", "PASSWORD-CANARY"],
          ["session_code", "CODE-CANARY"]
        ] as const
      ) {
        const kept = extra[key]
        assert.isTrue(Redacted.isRedacted(kept), key)
        assert.strictEqual(Redacted.value(kept as Redacted.Redacted<string>), value)
        assert.notInclude(JSON.stringify(result), value)
      }
    }))

  it.effect("nested values are searched too: a secret-like name hides its whole value, at any depth", () =>
    Effect.gen(function*() {
      const result = succeeded(
        yield* processBody(answer({
          authed_user: { id: "U1", access_token: "NESTED-TOKEN-CANARY", expires_in: 60 },
          tokens: { primary: "WHOLE-VALUE-CANARY" },
          credentials: [{ api_key: "ARRAY-KEY-CANARY" }],
          signing_key: { kty: "oct", k: "JWK-CANARY" },
          deep: { a: { b: { c: { d: { client_secret: "DEEP-CANARY" } } } } },
          settings: { theme: "dark", count: 3 }
        }))
      )
      const extra = result.extra as Record<string, any>
      for (
        const canary of ["NESTED-TOKEN-CANARY", "WHOLE-VALUE-CANARY", "ARRAY-KEY-CANARY", "JWK-CANARY", "DEEP-CANARY"]
      ) {
        assert.notInclude(JSON.stringify(result), canary)
      }
      assert.strictEqual(Redacted.value(extra.authed_user.access_token), "NESTED-TOKEN-CANARY")
      assert.strictEqual(extra.authed_user.id, "U1")
      assert.strictEqual(extra.authed_user.expires_in, 60)
      assert.isTrue(Redacted.isRedacted(extra.tokens))
      assert.isTrue(Redacted.isRedacted(extra.credentials))
      assert.isTrue(Redacted.isRedacted(extra.signing_key))
      assert.isTrue(Redacted.isRedacted(extra.deep.a.b.c.d.client_secret))
      assert.deepStrictEqual(extra.settings, { theme: "dark", count: 3 })
    }))

  it.effect("the RFC 6749 §5.1 fields are not repeated in extra", () =>
    Effect.gen(function*() {
      const result = succeeded(yield* processBody(answer({ vendor: "x" })))
      assert.deepStrictEqual(Object.keys(result.extra), ["vendor"])
    }))
})

describe("TokenResponse.process: the id_token", () => {
  it.effect("its claims are decoded", () =>
    Effect.gen(function*() {
      const result = succeeded(yield* processBody(answer()))
      const claims = Option.getOrThrow(result.idTokenClaims)
      assert.strictEqual(claims.iss, TestKit.ISSUER)
      assert.strictEqual(claims.sub, "user-123")
      assert.strictEqual(claims.aud, TestKit.CLIENT_ID)
      assert.strictEqual(claims.name, "Test User")
    }))

  const canary = CANARIES[2]!
  const invalid: ReadonlyArray<readonly [why: string, token: string]> = [
    ["not a JWT (one part)", canary],
    ["two parts", `${HEADER}.${b64url(canary)}`],
    ["four parts", `${HEADER}.${b64url(JSON.stringify({ iss: "a", sub: canary }))}.sig.extra`],
    ["a JWE (five parts)", `${HEADER}.${canary}.iv.ciphertext.tag`],
    ["an empty payload", `${HEADER}..sig`],
    ["a payload that is not JSON", `${HEADER}.${b64url(`not json ${canary}`)}.sig`],
    ["a payload that is a JSON array", `${HEADER}.${b64url(JSON.stringify([canary]))}.sig`],
    ["a payload that is a JSON string", `${HEADER}.${b64url(JSON.stringify(canary))}.sig`],
    ["a payload without sub", `${HEADER}.${b64url(JSON.stringify({ iss: TestKit.ISSUER, name: canary }))}.sig`],
    ["a payload without iss", `${HEADER}.${b64url(JSON.stringify({ sub: canary }))}.sig`],
    ["an empty sub", `${HEADER}.${b64url(JSON.stringify({ iss: TestKit.ISSUER, sub: "" }))}.sig`],
    ["a numeric sub", `${HEADER}.${b64url(JSON.stringify({ iss: TestKit.ISSUER, sub: 123 }))}.sig`],
    ["an empty string", ""]
  ]
  for (const [why, token] of invalid) {
    it.effect(`an id_token that is ${why} is an InvalidResponse naming id_token, not quoting it`, () =>
      Effect.gen(function*() {
        const error = invalidResponse(yield* processBody(answer({ id_token: token })))
        assert.strictEqual(error.field, "id_token")
        assertNoSecrets(error)
        if (token !== "") assert.notInclude(error.message, token)
      }))
  }

  it.effect("its display claims (name, preferred_username, upn, email) have their controls removed", () =>
    Effect.gen(function*() {
      const hostile = "\x1b[2K\rSigned in as admin"
      const token = TestKit.idToken({
        iss: TestKit.ISSUER,
        sub: "user-123",
        aud: TestKit.CLIENT_ID,
        name: hostile,
        preferred_username: `ada${hostile}`,
        upn: `\u009b2Kupn`,
        email: "e\x1b]8;;https://evil.example/\x07@x"
      })
      const claims = Option.getOrThrow(succeeded(yield* processBody(answer({ id_token: token }))).idTokenClaims)
      assert.strictEqual(claims.name, "Signed in as admin")
      assert.strictEqual(claims.preferred_username, "ada Signed in as admin")
      assert.strictEqual(claims.upn, "2Kupn")
      assert.strictEqual(claims.email, "e@x")
    }))

  it.effect("a JWE is refused as encrypted, a missing claim by its name", () =>
    Effect.gen(function*() {
      const jwe = invalidResponse(yield* processBody(answer({ id_token: "a.b.c.d.e" })))
      assert.include(jwe.reason, "JWE")
      const noSub = invalidResponse(
        yield* processBody(answer({ id_token: TestKit.idToken({ iss: TestKit.ISSUER }) }))
      )
      assert.include(noSub.reason, "\"sub\"")
      const noIss = invalidResponse(yield* processBody(answer({ id_token: TestKit.idToken({ sub: "u" }) })))
      assert.include(noIss.reason, "\"iss\"")
    }))
})

describe("TokenResponse.process: the id_token is the issuer's, for this client (OpenID Connect Core §3.1.3.7)", () => {
  const ENTRA = "https://login.microsoftonline.com/{tenantid}/v2.0"
  const TID = "9188040d-6c67-4c5b-b112-36a304b66dad"
  const check = (claims: Readonly<Record<string, unknown>>, issuer: string | null = TestKit.ISSUER) =>
    Effect.exit(
      TokenResponse.process(CONTEXT, answer({ id_token: TestKit.idToken(claims) }), REQUESTED, SENT_AT, "oauth", {
        clientId: TestKit.CLIENT_ID,
        issuer: issuer ?? undefined
      })
    )
  const refused = [
    ["aud names another client", { iss: TestKit.ISSUER, sub: "u", aud: "someone-else" }, undefined, "aud"],
    ["aud is missing", { iss: TestKit.ISSUER, sub: "u" }, undefined, "aud"],
    ["aud is a list without this client", { iss: TestKit.ISSUER, sub: "u", aud: ["a", "b"] }, undefined, "aud"],
    ["iss is another issuer", { iss: "https://evil.example", sub: "u", aud: TestKit.CLIENT_ID }, undefined, "iss"],
    [
      "iss differs only in case",
      { iss: TestKit.ISSUER.toUpperCase(), sub: "u", aud: TestKit.CLIENT_ID },
      undefined,
      "iss"
    ],
    [
      "Entra: iss of another tenant than its tid",
      { iss: `https://login.microsoftonline.com/other/v2.0`, tid: TID, sub: "u", aud: TestKit.CLIENT_ID },
      ENTRA,
      "iss"
    ],
    [
      "Entra: iss of another host",
      { iss: `https://evil.example/${TID}/v2.0`, tid: TID, sub: "u", aud: TestKit.CLIENT_ID },
      ENTRA,
      "iss"
    ],
    [
      "Entra: no tid",
      { iss: `https://login.microsoftonline.com/${TID}/v2.0`, sub: "u", aud: TestKit.CLIENT_ID },
      ENTRA,
      "iss"
    ]
  ] as const
  for (const [what, claims, issuer, claim] of refused) {
    it.effect(`refused when ${what}: InvalidResponse(id_token) naming "${claim}"`, () =>
      Effect.gen(function*() {
        const error = invalidResponse(yield* check(claims, issuer))
        assert.strictEqual(error.field, "id_token")
        assert.include(error.reason, `"${claim}"`)
      }))
  }

  it.effect("accepted when iss is the issuer and aud names the client, alone or among others", () =>
    Effect.gen(function*() {
      succeeded(yield* check({ iss: TestKit.ISSUER, sub: "u", aud: TestKit.CLIENT_ID }))
      succeeded(yield* check({ iss: TestKit.ISSUER, sub: "u", aud: ["api://other", TestKit.CLIENT_ID] }))
      succeeded(
        yield* check({
          iss: `https://login.microsoftonline.com/${TID}/v2.0`,
          tid: TID,
          sub: "u",
          aud: TestKit.CLIENT_ID
        }, ENTRA)
      )
      // without a known issuer (a server without discovery), only the audience is checked
      succeeded(yield* check({ iss: "https://anywhere.example", sub: "u", aud: TestKit.CLIENT_ID }, null))
    }))
})

describe("TokenResponse.process: an invalid answer is an InvalidResponse naming the field", () => {
  for (const field of ["access_token", "token_type"]) {
    it.effect(`a missing ${field} (REQUIRED)`, () =>
      Effect.gen(function*() {
        const error = invalidResponse(yield* processBody(answer({ [field]: undefined })))
        assert.strictEqual(error.field, field)
        assert.strictEqual(error.reason, "is missing")
        assert.strictEqual(error.endpoint, TestKit.TOKEN_ENDPOINT)
        assert.strictEqual(error.status, 200)
        assertNoSecrets(error)
      }))
  }

  const cases: ReadonlyArray<readonly [field: string, value: unknown]> = [
    ["access_token", ""],
    ["access_token", 987654321],
    ["access_token", { value: CANARIES[0] }],
    ["access_token", [CANARIES[0]]],
    ["token_type", ""],
    ["token_type", "  "],
    ["token_type", 1],
    ["refresh_token", ""],
    ["refresh_token", 123456789],
    ["id_token", 42],
    ["scope", 42]
  ]
  for (const [field, value] of cases) {
    it.effect(`${field} of ${JSON.stringify(value)}`, () =>
      Effect.gen(function*() {
        const error = invalidResponse(yield* processBody(answer({ [field]: value })))
        assert.strictEqual(error.field, field)
        assertNoSecrets(error)
      }))
  }

  it.effect("a secret of the wrong type is not quoted, even when it is not a string", () =>
    Effect.gen(function*() {
      for (const field of ["access_token", "refresh_token", "id_token"]) {
        const error = invalidResponse(yield* processBody(answer({ [field]: 987654321 })))
        assert.include(error.reason, "withheld")
        assert.notInclude(error.message, "987654321")
        assert.notInclude(JSON.stringify(error), "987654321")
      }
    }))
})
