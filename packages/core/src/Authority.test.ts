import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Authority from "./Authority.js"
import { InvalidConfiguration } from "./DeviceFlowError.js"
import * as ServerMetadata from "./ServerMetadata.js"
import * as TestKit from "./TestKit.js"

/** The typed failure of `self`, asserting it is an InvalidConfiguration. */
const refused = <A, E, R>(self: Effect.Effect<A, E, R>) =>
  Effect.map(Effect.flip(self), (error) => {
    assert(error instanceof InvalidConfiguration, String(error))
    // one line, naming the field first
    assert.notInclude(error.message, "\n")
    assert.isTrue(error.message.startsWith(`Invalid configuration: ${error.field} `))
    return error
  })

/** A fake server that answers nothing, to prove a refusal happened before any request. */
const silentServer = TestKit.layer({ deviceAuthorization: () => TestKit.hang, token: () => TestKit.hang })

describe("Authority.parse: https only, except loopback", () => {
  it.effect("accepts https URLs and drops the trailing slash", () =>
    Effect.gen(function*() {
      for (
        const [input, expected] of [
          ["https://auth.example.com", "https://auth.example.com"],
          ["https://auth.example.com/", "https://auth.example.com"],
          ["https://auth.example.com/realms/demo/", "https://auth.example.com/realms/demo"],
          ["  https://AUTH.example.com:8443/tenant  ", "https://auth.example.com:8443/tenant"]
        ] as const
      ) {
        const url = yield* Authority.parse("issuer", input)
        assert.strictEqual(Authority.toString(url), expected, input)
      }
    }))

  it.effect("accepts http only for 127.0.0.1, localhost and [::1]", () =>
    Effect.gen(function*() {
      for (
        const input of [
          "http://127.0.0.1:8080",
          "http://127.0.0.1",
          "http://127.5.6.7:9000/realms/demo",
          "http://localhost:3000",
          "http://LOCALHOST:3000",
          "http://[::1]:4000"
        ]
      ) {
        const url = yield* Authority.parse("issuer", input)
        assert.strictEqual(url.protocol, "http:", input)
      }
    }))

  it.effect("refuses http to any other host, including look-alikes of loopback", () =>
    Effect.gen(function*() {
      for (
        const input of [
          "http://auth.example.com",
          "http://localhost.example.com",
          "http://127.0.0.1.nip.io",
          "http://10.0.0.1",
          "http://0.0.0.0:8080",
          "http://[::2]:8080",
          "http://[::ffff:7f00:1]"
        ]
      ) {
        const error = yield* refused(Authority.parse("issuer", input))
        assert.strictEqual(error.field, "issuer")
        assert.include(error.reason, "must use https", input)
      }
    }))

  it.effect("refuses other schemes", () =>
    Effect.gen(function*() {
      for (const input of ["ftp://auth.example.com", "ws://localhost", "javascript:alert(1)", "file:///etc/passwd"]) {
        const error = yield* refused(Authority.parse("authority", input))
        assert.strictEqual(error.field, "authority")
        assert.include(error.reason, "must use https", input)
      }
    }))

  it.effect("malformed or empty URLs are an InvalidConfiguration naming the field", () =>
    Effect.gen(function*() {
      for (const input of ["", "   ", undefined]) {
        const error = yield* refused(Authority.parse("issuer", input))
        assert.strictEqual(error.field, "issuer")
        assert.strictEqual(error.reason, "is required")
      }
      for (const input of ["auth.example.com", "//auth.example.com", "https://", "https://exa mple.com", "not a url"]) {
        const error = yield* refused(Authority.parse("authority", input))
        assert.strictEqual(error.field, "authority")
        assert.include(error.reason, "is not an absolute URL", input)
      }
    }))

  it.effect("refuses credentials, queries and fragments, without echoing a password", () =>
    Effect.gen(function*() {
      const withPassword = yield* refused(Authority.parse("issuer", "https://admin:hunter2@auth.example.com"))
      assert.strictEqual(withPassword.reason, "must not contain credentials")
      assert.notInclude(withPassword.message, "hunter2")
      const malformedWithPassword = yield* refused(Authority.parse("issuer", "https://admin:hunter2@exa mple.com"))
      assert.notInclude(malformedWithPassword.message, "hunter2")
      for (
        const input of [
          "https://auth.example.com?tenant=x",
          "https://auth.example.com/#top",
          "https://auth.example.com#"
        ]
      ) {
        const error = yield* refused(Authority.parse("issuer", input))
        assert.strictEqual(error.reason, "must not contain a query or a fragment", input)
      }
    }))

  it.effect("discovery refuses an http issuer on a remote host before sending any request", () =>
    Effect.gen(function*() {
      const error = yield* refused(ServerMetadata.discover("http://auth.example.com"))
      assert.strictEqual(error.field, "issuer")
      const malformed = yield* refused(ServerMetadata.discover("auth.example.com/realms/demo"))
      assert.strictEqual(malformed.field, "issuer")
      const requests = yield* Effect.flatMap(TestKit.FakeServer, (s) => s.requests)
      assert.strictEqual(requests.length, 0)
    }).pipe(Effect.provide(silentServer)))
})

