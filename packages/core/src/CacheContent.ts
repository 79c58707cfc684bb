/**
 * What a token cache holds, as one versioned, schema-described value
 * ({@link CacheFile} on disk, {@link CacheContent} in memory): accounts,
 * access tokens keyed by authority + client id + account + scopes, one
 * refresh token, one id_token and one DPoP key per authority + client id +
 * account; the pure queries and changes on it; and its JSON form. The port
 * that keeps it is `TokenCache`.
 *
 * Secrets are `Redacted` in memory. The encoded form ({@link toJson}) contains
 * them in clear, as any token cache must: store it like a password.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as ParseResult from "effect/ParseResult"
import * as Predicate from "effect/Predicate"
import * as Schema from "effect/Schema"
import { Account } from "./Account.js"
import * as Dpop from "./Dpop.js"
import * as internal from "./internal/cacheContent.js"
import type * as ScopeForm from "./ScopeForm.js"
import { CacheCorrupt, CacheVersionUnsupported } from "./TokenCache.js"

// ---------------------------------------------------------------------------
// content
// ---------------------------------------------------------------------------

/**
 * The newest cache format this version of devflow reads and writes.
 *
 * @since 0.1.0
 * @category constants
 */
export const CURRENT_VERSION: 1 = internal.CURRENT_VERSION

const Epoch = Schema.Number.pipe(Schema.finite())
const Secret = Schema.Redacted(Schema.NonEmptyString)

/**
 * An access token as cached: for whom (authority, client, account), for what
 * (granted scopes, sorted) and until when (`expiresOn`, epoch ms; absent
 * when the server sent no `expires_in`).
 *
 * @since 0.1.0
 * @category schemas
 */
export const AccessTokenEntry = Schema.Struct({
  authority: Schema.String,
  clientId: Schema.String,
  accountId: Schema.String,
  scopes: Schema.Array(Schema.String),
  secret: Secret,
  tokenType: Schema.String,
  expiresOn: Schema.optionalWith(Epoch, { exact: true }),
  cachedAt: Epoch
})

/**
 * An access token as the cache keeps it.
 *
 * @since 0.1.0
 * @category models
 */
export type AccessTokenEntry = internal.AccessTokenEntry

/**
 * A refresh token or an id_token as cached: one of each per authority,
 * client and account.
 *
 * @since 0.1.0
 * @category schemas
 */
export const CredentialEntry = Schema.Struct({
  authority: Schema.String,
  clientId: Schema.String,
  accountId: Schema.String,
  secret: Secret,
  cachedAt: Epoch
})

/**
 * A refresh token or id_token as the cache keeps it.
 *
 * @since 0.1.0
 * @category models
 */
export type CredentialEntry = internal.CredentialEntry

/**
 * A client's secret kept with the tokens it refreshes, or a client
 * registration (AWS IAM Identity Center) reused until `expiresOn`.
 *
 * @since 0.1.0
 * @category schemas
 */
export const ClientEntry = Schema.Struct({
  tokenEndpoint: Schema.String,
  clientId: Schema.String,
  secret: Secret,
  authMethod: Schema.Literal("client_secret_post", "client_secret_basic"),
  expiresOn: Schema.optionalWith(Epoch, { exact: true }),
  registration: Schema.optionalWith(Schema.String, { exact: true }),
  cachedAt: Epoch
})

/**
 * A kept client secret or client registration.
 *
 * @since 0.1.0
 * @category models
 */
export type ClientEntry = internal.ClientEntry

/**
 * The DPoP key pair an account's tokens are bound to (RFC 9449 §5), one per
 * authority, client and account: kept with the refresh token it proves, and
 * removed with the account. `secret` is the private key (a JWK in JSON text).
 *
 * @since 0.1.0
 * @category schemas
 */
export const DpopKeyEntry = Schema.Struct({
  authority: Schema.String,
  clientId: Schema.String,
  accountId: Schema.String,
  ...Dpop.StoredKey.fields,
  cachedAt: Epoch
})

/**
 * A DPoP key pair as the cache keeps it.
 *
 * @since 0.1.0
 * @category models
 */
export type DpopKeyEntry = internal.DpopKeyEntry

/**
 * The cache's stored form, version 1: four lists, and the stored clients and
 * DPoP keys (absent in files written before they were kept, which still read). This is what
 * `@devflow/cache-file` writes as JSON (secrets in clear).
 *
 * @since 0.1.0
 * @category schemas
 */
export const CacheFile = Schema.Struct({
  version: Schema.Literal(CURRENT_VERSION),
  accounts: Schema.Array(Account),
  accessTokens: Schema.Array(AccessTokenEntry),
  refreshTokens: Schema.Array(CredentialEntry),
  idTokens: Schema.Array(CredentialEntry),
  clients: Schema.optionalWith(Schema.Array(ClientEntry), { default: () => [] }),
  dpopKeys: Schema.optionalWith(Schema.Array(DpopKeyEntry), { default: () => [] })
})

