import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Tls from "node:tls"
import * as HttpOptions from "./HttpOptions.js"
import * as dispatcher from "./internal/dispatcher.js"
import * as httpOptions from "./internal/httpOptions.js"
import * as NodeOAuthHttp from "./NodeOAuthHttp.js"

const fromMap = (entries: Record<string, string>, constantCase = false) => {
  const provider = ConfigProvider.fromMap(new Map(Object.entries(entries)), { pathDelim: "_" })
  return constantCase ? ConfigProvider.constantCase(provider) : provider
}

describe("HttpOptions", () => {
  it("defaults: 10 s connect, 30 s request, 1 MiB body, devflow User-Agent, proxies from the environment", () => {
    assert.isTrue(Duration.equals(Duration.decode(HttpOptions.defaults.connectTimeout), Duration.seconds(10)))
    assert.isTrue(Duration.equals(Duration.decode(HttpOptions.defaults.requestTimeout), Duration.seconds(30)))
    assert.strictEqual(HttpOptions.defaults.maxResponseBytes, 1_048_576)
    assert.strictEqual(HttpOptions.defaults.userAgent, `devflow/${HttpOptions.version} (+https://github.com/devflow)`)
    assert.deepStrictEqual(HttpOptions.defaults.proxy, {})
    assert.isUndefined(HttpOptions.defaults.ca)
  })

  describe("fromEnv", () => {
    it.effect("reads DEVFLOW_HTTP_* and defaults what is missing", () =>
      Effect.gen(function*() {
        const options = yield* Effect.withConfigProvider(
          HttpOptions.fromEnv,
          fromMap({
            DEVFLOW_HTTP_CONNECT_TIMEOUT: "2 seconds",
            DEVFLOW_HTTP_REQUEST_TIMEOUT: "1500",
            DEVFLOW_HTTP_MAX_RESPONSE_BYTES: "4096"
          })
        )
        assert.strictEqual(Duration.toMillis(options.connectTimeout), 2000)
        assert.strictEqual(Duration.toMillis(options.requestTimeout), 1500)
        assert.strictEqual(options.maxResponseBytes, 4096)
        assert.strictEqual(options.userAgent, HttpOptions.defaultUserAgent)
        assert.deepStrictEqual(options.proxy, {})
      }))

    it.effect("works with a constant-case provider", () =>
      Effect.gen(function*() {
        const options = yield* Effect.withConfigProvider(
          HttpOptions.fromEnv,
          fromMap({ DEVFLOW_HTTP_USER_AGENT: "acme-cli/2" }, true)
        )
        assert.strictEqual(options.userAgent, "acme-cli/2")
        assert.strictEqual(Duration.toMillis(options.requestTimeout), 30_000)
      }))

    it.effect("rejects a non-positive or malformed value", () =>
      Effect.gen(function*() {
        for (
          const entries of [
            { DEVFLOW_HTTP_MAX_RESPONSE_BYTES: "0" },
            { DEVFLOW_HTTP_REQUEST_TIMEOUT: "soon" },
            { DEVFLOW_HTTP_CONNECT_TIMEOUT: "0 millis" }
          ]
        ) {
          const error = yield* Effect.flip(Effect.withConfigProvider(HttpOptions.fromEnv, fromMap(entries)))
          assert.strictEqual(error._op, "InvalidData", JSON.stringify(entries))
        }
      }))
  })

  describe("validation", () => {
    it("rejects invalid options as a programming error", () => {
      const invalid: ReadonlyArray<Partial<HttpOptions.HttpOptions>> = [
        { maxResponseBytes: 0 },
        { maxResponseBytes: 1.5 },
        { requestTimeout: 0 },
        { connectTimeout: "-1 seconds" },
        { userAgent: "" },
        { userAgent: "a\r\nx-injected: 1" }
      ]
      for (const options of invalid) {
        assert.throws(() => httpOptions.resolve(options), /HttpOptions\./, JSON.stringify(options))
      }
    })

    it("treats an infinite timeout as no timeout", () => {
      const resolved = httpOptions.resolve({ requestTimeout: Duration.infinity, connectTimeout: Duration.infinity })
      assert.isUndefined(resolved.requestTimeout)
      assert.isUndefined(resolved.connectTimeoutMillis)
      assert.strictEqual(dispatcher.agentOptions(resolved).connectTimeout, 0)
    })

    it.effect("a layer with invalid options dies", () =>
      Effect.gen(function*() {
        const exit = yield* Effect.exit(Effect.provide(Effect.void, NodeOAuthHttp.layer({ maxResponseBytes: -1 })))
        assert.isTrue(Exit.isFailure(exit) && Cause.isDie(exit.cause))
      }))
  })

  describe("dispatcher options", () => {
    it("passes the connect timeout to direct, proxy and tunnelled connections", () => {
      const options = dispatcher.agentOptions(httpOptions.resolve({ connectTimeout: "3 seconds" }))
      assert.strictEqual(options.connectTimeout, 3000)
      assert.deepStrictEqual(options.connect, { timeout: 3000 })
      assert.deepStrictEqual(options.proxyTls, { timeout: 3000 })
      assert.deepStrictEqual(options.requestTls, { timeout: 3000 })
    })

    it("leaves unset proxy fields out, so undici falls back to the environment", () => {
      const options = dispatcher.agentOptions(httpOptions.resolve({ proxy: { httpsProxy: "http://proxy:3128" } }))
      assert.strictEqual(options.httpsProxy, "http://proxy:3128")
      assert.isFalse("httpProxy" in options)
      assert.isFalse("noProxy" in options)
    })

    it("adds `ca` to Node's bundled roots instead of replacing them", () => {
      const pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
      const ca = dispatcher.trustedCertificates([pem])
      assert.isTrue(Tls.rootCertificates.every((root) => ca.includes(root)))
      assert.strictEqual(ca.at(-1), pem)
    })

    it("builds the trusted store once: one TLS context shared by direct, proxy and tunnelled connections", () => {
      const options = dispatcher.agentOptions(httpOptions.resolve({ ca: [Tls.rootCertificates[0]!] }))
      const connect = options.connect as { readonly secureContext?: Tls.SecureContext; readonly ca?: unknown }
      assert.isDefined(connect.secureContext)
      assert.isUndefined(connect.ca)
      assert.strictEqual((options.proxyTls as typeof connect).secureContext, connect.secureContext)
      assert.strictEqual((options.requestTls as typeof connect).secureContext, connect.secureContext)
      // a store that does not parse never fails here: the connection reports it, typed, as before
      const broken = dispatcher.agentOptions(
        httpOptions.resolve({ ca: ["-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n"] })
      )
      assert.isDefined(broken.connect)
    })
  })
})
