/**
 * Input validation at the library's edges: every configuration field of
 * `ClientConfig.make`, `Providers.resolve`, `Authority`, discovery's issuer,
 * `PublicClient`, a flow's request and a saved session, given bad values —
 * malformed URLs, http to remote hosts, empty or mistyped values (as an
 * untyped JSON file or environment would give them), unknown providers,
 * scopes with spaces or control characters. Each must fail with the typed
 * `InvalidConfiguration` naming the field, in a one-line message, before any
 * request is sent; never a defect, never a stack trace.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Authority from "../src/Authority.js"
import * as ClientConfig from "../src/ClientConfig.js"
import * as DeviceFlow from "../src/DeviceFlow.js"
import * as DeviceSession from "../src/DeviceSession.js"
import * as Providers from "../src/Providers.js"
import * as PublicClient from "../src/PublicClient.js"
import * as ServerMetadata from "../src/ServerMetadata.js"
import * as TestKit from "../src/TestKit.js"
import * as TokenCache from "../src/TokenCache.js"

const endpoints = { deviceAuthorization: "https://idp.example/device", token: "https://idp.example/token" }
const base = { clientId: "devflow-cli", endpoints }

/** as a JSON file or the environment would give it: any shape */
const untyped = (value: unknown) => value as never

// A server that fails the test if anything reaches it.
const NoRequests = TestKit.layer({
  deviceAuthorization: () => {
    throw new Error("a request was sent")
  },
  token: () => {
    throw new Error("a request was sent")
  },
  other: () => {
    throw new Error("a request was sent")
  }
})
const Services = Layer.mergeAll(
  NoRequests,
  ServerMetadata.layer().pipe(Layer.provide(NoRequests)),
  TokenCache.layerMemory
)

type Case = readonly [label: string, effect: Effect.Effect<unknown, unknown, any>, field: string, mentions?: string]

const config = (input: unknown) => ClientConfig.make(untyped(input))
const resolve = (id: unknown, input: unknown) => Providers.resolve(untyped(id), untyped(input))

const clientConfigCases: ReadonlyArray<Case> = [
  ["clientId empty", config({ ...base, clientId: "" }), "clientId"],
  ["clientId blank", config({ ...base, clientId: "   " }), "clientId"],
  ["clientId missing", config({ endpoints }), "clientId"],
  ["clientId a number", config({ ...base, clientId: 42 }), "clientId"],
  ["clientId with a control character", config({ ...base, clientId: "cli\u0007" }), "clientId"],
  ["config not an object", config(null), "config"],
  [
    "endpoint malformed",
    config({ ...base, endpoints: { ...endpoints, token: "not a url" } }),
    "endpoints.token",
    "not an absolute URL"
  ],
  ["endpoint relative", config({ ...base, endpoints: { ...endpoints, token: "/oauth/token" } }), "endpoints.token"],
  [
    "endpoint missing",
    config({ ...base, endpoints: { token: endpoints.token } }),
    "endpoints.deviceAuthorization",
    "required"
  ],
  ["endpoints missing", config({ clientId: "x" }), "endpoints.deviceAuthorization"],
  ["endpoint a number", config({ ...base, endpoints: { ...endpoints, token: 443 } }), "endpoints.token"],
  [
    "http to a remote host",
    config({ ...base, endpoints: { ...endpoints, token: "http://idp.example/token" } }),
    "endpoints.token",
    "https"
  ],
  [
    "http to localhost.evil.example",
    config({ ...base, endpoints: { ...endpoints, token: "http://localhost.evil.example/t" } }),
    "endpoints.token",
    "https"
  ],
  [
    "http to 0.0.0.0",
    config({ ...base, endpoints: { ...endpoints, token: "http://0.0.0.0/t" } }),
    "endpoints.token",
    "https"
  ],
  ["ftp", config({ ...base, endpoints: { ...endpoints, token: "ftp://idp.example/t" } }), "endpoints.token", "https"],
  [
    "javascript:",
    config({ ...base, endpoints: { ...endpoints, token: "javascript:alert(1)" } }),
    "endpoints.token",
    "javascript:"
  ],
  [
    "credentials in the URL",
    config({ ...base, endpoints: { ...endpoints, token: "https://u:p@idp.example/t" } }),
    "endpoints.token",
    "credentials"
  ],
  [
    "a fragment",
    config({ ...base, endpoints: { ...endpoints, token: "https://idp.example/t#x" } }),
    "endpoints.token",
    "fragment"
  ],
  [
    "a space inside the URL",
    config({ ...base, endpoints: { ...endpoints, token: "https://idp.example/oauth 2/token" } }),
    "endpoints.token",
    "spaces"
  ],
  [
    "a control character inside the URL",
    config({ ...base, endpoints: { ...endpoints, token: "https://idp.example/\u0000token" } }),
    "endpoints.token",
    "control"
  ],
  ["a scope with a space", config({ ...base, scopes: ["openid profile"] }), "scopes", "\"openid profile\""],
  ["a scope with a control character", config({ ...base, scopes: ["openid\u0000"] }), "scopes"],
  ["a scope with a quote", config({ ...base, scopes: ["a\"b"] }), "scopes"],
  ["an empty scope", config({ ...base, scopes: [""] }), "scopes"],
  ["a non-ASCII scope", config({ ...base, scopes: ["café"] }), "scopes"],
  ["scopes as one string", config({ ...base, scopes: "openid" }), "scopes", "list"],
  ["a scope that is a number", config({ ...base, scopes: ["openid", 5] }), "scopes"],
  [
    "clientAuthMethod unknown",
    config({ ...base, clientSecret: Redacted.make("s"), clientAuthMethod: "private_key_jwt" }),
    "clientAuthMethod"
  ],
  [
    "client_secret_basic without a secret",
    config({ ...base, clientAuthMethod: "client_secret_basic" }),
    "clientSecret"
  ],
  ["clientSecret empty", config({ ...base, clientSecret: Redacted.make("") }), "clientSecret", "non-empty"],
  ["clientSecret not Redacted", config({ ...base, clientSecret: "plain-text" }), "clientSecret", "Redacted"],
  [
    "deviceAuthorizationParams overriding client_id",
    config({ ...base, deviceAuthorizationParams: { client_id: "other" } }),
    "deviceAuthorizationParams.client_id"
  ],
  [
    "tokenParams overriding grant_type",
    config({ ...base, tokenParams: { grant_type: "password" } }),
    "tokenParams.grant_type"
  ],
  ["tokenParams with a number", config({ ...base, tokenParams: { resource: 5 } }), "tokenParams.resource"],
  ["tokenParams with an empty name", config({ ...base, tokenParams: { "": "x" } }), "tokenParams"],
  ["tokenParams a list", config({ ...base, tokenParams: ["resource"] }), "tokenParams"],
  ["wire unknown", config({ ...base, wire: "soap" }), "wire"],
  [
    "aws-sso-oidc with client_secret_basic",
    config({
      ...base,
      wire: "aws-sso-oidc",
      clientSecret: Redacted.make("s"),
      clientAuthMethod: "client_secret_basic"
    }),
    "clientAuthMethod"
  ]
]