/**
 * The cache's stored form.
 *
 * @since 0.1.0
 * @category models
 */
export type CacheFile = typeof CacheFile.Type

/**
 * The cache's content in memory: each section keyed by the entry's identity.
 * Immutable: every change makes a new value.
 *
 * @since 0.1.0
 * @category models
 */
export type CacheContent = internal.CacheContent

/**
 * A cache with nothing in it.
 *
 * @since 0.1.0
 * @category constructors
 */
export const empty: CacheContent = internal.empty

/**
 * The in-memory content of a stored form.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromFile = (
  file: Omit<CacheFile, "clients" | "dpopKeys"> & {
    readonly clients?: CacheFile["clients"] | undefined
    readonly dpopKeys?: CacheFile["dpopKeys"] | undefined
  }
): CacheContent => ({
  version: CURRENT_VERSION,
  accounts: new Map(file.accounts.map((a) => [internal.accountKey(a.authority, a.id), a])),
  accessTokens: new Map(file.accessTokens.map((e) => {
    // Re-normalised on the way in, so a hand-edited file still finds its tokens.
    const entry = { ...e, scopes: internal.normaliseScopes(e.scopes) }
    return [internal.accessTokenKey(entry), entry]
  })),
  refreshTokens: new Map(
    file.refreshTokens.map((e) => [internal.credentialKey(e.authority, e.clientId, e.accountId), e])
  ),
  idTokens: new Map(file.idTokens.map((e) => [internal.credentialKey(e.authority, e.clientId, e.accountId), e])),
  clients: new Map((file.clients ?? []).map((e) => [internal.clientKey(e.tokenEndpoint, e.clientId), e])),
  dpopKeys: new Map((file.dpopKeys ?? []).map((e) => [internal.credentialKey(e.authority, e.clientId, e.accountId), e]))
})

/**
 * The stored form of a content.
 *
 * @since 0.1.0
 * @category utils
 */
export const toFile = (content: CacheContent): CacheFile => ({
  version: CURRENT_VERSION,
  accounts: [...content.accounts.values()],
  accessTokens: [...content.accessTokens.values()],
  refreshTokens: [...content.refreshTokens.values()],
  idTokens: [...content.idTokens.values()],
  clients: [...content.clients.values()],
  dpopKeys: [...content.dpopKeys.values()]
})

// ---------------------------------------------------------------------------
// encoding
// ---------------------------------------------------------------------------

const decodeFile = Schema.decodeUnknownEither(CacheFile, { errors: "first", onExcessProperty: "ignore" })
const encodeFile = Schema.encodeSync(CacheFile)

/**
 * Decode stored content. The version is checked first, so a newer format is
 * refused as such rather than reported as corrupt.
 *
 * @since 0.1.0
 * @category utils
 */
export const decode = (
  stored: unknown,
  location: string
): Effect.Effect<CacheContent, CacheCorrupt | CacheVersionUnsupported> => {
  const corrupt = (reason: string) => Effect.fail(new CacheCorrupt({ location, reason }))
  if (!Predicate.isRecord(stored)) {
    return corrupt(`is ${Array.isArray(stored) ? "an array" : typeof stored}, not an object`)
  }
  const version = stored.version
  if (typeof version !== "number" || !Number.isInteger(version) || version < 1) {
    return corrupt("has no valid \"version\"")
  }
  if (version > CURRENT_VERSION) {
    return Effect.fail(new CacheVersionUnsupported({ location, version, supported: CURRENT_VERSION }))
  }
  const decoded = decodeFile(stored)
  if (decoded._tag === "Right") return Effect.succeed(fromFile(decoded.right))
  const issue = ParseResult.ArrayFormatter.formatErrorSync(decoded.left)[0]
  const path = issue?.path.map(String).join(".") ?? ""
  // Never quote the value: it may be a token.
  return corrupt(
    path === "" ? "is malformed" : `field "${path}" ${issue?._tag === "Missing" ? "is missing" : "is invalid"}`
  )
}

/**
 * The stored form as plain JSON-ready data (secrets in clear).
 *
 * @since 0.1.0
 * @category utils
 */
export const encode = (content: CacheContent): typeof CacheFile.Encoded => encodeFile(toFile(content))

/**
 * Parse and decode JSON text.
 *
 * @since 0.1.0
 * @category utils
 */
export const fromJson = (
  text: string,
  location: string
): Effect.Effect<CacheContent, CacheCorrupt | CacheVersionUnsupported> => {
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    return Effect.fail(
      new CacheCorrupt({
        location,
        reason: text.trim() === "" ? "is empty" : "is not valid JSON (truncated or damaged)"
      })
    )
  }
  return decode(parsed, location)
}

/**
 * The content as JSON text (secrets in clear).
 *
 * @since 0.1.0
 * @category utils
 */
export const toJson = (content: CacheContent): string => JSON.stringify(encode(content))

