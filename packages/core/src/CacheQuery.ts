/**
 * When a cached access token answers a request: the rule the silent path
 * (`Silent`, `PublicClient.acquireTokenSilent`) and the CLI's `devflow token`
 * fast path both apply, so a token one of them hands out the other would too.
 *
 * Pure: no Effect, no Node APIs, no `Redacted` (the fast path reads the cache
 * file's plain records without loading Effect).
 *
 * @since 0.1.0
 */
import * as ScopeForm from "./ScopeForm.js"

/**
 * An access token expiring within this margin is not handed out from the
 * cache: it could expire on its way to the resource (MSAL uses 5 minutes too).
 *
 * @since 0.1.0
 * @category constants
 */
export const DEFAULT_EXPIRY_SKEW_MS = 300_000

/**
 * What the rule reads of a cached access token: whose it is, what it may do,
 * and its two wall-clock stamps (epoch ms).
 *
 * @since 0.1.0
 * @category models
 */
export interface Candidate {
  readonly authority: string
  readonly clientId: string
  readonly accountId: string
  readonly scopes: ReadonlyArray<string>
  /** absent when the server sent no `expires_in` */
  readonly expiresOn?: number | undefined
  /** when the entry was written */
  readonly cachedAt: number
}

/**
 * The request a cached token may answer.
 *
 * @since 0.1.0
 * @category models
 */
export interface Query {
  readonly authority: string
  readonly clientId: string
  readonly accountId: string
  readonly scopes: ReadonlyArray<string>
  readonly form: ScopeForm.ScopeForm
}

/**
 * Among the tokens of the query's authority, client and account that cover
 * its scopes (as {@link ScopeForm.covers} compares them), the one that lives
 * longest; no expiry counts as longest.
 *
 * @since 0.1.0
 * @category utils
 */
export const best = <E extends Omit<Candidate, "cachedAt">>(entries: Iterable<E>, query: Query): E | undefined => {
  let found: E | undefined
  for (const entry of entries) {
    if (
      entry.authority !== query.authority || entry.clientId !== query.clientId || entry.accountId !== query.accountId
    ) continue
    if (!ScopeForm.covers(query.form, entry.scopes, query.scopes, query.authority)) continue
    if (found === undefined || (entry.expiresOn ?? Infinity) > (found.expiresOn ?? Infinity)) found = entry
  }
  return found
}

/**
 * Whether a cached token may be handed out now: it lives longer than the
 * skew, and the wall clock reads no earlier than when it was stored (less the
 * skew). A clock that went back since then cannot tell how old the token
 * really is, and a refresh is better than a token past its real expiry; a
 * clock that went forward makes the token look expired, which also ends in a
 * refresh, never a failure. (Cache stamps are wall-clock times, the only time
 * other processes can read; docs/caching.md.)
 *
 * @since 0.1.0
 * @category utils
 */
export const usable = (
  entry: { readonly cachedAt?: number | undefined; readonly expiresOn?: number | undefined } | undefined,
  now: number,
  skewMillis: number
): boolean =>
  entry !== undefined && typeof entry.cachedAt === "number" && now >= entry.cachedAt - skewMillis &&
  (entry.expiresOn === undefined || entry.expiresOn - now > skewMillis)
