import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as TestClock from "effect/TestClock"
import * as ClientConfig from "./ClientConfig.js"
import * as DeviceAuthorization from "./DeviceAuthorization.js"
import * as ServerMetadata from "./ServerMetadata.js"
import * as TestKit from "./TestKit.js"

const ISSUER = TestKit.ISSUER
const DEVICE_CODE_GRANT = DeviceAuthorization.GRANT_TYPE

/** A metadata document for `issuer` with its endpoints under it. */
const metadata = (issuer: string, fields: Readonly<Record<string, unknown>> = {}) => ({
  issuer,
  token_endpoint: `${issuer}/oauth2/token`,
  device_authorization_endpoint: `${issuer}/oauth2/device_authorization`,
  grant_types_supported: [DEVICE_CODE_GRANT, "refresh_token"],
  scopes_supported: ["openid", "profile", "offline_access"],
  token_endpoint_auth_methods_supported: ["none"],
  // fields devflow does not read are ignored
  jwks_uri: `${issuer}/jwks`,
  response_types_supported: ["code"],
  ...fields
})

type Other = NonNullable<TestKit.Script["other"]>

/** A fake server that answers only the well-known URLs in `documents` (404 elsewhere). */
const serving = (documents: Readonly<Record<string, TestKit.Reply>>) =>
  TestKit.layer({
    deviceAuthorization: () => TestKit.hang,
    token: () => TestKit.hang,
    other: ({ url }) => documents[url.href] ?? TestKit.text("Not Found", "text/plain", { status: 404 })
  })

const answering = (other: Other) =>
  TestKit.layer({ deviceAuthorization: () => TestKit.hang, token: () => TestKit.hang, other })

const requested = Effect.map(Effect.flatMap(TestKit.FakeServer, (s) => s.requests), (all) => all.map((r) => r.url))

describe("ServerMetadata.wellKnownUrls", () => {
  it("an issuer without a path: OIDC's, then RFC 8414's", () => {
    assert.deepStrictEqual(ServerMetadata.wellKnownUrls(new URL("https://idp.example")), [
      "https://idp.example/.well-known/openid-configuration",
      "https://idp.example/.well-known/oauth-authorization-server"
    ])
  })

  it("an issuer with a path: OIDC's appended, RFC 8414's inserted (§3.1), then RFC 8414's appended", () => {
    assert.deepStrictEqual(ServerMetadata.wellKnownUrls(new URL("https://idp.example/realms/demo")), [
      "https://idp.example/realms/demo/.well-known/openid-configuration",
      "https://idp.example/.well-known/oauth-authorization-server/realms/demo",
      "https://idp.example/realms/demo/.well-known/oauth-authorization-server"
    ])
  })
})

