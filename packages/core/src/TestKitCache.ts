/**
 * Test helpers for token caching and silent acquisition, on top of
 * {@link TestKit}: a fake server that issues and rotates refresh tokens the
 * way real ones do, and a way to seed a cache with a signed-in account.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Account from "./Account.js"
import * as TestKit from "./TestKit.js"
import { TokenCache, type TokenCacheError } from "./TokenCache.js"

/**
 * The authority the helpers file accounts under: the fake server's token
 * endpoint, which is also `PublicClient`'s default.
 *
 * @since 0.1.0
 * @category constants
 */
export const AUTHORITY = TestKit.TOKEN_ENDPOINT

/**
 * The id_token claims of the fake server's user.
 *
 * @since 0.1.0
 * @category constants
 */
export const claims = {
  iss: TestKit.ISSUER,
  sub: TestKit.secrets.idTokenSubject,
  aud: TestKit.CLIENT_ID,
  tid: "tenant-1",
  preferred_username: "user@devflow.test",
  name: "Test User"
} as const

/**
 * The account the fake server's id_token describes.
 *
 * @since 0.1.0
 * @category constants
 */
export const account: Account.Account = Account.fromClaims(AUTHORITY, claims)!

/**
 * Options of refreshServer: token lifetimes, rotation, the scope answered and a custom refresh answer.
 *
 * @since 0.1.0
 * @category models
 */
export interface RefreshServerOptions {
  /** issue a new refresh token with every refresh, invalidating the old one (default true) */
  readonly rotate?: boolean | undefined
  /** `expires_in` of every access token, seconds (default 3600) */
  readonly expiresIn?: number | undefined
  /** granted `scope` (default `"api.read api.write offline_access"`) */
  readonly scope?: string | undefined
  /** send an id_token (default true) */
  readonly idToken?: boolean | undefined
  /** how long each token answer takes (virtual time under TestClock) */
  readonly delay?: Duration.DurationInput | undefined
  /** answer a refresh grant with this instead, when it returns a reply */
  readonly onRefresh?: ((context: TestKit.RequestContext) => TestKit.Reply | undefined) | undefined
}

/**
 * A fake server with refresh-token bookkeeping.
 *
 * @since 0.1.0
 * @category models
 */
export interface RefreshServer {
  readonly script: TestKit.Script
  /** refresh grants received so far */
  readonly refreshes: Effect.Effect<number>
  /** the refresh token the server currently accepts */
  readonly validRefreshToken: Effect.Effect<string>
}

/**
 * The access token the server issues with its `n`-th token answer (0 = sign-in).
 *
 * @since 0.1.0
 * @category utils
 */
export const accessToken = (n: number): string => `${TestKit.secrets.accessToken}-${n}`

/**
 * The refresh token issued with the `n`-th token answer.
 *
 * @since 0.1.0
 * @category utils
 */
export const refreshToken = (n: number): string => `${TestKit.secrets.refreshToken}-${n}`

/**
 * A server that answers the device flow at once (tokens `…-0`), and refresh
 * grants (RFC 6749 §6) with access token `…-n`, rotating the refresh token
 * unless told not to. A refresh token it no longer accepts gets
 * `invalid_grant`, as a server with reuse detection answers.
 *
 * @since 0.1.0
 * @category constructors
 */
export const refreshServer = (options: RefreshServerOptions = {}): RefreshServer => {
  const rotate = options.rotate ?? true
  const state = { issued: 0, refreshes: 0, valid: refreshToken(0) }
  const reply = (n: number, withRefreshToken: boolean) =>
    TestKit.tokens({
      access_token: accessToken(n),
      expires_in: options.expiresIn ?? 3600,
      scope: options.scope ?? "api.read api.write offline_access",
      refresh_token: withRefreshToken ? refreshToken(n) : undefined,
      id_token: options.idToken === false ? undefined : TestKit.idToken(claims)
    }, { delay: options.delay })
  return {
    script: {
      deviceAuthorization: () => TestKit.deviceCode(),
      token: (context) => {
        if (context.params.grant_type !== "refresh_token") {
          state.valid = refreshToken(0)
          return reply(0, true)
        }
        state.refreshes++
        const custom = options.onRefresh?.(context)
        if (custom !== undefined) return custom
        if (context.params.refresh_token !== state.valid) {
          return TestKit.oauthError("invalid_grant", {
            fields: { error_description: "The refresh token is invalid, expired or was already used" }
          })
        }
        const n = ++state.issued
        if (rotate) state.valid = refreshToken(n)
        return reply(n, rotate)
      }
    },
    refreshes: Effect.sync(() => state.refreshes),
    validRefreshToken: Effect.sync(() => state.valid)
  }
}

/**
 * Options of seed: which account, which tokens and how long they live.
 *
 * @since 0.1.0
 * @category models
 */
export interface SeedOptions {
  /** default {@link account} */
  readonly account?: Account.Account | undefined
  readonly clientId?: string | undefined
  /** granted scopes of the access token (default `api.read api.write`) */
  readonly scopes?: ReadonlyArray<string> | undefined
  /** seconds from now; `undefined` in the options object means no expiry (default 3600) */
  readonly expiresIn?: number | undefined
  /** no access token at all */
  readonly withoutAccessToken?: boolean | undefined
  /** the refresh token to store; `false` for none (default `refreshToken(0)`) */
  readonly refreshToken?: string | false | undefined
  /** the access token's value (default `accessToken(0)`) */
  readonly accessToken?: string | undefined
}

/**
 * Put a signed-in account into the cache in context, as a device code sign-in
 * at the current (virtual) time would have.
 *
 * @since 0.1.0
 * @category constructors
 */
export const seed = (options: SeedOptions = {}): Effect.Effect<Account.Account, TokenCacheError, TokenCache> =>
  Effect.gen(function*() {
    const cache = yield* TokenCache
    const now = yield* Clock.currentTimeMillis
    const target = options.account ?? account
    const expiresIn = "expiresIn" in options ? options.expiresIn : 3600
    yield* cache.save({
      authority: target.authority,
      clientId: options.clientId ?? TestKit.CLIENT_ID,
      account: target,
      accessToken: options.withoutAccessToken
        ? undefined
        : {
          secret: Redacted.make(options.accessToken ?? accessToken(0)),
          tokenType: "Bearer",
          scopes: options.scopes ?? ["api.read", "api.write"],
          expiresOn: expiresIn === undefined ? undefined : now + expiresIn * 1000
        },
      refreshToken: options.refreshToken === false ? undefined : Redacted.make(options.refreshToken ?? refreshToken(0)),
      idToken: target.kind === "oidc" ? Redacted.make(TestKit.idToken(claims)) : undefined,
      now
    })
    return target
  })
