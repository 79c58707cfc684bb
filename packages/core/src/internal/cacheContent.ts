import * as Redacted from "effect/Redacted"
import type { Account } from "../Account.js"
import * as CacheQuery from "../CacheQuery.js"
import type * as Dpop from "../Dpop.js"
import * as ScopeForm from "../ScopeForm.js"

/**
 * An access token as the cache keeps it.
 * @internal
 */
export interface AccessTokenEntry {
  readonly authority: string
  readonly clientId: string
  readonly accountId: string
  /** granted scopes, sorted, without duplicates */
  readonly scopes: ReadonlyArray<string>
  readonly secret: Redacted.Redacted<string>
  readonly tokenType: string
  /** epoch ms; absent when the server sent no `expires_in` */
  readonly expiresOn?: number
  /** epoch ms the entry was written */
  readonly cachedAt: number
}

/**
 * A refresh token or an id_token: one of each per authority, client and account.
 * @internal
 */
export interface CredentialEntry {
  readonly authority: string
  readonly clientId: string
  readonly accountId: string
  readonly secret: Redacted.Redacted<string>
  readonly cachedAt: number
}

/**
 * A client's secret, kept with the tokens it refreshes (Google and GitHub
 * Apps require it on the refresh grant) or an AWS IAM Identity Center client
 * registration, reused until it expires. Keyed by token endpoint + client id:
 * the secret authenticates the client there.
 * @internal
 */
export interface ClientEntry {
  readonly tokenEndpoint: string
  readonly clientId: string
  readonly secret: Redacted.Redacted<string>
  readonly authMethod: "client_secret_post" | "client_secret_basic"
  /** epoch ms the secret stops working (a registration's `clientSecretExpiresAt`) */
  readonly expiresOn?: number
  /** the registration this client came from (see {@link registrationKey}); absent for a secret the user gave */
  readonly registration?: string
  readonly cachedAt: number
}

/**
 * The DPoP key pair the account's tokens are bound to (RFC 9449 §5), one per
 * authority, client and account, kept and removed with them.
 * @internal
 */
export interface DpopKeyEntry extends Dpop.StoredKey {
  readonly authority: string
  readonly clientId: string
  readonly accountId: string
  readonly cachedAt: number
}

/**
 * The cache's content in memory: every section keyed by the entry's
 * identity, so lookups are direct. Values are immutable; every change makes
 * a new content.
 * @internal
 */
export interface CacheContent {
  readonly version: 1
  readonly accounts: ReadonlyMap<string, Account>
  readonly accessTokens: ReadonlyMap<string, AccessTokenEntry>
  readonly refreshTokens: ReadonlyMap<string, CredentialEntry>
  readonly idTokens: ReadonlyMap<string, CredentialEntry>
  readonly clients: ReadonlyMap<string, ClientEntry>
  readonly dpopKeys: ReadonlyMap<string, DpopKeyEntry>
}

/** @internal */
export const CURRENT_VERSION = 1 as const

/** @internal */
export const empty: CacheContent = {
  version: CURRENT_VERSION,
  accounts: new Map(),
  accessTokens: new Map(),
  refreshTokens: new Map(),
  idTokens: new Map(),
  clients: new Map(),
  dpopKeys: new Map()
}

// JSON arrays cannot be ambiguous whatever the parts contain (URLs, subjects, client ids).
/** @internal */
export const accountKey = (authority: string, accountId: string): string => JSON.stringify([authority, accountId])

/** @internal */
export const credentialKey = (authority: string, clientId: string, accountId: string): string =>
  JSON.stringify([authority, clientId, accountId])

/** @internal */
export const clientKey = (tokenEndpoint: string, clientId: string): string => JSON.stringify([tokenEndpoint, clientId])

/**
 * What a client registration is for: the same registration endpoint, start
 * URL and scopes reuse it (the AWS CLI's cache key, region included in the endpoint).
 * @internal
 */
export const registrationKey = (
  endpoint: string,
  startUrl: string | undefined,
  scopes: ReadonlyArray<string>
): string => JSON.stringify([endpoint, startUrl ?? "", normaliseScopes(scopes)])

/** @internal */
export const accessTokenKey = (e: Pick<AccessTokenEntry, "authority" | "clientId" | "accountId" | "scopes">): string =>
  JSON.stringify([e.authority, e.clientId, e.accountId, e.scopes.join(" ")])

/** @internal */
export const OIDC_SCOPES: ReadonlySet<string> = ScopeForm.OIDC_SCOPES

