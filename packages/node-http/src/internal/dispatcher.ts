import type * as Undici from "@effect/platform-node/Undici"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as Fs from "node:fs"
import * as Tls from "node:tls"
import type * as HttpOptions from "../HttpOptions.js"
import * as httpOptions from "./httpOptions.js"
import * as UndiciParts from "./undici.js"

/**
 * The certificates to trust when `ca` is given: passing `ca` to TLS replaces
 * Node's default store, so the bundled roots and the `NODE_EXTRA_CA_CERTS`
 * file (which `tls.rootCertificates` does not include) are added back.
 *
 * @internal
 */
export const trustedCertificates = (ca: ReadonlyArray<string>): Array<string> => {
  const extra: Array<string> = []
  const extraFile = process.env.NODE_EXTRA_CA_CERTS
  if (extraFile !== undefined && extraFile !== "") {
    try {
      extra.push(Fs.readFileSync(extraFile, "utf8"))
    } catch {
      // Node itself only warns about an unreadable NODE_EXTRA_CA_CERTS; so do we, by ignoring it.
    }
  }
  return [...Tls.rootCertificates, ...extra, ...ca]
}

// One TLS context for every connection: given as `ca`, Node parses the whole store (Node's roots,
// NODE_EXTRA_CA_CERTS and the given ones) again for each connection, milliseconds each. A store
// that does not parse stays `ca`, so that each connection fails with TLS's own typed error as before.
const trustOptions = (
  certificates: Array<string>
): { readonly secureContext: Tls.SecureContext } | { readonly ca: Array<string> } => {
  try {
    return { secureContext: Tls.createSecureContext({ ca: certificates }) }
  } catch {
    return { ca: certificates }
  }
}

/** @internal */
export const agentOptions = (resolved: httpOptions.Resolved): Undici.EnvHttpProxyAgent.Options => {
  // undici treats a connect timeout of 0 as "none".
  const timeout = resolved.connectTimeoutMillis ?? 0
  const tls: Undici.buildConnector.BuildOptions = resolved.ca === undefined
    ? { timeout }
    : { timeout, ...trustOptions(trustedCertificates(resolved.ca)) }
  const { httpProxy, httpsProxy, noProxy } = resolved.proxy
  return {
    // a keep-alive pool per origin with a cap, one request per connection at a time (no
    // pipelining): concurrent flows share sockets and TLS sessions instead of one each
    connections: resolved.maxConnectionsPerOrigin,
    pipelining: 1,
    connectTimeout: timeout,
    // direct connections
    connect: tls,
    // through a proxy: the connection to the proxy, and the TLS tunnelled to the origin
    proxyTls: tls,
    requestTls: tls,
    ...(httpProxy !== undefined ? { httpProxy } : {}),
    ...(httpsProxy !== undefined ? { httpsProxy } : {}),
    ...(noProxy !== undefined ? { noProxy } : {})
  }
}

// As undici's EnvHttpProxyAgent decides: an option wins over the environment, and an empty value is no proxy.
const proxied = (resolved: httpOptions.Resolved): boolean => {
  const { httpProxy, httpsProxy } = resolved.proxy
  const env = process.env
  return Boolean(httpProxy ?? env.http_proxy ?? env.HTTP_PROXY) ||
    Boolean(httpsProxy ?? env.https_proxy ?? env.HTTPS_PROXY)
}

/** @internal */
export const makeDispatcher = (
  options?: Partial<HttpOptions.HttpOptions>
): Effect.Effect<Undici.Dispatcher, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const resolved = httpOptions.resolve(options)
      const agent = agentOptions(resolved)
      // Without any proxy, a plain agent: the proxy-aware one parses each request's origin and
      // reads NO_PROXY from the environment on every request (about 2 µs and a URL per request).
      if (!proxied(resolved)) {
        const { httpProxy: _h, httpsProxy: _s, noProxy: _n, proxyTls: _p, requestTls: _r, ...direct } = agent
        return new UndiciParts.Agent(direct)
      }
      return new UndiciParts.EnvHttpProxyAgent(agent)
    }),
    (dispatcher) => Effect.promise(() => dispatcher.destroy().catch(() => undefined))
  )
