/**
 * @devflow/store-redis — device flows and tokens shared across the instances
 * of an app through Redis.
 *
 * @since 0.1.0
 */

/** @since 0.1.0 */
export * as Keyring from "./Keyring.js"
/** @since 0.1.0 */
export * as RedisConnection from "./RedisConnection.js"
/** @since 0.1.0 */
export * as RedisTokenCache from "./RedisTokenCache.js"
/** @since 0.1.0 */
export * as RedisFlowStore from "./RedisFlowStore.js"