describe("ServerMetadata.discover (RFC 8414, OpenID Connect Discovery)", () => {
  it.effect("reads the OpenID configuration appended to the issuer, with one GET", () =>
    Effect.gen(function*() {
      const found = yield* ServerMetadata.discover(ISSUER)
      assert.deepStrictEqual(found, {
        issuer: ISSUER,
        deviceAuthorizationEndpoint: `${ISSUER}/oauth2/device_authorization`,
        tokenEndpoint: `${ISSUER}/oauth2/token`,
        scopesSupported: ["openid", "profile", "offline_access"],
        openIdProvider: true,
        tokenEndpointAuthMethodsSupported: ["none"],
        revocationEndpoint: undefined,
        source: `${ISSUER}/.well-known/openid-configuration`
      })
      const requests = yield* Effect.flatMap(TestKit.FakeServer, (s) => s.requests)
      assert.strictEqual(requests.length, 1)
      assert.strictEqual(requests[0]!.method, "GET")
      assert.strictEqual(requests[0]!.headers.accept, "application/json")
    }).pipe(Effect.provide(serving({
      [`${ISSUER}/.well-known/openid-configuration`]: TestKit.json(metadata(ISSUER))
    }))))

  it.effect("RFC 8414 revocation_endpoint is read when well-formed, and a malformed one is dropped, not fatal", () =>
    Effect.gen(function*() {
      const good = yield* ServerMetadata.discover(ISSUER).pipe(Effect.provide(serving({
        [`${ISSUER}/.well-known/openid-configuration`]: TestKit.json(
          metadata(ISSUER, { revocation_endpoint: `${ISSUER}/oauth2/revoke` })
        )
      })))
      assert.strictEqual(good.revocationEndpoint, `${ISSUER}/oauth2/revoke`)
      const bad = yield* ServerMetadata.discover(ISSUER).pipe(Effect.provide(serving({
        [`${ISSUER}/.well-known/openid-configuration`]: TestKit.json(
          metadata(ISSUER, { revocation_endpoint: "http://evil.example/revoke" })
        )
      })))
      assert.strictEqual(bad.revocationEndpoint, undefined)
      assert.strictEqual(bad.tokenEndpoint, `${ISSUER}/oauth2/token`)
    }))

  it.effect("the discovered endpoints make a valid ClientConfig, and the flow uses them", () =>
    Effect.gen(function*() {
      const found = yield* ServerMetadata.discover(ISSUER)
      const config = yield* ClientConfig.make({
        clientId: TestKit.CLIENT_ID,
        endpoints: { deviceAuthorization: found.deviceAuthorizationEndpoint, token: found.tokenEndpoint }
      })
      assert.deepStrictEqual(config.endpoints, {
        deviceAuthorization: TestKit.DEVICE_AUTHORIZATION_ENDPOINT,
        token: TestKit.TOKEN_ENDPOINT
      })
    }).pipe(Effect.provide(serving({
      [`${ISSUER}/.well-known/openid-configuration`]: TestKit.json(metadata(ISSUER))
    }))))

  it.effect("an issuer with a path: the RFC 8414 path-insertion form is found after OIDC's 404", () =>
    Effect.gen(function*() {
      const issuer = "https://idp.example/realms/demo"
      const found = yield* ServerMetadata.discover(issuer)
      assert.strictEqual(found.issuer, issuer)
      assert.strictEqual(found.source, "https://idp.example/.well-known/oauth-authorization-server/realms/demo")
      assert.strictEqual(found.deviceAuthorizationEndpoint, `${issuer}/oauth2/device_authorization`)
      assert.deepStrictEqual(yield* requested, [
        "https://idp.example/realms/demo/.well-known/openid-configuration",
        "https://idp.example/.well-known/oauth-authorization-server/realms/demo"
      ])
    }).pipe(Effect.provide(serving({
      "https://idp.example/.well-known/oauth-authorization-server/realms/demo": TestKit.json(
        metadata("https://idp.example/realms/demo")
      )
    }))))

  it.effect("a trailing slash on the configured issuer does not change the locations or the issuer check", () =>
    Effect.gen(function*() {
      const found = yield* ServerMetadata.discover("https://idp.example/realms/demo/")
      assert.strictEqual(found.source, "https://idp.example/realms/demo/.well-known/openid-configuration")
    }).pipe(Effect.provide(serving({
      "https://idp.example/realms/demo/.well-known/openid-configuration": TestKit.json(
        metadata("https://idp.example/realms/demo")
      )
    }))))

  it.effect("falls back in order on 404 and 410, to the last form (RFC 8414 appended)", () =>
    Effect.gen(function*() {
      const issuer = "https://idp.example/tenant-a"
      const found = yield* ServerMetadata.discover(issuer)
      assert.strictEqual(found.source, `${issuer}/.well-known/oauth-authorization-server`)
      assert.deepStrictEqual(yield* requested, [
        `${issuer}/.well-known/openid-configuration`,
        "https://idp.example/.well-known/oauth-authorization-server/tenant-a",
        `${issuer}/.well-known/oauth-authorization-server`
      ])
    }).pipe(Effect.provide(serving({
      "https://idp.example/.well-known/oauth-authorization-server/tenant-a": TestKit.text("Gone", "text/plain", {
        status: 410
      }),
      "https://idp.example/tenant-a/.well-known/oauth-authorization-server": TestKit.json(
        metadata("https://idp.example/tenant-a")
      )
    }))))

  it.effect("stops at the first document found: later locations are not requested", () =>
    Effect.gen(function*() {
      yield* ServerMetadata.discover("https://idp.example/realms/demo")
      assert.deepStrictEqual(yield* requested, ["https://idp.example/realms/demo/.well-known/openid-configuration"])
    }).pipe(Effect.provide(answering(({ url }) =>
      url.pathname.endsWith("/openid-configuration")
        ? TestKit.json(metadata("https://idp.example/realms/demo"))
        : TestKit.json(metadata("https://other.example"))
    ))))

  it.effect("an issuer that differs from the configured one is an InvalidResponse on field issuer, and nothing else is tried", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(ServerMetadata.discover(ISSUER))
      assert(error._tag === "InvalidResponse")
      assert.strictEqual(error.field, "issuer")
      assert.strictEqual(error.status, 200)
      assert.strictEqual(error.endpoint, `${ISSUER}/.well-known/openid-configuration`)
      assert.include(error.reason, "https://evil.example")
      assert.include(error.reason, ISSUER)
      assert.notInclude(error.message, "\n")
      assert.strictEqual((yield* requested).length, 1)
    }).pipe(Effect.provide(serving({
      [`${ISSUER}/.well-known/openid-configuration`]: TestKit.json(metadata("https://evil.example"))
    }))))

  it.effect("a path issuer whose document names the bare host (or another path) is refused", () =>
    Effect.gen(function*() {
      for (
        const named of ["https://idp.example", "https://idp.example/realms/other", "https://idp.example/realms/demo/x"]
      ) {
        const error = yield* Effect.flip(
          ServerMetadata.discover("https://idp.example/realms/demo").pipe(
            Effect.provide(answering(() => TestKit.json(metadata(named))))
          )
        )
        assert(error._tag === "InvalidResponse", named)
        assert.strictEqual(error.field, "issuer", named)
      }
    }))

  it.effect("missing device_authorization_endpoint is a typed error saying the server has no device flow", () =>
    Effect.gen(function*() {
      const withoutGrant = yield* Effect.flip(
        ServerMetadata.discover(ISSUER).pipe(Effect.provide(answering(() =>
          TestKit.json(metadata(ISSUER, {
            device_authorization_endpoint: undefined,
            grant_types_supported: ["authorization_code", "refresh_token"]
          }))
        )))
      )
      assert(withoutGrant._tag === "InvalidResponse")
      assert.strictEqual(withoutGrant.field, "device_authorization_endpoint")
      assert.include(withoutGrant.reason, "does not offer the device flow")

      const silent = yield* Effect.flip(
        ServerMetadata.discover(ISSUER).pipe(
          Effect.provide(answering(() =>
            TestKit.json(
              metadata(ISSUER, { device_authorization_endpoint: undefined, grant_types_supported: undefined })
            )
          ))
        )
      )
      assert(silent._tag === "InvalidResponse")
      assert.strictEqual(silent.field, "device_authorization_endpoint")
      assert.include(silent.reason, "RFC 8628 §4")
    }))

  it.effect("missing or malformed required fields name the field", () =>
    Effect.gen(function*() {
      for (
        const [fields, field] of [
          [{ token_endpoint: undefined }, "token_endpoint"],
          [{ token_endpoint: "" }, "token_endpoint"],
          [{ issuer: undefined }, "issuer"],
          [{ issuer: 42 }, "issuer"],
          [{ device_authorization_endpoint: 7 }, "device_authorization_endpoint"]
        ] as const
      ) {
        const error = yield* Effect.flip(
          ServerMetadata.discover(ISSUER).pipe(Effect.provide(answering(() => TestKit.json(metadata(ISSUER, fields)))))
        )
        assert(error._tag === "InvalidResponse", JSON.stringify(fields))
        assert.strictEqual(error.field, field, JSON.stringify(fields))
      }
    }))

  it.effect("http endpoints to remote hosts in the metadata are refused, naming the field", () =>
    Effect.gen(function*() {
      for (
        const [fields, field] of [
          [{ device_authorization_endpoint: "http://auth.devflow.test/device" }, "device_authorization_endpoint"],
          [{ token_endpoint: "http://evil.example/token" }, "token_endpoint"],
          [{ token_endpoint: "not a url" }, "token_endpoint"],
          [
            { device_authorization_endpoint: "https://user:pw@auth.devflow.test/device" },
            "device_authorization_endpoint"
          ]
        ] as const
      ) {
        const error = yield* Effect.flip(
          ServerMetadata.discover(ISSUER).pipe(Effect.provide(answering(() => TestKit.json(metadata(ISSUER, fields)))))
        )
        assert(error._tag === "InvalidResponse", JSON.stringify(fields))
        assert.strictEqual(error.field, field, JSON.stringify(fields))
        assert.notInclude(error.message, "pw@")
      }
    }))

  it.effect("http endpoints on loopback are accepted for a loopback issuer", () =>
    Effect.gen(function*() {
      const issuer = "http://127.0.0.1:4000"
      const found = yield* ServerMetadata.discover(issuer).pipe(
        Effect.provide(answering(() => TestKit.json(metadata(issuer))))
      )
      assert.strictEqual(found.tokenEndpoint, `${issuer}/oauth2/token`)
    }))

  it.effect("404 everywhere is a typed error listing every location tried", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(ServerMetadata.discover("https://idp.example/realms/demo"))
      assert(error._tag === "InvalidResponse")
      assert.strictEqual(error.status, 404)
      assert.notInclude(error.message, "\n")
      for (const location of ServerMetadata.wellKnownUrls(new URL("https://idp.example/realms/demo"))) {
        assert.include(error.message, location)
      }
      assert.strictEqual((yield* requested).length, 3)
    }).pipe(
      Effect.provide(
        answering(() => TestKit.text("<!doctype html><h1>404 Not Found</h1>", "text/html", { status: 404 }))
      )
    ))

  it.effect("an HTML page with HTTP 200 is an InvalidResponse that says it is HTML", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(ServerMetadata.discover(ISSUER))
      assert(error._tag === "InvalidResponse")
      assert.include(error.reason, "HTML")
      assert.notInclude(error.message, "\n")
    }).pipe(Effect.provide(answering(() => TestKit.text("<!doctype html><title>Sign in</title>", "text/html")))))

  // Regression test (this bug was found by the suite and fixed): an HTML page served with HTTP 200 (an SPA or portal catch-all) ends discovery at the first
  // location with "is an HTML page"; the remaining well-known locations are never tried, and the error
  // does not list what was tried. Expected: an HTML answer counts as "no document here", like 404.
  it.effect("HTML (HTTP 200) everywhere is a typed error listing every location tried", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(ServerMetadata.discover("https://idp.example/realms/demo"))
      assert(error._tag === "InvalidResponse")
      for (const location of ServerMetadata.wellKnownUrls(new URL("https://idp.example/realms/demo"))) {
        assert.include(error.message, location)
      }
    }).pipe(Effect.provide(answering(() => TestKit.text("<!doctype html><title>App</title>", "text/html")))))

  it.effect("truncated JSON and non-object JSON are InvalidResponse", () =>
    Effect.gen(function*() {
      for (const body of [`{"issuer":"${ISSUER}","token_endpoint":`, "[]", "null", "\"issuer\""]) {
        const error = yield* Effect.flip(
          ServerMetadata.discover(ISSUER).pipe(
            Effect.provide(answering(() => TestKit.text(body, "application/json")))
          )
        )
        assert(error._tag === "InvalidResponse", body)
        assert.strictEqual(error.endpoint, `${ISSUER}/.well-known/openid-configuration`)
      }
    }))

  it.effect("a redirect is not followed: InvalidResponse naming where it pointed", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(ServerMetadata.discover(ISSUER))
      assert(error._tag === "InvalidResponse")
      assert.strictEqual(error.status, 302)
      assert.include(error.reason, "https://evil.example/.well-known/openid-configuration")
      assert.deepStrictEqual(yield* requested, [`${ISSUER}/.well-known/openid-configuration`])
    }).pipe(Effect.provide(answering(({ url }) =>
      url.host === "auth.devflow.test"
        ? TestKit.text("", "text/plain", {
          status: 302,
          headers: { location: "https://evil.example/.well-known/openid-configuration" }
        })
        : TestKit.json(metadata(ISSUER))
    ))))

  it.effect("a server error or a transport failure is a TransportError", () =>
    Effect.gen(function*() {
      const unavailable = yield* Effect.flip(
        ServerMetadata.discover(ISSUER).pipe(
          Effect.provide(answering(() => TestKit.text("busy", "text/plain", { status: 503 })))
        )
      )
      assert(unavailable._tag === "TransportError")
      assert.strictEqual(unavailable.status, 503)
      const reset = yield* Effect.flip(
        ServerMetadata.discover(ISSUER).pipe(Effect.provide(answering(() => TestKit.transportFailure("ECONNRESET"))))
      )
      assert(reset._tag === "TransportError")
      assert.include(reset.message, "ECONNRESET")
    }))
})

