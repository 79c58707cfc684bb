/** @internal */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Encoding from "effect/Encoding"
import { NodeInspectSymbol } from "effect/Inspectable"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import type * as Dpop from "../Dpop.js"
import { randomId } from "./randomId.js"

/** @internal */
export const TypeId: Dpop.TypeId = Symbol.for("@devflow/core/Dpop/KeyPair") as Dpop.TypeId

// The private half is kept out of the object itself: no property, field or
// getter of a key pair can reach it, so no inspect, JSON, Equal or span can.
const privateKeys = new WeakMap<Dpop.KeyPair, CryptoKey>()

const encoder = new TextEncoder()

const subtle = (): SubtleCrypto => globalThis.crypto.subtle

// Web Crypto is real asynchronous work, outside Effect's Clock: a test that moves a
// TestClock while a proof is being signed would see time pass during it. Counted so
// that virtual-time drivers can wait for it (TestKit.awaitWebCrypto).
let inFlight = 0
let used = false

/** @internal */
export const webCryptoInFlight = (): number => inFlight

/** @internal */
export const webCryptoUsed = (): boolean => used

/** @internal */
export const webCrypto = <A>(f: () => Promise<A>): Effect.Effect<A> => Effect.promise(() => counted(f))

const counted = <A>(f: () => Promise<A>): Promise<A> => {
  inFlight++
  used = true
  return f().finally(() => inFlight--)
}

const keyAlgorithm = (alg: Dpop.Algorithm): EcKeyGenParams | Algorithm =>
  alg === "ES256" ? { name: "ECDSA", namedCurve: "P-256" } : { name: "Ed25519" }

const signAlgorithm = (alg: Dpop.Algorithm): EcdsaParams | Algorithm =>
  alg === "ES256" ? { name: "ECDSA", hash: "SHA-256" } : { name: "Ed25519" }

class KeyPairImpl implements Dpop.KeyPair {
  readonly [TypeId]: Dpop.TypeId = TypeId
  constructor(
    readonly alg: Dpop.Algorithm,
    readonly publicJwk: Dpop.PublicJwk,
    readonly thumbprint: string
  ) {}
  toJSON() {
    return { _id: "DpopKeyPair", alg: this.alg, jkt: this.thumbprint }
  }
  toString() {
    return `DpopKeyPair(${this.alg}, jkt=${this.thumbprint})`
  }
  [NodeInspectSymbol]() {
    return this.toJSON()
  }
}

/** @internal */
export const isKeyPair = (u: unknown): u is Dpop.KeyPair => typeof u === "object" && u !== null && TypeId in u

const publicJwkOf = (jwk: JsonWebKey): Dpop.PublicJwk =>
  // RFC 9449 §4.2: the jwk header "MUST NOT contain a private key"; only the public members are copied
  jwk.kty === "EC"
    ? { kty: "EC", crv: jwk.crv!, x: jwk.x!, y: jwk.y! }
    : { kty: "OKP", crv: jwk.crv!, x: jwk.x! }

/** @internal */
export const thumbprint = (jwk: Dpop.PublicJwk): Effect.Effect<string> => webCrypto(() => thumbprintOf(jwk))

const thumbprintOf = (jwk: Dpop.PublicJwk): Promise<string> =>
  // RFC 7638 §3.2: the required members only, in lexicographic order, no whitespace
  sha256Of(
    jwk.kty === "EC"
      ? JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y })
      : JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x })
  )

const sha256Of = (text: string): Promise<string> =>
  subtle().digest("SHA-256", encoder.encode(text)).then((digest) => Encoding.encodeBase64Url(new Uint8Array(digest)))

const sha256 = (text: string): Effect.Effect<string> => webCrypto(() => sha256Of(text))

/** @internal */
export const generateKeyPair = (alg: Dpop.Algorithm = "ES256"): Effect.Effect<Dpop.KeyPair> =>
  // one step of Web Crypto work (key, public JWK, thumbprint), not three: a sign-in per key pair
  // (B2's DPoP rows) pays each step's fiber round trip
  webCrypto(async () => {
    // extractable only so that the store keeping the tokens can keep their key (toStored); no
    // property of the key pair reaches the private key, so nothing else can export it
    const pair = await subtle().generateKey(keyAlgorithm(alg), true, ["sign", "verify"]) as CryptoKeyPair
    return keyPairOf(alg, pair.privateKey, await subtle().exportKey("jwk", pair.publicKey))
  })

const keyPairOf = async (alg: Dpop.Algorithm, privateKey: CryptoKey, jwk: JsonWebKey): Promise<Dpop.KeyPair> => {
  const publicJwk = publicJwkOf(jwk)
  const key = new KeyPairImpl(alg, publicJwk, await thumbprintOf(publicJwk))
  privateKeys.set(key, privateKey)
  return key
}

/**
 * The key pair as the store keeping its tokens writes it: the private JWK as
 * JSON text, `Redacted`. Dies for a key pair not made by this module.
 * @internal
 */