/**
 * Sorted, without duplicates. RFC 6749 §3.3: scope tokens are case-sensitive.
 * @internal
 */
export const normaliseScopes = (scopes: Iterable<string>): ReadonlyArray<string> => {
  const out = [...new Set(scopes)].filter((s) => s !== "")
  out.sort()
  return out
}

/** @internal */
export const apiScopes = (scopes: ReadonlyArray<string>): ReadonlyArray<string> =>
  scopes.filter((s) => !OIDC_SCOPES.has(s))

/**
 * Whether a token granted `granted` may be used for a request of `requested`:
 * every requested API scope was granted, in the provider's form.
 * @internal
 */
export const covers = (
  granted: ReadonlyArray<string>,
  requested: ReadonlyArray<string>,
  form: ScopeForm.ScopeForm = "oauth",
  authority?: string | undefined
): boolean => ScopeForm.covers(form, granted, requested, authority)

// One index per content snapshot: contents are immutable, so it never goes stale.
const indexes = new WeakMap<ReadonlyMap<string, AccessTokenEntry>, Map<string, Array<AccessTokenEntry>>>()

const accessTokenIndex = (tokens: ReadonlyMap<string, AccessTokenEntry>): Map<string, Array<AccessTokenEntry>> => {
  let index = indexes.get(tokens)
  if (index === undefined) {
    index = new Map()
    for (const entry of tokens.values()) {
      const key = credentialKey(entry.authority, entry.clientId, entry.accountId)
      const list = index.get(key)
      if (list === undefined) index.set(key, [entry])
      else list.push(entry)
    }
    indexes.set(tokens, index)
  }
  return index
}

/** @internal */
export const accessTokensOf = (
  content: CacheContent,
  authority: string,
  clientId: string,
  accountId: string
): ReadonlyArray<AccessTokenEntry> =>
  accessTokenIndex(content.accessTokens).get(credentialKey(authority, clientId, accountId)) ?? []

/**
 * The cached access token for a request: among those that cover the
 * requested scopes, the one that lives longest (no expiry counts as longest).
 * @internal
 */
export const findAccessToken = (
  content: CacheContent,
  authority: string,
  clientId: string,
  accountId: string,
  scopes: ReadonlyArray<string>,
  form: ScopeForm.ScopeForm = "oauth"
): AccessTokenEntry | undefined =>
  CacheQuery.best(accessTokensOf(content, authority, clientId, accountId), {
    authority,
    clientId,
    accountId,
    scopes,
    form
  })

/** @internal */
export const findAccount = (content: CacheContent, authority: string, accountId: string): Account | undefined =>
  content.accounts.get(accountKey(authority, accountId))

/** @internal */
export const findRefreshToken = (
  content: CacheContent,
  authority: string,
  clientId: string,
  accountId: string
): CredentialEntry | undefined => content.refreshTokens.get(credentialKey(authority, clientId, accountId))

/** @internal */
export const findDpopKey = (
  content: CacheContent,
  authority: string,
  clientId: string,
  accountId: string
): DpopKeyEntry | undefined => content.dpopKeys.get(credentialKey(authority, clientId, accountId))

/** @internal */
export const findIdToken = (
  content: CacheContent,
  authority: string,
  clientId: string,
  accountId: string
): CredentialEntry | undefined => content.idTokens.get(credentialKey(authority, clientId, accountId))

/**
 * Accounts of `authority` that hold at least one token of `clientId` (every
 * account of the authority when no client is named), in a stable order.
 * @internal
 */
export const accountsOf = (content: CacheContent, authority: string, clientId?: string): ReadonlyArray<Account> => {
  const out: Array<Account> = []
  for (const account of content.accounts.values()) {
    if (account.authority !== authority) continue
    if (clientId !== undefined && !hasCredentials(content, authority, clientId, account.id)) continue
    out.push(account)
  }
  return out.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
}

const hasCredentials = (content: CacheContent, authority: string, clientId: string, accountId: string): boolean => {
  const key = credentialKey(authority, clientId, accountId)
  return content.refreshTokens.has(key) || content.idTokens.has(key) || accessTokenIndex(content.accessTokens).has(key)
}

/**
 * What a sign-in or a refresh leaves in the cache.
 * @internal
 */