describe("ServerMetadata.inferredScopes: what to ask for when no scope is given", () => {
  it.effect("an OpenID Provider found by OpenID Connect Discovery: openid, and offline_access when listed", () =>
    Effect.gen(function*() {
      const found = yield* ServerMetadata.discover(ISSUER)
      assert.isTrue(found.openIdProvider)
      assert.deepStrictEqual(ServerMetadata.inferredScopes(found), ["openid", "offline_access"])
    }).pipe(Effect.provide(serving({
      [`${ISSUER}/.well-known/openid-configuration`]: TestKit.json(metadata(ISSUER))
    }))))

  it.effect("an RFC 8414 server that lists openid is an OpenID Provider; one that lists neither gets nothing", () =>
    Effect.gen(function*() {
      const rfc8414 = `https://idp.example/.well-known/oauth-authorization-server`
      const listsOpenid = yield* ServerMetadata.discover("https://idp.example").pipe(Effect.provide(serving({
        [rfc8414]: TestKit.json(metadata("https://idp.example", { scopes_supported: ["openid", "read"] }))
      })))
      assert.deepStrictEqual(ServerMetadata.inferredScopes(listsOpenid), ["openid"])
      const plain = yield* ServerMetadata.discover("https://idp.example").pipe(Effect.provide(serving({
        [rfc8414]: TestKit.json(metadata("https://idp.example", { scopes_supported: undefined }))
      })))
      assert.isFalse(plain.openIdProvider)
      assert.deepStrictEqual(ServerMetadata.inferredScopes(plain), [])
    }))
})

