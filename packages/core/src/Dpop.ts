/**
 * DPoP (RFC 9449): sender-constrained tokens. A key pair the client holds
 * and the proofs it signs with it, on Web Crypto only (no Node APIs), so
 * access and refresh tokens bound to the key are useless to whoever copies
 * them without it.
 *
 * The private key is a `CryptoKey` that no property of a {@link KeyPair}
 * reaches: logs, events, spans, `inspect` and JSON show the algorithm and the
 * key's thumbprint (`jkt`) only. It leaves the process only as a
 * {@link StoredKey} (`Redacted`) inside the store that keeps the tokens it
 * binds (the token cache, a saved `DeviceSession`), and dies with them.
 *
 * @see https://www.rfc-editor.org/rfc/rfc9449.html
 * @since 0.1.0
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import { dual } from "effect/Function"
import * as Layer from "effect/Layer"
import type * as Option from "effect/Option"
import type * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import type { DpopProofRejected } from "./DeviceFlowError.js"
import * as internal from "./internal/dpop.js"
import * as client from "./internal/dpopClient.js"

/**
 * The type of {@link TypeId}.
 *
 * @since 0.1.0
 * @category models
 */
export type TypeId = typeof TypeId

/**
 * Marks a {@link KeyPair} made by this module.
 *
 * @since 0.1.0
 * @category models
 */
export const TypeId: unique symbol = internal.TypeId

/**
 * A JWS algorithm a key pair signs with: `ES256` (the default, everywhere)
 * or `EdDSA`/`Ed25519` (RFC 8037, an Ed25519 key; the two names differ only
 * in what the server lists).
 *
 * @since 0.1.0
 * @category models
 */
export type Algorithm = "ES256" | "EdDSA" | "Ed25519"

/**
 * The public half of a key as a JWK: what the proof's `jwk` header carries.
 *
 * @since 0.1.0
 * @category models
 */
export type PublicJwk =
  | { readonly kty: "EC"; readonly crv: string; readonly x: string; readonly y: string }
  | { readonly kty: "OKP"; readonly crv: string; readonly x: string }

/**
 * A DPoP key pair. Only its public parts are fields; the private key signs
 * through {@link proof} and is never shown; only the store of the tokens it
 * binds serialises it (see {@link StoredKey}).
 *
 * @since 0.1.0
 * @category models
 */
export interface KeyPair {
  readonly [TypeId]: TypeId
  readonly alg: Algorithm
  readonly publicJwk: PublicJwk
  /** RFC 7638 JWK SHA-256 thumbprint: the `jkt` a bound token's `cnf` names */
  readonly thumbprint: string
}

/**
 * A key pair as the store of the tokens it binds keeps it (RFC 9449 §5: the
 * refresh token is bound to it, so a new process needs the same key): the
 * algorithm, the thumbprint the tokens' `cnf.jkt` names, and the private key
 * as a JWK in JSON text, `Redacted` (encoded in clear: the store keeps it
 * where it keeps the refresh token).
 *
 * @since 0.1.0
 * @category schemas
 */
export const StoredKey = Schema.Struct({
  alg: Schema.Literal("ES256", "EdDSA", "Ed25519"),
  jkt: Schema.NonEmptyString,
  secret: Schema.Redacted(Schema.NonEmptyString)
})

/**
 * A key pair as its store keeps it; see {@link StoredKey}.
 *
 * @since 0.1.0
 * @category models
 */
export interface StoredKey extends Schema.Schema.Type<typeof StoredKey> {}

/**
 * A stored key pair back, ready to sign; none when the stored form is
 * damaged (not a private JWK of its algorithm, or not the key its `jkt` names).
 *
 * @since 0.1.0
 * @category constructors
 */
export const restore: (stored: StoredKey) => Effect.Effect<Option.Option<KeyPair>> = internal.fromStored

/**
 * What one proof is for.
 *
 * @since 0.1.0
 * @category models
 */
export interface ProofInput {
  /** the request's HTTP method */
  readonly method: string
  /** the request's URL; its query and fragment are left out of `htu` */
  readonly url: string
  /** the server's latest `DPoP-Nonce`, when it gave one (RFC 9449 §8) */
  readonly nonce?: string | undefined
  /** the access token a resource request presents: its hash becomes `ath` */
  readonly accessToken?: Redacted.Redacted<string> | string | undefined
}

/**
 * A new key pair on Web Crypto, ES256 unless told otherwise.
 *
 * @see https://www.rfc-editor.org/rfc/rfc9449.html#section-2
 * @since 0.1.0
 * @category constructors
 */
export const generateKeyPair: (alg?: Algorithm) => Effect.Effect<KeyPair> = internal.generateKeyPair

/**
 * The algorithm to use with a server, from its metadata's
 * `dpop_signing_alg_values_supported`: Ed25519 when listed, else ES256;
 * `undefined` when the server lists none devflow can sign with.
 *
 * @see https://www.rfc-editor.org/rfc/rfc9449.html#section-5.1
 * @since 0.1.0
 * @category utils
 */
export const chooseAlgorithm: (supported: ReadonlyArray<string> | undefined) => Algorithm | undefined =
  internal.chooseAlgorithm

