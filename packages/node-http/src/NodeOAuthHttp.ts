/**
 * The real `HttpClient` for devflow, on undici (the dispatcher of
 * `@effect/platform-node`'s `NodeHttpClient`). Core only needs the abstract
 * `HttpClient.HttpClient`; this module provides it with the guarantees an
 * OAuth client wants:
 *
 * - a `User-Agent` on every request (unless the request sets one);
 * - a connect timeout (at the dispatcher) and one deadline for the whole
 *   request — connect, headers and body — the shorter of `requestTimeout` and
 *   the `timeoutMs` devflow attaches to the request (`RequestLimits.get`);
 * - a cap on the response body, the smaller of `maxResponseBytes` and
 *   the `maxBodyBytes` attached to it: refused from its Content-Length
 *   alone, or as soon as the bytes read pass it, never buffering past it;
 * - the client reads the whole body, up to the limit, before returning the
 *   response: a returned response holds no connection, and reading its body
 *   (`text`, `json`, `arrayBuffer`, `stream`…) costs no I/O;
 * - redirects are never followed: a 3xx response is returned as it is;
 * - interrupting the request aborts it and closes its connection at once;
 * - proxies from the environment or from options; extra trusted certificates.
 *
 * The client is marked with `RequestLimits.enforcing`, so devflow sets no
 * timer and reads no stream of its own around it.
 *
 * How failures surface (all as `HttpClientError`):
 *
 * - connection refused, DNS, TLS, connect timeout: `RequestError`, reason
 *   `"Transport"`, the undici message as `description`;
 * - no response headers by the deadline: `RequestError`, reason
 *   `"Transport"`, description `request timed out after … waiting for the
 *   response`, `cause` a `Cause.TimeoutException`;
 * - headers in time but not the whole body: the response is returned at the
 *   deadline and reading its body fails with a `ResponseError`, reason
 *   `"Decode"`, description `request timed out after … while reading the
 *   response body`, `cause` a `Cause.TimeoutException`;
 * - body over the cap (by its Content-Length, or while reading): the response
 *   is returned and reading its body fails with a `ResponseError`, reason
 *   `"Decode"`, description `response body exceeded N bytes`, `cause` a
 *   `Cause.ExceededCapacityException`;
 * - the connection failing mid-body: reading the body fails with a
 *   `ResponseError`, reason `"Decode"`, the undici message as `description`.
 *
 * @since 0.1.0
 */
import type * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import type * as Undici from "@effect/platform-node/Undici"
import type * as HttpClient from "@effect/platform/HttpClient"
import type * as ConfigError from "effect/ConfigError"
import type * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import type * as HttpOptions from "./HttpOptions.js"
import * as dispatcher from "./internal/dispatcher.js"
import * as internal from "./internal/nodeOAuthHttp.js"

/**
 * The fully wired client: an undici `EnvHttpProxyAgent` (created with the
 * layer, destroyed when it is released) plus the client on top of it.
 * Invalid options (a non-positive timeout or size) are a defect.
 *
 * @example
 * ```ts
 * import * as HttpClient from "@effect/platform/HttpClient"
 * import * as Effect from "effect/Effect"
 * import { NodeOAuthHttp } from "@devflow/node-http"
 *
 * const program = Effect.gen(function*() {
 *   const client = yield* HttpClient.HttpClient
 *   const response = yield* client.get("https://login.example.com/.well-known/openid-configuration")
 *   return yield* response.json
 * })
 *
 * program.pipe(Effect.provide(NodeOAuthHttp.layer({ requestTimeout: "10 seconds" })))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: (options?: Partial<HttpOptions.HttpOptions>) => Layer.Layer<HttpClient.HttpClient> = internal.layer

/**
 * Like {@link layer}, with the options read from configuration
 * (`HttpOptions.fromEnv`: `DEVFLOW_HTTP_CONNECT_TIMEOUT` and friends).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig: Layer.Layer<HttpClient.HttpClient, ConfigError.ConfigError> = internal.layerConfig

/**
 * The client without its dispatcher: provide `NodeHttpClient.Dispatcher`
 * yourself (e.g. a shared agent, or an undici `MockAgent` in tests). The
 * dispatcher-level options (`connectTimeout`, `proxy`, `ca`) are then up to
 * that dispatcher and ignored here.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerWithoutDispatcher: (
  options?: Partial<HttpOptions.HttpOptions>
) => Layer.Layer<HttpClient.HttpClient, never, NodeHttpClient.Dispatcher> = internal.layerWithoutDispatcher

/**
 * The dispatcher alone: an undici `EnvHttpProxyAgent` configured with the
 * connect timeout, proxy and certificate options, destroyed on release.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerDispatcher: (options?: Partial<HttpOptions.HttpOptions>) => Layer.Layer<NodeHttpClient.Dispatcher> =
  internal.layerDispatcher

/**
 * Builds the client on the `NodeHttpClient.Dispatcher` in context.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: (
  options?: Partial<HttpOptions.HttpOptions>
) => Effect.Effect<HttpClient.HttpClient, never, NodeHttpClient.Dispatcher> = internal.make

/**
 * Builds the client on a given undici dispatcher. Throws
 * `IllegalArgumentException` for invalid options.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromDispatcher: (
  dispatcher: Undici.Dispatcher,
  options?: Partial<HttpOptions.HttpOptions>
) => HttpClient.HttpClient = internal.fromDispatcher

/**
 * Creates the undici dispatcher as a scoped resource: an `EnvHttpProxyAgent`
 * with the connect timeout, proxy and certificate options, destroyed (open
 * connections closed) when the scope closes.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeDispatcher: (
  options?: Partial<HttpOptions.HttpOptions>
) => Effect.Effect<Undici.Dispatcher, never, Scope.Scope> = dispatcher.makeDispatcher
