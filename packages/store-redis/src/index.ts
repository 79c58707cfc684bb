/**
 * Device flows and tokens shared across the instances of an app through Redis (package `@devflow/store-redis`).
 *
 * @since 0.1.0
 */

/**
 * AES-256-GCM keys with ids, so that secrets at rest can be read while keys rotate.
 *
 * @since 0.1.0
 */
export * as Keyring from "./Keyring.js"
/**
 * The Redis connection: bounded retries and typed errors.
 *
 * @since 0.1.0
 */
export * as RedisConnection from "./RedisConnection.js"
/**
 * The TokenCache port on Redis, shared by instances, with a fenced single-flight refresh lock.
 *
 * @since 0.1.0
 */
export * as RedisTokenCache from "./RedisTokenCache.js"
/**
 * The FlowStore port on Redis: one poller per device code, takeover, watchers on every instance.
 *
 * @since 0.1.0
 */
export * as RedisFlowStore from "./RedisFlowStore.js"
