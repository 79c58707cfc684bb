import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Redacted from "effect/Redacted"
import { failure } from "../test/virtual.js"
import * as ClientConfig from "./ClientConfig.js"
import type { InvalidConfiguration } from "./DeviceFlowError.js"

const DEVICE = "https://login.example.com/oauth2/devicecode"
const TOKEN = "https://login.example.com/oauth2/token"

const base: ClientConfig.ClientConfigInput = {
  clientId: "my-client",
  endpoints: { deviceAuthorization: DEVICE, token: TOKEN }
}

const make = (overrides: Partial<ClientConfig.ClientConfigInput> = {}) =>
  Effect.exit(ClientConfig.make({ ...base, ...overrides }))

const made = (overrides: Partial<ClientConfig.ClientConfigInput> = {}) =>
  Effect.map(make(overrides), (exit) => {
    if (Exit.isFailure(exit)) assert.fail(`expected a configuration, got ${String(exit.cause)}`)
    return (exit as Exit.Success<ClientConfig.ClientConfig, InvalidConfiguration>).value
  })

/** The InvalidConfiguration `overrides` lead to. */
const refused = (overrides: Partial<ClientConfig.ClientConfigInput>) =>
  Effect.map(make(overrides), (exit) => {
    const error = failure(exit)
    assert.strictEqual(error._tag, "InvalidConfiguration")
    return error
  })

const endpoints = (token: string) => ({ endpoints: { deviceAuthorization: DEVICE, token } })

describe("ClientConfig.make: a valid configuration", () => {
  it.effect("keeps what it was given and fills in the defaults", () =>
    Effect.gen(function*() {
      const config = yield* made()
      assert.strictEqual(config.clientId, "my-client")
      assert.isUndefined(config.clientSecret)
      assert.strictEqual(config.clientAuthMethod, "none")
      assert.deepStrictEqual(config.endpoints, { deviceAuthorization: DEVICE, token: TOKEN })
      assert.deepStrictEqual(config.scopes, [])
      assert.deepStrictEqual(config.deviceAuthorizationParams, {})
      assert.deepStrictEqual(config.tokenParams, {})
    }))

  it.effect("the client id is trimmed", () =>
    Effect.gen(function*() {
      assert.strictEqual((yield* made({ clientId: "  my-client \n" })).clientId, "my-client")
    }))

  it.effect("a client secret defaults to client_secret_post", () =>
    Effect.gen(function*() {
      const config = yield* made({ clientSecret: Redacted.make("s3cr3t") })
      assert.strictEqual(config.clientAuthMethod, "client_secret_post")
      assert.isTrue(Redacted.isRedacted(config.clientSecret))
    }))

  it.effect("client_secret_basic is kept when asked for", () =>
    Effect.gen(function*() {
      const config = yield* made({ clientSecret: Redacted.make("s3cr3t"), clientAuthMethod: "client_secret_basic" })
      assert.strictEqual(config.clientAuthMethod, "client_secret_basic")
    }))

  it.effect("extra parameters that are not reserved are kept", () =>
    Effect.gen(function*() {
      const config = yield* made({
        deviceAuthorizationParams: { audience: "api://x", resource: "https://graph.example.com" },
        tokenParams: { resource: "https://graph.example.com" }
      })
      assert.deepStrictEqual(config.deviceAuthorizationParams, {
        audience: "api://x",
        resource: "https://graph.example.com"
      })
      assert.deepStrictEqual(config.tokenParams, { resource: "https://graph.example.com" })
    }))
})

describe("ClientConfig.make: the client id", () => {
  for (const [why, clientId] of [["empty", ""], ["only whitespace", " \t\n "]] as const) {
    it.effect(`${why} is refused`, () =>
      Effect.gen(function*() {
        const error = yield* refused({ clientId })
        assert.strictEqual(error.field, "clientId")
        assert.include(error.reason, "empty")
      }))
  }

  for (
    const [name, char] of [["NUL", "\u0000"], ["tab", "\t"], ["newline", "\n"], ["escape", "\u001b"], ["DEL", "\u007f"]]
  ) {
    it.effect(`a ${name} inside it is refused`, () =>
      Effect.gen(function*() {
        const error = yield* refused({ clientId: `my${char}client` })
        assert.strictEqual(error.field, "clientId")
        assert.include(error.reason, "control characters")
      }))
  }
})

