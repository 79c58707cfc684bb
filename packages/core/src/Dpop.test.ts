import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Encoding from "effect/Encoding"
import * as fc from "effect/FastCheck"
import { format, NodeInspectSymbol } from "effect/Inspectable"
import * as Redacted from "effect/Redacted"
import * as TestClock from "effect/TestClock"
import * as Dpop from "./Dpop.js"
import { verify } from "./internal/dpopVerify.js"

const algorithms: ReadonlyArray<Dpop.Algorithm> = ["ES256", "EdDSA", "Ed25519"]

const request = fc.record({
  alg: fc.constantFrom(...algorithms),
  method: fc.constantFrom("GET", "POST", "put", "DELETE", "patch"),
  url: fc.webUrl({ withQueryParameters: true, withFragments: true }),
  // RFC 6750 §2.1 b64token characters
  accessToken: fc.option(fc.stringMatching(/^[\w.~+/-]{1,60}=*$/), { nil: undefined }),
  // RFC 9449 §8.1: NQCHAR
  nonce: fc.option(fc.stringMatching(/^[\x21\x23-\x5b\x5d-\x7e]{1,40}$/), { nil: undefined })
})

const partOf = (jwt: string, index: number): Record<string, any> =>
  JSON.parse(Either.getOrThrow(Encoding.decodeBase64UrlString(jwt.split(".")[index]!)))

const claimsOf = (jwt: string) => partOf(jwt, 1)

describe("Dpop proofs (RFC 9449 §4.2)", () => {
  it.effect.prop(
    "every proof verifies against its key's public JWK, for its method and URL, with the nonce and ath asked for",
    [request],
    ([r]) =>
      Effect.gen(function*() {
        const key = yield* Dpop.generateKeyPair(r.alg)
        const proof = yield* Dpop.proof(key, r)
        const verified = yield* verify(proof, { ...r, now: 0 })
        assert.deepStrictEqual(Either.map(verified, (v) => v.jkt), Either.right(key.thumbprint))
      }),
    { fastCheck: { numRuns: 60 } }
  )

  it.effect.prop(
    "htu never carries a query or fragment, and names the same resource",
    [request],
    ([r]) =>
      Effect.gen(function*() {
        const key = yield* Dpop.generateKeyPair("ES256")
        const htu = claimsOf(yield* Dpop.proof(key, r)).htu as string
        assert.isFalse(htu.includes("?") || htu.includes("#"), htu)
        const url = new URL(r.url)
        assert.strictEqual(htu, `${url.origin}${url.pathname}`)
      }),
    { fastCheck: { numRuns: 100 } }
  )

  it.effect.prop(
    "ath is the base64url SHA-256 of the access token, and absent without one",
    [request],
    ([r]) =>
      Effect.gen(function*() {
        const key = yield* Dpop.generateKeyPair("ES256")
        const claims = claimsOf(
          yield* Dpop.proof(key, { ...r, accessToken: r.accessToken && Redacted.make(r.accessToken) })
        )
        if (r.accessToken === undefined) return assert.isFalse("ath" in claims)
        const digest = new Uint8Array(
          yield* Effect.promise(() => crypto.subtle.digest("SHA-256", new TextEncoder().encode(r.accessToken!)))
        )
        assert.strictEqual(claims.ath, Encoding.encodeBase64Url(digest))
      }),
    { fastCheck: { numRuns: 60 } }
  )

  it.effect("jti never repeats: 2,000 proofs of one key for one request, all different", () =>
    Effect.gen(function*() {
      const key = yield* Dpop.generateKeyPair()
      const proofs = yield* Effect.forEach(
        Array.from({ length: 2_000 }),
        () => Dpop.proof(key, { method: "POST", url: "https://as.example/token" }),
        { concurrency: 16 }
      )
      assert.strictEqual(new Set(proofs.map((p) => claimsOf(p).jti)).size, 2_000)
    }))

  it.effect("iat is Effect's clock in seconds; the header carries typ, alg and the public jwk only", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(1_700_000_000_999)
      const key = yield* Dpop.generateKeyPair()
      const proof = yield* Dpop.proof(key, { method: "post", url: "https://as.example/token?x=1#y", nonce: "n-1" })
      const claims = claimsOf(proof)
      assert.strictEqual(claims.iat, 1_700_000_000)
      assert.strictEqual(claims.htm, "POST")
      assert.strictEqual(claims.nonce, "n-1")
      const header = partOf(proof, 0)
      assert.deepStrictEqual(Object.keys(header), ["typ", "alg", "jwk"])
      assert.deepStrictEqual(Object.keys(header.jwk), ["kty", "crv", "x", "y"])
      assert.strictEqual(header.typ, "dpop+jwt")
    }))

  it.effect("a proof for another method, URL, nonce or token is refused by the verifier", () =>
    Effect.gen(function*() {
      const key = yield* Dpop.generateKeyPair()
      const proof = yield* Dpop.proof(key, {
        method: "POST",
        url: "https://as.example/token",
        nonce: "a",
        accessToken: "t"
      })
      const base = { method: "POST", url: "https://as.example/token", nonce: "a", accessToken: "t", now: 0 }
      assert.isTrue(Either.isRight(yield* verify(proof, base)))
      for (
        const wrong of [{ method: "GET" }, { url: "https://as.example/other" }, { nonce: "b" }, { accessToken: "u" }]
      ) {
        assert.isTrue(Either.isLeft(yield* verify(proof, { ...base, ...wrong })), JSON.stringify(wrong))
      }
      const [h, p, s] = proof.split(".")
      assert.isTrue(Either.isLeft(yield* verify(`${h}.${p}.${s!.slice(0, -4)}AAAA`, base)))
    }))
})

describe("Dpop key pairs", () => {
  it.effect("the RFC 7638 thumbprint of RFC 9449 §4.1's example key is the jkt of its §6.1 example", () =>
    Effect.gen(function*() {
      const jkt = yield* Dpop.thumbprint({
        kty: "EC",
        crv: "P-256",
        x: "l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs",
        y: "9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA"
      })
      assert.strictEqual(jkt, "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I")
    }))

  it.effect("the private key shows nowhere: JSON, String, inspect and own properties name the algorithm and jkt only", () =>
    Effect.gen(function*() {
      for (const alg of algorithms) {
        const key = yield* Dpop.generateKeyPair(alg)
        const shown = [JSON.stringify(key), String(key), format(key), JSON.stringify((key as any)[NodeInspectSymbol]())]
        for (const text of shown) {
          assert.include(text, key.thumbprint)
          assert.notInclude(text, "\"d\"")
          assert.notInclude(text, key.publicJwk.x)
        }
        for (const value of Reflect.ownKeys(key).map((k) => (key as any)[k])) {
          assert.isFalse(
            typeof value === "object" && value !== null && value.type === "private",
            "a private key as a property"
          )
        }
      }
    }))

  it("the algorithm follows the server's dpop_signing_alg_values_supported (RFC 9449 §5.1)", () => {
    assert.strictEqual(Dpop.chooseAlgorithm(undefined), "ES256")
    assert.strictEqual(Dpop.chooseAlgorithm(["ES256"]), "ES256")
    assert.strictEqual(Dpop.chooseAlgorithm(["ES256", "EdDSA"]), "EdDSA")
    assert.strictEqual(Dpop.chooseAlgorithm(["Ed25519", "PS256"]), "Ed25519")
    assert.strictEqual(Dpop.chooseAlgorithm(["RS256"]), undefined)
  })
})
