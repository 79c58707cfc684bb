import type * as HttpClient from "@effect/platform/HttpClient"
import * as Clock from "effect/Clock"
import * as DateTime from "effect/DateTime"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Account from "../Account.js"
import * as CacheQuery from "../CacheQuery.js"
import type { ClientConfig } from "../ClientConfig.js"
import {
  type DpopProofRejected,
  InvalidConfiguration,
  InvalidResponse,
  type OAuthError,
  type TransportError
} from "../DeviceFlowError.js"
import * as ScopeForm from "../ScopeForm.js"
import type { TokenCache, TokenCacheError } from "../TokenCache.js"
import type { AuthenticationResult } from "../TokenResponse.js"
import * as Content from "./cacheContent.js"
import * as DpopKeep from "./dpopKeep.js"
import { InteractionRequired } from "./interaction.js"
import { readClaims } from "./jwt.js"
import { refresh } from "./refresh.js"
import * as Unsaved from "./unsavedRefresh.js"

/**
 * A token, where it came from, and whose it is.
 * @internal
 */
export interface TokenResult {
  readonly accessToken: Redacted.Redacted<string>
  readonly tokenType: string
  readonly expiresOn: Option.Option<DateTime.Utc>
  readonly scopes: ReadonlyArray<string>
  readonly account: Account.Account
  readonly idToken: Option.Option<Redacted.Redacted<string>>
  readonly idTokenClaims: Option.Option<Readonly<Record<string, unknown>>>
  readonly source: "cache" | "refresh" | "device_code"
  /**
   * Why the token cache did not keep these tokens, when it refused them. They are
   * valid all the same (the device code or refresh token they came from is spent):
   * use them, and expect the next silent call to need a new sign-in.
   */
  readonly unsaved?: TokenCacheError | undefined
}

/** @internal */
export interface SilentParams {
  readonly config: ClientConfig
  readonly authority: string
  readonly account: Account.Account
  readonly scopes: ReadonlyArray<string>
  readonly forceRefresh: boolean
  readonly skewMillis: number
  readonly timeout: Duration.Duration
}

/** @internal */
export type SilentError =
  | InteractionRequired
  | OAuthError
  | DpopProofRejected
  | InvalidResponse
  | TransportError
  | InvalidConfiguration
  | TokenCacheError

/**
 * The requested scopes, checked without allocating an effect: this runs on
 * every silent call.
 * @internal
 */
export const checkScopes = (scopes: ReadonlyArray<string>): InvalidConfiguration | undefined => {
  for (const scope of scopes) {
    if (!ScopeForm.isScopeToken(scope)) {
      return new InvalidConfiguration({ field: "scopes", reason: ScopeForm.notAScopeToken(scope) })
    }
  }
  return undefined
}

// Claims of a cached id_token, read once per entry (entries are immutable).
const claimsMemo = new WeakMap<Content.CredentialEntry, Option.Option<Readonly<Record<string, unknown>>>>()

const claimsOf = (entry: Content.CredentialEntry | undefined): Option.Option<Readonly<Record<string, unknown>>> => {
  if (entry === undefined) return Option.none()
  let claims = claimsMemo.get(entry)
  if (claims === undefined) {
    claims = Either.getRight(readClaims(Redacted.value(entry.secret)))
    claimsMemo.set(entry, claims)
  }
  return claims
}

/**
 * {@link CacheQuery.usable}, the rule the CLI's fast path applies too.
 * @internal
 */
export const usable: (entry: Content.AccessTokenEntry | undefined, now: number, skewMillis: number) => boolean =
  CacheQuery.usable

const sameEntry = (a: Content.AccessTokenEntry | undefined, b: Content.AccessTokenEntry | undefined): boolean =>
  a === b ||
  (a !== undefined && b !== undefined && a.cachedAt === b.cachedAt &&
    Redacted.value(a.secret) === Redacted.value(b.secret))

const fromCache = (
  content: Content.CacheContent,
  params: SilentParams,
  account: Account.Account,
  entry: Content.AccessTokenEntry
): TokenResult => {
  const idToken = Content.findIdToken(content, params.authority, params.config.clientId, account.id)
  return {
    accessToken: entry.secret,
    tokenType: entry.tokenType,
    expiresOn: entry.expiresOn === undefined ? Option.none() : Option.some(DateTime.unsafeMake(entry.expiresOn)),
    scopes: entry.scopes,
    account,
    idToken: idToken === undefined ? Option.none() : Option.some(idToken.secret),
    idTokenClaims: claimsOf(idToken),
    source: "cache"
  }
}

const noAccount = (params: SilentParams, scopes: ReadonlyArray<string>) =>
  new InteractionRequired({ reason: "no_account", scopes, accountId: params.account.id })

