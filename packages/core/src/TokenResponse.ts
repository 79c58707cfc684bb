/**
 * RFC 6749 §5.1 successful token responses, and the authentication result
 * devflow builds from them.
 *
 * @since 0.1.0
 */
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import { InvalidResponse } from "./DeviceFlowError.js"
import { decodeWire, NonEmpty, Seconds, SecretString } from "./internal/decode.js"
import { refusesTokenType } from "./internal/dpopGrant.js"
import { issuedFor, readClaims } from "./internal/jwt.js"
import { normaliseTokenResponse } from "./internal/wire.js"
import * as ScopeForm from "./ScopeForm.js"

/**
 * RFC 6749 §5.1. Tokens are decoded straight into `Redacted`; unknown fields
 * are kept in {@link AuthenticationResult.extra}.
 *
 * @since 0.1.0
 * @category schemas
 */
export const TokenResponse = Schema.Struct({
  access_token: SecretString,
  token_type: NonEmpty,
  expires_in: Schema.optional(Seconds),
  refresh_token: Schema.optional(SecretString),
  scope: Schema.optional(Schema.String),
  id_token: Schema.optional(SecretString)
})

/**
 * A successful token response (RFC 6749 §5.1) as decoded.
 *
 * @since 0.1.0
 * @category models
 */
export type TokenResponse = typeof TokenResponse.Type

/**
 * The tokens a completed sign-in (or refresh) yields.
 *
 * @since 0.1.0
 * @category models
 */
export interface AuthenticationResult {
  readonly accessToken: Redacted.Redacted<string>
  /** as the server spelled it, e.g. `Bearer` or GitHub's `bearer` */
  readonly tokenType: string
  /** absolute expiry, measured from when the request was sent; none when the server gave no `expires_in` */
  readonly expiresOn: Option.Option<DateTime.Utc>
  /** granted scopes: the server's `scope`, or the requested ones when it omits it (RFC 6749 §5.1), canonical and sorted (see `ScopeForm`) */
  readonly scopes: ReadonlyArray<string>
  readonly refreshToken: Option.Option<Redacted.Redacted<string>>
  readonly idToken: Option.Option<Redacted.Redacted<string>>
  /** the id_token's claims, read without signature verification (received over TLS from the token endpoint) */
  readonly idTokenClaims: Option.Option<Readonly<Record<string, unknown>>>
  /** fields the server sent beyond RFC 6749 §5.1; at any depth, a value named like a secret is `Redacted` whole (numbers excepted) */
  readonly extra: Readonly<Record<string, unknown>>
}

const known = new Set(["access_token", "token_type", "expires_in", "refresh_token", "scope", "id_token"])
const secretLike = /token|secret|password|code|key|credential|assertion|cookie/i
// Deeper than this, a value is hidden whole rather than searched: its shape is the server's to choose.
const MAX_EXTRA_DEPTH = 16

// A server's own fields may nest a credential anywhere (Slack's authed_user.access_token): a name that
// looks like one hides its whole value, except a number (a lifetime such as refresh_token_expires_in).
const redactField = (name: string, value: unknown, depth: number): unknown =>
  secretLike.test(name) && typeof value !== "number" && typeof value !== "boolean" && value !== null
    ? Redacted.make(value)
    : redactNested(value, depth)

const redactNested = (value: unknown, depth: number): unknown => {
  if (typeof value !== "object" || value === null) return value
  if (depth >= MAX_EXTRA_DEPTH) return Redacted.make(value)
  if (Array.isArray(value)) return value.map((item) => redactNested(item, depth + 1))
  const out: Record<string, unknown> = {}
  for (const [name, field] of Object.entries(value)) out[name] = redactField(name, field, depth + 1)
  return out
}
const secretFields: ReadonlySet<string> = new Set(["access_token", "refresh_token", "id_token"])

/**
 * Validate a successful token response body.
 *
 * `sentAt` is when the request was sent, so that `expiresOn` errs early.
 * Pure: the result is an `Either`, which is also an Effect.
 *
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-5.1
 * @since 0.1.0
 * @category requests
 */
export const process = (
  context: { readonly endpoint: string; readonly status: number },
  body: Readonly<Record<string, unknown>>,
  requestedScopes: ReadonlyArray<string>,
  sentAt: DateTime.Utc,
  /** how the server spells scopes; the result's `scopes` are in this form's canonical spelling */
  scopeForm: ScopeForm.ScopeForm = "oauth",
  /** who an id_token must be for, and from (`ClientConfig.issuer`): without it, no id_token check beyond its form */
  client?: {
    readonly clientId: string
    readonly issuer?: string | undefined
    /** the client's DPoP setting: `"required"` refuses a token that is not DPoP-bound */
    readonly dpop?: true | "required" | undefined
  } | undefined
): Either.Either<AuthenticationResult, InvalidResponse> => {
  const normalised = normaliseTokenResponse(body)
  const decodedOr = decodeWire(TokenResponse, secretFields, context)(normalised)
  if (Either.isLeft(decodedOr)) return Either.left(decodedOr.left)
  const decoded = decodedOr.right
  const refuse = (field: string, reason: string) => Either.left(new InvalidResponse({ ...context, field, reason }))
  const unbound = refusesTokenType(client?.dpop, decoded.token_type)
  if (unbound !== undefined) return refuse("token_type", unbound)
  let idTokenClaims: Option.Option<Readonly<Record<string, unknown>>> = Option.none()
  if (decoded.id_token !== undefined) {
    const claims = readClaims(Redacted.value(decoded.id_token))
    if (Either.isLeft(claims)) return refuse("id_token", claims.left)
    const refused = client === undefined ? undefined : issuedFor(claims.right, client)
    if (refused !== undefined) return refuse("id_token", refused)
    idTokenClaims = Option.some(claims.right)
  }
  const extra: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(normalised)) {
    if (known.has(key)) continue
    extra[key] = redactField(key, value, 0)
  }
  return Either.right({
    accessToken: decoded.access_token,
    tokenType: decoded.token_type,
    expiresOn: decoded.expires_in === undefined
      ? Option.none()
      : Option.some(DateTime.addDuration(sentAt, Duration.seconds(decoded.expires_in))),
    // the token endpoint is on the authority's sign-in host: it says which cloud's Graph a short scope means
    scopes: ScopeForm.granted(scopeForm, requestedScopes, decoded.scope, context.endpoint),
    refreshToken: Option.fromNullable(decoded.refresh_token),
    idToken: Option.fromNullable(decoded.id_token),
    idTokenClaims,
    extra
  })
}