describe("ClientConfig.make: endpoints (RFC 6749 §3.2, RFC 8628 §5.1: TLS only)", () => {
  it.effect("both endpoints are checked, each failure naming its own field", () =>
    Effect.gen(function*() {
      const device = yield* refused({ endpoints: { deviceAuthorization: "nope", token: TOKEN } })
      assert.strictEqual(device.field, "endpoints.deviceAuthorization")
      const token = yield* refused(endpoints("nope"))
      assert.strictEqual(token.field, "endpoints.token")
    }))

  const refusedUrls: ReadonlyArray<readonly [why: string, url: string, reason: string]> = [
    ["empty", "", "required"],
    ["blank", "   ", "required"],
    ["not a URL", "not a url", "not an absolute URL"],
    ["relative", "/oauth2/token", "not an absolute URL"],
    ["without a scheme", "login.example.com/oauth2/token", "not an absolute URL"],
    ["http to a remote host", "http://login.example.com/oauth2/token", "https"],
    ["http to a host that only starts like localhost", "http://localhost.evil.example/token", "https"],
    ["http to a host that only starts like 127.0.0.1", "http://127.0.0.1.evil.example/token", "https"],
    ["http to a private address", "http://192.168.1.10/token", "https"],
    ["another scheme", "ftp://login.example.com/token", "https"],
    ["a javascript: URL", "javascript:alert(1)", "https"],
    ["with a user and password", "https://user:pass@login.example.com/token", "credentials"],
    ["with a user only", "https://user@login.example.com/token", "credentials"],
    ["with a fragment", "https://login.example.com/token#frag", "fragment"]
  ]
  for (const [why, url, reason] of refusedUrls) {
    it.effect(`${why} (${JSON.stringify(url)}) is refused`, () =>
      Effect.gen(function*() {
        const error = yield* refused(endpoints(url))
        assert.strictEqual(error.field, "endpoints.token")
        assert.include(error.reason, reason)
      }))
  }

  it.effect("the refusal does not repeat credentials embedded in the URL", () =>
    Effect.gen(function*() {
      const error = yield* refused(endpoints("https://user:hunter2@login.example.com/token"))
      assert.notInclude(error.message, "hunter2")
      assert.notInclude(JSON.stringify(error), "hunter2")
    }))

  // Regression test (this bug was found by the suite and fixed): validateEndpoint quotes the raw input (first 200 characters) when `new URL` cannot parse it, so a
  // URL carrying a password that is also malformed (here: a space in the host) puts the password into
  // InvalidConfiguration.reason/message. Style rule 5: never put a secret into a message.
  it.effect("the refusal of an unparsable URL does not repeat a password in it either", () =>
    Effect.gen(function*() {
      const error = yield* refused(endpoints("https://user:hunter2@login example.com/token"))
      assert.strictEqual(error.field, "endpoints.token")
      assert.notInclude(error.message, "hunter2")
    }))

  // Regression test (this bug was found by the suite and fixed): validateEndpoint tests `url.hash !== ""`, but WHATWG URL reports an empty fragment ("…/token#")
  // as hash "", so the URL is accepted and returned as "https://login.example.com/token#". RFC 6749 §3.1/§3.2:
  // "The endpoint URI MUST NOT include a fragment component", and an empty fragment is still one (RFC 3986 §3.5).
  it.effect("an empty fragment (a trailing \"#\") is refused too", () =>
    Effect.gen(function*() {
      const error = yield* refused(endpoints("https://login.example.com/token#"))
      assert.strictEqual(error.field, "endpoints.token")
    }))

  for (
    const url of [
      "http://127.0.0.1:8080/token",
      "http://127.1.2.3/token",
      "http://localhost:3000/token",
      "http://LOCALHOST/token",
      "http://[::1]:8080/token"
    ]
  ) {
    it.effect(`http to a loopback host is allowed: ${url}`, () =>
      Effect.gen(function*() {
        const config = yield* made(endpoints(url))
        assert.strictEqual(config.endpoints.token, new URL(url).href)
      }))
  }

  it.effect("https endpoints are kept, normalised", () =>
    Effect.gen(function*() {
      const config = yield* made(endpoints(" https://Login.Example.com:443/tenant/oauth2/token?api-version=2 "))
      assert.strictEqual(config.endpoints.token, "https://login.example.com/tenant/oauth2/token?api-version=2")
    }))

  it.effect("isLoopbackHost knows localhost, 127.0.0.0/8 and [::1] only", () =>
    Effect.sync(() => {
      for (const host of ["localhost", "127.0.0.1", "127.255.0.9", "[::1]"]) {
        assert.isTrue(ClientConfig.isLoopbackHost(host), host)
      }
      for (const host of ["example.com", "localhost.example.com", "128.0.0.1", "127.0.0.1.nip.io", "::1", "0.0.0.0"]) {
        assert.isFalse(ClientConfig.isLoopbackHost(host), host)
      }
    }))
})