describe("ServerMetadata.layer: the per-process cache", () => {
  const discover = (issuer: string) => Effect.flatMap(ServerMetadata.Discovery, (d) => d.discover(issuer))

  const cached = (other: Other, options?: Parameters<typeof ServerMetadata.layer>[0]) => {
    const server = answering(other)
    return ServerMetadata.layer(options).pipe(Layer.provideMerge(server))
  }

  it.effect("sequential lookups of one issuer send one request", () =>
    Effect.gen(function*() {
      const first = yield* discover(ISSUER)
      const second = yield* discover(ISSUER)
      const third = yield* discover(ISSUER)
      assert.deepStrictEqual(second, first)
      assert.deepStrictEqual(third, first)
      assert.strictEqual((yield* requested).length, 1)
    }).pipe(Effect.provide(cached(() => TestKit.json(metadata(ISSUER))))))

  it.effect("concurrent lookups of one issuer share one request", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.fork(
        Effect.all(Array.from({ length: 10 }, () => discover(ISSUER)), { concurrency: "unbounded" })
      )
      // every lookup is now waiting for the one slow answer
      yield* TestClock.adjust("1 second")
      const results = yield* Fiber.join(fiber)
      assert.strictEqual(results.length, 10)
      for (const r of results) assert.deepStrictEqual(r, results[0])
      assert.strictEqual((yield* requested).length, 1)
    }).pipe(Effect.provide(cached(() => TestKit.json(metadata(ISSUER), { delay: "1 second" })))))

  it.effect("each issuer has its own entry", () =>
    Effect.gen(function*() {
      const a = yield* discover("https://a.example")
      const b = yield* discover("https://b.example")
      yield* discover("https://a.example")
      yield* discover("https://b.example")
      assert.strictEqual(a.issuer, "https://a.example")
      assert.strictEqual(b.issuer, "https://b.example")
      assert.deepStrictEqual(yield* requested, [
        "https://a.example/.well-known/openid-configuration",
        "https://b.example/.well-known/openid-configuration"
      ])
    }).pipe(Effect.provide(cached(({ url }) => TestKit.json(metadata(url.origin))))))

  const failThenSucceed: Other = ({ attempt }) =>
    attempt === 0
      ? TestKit.text("busy", "text/plain", { status: 503 })
      : attempt === 1
      ? TestKit.json(metadata("https://evil.example"))
      : TestKit.json(metadata(ISSUER))

  it.effect("failures are not cached: the next lookup asks again", () =>
    Effect.gen(function*() {
      const first = yield* Effect.either(discover(ISSUER))
      assert(Either.isLeft(first))
      assert.strictEqual(first.left._tag, "TransportError")
      yield* TestClock.adjust("1 millis")
      const second = yield* Effect.either(discover(ISSUER))
      assert(Either.isLeft(second))
      assert.strictEqual(second.left._tag, "InvalidResponse")
      yield* TestClock.adjust("1 millis")
      const third = yield* discover(ISSUER)
      assert.strictEqual(third.issuer, ISSUER)
      yield* discover(ISSUER)
      assert.strictEqual((yield* requested).length, 3)
    }).pipe(Effect.provide(cached(failThenSucceed))))

  // Regression test (this bug was found by the suite and fixed): ServerMetadata.layer caches a failure with timeToLive Duration.zero, but Effect's Cache
  // expires an entry only when `now > expiresAt`, so the failure is served from the cache for the
  // rest of the millisecond it completed in: an immediate retry (Effect.retry without delay, a
  // second caller arriving right after a fast "connection refused") gets the stale failure and no
  // request is sent. Fix idea: invalidate the key when the lookup fails (tapError -> cache.invalidate).
  it.effect("failures are not cached even for an immediate retry (same millisecond)", () =>
    Effect.gen(function*() {
      const first = yield* Effect.either(discover(ISSUER))
      assert(Either.isLeft(first))
      assert.strictEqual(first.left._tag, "TransportError")
      const second = yield* Effect.either(discover(ISSUER))
      assert(Either.isLeft(second))
      assert.strictEqual(second.left._tag, "InvalidResponse")
      assert.strictEqual((yield* requested).length, 2)
    }).pipe(Effect.provide(cached(failThenSucceed))))

  it.effect("concurrent lookups that fail together share one request, and the next lookup asks again", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.fork(
        Effect.all(Array.from({ length: 5 }, () => Effect.either(discover(ISSUER))), { concurrency: "unbounded" })
      )
      yield* TestClock.adjust("1 second")
      const failed = yield* Fiber.join(fiber)
      assert.isTrue(failed.every(Either.isLeft))
      assert.strictEqual((yield* requested).length, 1)
      yield* TestClock.adjust("1 millis")
      const found = yield* discover(ISSUER)
      assert.strictEqual(found.issuer, ISSUER)
      assert.strictEqual((yield* requested).length, 2)
    }).pipe(Effect.provide(cached(({ attempt }) =>
      attempt === 0
        ? TestKit.text("busy", "text/plain", { status: 503, delay: "1 second" })
        : TestKit.json(metadata(ISSUER))
    ))))

  it.effect("an entry is fetched again after its time to live", () =>
    Effect.gen(function*() {
      yield* discover(ISSUER)
      yield* TestClock.adjust("59 seconds")
      yield* discover(ISSUER)
      assert.strictEqual((yield* requested).length, 1)
      yield* TestClock.adjust("2 seconds")
      yield* discover(ISSUER)
      assert.strictEqual((yield* requested).length, 2)
    }).pipe(Effect.provide(cached(() => TestKit.json(metadata(ISSUER)), { timeToLive: "1 minute" }))))

  it.effect("an invalid issuer is refused by the cached lookup too, without a request", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(discover("http://auth.example.com"))
      assert.strictEqual(error._tag, "InvalidConfiguration")
      assert.strictEqual((yield* requested).length, 0)
    }).pipe(Effect.provide(cached(() => TestKit.json(metadata(ISSUER))))))
})
