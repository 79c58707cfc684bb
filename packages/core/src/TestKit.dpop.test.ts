import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Dpop from "./Dpop.js"
import * as TestKit from "./TestKit.js"

/** One token request to the fake server, with a proof when a key is given. */
const post = (params: Record<string, string>, key?: Dpop.KeyPair, nonce?: string) =>
  Effect.gen(function*() {
    const client = yield* HttpClient.HttpClient
    const proof = key === undefined
      ? undefined
      : yield* Dpop.proof(key, { method: "POST", url: TestKit.TOKEN_ENDPOINT, nonce })
    const response = yield* client.execute(
      HttpClientRequest.post(TestKit.TOKEN_ENDPOINT).pipe(
        HttpClientRequest.bodyUrlParams(params),
        proof === undefined ? (r) => r : HttpClientRequest.setHeader("DPoP", proof)
      )
    )
    return {
      status: response.status,
      nonce: response.headers["dpop-nonce"],
      body: (yield* response.json) as Record<string, unknown>
    }
  })

const poll = { grant_type: "urn:ietf:params:oauth:grant-type:device_code", device_code: TestKit.secrets.deviceCode }

describe("TestKit as a DPoP server (RFC 9449)", () => {
  it.effect("a valid proof gets DPoP-bound tokens; without the option the kit ignores DPoP and answers Bearer", () =>
    Effect.gen(function*() {
      const key = yield* Dpop.generateKeyPair()
      const bound = yield* post(poll, key).pipe(
        Effect.provide(TestKit.layer(TestKit.sequence([TestKit.tokens()]), { dpop: {} }))
      )
      assert.strictEqual(bound.body.token_type, "DPoP")
      const bearer = yield* post(poll, key).pipe(Effect.provide(TestKit.layer(TestKit.sequence([TestKit.tokens()]))))
      assert.strictEqual(bearer.body.token_type, "Bearer")
    }))

  it.effect("a bad proof is invalid_dpop_proof with the reason, and does not use up the script's reply", () =>
    Effect.gen(function*() {
      const key = yield* Dpop.generateKeyPair()
      const forged = yield* Dpop.proof(key, { method: "POST", url: `${TestKit.ISSUER}/elsewhere` })
      const client = yield* HttpClient.HttpClient
      const refused = yield* client.execute(
        HttpClientRequest.post(TestKit.TOKEN_ENDPOINT).pipe(
          HttpClientRequest.bodyUrlParams(poll),
          HttpClientRequest.setHeader("DPoP", forged)
        )
      )
      const body = (yield* refused.json) as Record<string, unknown>
      assert.strictEqual(body.error, "invalid_dpop_proof")
      assert.include(body.error_description, "htu")
      assert.strictEqual((yield* post(poll, key)).body.token_type, "DPoP")
      const polls = yield* Effect.flatMap(TestKit.FakeServer, (s) => s.polls)
      assert.deepStrictEqual(polls.map((p) => p.dpop), [{ refused: "has an htu that is not the request's URI" }, {
        jkt: key.thumbprint
      }])
    }).pipe(Effect.provide(TestKit.layer(TestKit.sequence([TestKit.tokens()]), { dpop: {} }))))

  it.effect("required: a request without a proof is invalid_dpop_proof", () =>
    Effect.gen(function*() {
      assert.strictEqual((yield* post(poll)).body.error, "invalid_dpop_proof")
    }).pipe(Effect.provide(TestKit.layer(TestKit.sequence([TestKit.tokens()]), { dpop: { required: true } }))))

  it.effect("requireNonce: use_dpop_nonce with a DPoP-Nonce header until the proof carries it; rotation demands the new one", () =>
    Effect.gen(function*() {
      const key = yield* Dpop.generateKeyPair()
      const first = yield* post(poll, key)
      assert.strictEqual(first.status, 400)
      assert.strictEqual(first.body.error, "use_dpop_nonce")
      assert.isString(first.nonce)
      const second = yield* post(poll, key, first.nonce)
      assert.strictEqual(second.body.error, "authorization_pending")
      const rotated = yield* Effect.flatMap(TestKit.FakeServer, (s) => s.rotateDpopNonce)
      assert.strictEqual((yield* post(poll, key, first.nonce)).body.error, "use_dpop_nonce")
      assert.strictEqual((yield* post(poll, key, rotated)).body.token_type, "DPoP")
    }).pipe(Effect.provide(TestKit.layer(TestKit.scenarios.pendingThenSuccess(1), { dpop: { requireNonce: true } }))))

  it.effect("a refresh token is bound to the sign-in's key: another key is invalid_grant", () =>
    Effect.gen(function*() {
      const key = yield* Dpop.generateKeyPair()
      const other = yield* Dpop.generateKeyPair()
      yield* post(poll, key)
      const refresh = { grant_type: "refresh_token", refresh_token: TestKit.secrets.refreshToken }
      const stolen = yield* post(refresh, other)
      assert.strictEqual(stolen.body.error, "invalid_grant")
      assert.strictEqual((yield* post(refresh, key)).body.token_type, "DPoP")
    }).pipe(Effect.provide(TestKit.layer(TestKit.sequence([TestKit.tokens()]), { dpop: {} }))))

  it.effect("verifyDpopProof checks a resource request's proof for your own fakes, ath included", () =>
    Effect.gen(function*() {
      const key = yield* Dpop.generateKeyPair()
      const url = "https://api.example/me"
      const proof = yield* Dpop.proof(key, { method: "GET", url: `${url}?q=1`, accessToken: "at" })
      const ok = yield* TestKit.verifyDpopProof(proof, { method: "GET", url, accessToken: "at" })
      assert.deepStrictEqual(Either.map(ok, (v) => v.jkt), Either.right(key.thumbprint))
      assert.isTrue(Either.isLeft(yield* TestKit.verifyDpopProof(proof, { method: "GET", url, accessToken: "other" })))
    }))
})
