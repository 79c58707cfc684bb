import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import { failure } from "../test/virtual.js"
import * as Revocation from "./Revocation.js"
import * as TestKit from "./TestKit.js"

const REVOKE = `${TestKit.ISSUER}/oauth2/revoke`
const TOKEN = "rt-revocation-canary-5b1c"

const serving = (reply: TestKit.Reply) =>
  TestKit.layer({
    deviceAuthorization: () => TestKit.hang,
    token: () => TestKit.hang,
    other: ({ url }) => (url.href === REVOKE ? reply : TestKit.text("Not Found", "text/plain", { status: 404 }))
  })

const revoke = (overrides: Parameters<typeof TestKit.config>[0] = {}) =>
  Effect.gen(function*() {
    const config = yield* TestKit.config({
      endpoints: {
        deviceAuthorization: TestKit.DEVICE_AUTHORIZATION_ENDPOINT,
        token: TestKit.TOKEN_ENDPOINT,
        revocation: REVOKE
      },
      ...overrides
    })
    return yield* Effect.exit(Revocation.revoke(config, Redacted.make(TOKEN)))
  })

describe("Revocation.revoke (RFC 7009)", () => {
  it.effect("§2.1: POSTs the token with token_type_hint=refresh_token and the client's id; §2.2: 200 with no body is success", () =>
    Effect.gen(function*() {
      const exit = yield* revoke()
      assert.strictEqual(exit._tag, "Success")
      const [request] = yield* Effect.flatMap(TestKit.FakeServer, (s) => s.requests)
      assert.strictEqual(request!.method, "POST")
      assert.deepStrictEqual(request!.params, {
        token: TOKEN,
        token_type_hint: "refresh_token",
        client_id: TestKit.CLIENT_ID
      })
    }).pipe(Effect.provide(serving(TestKit.text("", "text/plain")))))

  it.effect("a confidential client authenticates as at the token endpoint", () =>
    Effect.gen(function*() {
      assert.strictEqual((yield* revoke({ clientSecret: Redacted.make("s3cret") }))._tag, "Success")
      const [request] = yield* Effect.flatMap(TestKit.FakeServer, (s) => s.requests)
      assert.strictEqual(request!.params.client_secret, "s3cret")
    }).pipe(Effect.provide(serving(TestKit.json({})))))

  it.effect("§2.2.1: an error answer is an OAuthError that never quotes the token, even when the server echoes it", () =>
    Effect.gen(function*() {
      const error = failure(yield* revoke())
      assert.strictEqual(error._tag, "OAuthError")
      assert.notInclude(error.message, TOKEN)
    }).pipe(
      Effect.provide(
        serving(TestKit.oauthError("unsupported_token_type", { fields: { error_description: `token ${TOKEN}` } }))
      )
    ))

  it.effect("§2.2.1: 503 is a TransportError (try again later)", () =>
    Effect.gen(function*() {
      assert.strictEqual(failure(yield* revoke())._tag, "TransportError")
    }).pipe(Effect.provide(serving(TestKit.text("busy", "text/plain", { status: 503 })))))

  it.effect("without a revocation endpoint: InvalidConfiguration, and no request", () =>
    Effect.gen(function*() {
      const config = yield* TestKit.config()
      const error = failure(yield* Effect.exit(Revocation.revoke(config, Redacted.make(TOKEN))))
      assert.strictEqual(error._tag, "InvalidConfiguration")
      assert.lengthOf(yield* Effect.flatMap(TestKit.FakeServer, (s) => s.requests), 0)
    }).pipe(Effect.provide(serving(TestKit.json({})))))
})
