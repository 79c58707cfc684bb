/**
 * Test doubles for code that uses devflow (entry point `@devflow/core/testing`,
 * kept out of the main barrel so that production imports never load them).
 *
 * @since 0.1.0
 */

/**
 * A scriptable fake authorization server for tests.
 *
 * @since 0.1.0
 */
export * as TestKit from "./TestKit.js"
/**
 * Test helpers for caches: a refresh-token server and seeded accounts.
 *
 * @since 0.1.0
 */
export * as TestKitCache from "./TestKitCache.js"