const providerCases: ReadonlyArray<Case> = [
  ["unknown provider", resolve("okta2", { clientId: "x" }), "provider", "okta2"],
  ["provider not a string", resolve(7, { clientId: "x" }), "provider"],
  ["input not an object", resolve("github", null), "input"],
  ["clientId empty", resolve("github", { clientId: "" }), "clientId"],
  ["clientId a number", resolve("entra", { clientId: 5, tenant: "common" }), "clientId"],
  ["an input the preset does not use", resolve("github", { clientId: "x", region: "us-east-1" }), "region", "not used"],
  ["Google without its client secret", resolve("google", { clientId: "x" }), "clientSecret", "required"],
  ["Entra without a tenant", resolve("entra", { clientId: "x" }), "tenant", "AADSTS50059"],
  ["Entra tenant with a space", resolve("entra", { clientId: "x", tenant: "contoso evil" }), "tenant"],
  ["Entra tenant a number", resolve("entra", { clientId: "x", tenant: 5 }), "tenant"],
  [
    "Entra authority over http",
    resolve("entra", { clientId: "x", tenant: "common", authority: "http://login.example.com" }),
    "authority",
    "https"
  ],
  [
    "Entra authority without a scheme",
    resolve("entra", { clientId: "x", authority: "login.microsoftonline.com/common" }),
    "authority",
    "absolute URL"
  ],
  [
    "Entra tenant disagreeing with the authority's",
    resolve("entra", { clientId: "x", authority: "https://login.microsoftonline.com/a.example", tenant: "b.example" }),
    "tenant"
  ],
  [
    "Okta issuer over http to a remote host",
    resolve("okta", { clientId: "x", issuer: "http://dev-1.okta.example/oauth2/default" }),
    "issuer",
    "https"
  ],
  ["Okta without an issuer", resolve("okta", { clientId: "x" }), "authority"],
  [
    "issuer and authority disagreeing",
    resolve("okta", { clientId: "x", issuer: "https://a.example", authority: "https://b.example" }),
    "issuer"
  ],
  [
    "Keycloak issuer without a realm",
    resolve("keycloak", { clientId: "x", issuer: "https://kc.example/auth" }),
    "issuer",
    "realms"
  ],
  ["Auth0 tenant that is a URL", resolve("auth0", { clientId: "x", tenant: "evil.example/x" }), "tenant"],
  [
    "Auth0 tenant and authority both",
    resolve("auth0", { clientId: "x", tenant: "dev", authority: "https://dev.auth0.com" }),
    "tenant"
  ],
  ["Auth0 audience a number", resolve("auth0", { clientId: "x", tenant: "dev", audience: 5 }), "audience"],
  [
    "AWS region malformed",
    resolve("aws-sso", { clientId: "x", region: "moon-1", startUrl: "https://d-1.awsapps.com/start" }),
    "region"
  ],
  [
    "AWS startUrl over http",
    resolve("aws-sso", { clientId: "x", region: "us-east-1", startUrl: "http://d-1.awsapps.com/start" }),
    "startUrl",
    "https"
  ],
  ["AWS without startUrl", resolve("aws-sso", { clientId: "x", region: "us-east-1" }), "startUrl"],
  ["scopes with spaces", resolve("github", { clientId: "x", scopes: ["repo user"] }), "scopes"],
  ["scopes with control characters", resolve("github", { clientId: "x", scopes: ["repo\u001b[31m"] }), "scopes"],
  ["scopes as one string", resolve("github", { clientId: "x", scopes: "repo" }), "scopes"],
  ["generic with a malformed issuer", resolve("generic", { clientId: "x", issuer: "https//idp.example" }), "issuer"]
]

