import * as HttpClient from "@effect/platform/HttpClient"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Encoding from "effect/Encoding"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Dpop from "./Dpop.js"
import * as TestKit from "./TestKit.js"

const API = "https://api.devflow.test/me"
const TOKEN = "BOUND-ACCESS-TOKEN"
const NONCE = "resource-nonce-1"

/**
 * A resource server (RFC 9449 §7): it wants `Authorization: DPoP <token>` and
 * a proof bound to the token; with `nonce`, it first answers 401
 * `use_dpop_nonce` (§9).
 */
const resourceServer = (nonce: boolean): TestKit.Script => ({
  ...TestKit.scenarios.pendingThenSuccess(0),
  other: ({ headers, method, url }) => {
    const proof = headers.dpop
    if (headers.authorization !== `DPoP ${TOKEN}` || proof === undefined) {
      return TestKit.text("", "text/plain", { status: 401, headers: { "www-authenticate": "DPoP algs=\"ES256\"" } })
    }
    const claims = JSON.parse(Either.getOrThrow(Encoding.decodeBase64UrlString(proof.split(".")[1]!)))
    if (nonce && claims.nonce !== NONCE) {
      return TestKit.text("", "text/plain", {
        status: 401,
        headers: {
          "www-authenticate":
            "DPoP error=\"use_dpop_nonce\", error_description=\"Resource server requires nonce in DPoP proof\"",
          "dpop-nonce": NONCE
        }
      })
    }
    return TestKit.json({ method, path: url.pathname, ath: claims.ath, htu: claims.htu })
  }
})

const call = () =>
  Effect.gen(function*() {
    const client = yield* Effect.flatMap(HttpClient.HttpClient, Dpop.withAccessToken(Redacted.make(TOKEN)))
    const response = yield* client.get(`${API}?page=2`)
    const requests = yield* Effect.flatMap(TestKit.FakeServer, (s) => s.requests)
    return { status: response.status, body: (yield* response.json) as Record<string, unknown>, requests }
  })

describe("Dpop on resource requests (RFC 9449 §7, §9)", () => {
  it.effect("withAccessToken sends Authorization: DPoP and a proof bound to the token (ath) and to the URL without query", () =>
    Effect.gen(function*() {
      const key = yield* Dpop.generateKeyPair()
      const r = yield* call().pipe(
        Effect.provide(Layer.merge(TestKit.layer(resourceServer(false)), Dpop.layerKey(key)))
      )
      assert.strictEqual(r.status, 200)
      assert.strictEqual(r.body.htu, API)
      assert.strictEqual(r.body.ath, yield* Dpop.accessTokenHash(TOKEN))
      const proof = r.requests[0]!.headers.dpop!
      const verified = yield* TestKit.verifyDpopProof(proof, { method: "GET", url: API, accessToken: TOKEN })
      assert.deepStrictEqual(Either.map(verified, (v) => v.jkt), Either.right(key.thumbprint))
    }))

  it.effect("a resource server's use_dpop_nonce gets one retry with its nonce, which later requests keep", () =>
    Effect.gen(function*() {
      const r = yield* call()
      assert.strictEqual(r.status, 200)
      assert.strictEqual(r.requests.length, 2)
      const again = yield* call()
      assert.strictEqual(again.status, 200)
      assert.strictEqual(again.requests.length, 3, "the nonce was remembered: no second refusal")
    }).pipe(
      Effect.provide(
        Layer.merge(
          TestKit.layer(resourceServer(true)),
          Layer.effect(Dpop.CurrentKey, Effect.map(Dpop.generateKeyPair(), Dpop.makeHolder))
        )
      )
    ))

  it.effect("a second refusal is the caller's: no loop", () =>
    Effect.gen(function*() {
      const script: TestKit.Script = {
        ...TestKit.scenarios.pendingThenSuccess(0),
        other: () =>
          TestKit.text("", "text/plain", {
            status: 401,
            headers: {
              "www-authenticate": "DPoP error=\"use_dpop_nonce\"",
              "dpop-nonce": `n-${Math.random()}`.replace(".", "")
            }
          })
      }
      const r = yield* Effect.gen(function*() {
        const client = yield* Effect.flatMap(HttpClient.HttpClient, Dpop.withAccessToken(Redacted.make(TOKEN)))
        const response = yield* client.get(API)
        return { status: response.status, requests: yield* Effect.flatMap(TestKit.FakeServer, (s) => s.requests) }
      }).pipe(Effect.provide(TestKit.layer(script)))
      assert.strictEqual(r.status, 401)
      assert.strictEqual(r.requests.length, 2)
    }))

  it.effect("proofFor signs with the current key, for the method and URL, bound to the token", () =>
    Effect.gen(function*() {
      const key = yield* Dpop.generateKeyPair("Ed25519")
      const proof = yield* Dpop.proofFor({ method: "POST", url: `${API}#x`, accessToken: Redacted.make(TOKEN) }).pipe(
        Effect.provide(Dpop.layerKey(key))
      )
      const verified = yield* TestKit.verifyDpopProof(proof, { method: "POST", url: API, accessToken: TOKEN })
      assert.deepStrictEqual(Either.map(verified, (v) => v.jkt), Either.right(key.thumbprint))
    }))
})