/**
 * Cache → refresh → InteractionRequired.
 *
 * The fast path only reads. A refresh happens under the cache's refresh lock
 * for this authority, client and account, after reading the cache again:
 * whoever waited for the lock finds the token the holder stored and uses it,
 * so N concurrent callers (in any process sharing the cache) cause one
 * refresh, and a rotated refresh token is never sent twice.
 * @internal
 */
export const acquireSilent = (
  cache: TokenCache,
  params: SilentParams
): Effect.Effect<TokenResult, SilentError, HttpClient.HttpClient> =>
  acquireSilentWith(cache, params, (refresh) => refresh)

/**
 * {@link acquireSilent}, with `provide` applied to the refresh path only:
 * providing a service costs more than a whole cache hit.
 * @internal
 */
export const acquireSilentWith = <R>(
  cache: TokenCache,
  params: SilentParams,
  provide: (
    refresh: Effect.Effect<TokenResult, SilentError, HttpClient.HttpClient>
  ) => Effect.Effect<TokenResult, SilentError, R>
): Effect.Effect<TokenResult, SilentError, R> =>
  Effect.suspend(() => {
    const invalid = checkScopes(params.scopes)
    if (invalid !== undefined) return Effect.fail(invalid)
    const { authority, account: requested } = params
    const clientId = params.config.clientId
    return Effect.flatMap(cache.readAccount(authority, requested.id), (content) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        const account = Content.findAccount(content, authority, requested.id)
        if (account === undefined) {
          return Effect.fail(noAccount(params, params.scopes))
        }
        const seen = Content.findAccessToken(
          content,
          authority,
          clientId,
          account.id,
          params.scopes,
          params.config.scopeForm
        )
        if (!params.forceRefresh && usable(seen, now, params.skewMillis)) {
          return Effect.succeed(fromCache(content, params, account, seen!))
        }
        return provide(
          Effect.flatMap(
            cache.withRefreshLock(
              Content.credentialKey(authority, clientId, account.id),
              refreshUnderLock(cache, params, seen),
              Effect.zipWith(
                cache.readAccount(authority, account.id),
                Clock.currentTimeMillis,
                (latest, at) =>
                  Option.map(settled(latest, at, params, seen), cached)
              )
            ),
            // a refused save is merged once the lock is released: its fence no longer applies there
            (refreshed) =>
              refreshed.unsaved === undefined
                ? Effect.succeed(refreshed.token)
                : Effect.as(Unsaved.merge(cache, refreshed.unsaved.what, refreshed.unsaved.error), refreshed.token)
          )
        )
      }))
  })

// The token another caller stored since `seen` was read, when it is the one wanted: no refresh is needed.
const settled = (
  content: Content.CacheContent,
  now: number,
  params: SilentParams,
  seen: Content.AccessTokenEntry | undefined
): Option.Option<TokenResult> => {
  const { authority, config } = params
  const account = Content.findAccount(content, authority, params.account.id)
  if (account === undefined) return Option.none()
  const current = Content.findAccessToken(
    content,
    authority,
    config.clientId,
    account.id,
    params.scopes,
    config.scopeForm
  )
  const refreshedMeanwhile = !sameEntry(current, seen)
  return usable(current, now, params.skewMillis) && (!params.forceRefresh || refreshedMeanwhile)
    ? Option.some(fromCache(content, params, account, current!))
    : Option.none()
}

interface Refreshed {
  readonly token: TokenResult
  readonly unsaved?: { readonly what: Unsaved.Unsaved; readonly error: TokenCacheError } | undefined
}

const cached = (token: TokenResult): Refreshed => ({ token })

