/**
 * Silent token acquisition, in the MSAL `AcquireTokenSilent` model: a cached
 * access token when one covers the requested scopes and lives longer than a
 * skew; else the refresh-token grant (RFC 6749 §6), storing what it returns
 * (a rotated refresh token included); else {@link InteractionRequired}, which
 * says why, so the caller can start a device code flow.
 *
 * Concurrent calls needing the same refresh perform it once: the refresh runs
 * under the cache's refresh lock for that authority, client and account, and
 * whoever waited for the lock finds the new token in the cache. With
 * `@devflow/cache-file` this holds across processes too.
 *
 * @since 0.1.0
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type { Account } from "./Account.js"
import * as CacheQuery from "./CacheQuery.js"
import type { ClientConfig } from "./ClientConfig.js"
import * as interaction from "./internal/interaction.js"
import * as internal from "./internal/silent.js"
import * as RequestLimits from "./RequestLimits.js"
import { TokenCache } from "./TokenCache.js"

/**
 * An access token expiring within this margin is not handed out from the
 * cache: it could expire on its way to the resource (MSAL uses 5 minutes too).
 *
 * @since 0.1.0
 * @category constants
 */
export const DEFAULT_EXPIRY_SKEW: Duration.Duration = Duration.millis(CacheQuery.DEFAULT_EXPIRY_SKEW_MS)

/**
 * How long a refresh request may take before it counts as a transport failure.
 *
 * @since 0.1.0
 * @category constants
 */
export const DEFAULT_REQUEST_TIMEOUT: Duration.Duration = Duration.millis(RequestLimits.DEFAULT_TIMEOUT_MS)

/**
 * Why a token cannot be had without the user:
 *
 * - `no_account`: the account is not in the cache (never signed in, or removed)
 * - `no_refresh_token`: no usable access token and no refresh token to renew it
 * - `invalid_grant`: the server refused the refresh token (expired, revoked)
 * - `consent_required`: the scopes need consent, or go beyond the original grant
 * - `claims_required`: the server sent a claims challenge (conditional access)
 * - `login_required`, `interaction_required`: the server wants a new sign-in
 *   (OpenID Connect Core §3.1.2.6; Entra MFA and similar)
 *
 * @since 0.1.0
 * @category models
 */
export const InteractionRequiredReason: typeof interaction.InteractionRequiredReason =
  interaction.InteractionRequiredReason

/**
 * Why a token cannot be had without the user.
 *
 * @since 0.1.0
 * @category models
 */
export type InteractionRequiredReason = interaction.InteractionRequiredReason

/**
 * No token can be had silently: the user must sign in (again). When a server
 * refused the refresh, its `error`, description, codes and any `claims`
 * challenge are kept; secrets are scrubbed from its text.
 *
 * @since 0.1.0
 * @category errors
 */
export const InteractionRequired: typeof interaction.InteractionRequired = interaction.InteractionRequired

/**
 * No token can be had silently: the user must sign in (again) — MSAL's MsalUiRequiredException.
 *
 * @since 0.1.0
 * @category errors
 */
export type InteractionRequired = interaction.InteractionRequired

/**
 * A token, where it came from (`cache`, `refresh` or `device_code`), and
 * the account it belongs to.
 *
 * @since 0.1.0
 * @category models
 */
export type TokenResult = internal.TokenResult

/**
 * Every failure of silent acquisition: {@link InteractionRequired}, the
 * device flow's server, response, transport and configuration errors, and
 * the cache's errors.
 *
 * @since 0.1.0
 * @category errors
 */
export type SilentError = internal.SilentError

/**
 * What acquireSilent needs: the client configuration, the account and the scopes.
 *
 * @since 0.1.0
 * @category models
 */
export interface SilentRequest {
  readonly config: ClientConfig
  /** the cache partition; defaults to the token endpoint */
  readonly authority?: string | undefined
  readonly account: Account
  readonly scopes: ReadonlyArray<string>
  /** skip the cached access token (e.g. after the resource refused it) */
  readonly forceRefresh?: boolean | undefined
  /** default {@link DEFAULT_EXPIRY_SKEW} */
  readonly expirySkew?: Duration.DurationInput | undefined
  /** default {@link DEFAULT_REQUEST_TIMEOUT} */
  readonly requestTimeout?: Duration.DurationInput | undefined
}

/**
 * Get a token without the user: from the cache, else by refreshing, else fail
 * with {@link InteractionRequired}.
 *
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-6
 * @since 0.1.0
 * @category flows
 */
export const acquireSilent = (
  request: SilentRequest
): Effect.Effect<TokenResult, SilentError, TokenCache | HttpClient.HttpClient> =>
  Effect.flatMap(TokenCache, (cache) =>
    internal.acquireSilent(cache, {
      config: request.config,
      authority: request.authority ?? request.config.endpoints.token,
      account: request.account,
      scopes: request.scopes,
      forceRefresh: request.forceRefresh ?? false,
      skewMillis: Duration.toMillis(request.expirySkew ?? DEFAULT_EXPIRY_SKEW),
      timeout: Duration.decode(request.requestTimeout ?? DEFAULT_REQUEST_TIMEOUT)
    }))
