/**
 * Checking a DPoP proof the way a server does (RFC 9449 §4.3), for the
 * TestKit's fake server and for tests: users test their own code against it.
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Encoding from "effect/Encoding"
import type * as Dpop from "../Dpop.js"
import { accessTokenHash, htu, thumbprint, webCrypto } from "./dpop.js"

/** @internal */
export interface Expected {
  readonly method: string
  readonly url: string
  /** the nonce the proof must carry, when the server demands one */
  readonly nonce?: string | undefined
  /** the access token the proof must be bound to (`ath`) */
  readonly accessToken?: string | undefined
  /** the verifier's clock, in seconds */
  readonly now: number
  /** how far `iat` may be from `now`, in seconds (default 300) */
  readonly leeway?: number | undefined
}

/** @internal */
export interface Verified {
  readonly header: Readonly<Record<string, unknown>>
  readonly claims: Readonly<Record<string, unknown>>
  /** the RFC 7638 thumbprint of the proof's key */
  readonly jkt: string
}

const decoder = new TextDecoder()
const encoder = new TextEncoder()

const part = (text: string | undefined): Record<string, unknown> | undefined => {
  if (text === undefined) return undefined
  const bytes = Encoding.decodeBase64Url(text)
  if (Either.isLeft(bytes)) return undefined
  try {
    const value: unknown = JSON.parse(decoder.decode(bytes.right))
    return typeof value === "object" && value !== null && !Array.isArray(value)
      ? value as Record<string, unknown>
      : undefined
  } catch {
    return undefined
  }
}

const algorithms: Record<
  string,
  { readonly key: EcKeyImportParams | Algorithm; readonly verify: EcdsaParams | Algorithm }
> = {
  ES256: { key: { name: "ECDSA", namedCurve: "P-256" }, verify: { name: "ECDSA", hash: "SHA-256" } },
  EdDSA: { key: { name: "Ed25519" }, verify: { name: "Ed25519" } },
  Ed25519: { key: { name: "Ed25519" }, verify: { name: "Ed25519" } }
}

/**
 * The proof's header, claims and key thumbprint, or why a server refuses it.
 * @internal
 */
export const verify = (jwt: string, expected: Expected): Effect.Effect<Either.Either<Verified, string>> =>
  Effect.gen(function*() {
    const parts = jwt.split(".")
    if (parts.length !== 3) return Either.left("is not a JWS compact serialization")
    const header = part(parts[0])
    const claims = part(parts[1])
    if (header === undefined || claims === undefined) {
      return Either.left("has a header or payload that is not a JSON object")
    }
    // RFC 9449 §4.3 (4): typ is dpop+jwt
    if (header.typ !== "dpop+jwt") return Either.left("has no typ dpop+jwt")
    const alg = typeof header.alg === "string" ? algorithms[header.alg] : undefined
    // RFC 9449 §4.3 (5): an asymmetric algorithm, never none or MAC
    if (alg === undefined) return Either.left(`has an unsupported alg ${JSON.stringify(header.alg)}`)
    const jwk = header.jwk as Record<string, unknown> | undefined
    if (typeof jwk !== "object" || jwk === null) return Either.left("has no jwk header")
    // RFC 9449 §4.3 (7): the jwk header does not contain a private key
    if ("d" in jwk) return Either.left("carries a private key in its jwk header")
    const key = yield* webCrypto(() =>
      globalThis.crypto.subtle.importKey("jwk", jwk as JsonWebKey, alg.key, true, ["verify"]).catch(() => undefined)
    )
    if (key === undefined) return Either.left("has a jwk header that is not a usable public key")
    const signature = Encoding.decodeBase64Url(parts[2]!)
    if (Either.isLeft(signature)) return Either.left("has a signature that is not base64url")
    const valid = yield* webCrypto(() =>
      globalThis.crypto.subtle.verify(
        alg.verify,
        key,
        new Uint8Array(signature.right),
        encoder.encode(`${parts[0]}.${parts[1]}`)
      )
    )
    // RFC 9449 §4.3 (6): the signature verifies with the public key in the jwk header
    if (!valid) return Either.left("has a signature that does not verify with its jwk")
    // RFC 9449 §4.3 (8)–(11)
    if (typeof claims.jti !== "string" || claims.jti === "") return Either.left("has no jti")
    if (claims.htm !== expected.method.toUpperCase()) return Either.left("has an htm that is not the request's method")
    if (claims.htu !== htu(expected.url)) return Either.left("has an htu that is not the request's URI")
    if (typeof claims.iat !== "number" || Math.abs(claims.iat - expected.now) > (expected.leeway ?? 300)) {
      return Either.left("has an iat outside the acceptable window")
    }
    if (expected.nonce !== undefined && claims.nonce !== expected.nonce) {
      return Either.left("has not the server's nonce")
    }
    if (expected.accessToken !== undefined && claims.ath !== (yield* accessTokenHash(expected.accessToken))) {
      return Either.left("has an ath that is not the hash of the access token")
    }
    const jkt = yield* thumbprint(jwk as unknown as Dpop.PublicJwk)
    return Either.right({ header, claims, jkt })
  })