export interface SaveInput {
  readonly authority: string
  readonly clientId: string
  readonly account: Account
  readonly accessToken?: {
    readonly secret: Redacted.Redacted<string>
    readonly tokenType: string
    readonly scopes: ReadonlyArray<string>
    readonly expiresOn: number | undefined
  } | undefined
  /** absent: the cached refresh token (if any) stays */
  readonly refreshToken?: Redacted.Redacted<string> | undefined
  /** absent: the cached id_token (if any) stays */
  readonly idToken?: Redacted.Redacted<string> | undefined
  /**
   * the DPoP key the tokens are bound to; `null`: they are not bound (a Bearer sign-in drops
   * a key kept before); absent: a stored one (if any) stays, as a refresh leaves it
   */
  readonly dpopKey?: Dpop.StoredKey | null | undefined
  /** the client's secret, kept for later refreshes; absent: a stored one (if any) stays */
  readonly client?: Omit<ClientEntry, "cachedAt" | "clientId"> | undefined
  readonly now: number
}

/**
 * Store a sign-in's or a refresh's tokens. A new access token replaces the
 * account's cached ones whose API scopes overlap it (they were granted for
 * the same resource and would only shadow the new one); a new refresh token
 * replaces the old one (RFC 6749 §6: the client MUST discard the old one).
 * @internal
 */
export const save = (content: CacheContent, input: SaveInput): CacheContent => {
  const { account, authority, clientId, now } = input
  const accounts = new Map(content.accounts)
  accounts.set(accountKey(authority, account.id), account)
  let accessTokens = content.accessTokens
  if (input.accessToken !== undefined) {
    const scopes = normaliseScopes(input.accessToken.scopes)
    const api = apiScopes(scopes)
    const entry: AccessTokenEntry = {
      authority,
      clientId,
      accountId: account.id,
      scopes,
      secret: input.accessToken.secret,
      tokenType: input.accessToken.tokenType,
      ...(input.accessToken.expiresOn === undefined ? {} : { expiresOn: input.accessToken.expiresOn }),
      cachedAt: now
    }
    const next = new Map(content.accessTokens)
    for (const old of accessTokensOf(content, authority, clientId, account.id)) {
      const oldApi = apiScopes(old.scopes)
      const overlaps = api.length === 0 ? oldApi.length === 0 : oldApi.some((s) => api.includes(s))
      if (overlaps) next.delete(accessTokenKey(old))
    }
    next.set(accessTokenKey(entry), entry)
    accessTokens = next
  }
  const key = credentialKey(authority, clientId, account.id)
  const credential = (secret: Redacted.Redacted<string>): CredentialEntry => ({
    authority,
    clientId,
    accountId: account.id,
    secret,
    cachedAt: now
  })
  let refreshTokens = content.refreshTokens
  if (input.refreshToken !== undefined) {
    refreshTokens = new Map(refreshTokens).set(key, credential(input.refreshToken))
  }
  let idTokens = content.idTokens
  if (input.idToken !== undefined) {
    idTokens = new Map(idTokens).set(key, credential(input.idToken))
  }
  let dpopKeys = content.dpopKeys
  if (input.dpopKey === null && dpopKeys.has(key)) {
    const without = new Map(dpopKeys)
    without.delete(key)
    dpopKeys = without
  } else if (input.dpopKey !== undefined && input.dpopKey !== null) {
    const { alg, jkt, secret } = input.dpopKey
    dpopKeys = new Map(dpopKeys).set(key, {
      authority,
      clientId,
      accountId: account.id,
      alg,
      jkt,
      secret,
      cachedAt: now
    })
  }
  const stored = input.client === undefined ? undefined : findClient(content, input.client.tokenEndpoint, clientId)
  // the same secret again (a registration reused, say) keeps what is known about it
  const clients = input.client === undefined ||
      (stored !== undefined && Redacted.value(stored.secret) === Redacted.value(input.client.secret))
    ? content.clients
    : withClient(content, { ...input.client, clientId, cachedAt: now }).clients
  return { version: CURRENT_VERSION, accounts, accessTokens, refreshTokens, idTokens, clients, dpopKeys }
}

/** @internal */
export const findClient = (content: CacheContent, tokenEndpoint: string, clientId: string): ClientEntry | undefined =>
  content.clients.get(clientKey(tokenEndpoint, clientId))

/**
 * The stored registration for `registration` that still works `marginMs` from `now`.
 * @internal
 */