/**
 * A fresh DPoP proof JWT: a new `jti`, `iat` from Effect's `Clock`, the
 * nonce when given and `ath` when an access token is given.
 *
 * @see https://www.rfc-editor.org/rfc/rfc9449.html#section-4.2
 * @since 0.1.0
 * @category constructors
 */
export const proof: (key: KeyPair, input: ProofInput) => Effect.Effect<string> = internal.proof

/**
 * The RFC 7638 SHA-256 thumbprint of a public JWK, base64url.
 *
 * @see https://www.rfc-editor.org/rfc/rfc7638.html#section-3
 * @since 0.1.0
 * @category utils
 */
export const thumbprint: (jwk: PublicJwk) => Effect.Effect<string> = internal.thumbprint

/**
 * The `ath` of an access token: base64url(SHA-256(token)).
 *
 * @see https://www.rfc-editor.org/rfc/rfc9449.html#section-4.2
 * @since 0.1.0
 * @category utils
 */
export const accessTokenHash: (accessToken: Redacted.Redacted<string> | string) => Effect.Effect<string> =
  internal.accessTokenHash

/**
 * The `htu` of a URL: the URL without its query and fragment.
 *
 * @see https://www.rfc-editor.org/rfc/rfc9449.html#section-4.2
 * @since 0.1.0
 * @category utils
 */
export const htu: (url: string) => string = internal.htu

/**
 * Whether a value is a {@link KeyPair} made by this module.
 *
 * @since 0.1.0
 * @category refinements
 */
export const isKeyPair: (u: unknown) => u is KeyPair = internal.isKeyPair

/**
 * The key a client signs its proofs with, and the nonces servers gave it
 * (RFC 9449 §8: one per server, by origin).
 *
 * @since 0.1.0
 * @category models
 */
export interface KeyHolder {
  readonly key: Effect.Effect<KeyPair>
  /** the latest nonce the server of `url` gave */
  readonly nonce: (url: string) => string | undefined
  /** remember a server's nonce (one that is not RFC 9449 §8.1 NQCHARs is ignored) */
  readonly setNonce: (url: string, nonce: string) => void
}

/**
 * The key DPoP requests use. By default one ES256 key for the process, made
 * on first use: a sign-in and the refreshes after it in one process share it
 * (RFC 9449 §5: the refresh token is bound to it). {@link layerKey} sets
 * another, e.g. an Ed25519 key or one kept with the tokens.
 *
 * @since 0.1.0
 * @category tags
 */
export class CurrentKey extends Context.Reference<CurrentKey>()("@devflow/core/Dpop/CurrentKey", {
  defaultValue: (): KeyHolder => client.processHolder()
}) {}

/**
 * A holder for `key`, with no nonces yet.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeHolder = (key: KeyPair): KeyHolder => client.makeHolder(Effect.succeed(key))

/**
 * Sign DPoP requests with `key`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerKey = (key: KeyPair): Layer.Layer<never> => Layer.succeed(CurrentKey, makeHolder(key))

/**
 * A proof for a resource request with {@link CurrentKey}: `ath` binds it to
 * the access token, and the server's last nonce is included. Send it as the
 * `DPoP` header next to `Authorization: DPoP <token>`.
 *
 * @see https://www.rfc-editor.org/rfc/rfc9449.html#section-7
 * @since 0.1.0
 * @category constructors
 */
export const proofFor = (input: {
  readonly method: string
  readonly url: string
  readonly accessToken: Redacted.Redacted<string> | string
}): Effect.Effect<string> => Effect.flatMap(CurrentKey, (holder) => client.proofFor(holder, input))

/**
 * An `HttpClient` whose requests present a DPoP-bound access token: each
 * carries `Authorization: DPoP <token>` and a fresh proof with {@link CurrentKey};
 * a resource server's `use_dpop_nonce` (HTTP 401, `DPoP-Nonce`) gets one
 * retry with its nonce.
 *
 * @see https://www.rfc-editor.org/rfc/rfc9449.html#section-7
 * @since 0.1.0
 * @category combinators
 */
export const withAccessToken: {
  (
    accessToken: Redacted.Redacted<string>
  ): <E, R>(self: HttpClient.HttpClient.With<E, R>) => Effect.Effect<HttpClient.HttpClient.With<E, R>>
  <E, R>(
    self: HttpClient.HttpClient.With<E, R>,
    accessToken: Redacted.Redacted<string>
  ): Effect.Effect<HttpClient.HttpClient.With<E, R>>
} = dual(
  2,
  <E, R>(self: HttpClient.HttpClient.With<E, R>, accessToken: Redacted.Redacted<string>) =>
    Effect.map(CurrentKey, (holder) => client.wrap(self, holder, accessToken))
)

/**
 * Whether a token request failed because the server refused the DPoP proof
 * (`invalid_dpop_proof`, RFC 9449 §5.2); its `errorDescription` is the server's hint.
 *
 * @since 0.1.0
 * @category refinements
 */
export const isProofRejected = (u: unknown): u is DpopProofRejected =>
  typeof u === "object" && u !== null && (u as { _tag?: unknown })._tag === "DpopProofRejected"
