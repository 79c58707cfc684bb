/**
 * The `TokenCache` on Redis, shared by every instance of an app.
 *
 * - Each account is its own part of one hash (`<prefix>:{tokens:<namespace>}:parts`):
 *   the account and all its tokens, sealed with AES-256-GCM ({@link Keyring})
 *   under a version. A change is a compare-and-set of the parts it touches
 *   (retried on conflict), so concurrent writers on any instance lose none
 *   of each other's changes, and writers of different accounts never
 *   conflict: refreshing one account never waits for another.
 * - A silent call, a sign-in (`save`) and a sign-out (`removeAccount`) read
 *   and write their own account's part (and the client registrations) only,
 *   whatever the number of other accounts; listing accounts reads them all.
 *   After a key rotation, {@link reseal} seals the untouched ones again.
 * - The whole-cache document of earlier versions (`…:cache`) is still read:
 *   the first read moves it into parts (an account already in parts keeps
 *   its newer value) and deletes it.
 * - Refreshes are single-flight across instances: `withRefreshLock` is a
 *   Redis key set with `NX` and an expiry, holding a fencing token from a
 *   counter, renewed while the refresh runs. A write made under the lock
 *   carries its token and is refused once the lock was lost, so a holder
 *   that lost the lock can never write.
 * - The key expires with what it holds: a refresh token's lifetime (an
 *   option, default 90 days) after the last write, else the latest access
 *   token's expiry (a write never shortens it).
 * - Every key carries the hash tag `{…:tokens:<namespace>}`: one slot, so it
 *   works on Redis Cluster.
 *
 * @since 0.1.0
 */
import * as TokenCache from "@devflow/core/TokenCache"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as internal from "./internal/tokenCache.js"
import { RedisConnection } from "./RedisConnection.js"

/**
 * Options of the Redis token cache: namespace, lock lease, the keyring.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** separates caches sharing one Redis and prefix (default `default`) */
  readonly namespace?: string | undefined
  /** how long the cache outlives its last write when it holds a refresh token (default 90 days) */
  readonly refreshTokenLifetime?: Duration.DurationInput | undefined
  /** the refresh lock's expiry, renewed every third of it while held (default 15 s) */
  readonly lockLease?: Duration.DurationInput | undefined
  /** longest wait for another instance's refresh (default 60 s) */
  readonly refreshLockTimeout?: Duration.DurationInput | undefined
}

/**
 * The TokenCache on Redis, as an effect.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options = {}): Effect.Effect<TokenCache.TokenCache, never, RedisConnection> =>
  withReseal(options)

/**
 * Seal again with the current key every part of the namespace that an older
 * key sealed: the last step of a key rotation (docs/scaling.md), before the
 * old key is removed. A sign-in, a sign-out or a refresh seals again only the
 * account it touches, so an account nobody uses would otherwise stay sealed
 * with the old key. Succeeds with the number of parts an older key had sealed
 * (0: nothing was written).
 *
 * @since 0.1.0
 * @category maintenance
 */
export const reseal = (options: Options = {}): Effect.Effect<number, TokenCache.TokenCacheError, RedisConnection> =>
  Effect.flatMap(withReseal(options), (cache) => cache.reseal)

const withReseal = (options: Options) =>
  Effect.flatMap(RedisConnection, (connection) =>
    internal.make(connection, {
      namespace: options.namespace ?? "default",
      refreshTokenLifetime: Duration.decode(options.refreshTokenLifetime ?? "90 days"),
      lockLease: Duration.decode(options.lockLease ?? "15 seconds"),
      refreshLockTimeout: Duration.decode(options.refreshLockTimeout ?? "60 seconds"),
      maxConflicts: 200
    }))

/**
 * A TokenCache layer on Redis.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options = {}): Layer.Layer<TokenCache.TokenCache, never, RedisConnection> =>
  Layer.effect(TokenCache.TokenCache, make(options))
