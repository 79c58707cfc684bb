/**
 * Options for devflow's HTTP client: timeouts, the response size cap, the
 * User-Agent, proxies and extra trusted certificates.
 *
 * @since 0.1.0
 */
import type * as Config from "effect/Config"
import type * as Duration from "effect/Duration"
import * as internal from "./internal/httpOptions.js"

/**
 * Which proxy to use, mirroring undici's `EnvHttpProxyAgent` options. A field
 * that is left out falls back to the environment (`HTTP_PROXY`/`http_proxy`,
 * `HTTPS_PROXY`/`https_proxy` (then the HTTP proxy), `NO_PROXY`/`no_proxy`); an
 * empty string turns the proxy off, or, for `noProxy`, ignores `NO_PROXY`.
 * `noProxy` is a comma- or space-separated list of host names, `.domain`
 * suffixes, `host:port` entries, or `*` for "never proxy".
 *
 * @since 0.1.0
 * @category models
 */
export interface ProxyOptions {
  readonly httpProxy?: string | undefined
  readonly httpsProxy?: string | undefined
  readonly noProxy?: string | undefined
}

/**
 * Options for the HTTP client.
 *
 * - `connectTimeout`: TCP connect plus TLS handshake, per connection (also to a proxy).
 * - `requestTimeout`: the whole exchange, from sending the request until the
 *   response body is read, on one timer. `Duration.infinity` turns it off.
 *   When devflow sets a shorter deadline for a request (core's
 *   the request's `RequestLimits`), that one applies.
 * - `maxResponseBytes`: the largest response body that is read; larger bodies
 *   fail. When devflow sets a smaller limit for a request, that one applies.
 * - `userAgent`: sent on every request that does not set its own.
 * - `proxy`: see {@link ProxyOptions}.
 * - `ca`: extra trusted certificates (PEM), added to Node's bundled roots and
 *   to `NODE_EXTRA_CA_CERTS`. Without it, Node's default trust store is used
 *   (which already honours `NODE_EXTRA_CA_CERTS`).
 * - `maxConnectionsPerOrigin`: the keep-alive pool's cap per origin (default
 *   128, no pipelining): many concurrent flows share these sockets and their
 *   TLS handshakes; requests beyond the cap wait for a free connection.
 *
 * @since 0.1.0
 * @category models
 */
export interface HttpOptions {
  readonly connectTimeout: Duration.DurationInput
  readonly requestTimeout: Duration.DurationInput
  readonly maxResponseBytes: number
  readonly userAgent: string
  readonly proxy: ProxyOptions
  readonly ca: ReadonlyArray<string> | undefined
  readonly maxConnectionsPerOrigin?: number | undefined
}

/**
 * The version of `@devflow/node-http`, as sent in the default User-Agent.
 *
 * @since 0.1.0
 * @category utils
 */
export const version: string = internal.version

/**
 * The default User-Agent: `devflow/<version> (+https://github.com/devflow)`.
 *
 * @since 0.1.0
 * @category utils
 */
export const defaultUserAgent: string = internal.defaultUserAgent

/**
 * The defaults: connect timeout 10 s, request timeout 30 s, 1 MiB body cap,
 * the default User-Agent, proxies from the environment, Node's trust store,
 * at most 128 connections per origin.
 *
 * @since 0.1.0
 * @category constructors
 */
export const defaults: HttpOptions = internal.defaults

/**
 * Reads the options from configuration: `DEVFLOW_HTTP_CONNECT_TIMEOUT`,
 * `DEVFLOW_HTTP_REQUEST_TIMEOUT` (an Effect duration such as `"10 seconds"`, or
 * milliseconds), `DEVFLOW_HTTP_MAX_RESPONSE_BYTES`, `DEVFLOW_HTTP_USER_AGENT` and
 * `DEVFLOW_HTTP_MAX_CONNECTIONS` (per origin);
 * each missing one takes its default. Proxies and `NODE_EXTRA_CA_CERTS` are
 * read from the environment by undici and Node themselves.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromEnv: Config.Config<HttpOptions> = internal.fromEnv