describe("ClientConfig.make: scopes (RFC 6749 §3.3)", () => {
  const invalidScopes: ReadonlyArray<readonly [why: string, scope: string]> = [
    ["a space", "openid profile"],
    ["a double quote", "say\"hi"],
    ["a backslash", "a\\b"],
    ["a newline", "openid\n"],
    ["a tab", "a\tb"],
    ["a NUL", "a\u0000b"],
    ["a DEL", "a\u007f"],
    ["a non-ASCII letter", "prüfen"],
    ["nothing", ""]
  ]
  for (const [why, scope] of invalidScopes) {
    it.effect(`a scope with ${why} is refused`, () =>
      Effect.gen(function*() {
        const error = yield* refused({ scopes: ["openid", scope] })
        assert.strictEqual(error.field, "scopes")
        assert.include(error.reason, "invalid scope")
      }))
  }

  it.effect("scopes RFC 6749 allows are kept in order: URLs, colons, dots, slashes", () =>
    Effect.gen(function*() {
      const scopes = [
        "openid",
        "offline_access",
        "api://app/.default",
        "https://graph.microsoft.com/User.Read",
        "read:org",
        "!#$%&'()*+,-./:;<=>?@[]^_`{|}~"
      ]
      assert.deepStrictEqual((yield* made({ scopes })).scopes, scopes)
    }))

  it.effect("duplicates are removed, the first occurrence wins", () =>
    Effect.gen(function*() {
      const config = yield* made({ scopes: ["openid", "profile", "openid", "email", "profile"] })
      assert.deepStrictEqual(config.scopes, ["openid", "profile", "email"])
    }))

  it.effect("validateScopes names the field it is given", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(ClientConfig.validateScopes("request.scopes", ["a b"]))
      assert.strictEqual(failure(exit).field, "request.scopes")
    }))
})

describe("ClientConfig.make: client authentication (RFC 6749 §2.3.1)", () => {
  for (const method of ["client_secret_post", "client_secret_basic"] as const) {
    it.effect(`${method} without a secret is refused`, () =>
      Effect.gen(function*() {
        const error = yield* refused({ clientAuthMethod: method })
        assert.strictEqual(error.field, "clientSecret")
        assert.include(error.reason, method)
      }))
  }

  it.effect("the secret never shows in a refusal", () =>
    Effect.gen(function*() {
      const error = yield* refused({ clientSecret: Redacted.make("SECRET-CANARY"), scopes: ["a b"] })
      assert.notInclude(error.message, "SECRET-CANARY")
      assert.notInclude(JSON.stringify(error), "SECRET-CANARY")
    }))
})

describe("ClientConfig.make: extra parameters", () => {
  for (const field of ["deviceAuthorizationParams", "tokenParams"] as const) {
    for (const name of ["client_id", "client_secret", "grant_type", "device_code", "refresh_token"]) {
      it.effect(`${field} cannot set ${name}, which devflow sets`, () =>
        Effect.gen(function*() {
          const error = yield* refused({ [field]: { audience: "x", [name]: "override" } })
          assert.strictEqual(error.field, `${field}.${name}`)
          assert.include(error.reason, "cannot be overridden")
        }))
    }

    it.effect(`${field}: an empty or control-character parameter name is refused`, () =>
      Effect.gen(function*() {
        for (const name of ["", "a\nb", "\u0000"]) {
          const error = yield* refused({ [field]: { [name]: "v" } })
          assert.strictEqual(error.field, field)
          assert.include(error.reason, "invalid parameter name")
        }
      }))

    it.effect(`${field}: a value that is not a string is refused`, () =>
      Effect.gen(function*() {
        const params = { audience: 42 } as unknown as Record<string, string>
        const error = yield* refused({ [field]: params })
        assert.strictEqual(error.field, `${field}.audience`)
      }))
  }
})

describe("ClientConfig.make: every failure is an InvalidConfiguration with a field", () => {
  it.effect("the message names the field and says what is wrong", () =>
    Effect.gen(function*() {
      const error = yield* refused(endpoints("http://login.example.com/token"))
      assert.strictEqual(error.message, `Invalid configuration: endpoints.token ${error.reason}`)
      assert.notInclude(error.message, "\n")
    }))

  it.effect("input from JavaScript with fields missing is refused, not a crash", () =>
    Effect.gen(function*() {
      const noClientId = yield* Effect.exit(
        ClientConfig.make({ endpoints: base.endpoints } as unknown as ClientConfig.ClientConfigInput)
      )
      assert.strictEqual(failure(noClientId).field, "clientId")
      const noEndpoints = yield* Effect.exit(
        ClientConfig.make({ clientId: "c" } as unknown as ClientConfig.ClientConfigInput)
      )
      assert.strictEqual(failure(noEndpoints).field, "endpoints.deviceAuthorization")
    }))
})