export const findRegistration = (
  content: CacheContent,
  registration: string,
  now: number,
  marginMs: number
): ClientEntry | undefined => {
  let best: ClientEntry | undefined
  for (const entry of content.clients.values()) {
    if (entry.registration !== registration) continue
    if (entry.expiresOn !== undefined && entry.expiresOn - now <= marginMs) continue
    if (best === undefined || entry.cachedAt > best.cachedAt) best = entry
  }
  return best
}

/** @internal */
export const withClient = (content: CacheContent, entry: ClientEntry): CacheContent => ({
  ...content,
  clients: new Map(content.clients).set(clientKey(entry.tokenEndpoint, entry.clientId), entry)
})

/**
 * Without the stored client (a registration the server refused, say);
 * `content` itself when there was none.
 * @internal
 */
export const withoutClient = (content: CacheContent, tokenEndpoint: string, clientId: string): CacheContent => {
  const key = clientKey(tokenEndpoint, clientId)
  if (!content.clients.has(key)) return content
  const clients = new Map(content.clients)
  clients.delete(key)
  return { ...content, clients }
}

/**
 * Forget an account and every token it holds at `authority`, for every
 * client. `content` itself when there was nothing to remove.
 * @internal
 */
export const removeAccount = (content: CacheContent, authority: string, accountId: string): CacheContent => {
  const rest = withoutAccountTokens(content, authority, accountId)
  return rest === content ? content : withoutUnusedSecrets(rest)
}

/**
 * {@link removeAccount} as far as the account itself goes: its record and
 * tokens, not the client secrets it leaves unused. Made on one account's
 * view of a shared cache, where the other accounts' tokens are not at hand.
 * @internal
 */
export const withoutAccountTokens = (content: CacheContent, authority: string, accountId: string): CacheContent => {
  const belongs = (e: { readonly authority: string; readonly accountId: string }) =>
    e.authority === authority && e.accountId === accountId
  const without = <V extends { readonly authority: string; readonly accountId: string }>(
    map: ReadonlyMap<string, V>
  ) => {
    let out: Map<string, V> | undefined
    for (const [key, value] of map) {
      if (!belongs(value)) continue
      out ??= new Map(map)
      out.delete(key)
    }
    return out ?? map
  }
  const key = accountKey(authority, accountId)
  const accounts = content.accounts.has(key)
    ? (() => {
      const m = new Map(content.accounts)
      m.delete(key)
      return m
    })()
    : content.accounts
  const accessTokens = without(content.accessTokens)
  const refreshTokens = without(content.refreshTokens)
  const idTokens = without(content.idTokens)
  // the key dies with the tokens it binds
  const dpopKeys = without(content.dpopKeys)
  if (
    accounts === content.accounts && accessTokens === content.accessTokens &&
    refreshTokens === content.refreshTokens && idTokens === content.idTokens && dpopKeys === content.dpopKeys
  ) return content
  return { ...content, accounts, accessTokens, refreshTokens, idTokens, dpopKeys }
}

/**
 * Without the client secrets the user gave that no token uses any more: a
 * secret goes with the last account it refreshes tokens for. A registration
 * is not the user's and is kept for the next sign-in (it expires on its own).
 * `content` itself when every one is used. Needs the whole content: on one
 * account's view, the other accounts' use is unseen.
 * @internal
 */
export const withoutUnusedSecrets = (content: CacheContent): CacheContent => {
  let clients: Map<string, ClientEntry> | undefined
  for (const [key, client] of content.clients) {
    if (client.registration !== undefined) continue
    const used = [...content.refreshTokens.values(), ...content.accessTokens.values()].some((e) =>
      e.clientId === client.clientId
    )
    if (used) continue
    clients ??= new Map(content.clients)
    clients.delete(key)
  }
  return clients === undefined ? content : { ...content, clients }
}

/**
 * Remove a refresh token the server rejected, unless it was replaced in the
 * meantime (by a sign-in in another process, say).
 * @internal
 */
export const removeRefreshToken = (
  content: CacheContent,
  entry: CredentialEntry,
  secretOf: (e: CredentialEntry) => string
): CacheContent => {
  const key = credentialKey(entry.authority, entry.clientId, entry.accountId)
  const current = content.refreshTokens.get(key)
  if (current === undefined || secretOf(current) !== secretOf(entry)) return content
  const refreshTokens = new Map(content.refreshTokens)
  refreshTokens.delete(key)
  return { ...content, refreshTokens }
}

/** @internal */
export const size = (content: CacheContent): number =>
  content.accounts.size + content.accessTokens.size + content.refreshTokens.size + content.idTokens.size +
  content.clients.size + content.dpopKeys.size