export const toStored = (key: Dpop.KeyPair): Effect.Effect<Dpop.StoredKey> =>
  Effect.suspend(() => {
    const privateKey = privateKeys.get(key)
    if (privateKey === undefined) return Effect.dieMessage("a DPoP key pair not made by Dpop.generateKeyPair")
    return Effect.map(webCrypto(() => subtle().exportKey("jwk", privateKey)), (jwk) => ({
      alg: key.alg,
      jkt: key.thumbprint,
      secret: Redacted.make(JSON.stringify(jwk))
    }))
  })

const importable = (alg: Dpop.Algorithm, jwk: JsonWebKey): boolean =>
  alg === "ES256"
    ? jwk.kty === "EC" && jwk.crv === "P-256" && typeof jwk.d === "string"
    : jwk.kty === "OKP" && jwk.crv === "Ed25519" && typeof jwk.d === "string"

/**
 * A stored key pair back, or none when the stored form is damaged: not a
 * private JWK of its algorithm, or not the key its thumbprint names.
 * @internal
 */
export const fromStored = (stored: Dpop.StoredKey): Effect.Effect<Option.Option<Dpop.KeyPair>> =>
  Effect.gen(function*() {
    let jwk: JsonWebKey
    try {
      jwk = JSON.parse(Redacted.value(stored.secret)) as JsonWebKey
    } catch {
      return Option.none()
    }
    if (typeof jwk !== "object" || jwk === null || !importable(stored.alg, jwk)) return Option.none()
    const { d: _, ...publicPart } = jwk
    const privateKey = yield* Effect.option(
      Effect.tryPromise(() => counted(() => subtle().importKey("jwk", jwk, keyAlgorithm(stored.alg), true, ["sign"])))
    )
    if (Option.isNone(privateKey)) return Option.none()
    const key = yield* webCrypto(() => keyPairOf(stored.alg, privateKey.value, publicPart))
    // the thumbprint names the key the tokens are bound to: another key would only be refused
    return key.thumbprint === stored.jkt ? Option.some(key) : Option.none()
  })

/** @internal */
export const chooseAlgorithm = (supported: ReadonlyArray<string> | undefined): Dpop.Algorithm | undefined => {
  // RFC 9449 §5.1: dpop_signing_alg_values_supported; a server that says nothing gets ES256
  if (supported === undefined) return "ES256"
  for (const alg of ["EdDSA", "Ed25519", "ES256"] as const) if (supported.includes(alg)) return alg
  return undefined
}

/** @internal */
export const htu = (url: string): string => {
  const parsed = new URL(url)
  // RFC 9449 §4.2: htu is "The HTTP target URI ... without query and fragment parts"
  parsed.search = ""
  parsed.hash = ""
  return parsed.href
}

/** @internal */
export const accessTokenHash = (accessToken: Redacted.Redacted<string> | string): Effect.Effect<string> =>
  // RFC 9449 §4.2: ath is the base64url SHA-256 of the ASCII access token
  sha256(typeof accessToken === "string" ? accessToken : Redacted.value(accessToken))

const json = (value: unknown): string => Encoding.encodeBase64Url(encoder.encode(JSON.stringify(value)))

// the same for every proof of a key: encoded once
const headers = new WeakMap<Dpop.KeyPair, string>()

const headerOf = (key: Dpop.KeyPair): string => {
  let header = headers.get(key)
  if (header === undefined) {
    // RFC 9449 §4.2: typ, alg and the public jwk in the header
    header = json({ typ: "dpop+jwt", alg: key.alg, jwk: key.publicJwk })
    headers.set(key, header)
  }
  return header
}

/** @internal */
export const proof = (key: Dpop.KeyPair, input: Dpop.ProofInput): Effect.Effect<string> =>
  Effect.gen(function*() {
    const privateKey = privateKeys.get(key)
    if (privateKey === undefined) return yield* Effect.dieMessage("a DPoP key pair not made by Dpop.generateKeyPair")
    const now = yield* Clock.currentTimeMillis
    const claims: Record<string, string | number> = {
      // RFC 9449 §4.2: jti unique per proof (128 random bits), htm, htu, iat
      jti: randomId(),
      htm: input.method.toUpperCase(),
      htu: htu(input.url),
      iat: Math.floor(now / 1000)
    }
    if (input.nonce !== undefined) claims.nonce = input.nonce
    if (input.accessToken !== undefined) claims.ath = yield* accessTokenHash(input.accessToken)
    const signingInput = `${headerOf(key)}.${json(claims)}`
    const signature = yield* webCrypto(() =>
      subtle().sign(signAlgorithm(key.alg), privateKey, encoder.encode(signingInput))
    )
    // Web Crypto's ECDSA signature is already r || s, the JWS form (RFC 7518 §3.4)
    return `${signingInput}.${Encoding.encodeBase64Url(new Uint8Array(signature))}`
  })