const refreshUnderLock = (
  cache: TokenCache,
  params: SilentParams,
  seen: Content.AccessTokenEntry | undefined
): Effect.Effect<Refreshed, SilentError, HttpClient.HttpClient> =>
  Effect.gen(function*() {
    const { authority, config, scopes } = params
    const clientId = config.clientId
    // Read again: the lock's previous holder may have refreshed (or signed out).
    const content = yield* cache.readAccount(authority, params.account.id)
    const account = Content.findAccount(content, authority, params.account.id)
    if (account === undefined) return yield* noAccount(params, scopes)
    const fresh = settled(content, yield* Clock.currentTimeMillis, params, seen)
    if (Option.isSome(fresh)) return cached(fresh.value)
    const refreshToken = Content.findRefreshToken(content, authority, clientId, account.id)
    if (refreshToken === undefined) {
      return yield* new InteractionRequired({ reason: "no_refresh_token", scopes, accountId: account.id })
    }
    // A secret stored with the tokens (Google, GitHub Apps, AWS registrations) refreshes them when none is given now.
    const stored = config.clientSecret === undefined
      ? Content.findClient(content, config.endpoints.token, clientId)
      : undefined
    const refreshConfig = stored === undefined
      ? config
      : { ...config, clientSecret: stored.secret, clientAuthMethod: stored.authMethod }
    const sent = Unsaved.refreshTokenToSend(cache, refreshToken.secret)
    // RFC 9449 §5: the refresh token is bound to the key kept with it, whichever process signed in
    const holder = config.dpop === undefined
      ? undefined
      : yield* DpopKeep.forRefresh(Content.findDpopKey(content, authority, clientId, account.id))
    const result = yield* DpopKeep.provide(refresh(refreshConfig, sent, scopes, params.timeout, account.id), holder)
      .pipe(
        Effect.tapError((error) =>
          // RFC 6749 §5.2 invalid_grant: this refresh token is dead; forget it so that
          // later calls fail at once instead of asking the server again.
          error._tag === "InteractionRequired" && error.reason === "invalid_grant"
            ? Effect.zipRight(
              Effect.sync(() => Unsaved.settled(cache, Redacted.value(refreshToken.secret))),
              cache.modifyAccount(authority, account.id, (c) =>
                [
                  undefined,
                  Content.removeRefreshToken(c, refreshToken, (e) => Redacted.value(e.secret))
                ] as const)
            )
            : Effect.void
        ),
        // A kept client registration the server no longer knows (expired early, deleted): forget it, so
        // that the next sign-in registers again, and ask for that sign-in.
        Effect.catchTag("OAuthError", (error): Effect.Effect<never, SilentError> =>
          stored?.registration !== undefined &&
            (error.error === "invalid_client" || error.error === "unauthorized_client")
            ? Effect.zipRight(
              cache.modifyAccount(
                authority,
                account.id,
                (c) => [undefined, Content.withoutClient(c, config.endpoints.token, clientId)] as const
              ),
              Effect.fail(
                new InteractionRequired({
                  reason: "login_required",
                  scopes,
                  accountId: account.id,
                  endpoint: error.endpoint,
                  ...(error.status === undefined ? {} : { status: error.status }),
                  error: error.error,
                  ...(error.errorDescription === undefined ? {} : { errorDescription: error.errorDescription })
                })
              )
            )
            : Effect.fail(error))
      )
    const nextAccount = yield* accountAfterRefresh(account, result, config.endpoints.token)
    const savedAt = yield* Clock.currentTimeMillis
    const answered = saveInput(authority, clientId, nextAccount, result, savedAt)
    // a successor sent from memory and not rotated again (RFC 6749 §6 allows either) is the one to store
    const input = answered.refreshToken === undefined && sent !== refreshToken.secret
      ? { ...answered, refreshToken: sent }
      : answered
    const token = toTokenResult(nextAccount, result, "refresh")
    // Once the server answered, the refresh token sent may be dead (rotation): a refused save must not drop its successor.
    const what = { input, base: Redacted.value(refreshToken.secret) }
    return yield* Unsaved.store(cache, what).pipe(
      Effect.as(cached(token)),
      Effect.catchAll((error) => Effect.succeed<Refreshed>({ token, unsaved: { what, error } }))
    )
  })

/**
 * OpenID Connect Core §12.2: an id_token from a refresh must carry the same
 * `iss` and `sub` as the original; its other claims may refresh the account.
 */
const accountAfterRefresh = (
  account: Account.Account,
  result: AuthenticationResult,
  endpoint: string
): Effect.Effect<Account.Account, InvalidResponse> => {
  if (Option.isNone(result.idTokenClaims)) return Effect.succeed(account)
  const fresh = Account.fromClaims(account.authority, result.idTokenClaims.value)
  if (account.kind !== "oidc") return Effect.succeed(account)
  if (fresh === undefined || fresh.id !== account.id) {
    return Effect.fail(
      new InvalidResponse({
        endpoint,
        field: "id_token",
        reason: "names another user than the one signed in (OpenID Connect Core §12.2 requires the same iss and sub)"
      })
    )
  }
  return Effect.succeed(fresh)
}

/** @internal */
export const saveInput = (
  authority: string,
  clientId: string,
  account: Account.Account,
  result: AuthenticationResult,
  now: number
): Content.SaveInput => ({
  authority,
  clientId,
  account,
  accessToken: {
    secret: result.accessToken,
    tokenType: result.tokenType,
    scopes: Content.normaliseScopes(result.scopes),
    expiresOn: Option.getOrUndefined(Option.map(result.expiresOn, DateTime.toEpochMillis))
  },
  refreshToken: Option.getOrUndefined(result.refreshToken),
  idToken: Option.getOrUndefined(result.idToken),
  now
})

/** @internal */
export const toTokenResult = (
  account: Account.Account,
  result: AuthenticationResult,
  source: TokenResult["source"]
): TokenResult => ({
  accessToken: result.accessToken,
  tokenType: result.tokenType,
  expiresOn: result.expiresOn,
  scopes: Content.normaliseScopes(result.scopes),
  account,
  idToken: result.idToken,
  idTokenClaims: result.idTokenClaims,
  source
})
