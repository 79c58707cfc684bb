/**
 * The persistent, cross-process token cache for devflow (package `@devflow/cache-file`).
 *
 * @since 0.1.0
 */

/**
 * The token cache as a file shared by processes: atomic writes, 0600, cross-process locking.
 *
 * @since 0.1.0
 */
export * as FileTokenCache from "./FileTokenCache.js"
