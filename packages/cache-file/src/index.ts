/**
 * @devflow/cache-file — the persistent, cross-process token cache.
 *
 * @since 0.1.0
 */

/** @since 0.1.0 */
export * as FileTokenCache from "./FileTokenCache.js"