describe("Authority.entra: Microsoft Entra tenants", () => {
  const GUID = "72f988bf-86f1-41af-91ab-2d7cd011db47"

  it.effect("accepts a tenant GUID, a tenant domain, organizations, common and consumers", () =>
    Effect.gen(function*() {
      for (
        const [tenant, kind] of [
          [GUID, "guid"],
          ["contoso.onmicrosoft.com", "domain"],
          ["contoso.com", "domain"],
          ["organizations", "organizations"],
          ["common", "common"],
          ["consumers", "consumers"]
        ] as const
      ) {
        const fromUrl = yield* Authority.entra({ authority: `https://login.microsoftonline.com/${tenant}` })
        assert.deepStrictEqual(fromUrl, { origin: "https://login.microsoftonline.com", tenant, kind }, tenant)
        const separate = yield* Authority.entra({ tenant })
        assert.deepStrictEqual(separate, fromUrl, tenant)
      }
    }))

  it.effect("normalises the tenant's case", () =>
    Effect.gen(function*() {
      const guid = yield* Authority.entra({ authority: `https://login.microsoftonline.com/${GUID.toUpperCase()}` })
      assert.strictEqual(guid.tenant, GUID)
      const common = yield* Authority.entra({ tenant: "Organizations" })
      assert.deepStrictEqual(common, {
        origin: "https://login.microsoftonline.com",
        tenant: "organizations",
        kind: "organizations"
      })
    }))

  it.effect("an authority without a tenant is refused with the AADSTS50059 explanation", () =>
    Effect.gen(function*() {
      for (
        const options of [
          {},
          { authority: "https://login.microsoftonline.com" },
          { authority: "https://login.microsoftonline.com/" },
          { authority: "https://login.microsoftonline.us", tenant: "  " }
        ]
      ) {
        const error = yield* refused(Authority.entra(options))
        assert.strictEqual(error.field, "tenant")
        assert.include(error.reason, "AADSTS50059")
        assert.include(error.reason, "No tenant-identifying information found")
        assert.include(error.reason, "organizations, common or consumers")
      }
    }))

  it.effect("a tenant that is neither a GUID, a domain nor a keyword is refused, quoted", () =>
    Effect.gen(function*() {
      for (const tenant of ["contoso", "not-a-guid-0000", "72f988bf-86f1-41af-91ab-2d7cd011db4", "con toso.com"]) {
        const error = yield* refused(Authority.entra({ tenant }))
        assert.strictEqual(error.field, "tenant")
        assert.include(error.reason, JSON.stringify(tenant))
        assert.include(error.reason, "is not a tenant id (GUID), a tenant domain, organizations, common or consumers")
      }
    }))

  it.effect("a separate tenant must agree with the one in the authority", () =>
    Effect.gen(function*() {
      const error = yield* refused(
        Authority.entra({
          authority: "https://login.microsoftonline.com/contoso.onmicrosoft.com",
          tenant: "fabrikam.com"
        })
      )
      assert.strictEqual(error.field, "tenant")
      assert.include(error.reason, "fabrikam.com")
      assert.include(error.reason, "contoso.onmicrosoft.com")
      assert.include(error.reason, "disagrees")
      // agreeing (in any case) is fine
      const same = yield* Authority.entra({
        authority: "https://login.microsoftonline.com/contoso.onmicrosoft.com",
        tenant: "CONTOSO.onmicrosoft.com"
      })
      assert.strictEqual(same.tenant, "contoso.onmicrosoft.com")
    }))

  it.effect("accepts the /v2.0 (and /oauth2/v2.0) suffix copied from the portal", () =>
    Effect.gen(function*() {
      for (
        const authority of [
          `https://login.microsoftonline.com/${GUID}/v2.0`,
          `https://login.microsoftonline.com/${GUID}/v2.0/`,
          `https://login.microsoftonline.com/${GUID}/oauth2/v2.0`
        ]
      ) {
        const entra = yield* Authority.entra({ authority })
        assert.deepStrictEqual(
          entra,
          { origin: "https://login.microsoftonline.com", tenant: GUID, kind: "guid" },
          authority
        )
      }
    }))

  it.effect("refuses an authority with more path than a tenant (e.g. a full endpoint URL)", () =>
    Effect.gen(function*() {
      const error = yield* refused(
        Authority.entra({ authority: "https://login.microsoftonline.com/common/oauth2/v2.0/devicecode" })
      )
      assert.strictEqual(error.field, "authority")
      assert.include(error.reason, "too many path segments")
    }))

  it.effect("a malformed or http Entra authority names the authority field", () =>
    Effect.gen(function*() {
      const malformed = yield* refused(Authority.entra({ authority: "login.microsoftonline.com/common" }))
      assert.strictEqual(malformed.field, "authority")
      const http = yield* refused(Authority.entra({ authority: "http://login.microsoftonline.com/common" }))
      assert.strictEqual(http.field, "authority")
      assert.include(http.reason, "must use https")
    }))

  it.effect("sovereign clouds keep their own host", () =>
    Effect.gen(function*() {
      for (
        const host of [
          "login.microsoftonline.us",
          "login.chinacloudapi.cn",
          "login.partner.microsoftonline.cn",
          "login.microsoft.com",
          "login.windows.net"
        ]
      ) {
        assert.isTrue(Authority.isEntraHost(host), host)
        assert.isTrue(Authority.isEntraHost(host.toUpperCase()), host)
        const entra = yield* Authority.entra({ authority: `https://${host}/contoso.onmicrosoft.com` })
        assert.deepStrictEqual(entra, { origin: `https://${host}`, tenant: "contoso.onmicrosoft.com", kind: "domain" })
      }
      assert.isFalse(Authority.isEntraHost("login.microsoftonline.com.evil.example"))
      assert.isFalse(Authority.isEntraHost("auth.example.com"))
    }))

  it.effect("a test double on loopback is an acceptable authority (base-URL override)", () =>
    Effect.gen(function*() {
      const entra = yield* Authority.entra({ authority: "http://127.0.0.1:8080/organizations" })
      assert.deepStrictEqual(entra, { origin: "http://127.0.0.1:8080", tenant: "organizations", kind: "organizations" })
    }))
})