// ---------------------------------------------------------------------------
// queries and changes (pure)
// ---------------------------------------------------------------------------

/**
 * Scopes ignored when matching a request against a cached access token:
 * they ask for identity or a refresh token, not API access, and servers
 * leave them out of the token's granted `scope`.
 *
 * @since 0.1.0
 * @category constants
 */
export const OIDC_SCOPES: ReadonlySet<string> = internal.OIDC_SCOPES

/**
 * Whether a token granted `granted` serves a request for `requested`: every
 * requested scope outside {@link OIDC_SCOPES} was granted, compared in the
 * provider's form (see `ScopeForm`; the default `"oauth"` is RFC 6749 §3.3:
 * case-sensitive).
 *
 * @since 0.1.0
 * @category utils
 */
export const covers: (
  granted: ReadonlyArray<string>,
  requested: ReadonlyArray<string>,
  form?: ScopeForm.ScopeForm,
  /** the authority: which cloud's Graph an Entra short scope means (see `ScopeForm.canonicalScope`) */
  authority?: string | undefined
) => boolean = internal.covers

/**
 * Sorted, without duplicates or empty strings.
 *
 * @since 0.1.0
 * @category utils
 */
export const normaliseScopes: (scopes: Iterable<string>) => ReadonlyArray<string> = internal.normaliseScopes

/**
 * The account with this id at this authority, if cached.
 *
 * @since 0.1.0
 * @category utils
 */
export const findAccount: (content: CacheContent, authority: string, accountId: string) => Account | undefined =
  internal.findAccount

/**
 * The cached access token serving `scopes` (compared in the provider's
 * `ScopeForm`) for this authority, client and account — expired or not —
 * preferring the one that lives longest.
 *
 * @since 0.1.0
 * @category utils
 */
export const findAccessToken: (
  content: CacheContent,
  authority: string,
  clientId: string,
  accountId: string,
  scopes: ReadonlyArray<string>,
  form?: ScopeForm.ScopeForm
) => AccessTokenEntry | undefined = internal.findAccessToken

/**
 * The refresh token of this authority, client and account, if cached.
 *
 * @since 0.1.0
 * @category utils
 */
export const findRefreshToken: (
  content: CacheContent,
  authority: string,
  clientId: string,
  accountId: string
) => CredentialEntry | undefined = internal.findRefreshToken

/**
 * The id_token of this authority, client and account, if cached.
 *
 * @since 0.1.0
 * @category utils
 */
export const findIdToken: (
  content: CacheContent,
  authority: string,
  clientId: string,
  accountId: string
) => CredentialEntry | undefined = internal.findIdToken

/**
 * The DPoP key the tokens of this authority, client and account are bound
 * to, if they are and it is cached (see `Dpop.restore`).
 *
 * @since 0.1.0
 * @category utils
 */
export const findDpopKey: (
  content: CacheContent,
  authority: string,
  clientId: string,
  accountId: string
) => DpopKeyEntry | undefined = internal.findDpopKey

/**
 * The secret stored for `clientId` at `tokenEndpoint`, if any.
 *
 * @since 0.1.0
 * @category utils
 */
export const findClient: (content: CacheContent, tokenEndpoint: string, clientId: string) => ClientEntry | undefined =
  internal.findClient

/**
 * The content without the stored secret of `clientId` at `tokenEndpoint`
 * (a registration the server refused); the same value when there was none.
 *
 * @since 0.1.0
 * @category utils
 */
export const withoutClient: (content: CacheContent, tokenEndpoint: string, clientId: string) => CacheContent =
  internal.withoutClient

/**
 * Accounts of `authority` holding a token of `clientId` (all of the
 * authority's accounts when no client is named), ordered by id.
 *
 * @since 0.1.0
 * @category utils
 */
export const listAccounts: (content: CacheContent, authority: string, clientId?: string) => ReadonlyArray<Account> =
  internal.accountsOf

/**
 * What a sign-in or refresh stores; see {@link withTokens}.
 *
 * @since 0.1.0
 * @category models
 */
export type SaveInput = internal.SaveInput

/**
 * The content with a sign-in's or refresh's tokens stored. A new access
 * token replaces the account's cached ones whose scopes overlap it; a new
 * refresh token replaces the old one (RFC 6749 §6); an absent refresh token
 * or id_token leaves the cached one in place.
 *
 * @since 0.1.0
 * @category utils
 */
export const withTokens: (content: CacheContent, input: SaveInput) => CacheContent = internal.save

/**
 * The content without the account and any of its tokens at `authority`
 * (for every client); the same value when there was nothing to remove.
 *
 * @since 0.1.0
 * @category utils
 */
export const withoutAccount: (content: CacheContent, authority: string, accountId: string) => CacheContent =
  internal.removeAccount

/**
 * The number of entries (accounts and tokens).
 *
 * @since 0.1.0
 * @category utils
 */
export const size: (content: CacheContent) => number = internal.size