const otherCases: ReadonlyArray<Case> = [
  ["Authority.parse: not a string", Authority.parse("authority", untyped(5)), "authority"],
  ["Authority.parse: a query", Authority.parse("authority", "https://idp.example/?tenant=x"), "authority", "query"],
  ["Authority.parse: a space", Authority.parse("authority", "https://idp.example/my realm"), "authority", "spaces"],
  ["Authority.entraTenant: not a string", Authority.entraTenant("tenant", untyped({})), "tenant"],
  [
    "Authority.entra: too many path segments",
    Authority.entra({ authority: "https://login.microsoftonline.com/a/b" }),
    "authority"
  ],
  [
    "ServerMetadata.discover: http to a remote issuer",
    ServerMetadata.discover("http://idp.example"),
    "issuer",
    "https"
  ],
  ["ServerMetadata.discover: empty issuer", ServerMetadata.discover(""), "issuer"],
  [
    "PublicClient.make: a malformed authority",
    Effect.flatMap(config(base), (c) => PublicClient.make({ config: c, authority: "idp.example" })),
    "authority"
  ],
  [
    "DeviceFlow: request scopes with a space",
    Effect.flatMap(config(base), (c) => DeviceFlow.acquireToken(c, { scopes: ["a b"] }, { onCode: () => {} })),
    "scopes"
  ],
  ["DeviceSession.fromJson: not a session", DeviceSession.fromJson("{\"version\":1}"), "session.clientId"],
  ["DeviceSession.fromJson: not JSON", DeviceSession.fromJson("{"), "session"]
]

const check = ([label, effect, field, mentions]: Case) =>
  it.effect(label, () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(Effect.provide(effect, Services))
      assert.isTrue(Exit.isFailure(exit), `accepted: ${label}`)
      if (Exit.isSuccess(exit)) return
      const failure = Cause.failureOption(exit.cause)
      assert.isTrue(Option.isSome(failure), `a defect, not a typed error: ${Cause.pretty(exit.cause)}`)
      const error = Option.getOrThrow(failure) as {
        readonly _tag: string
        readonly field: string
        readonly message: string
      }
      assert.strictEqual(error._tag, "InvalidConfiguration", error.message)
      assert.strictEqual(error.field, field, error.message)
      // one line, naming the field, no stack, short
      assert.match(error.message, /^Invalid configuration: /)
      assert.include(error.message, field)
      // eslint-disable-next-line no-control-regex
      assert.notMatch(error.message, /[\n\r\u0000-\u001f\u007f]/)
      assert.notMatch(error.message, /\.(ts|js):\d+/)
      assert.isBelow(error.message.length, 600, error.message)
      if (mentions !== undefined) assert.include(error.message, mentions)
    }))

describe("input validation: ClientConfig.make", () => {
  clientConfigCases.forEach(check)

  it.effect("well-formed inputs still pass: loopback http, [::1], a space in the client id (RFC 6749 VSCHAR)", () =>
    Effect.gen(function*() {
      yield* config({
        ...base,
        endpoints: { deviceAuthorization: "http://127.0.0.1:8080/d", token: "http://[::1]:8080/t" }
      })
      yield* config({ ...base, clientId: "my client" })
      yield* config({ ...base, endpoints: { ...endpoints, token: "  https://idp.example/token  " } })
    }))
})

describe("input validation: Providers.resolve", () => {
  providerCases.forEach(check)
})

describe("input validation: Authority, discovery, PublicClient, DeviceFlow, DeviceSession", () => {
  otherCases.forEach(check)
})
