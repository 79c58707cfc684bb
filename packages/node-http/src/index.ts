/**
 * The real HTTP layer for devflow on Node, on undici (package `@devflow/node-http`).
 *
 * @since 0.1.0
 */

/**
 * Options for devflow's HTTP client: timeouts, the response size cap, the
 * User-Agent, proxies and extra trusted certificates.
 *
 * @since 0.1.0
 */
export * as HttpOptions from "./HttpOptions.js"

/**
 * The real `HttpClient` for devflow, on undici.
 *
 * @since 0.1.0
 */
export * as NodeOAuthHttp from "./NodeOAuthHttp.js"
