/** @internal */
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Recent from "../Recent.js"
import type { TokenCache, TokenCacheError } from "../TokenCache.js"
import * as Content from "./cacheContent.js"

/**
 * A refresh's answer the cache refused to store under the refresh lock (a
 * fenced write after the lock lapsed, a keychain that refused). Once the
 * server answered, the refresh token it was sent may be dead (RFC 6749 §6
 * rotation, RFC 9700 §4.14.2 reuse detection): what it gave back must not be
 * dropped.
 * @internal
 */
export interface Unsaved {
  readonly input: Content.SaveInput
  /** the refresh token the cache held when the refresh read it */
  readonly base: string
}

// Successors of refresh tokens this process saw rotated away but could not store: per cache, by the
// dead token's value, so that this cache's next refresh sends the successor while it still holds that token.
const successors = new WeakMap<TokenCache, Recent.Recent<string, Redacted.Redacted<string>>>()
const MAX_SUCCESSORS = 1_024

/**
 * The refresh token to send: the successor this process was given for the
 * cached one and could not store, else the cached one.
 * @internal
 */
export const refreshTokenToSend = (cache: TokenCache, stored: Redacted.Redacted<string>): Redacted.Redacted<string> =>
  successors.get(cache)?.get(Redacted.value(stored)) ?? stored

/**
 * The cache now holds what replaced `base`: nothing to remember.
 * @internal
 */
export const settled = (cache: TokenCache, base: string): void => {
  successors.get(cache)?.delete(base)
}

const remember = (cache: TokenCache, base: string, rotated: Redacted.Redacted<string>): void => {
  let kept = successors.get(cache)
  if (kept === undefined) successors.set(cache, kept = Recent.make(MAX_SUCCESSORS))
  kept.set(base, rotated)
}

/**
 * Store what a refresh returned: a compare-and-set on the refresh token's
 * value. The rotated token replaces the cached one only while the cache still
 * holds the one this refresh read (or none: a caller that sent that dead one
 * after us was refused and removed it); a token a newer sign-in stored
 * meanwhile is kept, and an account signed out meanwhile stays out.
 * @internal
 */
export const store = (cache: TokenCache, unsaved: Unsaved): Effect.Effect<void, TokenCacheError> => {
  const { input, base } = unsaved
  return cache.modifyAccount(input.authority, input.account.id, (content) => {
    if (Content.findAccount(content, input.authority, input.account.id) === undefined) {
      return [undefined, content] as const
    }
    const stored = Content.findRefreshToken(content, input.authority, input.clientId, input.account.id)
    if (stored !== undefined && Redacted.value(stored.secret) !== base) return [undefined, content] as const
    return [undefined, Content.save(content, input)] as const
  }).pipe(Effect.tap(() => Effect.sync(() => settled(cache, base))))
}

/**
 * {@link store}, again, after the refresh lock was released (a write fenced
 * by a lock that lapsed is refused while it is held). When even this write
 * fails, the rotated token is kept in memory for this cache's next refresh,
 * and a warning says so.
 * @internal
 */
export const merge = (cache: TokenCache, unsaved: Unsaved, refused: TokenCacheError): Effect.Effect<void> =>
  Effect.catchAll(store(cache, unsaved), (error) =>
    Effect.gen(function*() {
      const { base, input } = unsaved
      if (input.refreshToken !== undefined && Redacted.value(input.refreshToken) !== base) {
        remember(cache, base, input.refreshToken)
      }
      yield* Effect.logWarning(
        `The token cache ${cache.location} refused the tokens of a refresh (${refused.message}; then ${error.message}). ` +
          `The new tokens were returned; the rotated refresh token is kept in this process's memory only, ` +
          `and a later process will need a new sign-in if the cache stays unwritable`
      )
    }))
