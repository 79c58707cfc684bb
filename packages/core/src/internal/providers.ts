import type * as HttpClient from "@effect/platform/HttpClient"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as Authority from "../Authority.js"
import * as ClientConfig from "../ClientConfig.js"
import { InvalidConfiguration, type InvalidResponse, type OAuthError, TransportError } from "../DeviceFlowError.js"
import type {
  AwsRegisteredClient,
  InputField,
  Provider,
  ProviderId,
  ProviderInput,
  VerificationCheck,
  VerificationTarget
} from "../Providers.js"
import * as ServerMetadata from "../ServerMetadata.js"
import { decodeWire, NonEmpty, SecretString } from "./decode.js"
import { toOAuthError } from "./errors.js"
import { postJson } from "./oauthHttp.js"

const oidcScopes = ["openid", "profile", "offline_access"] as const

const entraVerificationHosts = [
  // https://microsoft.com/devicelogin (and /deviceloginus, /deviceloginchina for the sovereign clouds)
  "microsoft.com",
  "www.microsoft.com",
  // https://login.microsoftonline.com/device, https://login.microsoft.com/device
  "login.microsoftonline.com",
  "login.microsoft.com"
]

// AADSTS50059, as Authority.entraTenant explains it
const entraTenantWhy =
  "a Microsoft Entra authority needs a tenant (a tenant id, a tenant domain such as contoso.onmicrosoft.com, or organizations, common or consumers); without one Entra answers AADSTS50059, \"No tenant-identifying information found\""

/** @internal */
export const presets: Readonly<Record<ProviderId, Provider>> = {
  entra: {
    id: "entra",
    title: "Microsoft Entra ID",
    describe:
      "Microsoft Entra ID (Azure AD) v2.0 endpoints: {authority}/{tenant}/oauth2/v2.0/devicecode and /token. The authority is the cloud's host (https://login.microsoftonline.com, or a sovereign cloud's); the tenant is a tenant id, a verified domain, organizations, common or consumers.",
    docs: ["https://learn.microsoft.com/entra/identity-platform/v2-oauth2-device-code"],
    // the tenant may also come as the authority's path (https://login.microsoftonline.com/contoso.onmicrosoft.com)
    requires: ["clientId", { anyOf: ["tenant", "authority"] }],
    requiresWhy: { tenant: entraTenantWhy },
    accepts: ["clientId", "clientSecret", "authority", "tenant", "scopes"],
    defaults: { authority: "https://login.microsoftonline.com", scopes: oidcScopes },
    authority: { _tag: "EntraTenant" },
    endpoints: { _tag: "Paths", deviceAuthorization: "/oauth2/v2.0/devicecode", token: "/oauth2/v2.0/token" },
    params: [],
    clientSecret: "optional",
    wire: "oauth",
    registration: undefined,
    verificationHosts: entraVerificationHosts,
    quirks: [
      "the answer carries a ready-made `message`, shown as is",
      "no verification_uri_complete",
      "errors carry AADSTS `error_codes`, `trace_id` and `correlation_id`; /devicecode may answer an error with HTTP 200",
      "`authorization_declined` is Entra's access_denied"
    ]
  },
  "entra-v1": {
    id: "entra-v1",
    title: "Microsoft Entra ID (v1 endpoints)",
    describe:
      "Microsoft Entra ID (Azure AD) v1 endpoints: {authority}/{tenant}/oauth2/devicecode and /oauth2/token, with a resource (given as audience) instead of scopes.",
    docs: ["https://learn.microsoft.com/entra/identity-platform/v2-oauth2-device-code"],
    requires: ["clientId", { anyOf: ["tenant", "authority"] }, "audience"],
    requiresWhy: {
      tenant: entraTenantWhy,
      audience: "the v1 endpoints name the API by its resource (e.g. https://graph.microsoft.com), given as audience"
    },
    accepts: ["clientId", "clientSecret", "authority", "tenant", "audience", "scopes"],
    defaults: { authority: "https://login.microsoftonline.com", scopes: [] },
    authority: { _tag: "EntraTenant" },
    endpoints: { _tag: "Paths", deviceAuthorization: "/oauth2/devicecode", token: "/oauth2/token" },
    params: [{ input: "audience", name: "resource", on: "both" }],
    clientSecret: "optional",
    wire: "oauth",
    registration: undefined,
    verificationHosts: entraVerificationHosts,
    quirks: [
      "`resource=` instead of scope",
      "`verification_url` instead of verification_uri",
      "`expires_in` and `interval` as strings",
      "the answer carries a ready-made `message`, shown as is"
    ]
  },
  github: {
    id: "github",
    title: "GitHub",
    describe:
      "GitHub OAuth and GitHub Apps: https://github.com/login/device/code and /login/oauth/access_token. For GitHub Enterprise Server give its address as authority (https://HOST). No discovery.",
    docs: [
      "https://docs.github.com/en/apps/oauth-apps/building-oauth-apps/authorizing-oauth-apps#device-flow"
    ],
    requires: ["clientId"],
    requiresWhy: {},
    accepts: ["clientId", "clientSecret", "authority", "scopes"],
    defaults: { authority: "https://github.com", scopes: [] },
    authority: { _tag: "Base" },
    endpoints: { _tag: "Paths", deviceAuthorization: "/login/device/code", token: "/login/oauth/access_token" },
    params: [],
    clientSecret: "optional",
    wire: "oauth",
    registration: undefined,
    verificationHosts: ["github.com"],
    quirks: [
      "form-encoded answers unless `Accept: application/json` (devflow sends it, and reads both)",
      "errors arrive with HTTP 200",
      "slow_down carries the new `interval`",
      "extra error codes: device_flow_disabled, incorrect_client_credentials, incorrect_device_code, unsupported_grant_type",
      "`token_type` is lowercase `bearer`; comma-separated `scope`; no expiry or refresh token for OAuth apps"
    ]
  },
  google: {
    id: "google",
    title: "Google",
    describe:
      "Google OAuth 2.0 for TV and limited-input devices: https://oauth2.googleapis.com/device/code and /token. Needs the client secret of a \"TVs and Limited Input devices\" client.",
    docs: ["https://developers.google.com/identity/protocols/oauth2/limited-input-device"],
    requires: ["clientId", "clientSecret"],
    requiresWhy: {
      clientSecret:
        "Google's token endpoint refuses device-flow requests without the client secret of the \"TVs and Limited Input devices\" client"
    },
    accepts: ["clientId", "clientSecret", "authority", "scopes"],
    defaults: { authority: "https://oauth2.googleapis.com", scopes: ["openid", "email", "profile"] },
    authority: { _tag: "Base" },
    endpoints: { _tag: "Paths", deviceAuthorization: "/device/code", token: "/token" },
    params: [],
    clientSecret: "required",
    wire: "oauth",
    registration: undefined,
    verificationHosts: ["www.google.com", "google.com"],
    quirks: [
      "`verification_url` instead of verification_uri",
      "client_secret in the token request",
      "pending may come as HTTP 428 and slow_down as HTTP 403"
    ]
  },
  okta: {
    id: "okta",
    title: "Okta",
    describe:
      "Okta: the issuer is https://{org}/oauth2/default or any custom authorization server (or https://{org} for the org server); endpoints come from discovery.",
    docs: ["https://developer.okta.com/docs/guides/device-authorization-grant/main/"],
    requires: ["clientId", { anyOf: ["authority", "issuer"] }],
    requiresWhy: {},
    accepts: ["clientId", "clientSecret", "authority", "issuer", "scopes"],
    defaults: { authority: undefined, scopes: oidcScopes },
    authority: { _tag: "Issuer" },
    endpoints: { _tag: "Discovery" },
    params: [],
    clientSecret: "optional",
    wire: "oauth",
    registration: undefined,
    verificationHosts: [],
    quirks: ["standard RFC 8628 with discovery; verification_uri_complete present"]
  },
  auth0: {
    id: "auth0",
    title: "Auth0",
    describe:
      "Auth0: https://{tenant}.auth0.com/oauth/device/code and /oauth/token (tenant, e.g. dev-abc or dev-abc.eu, or a custom domain as authority); audience names the API.",
    docs: [
      "https://auth0.com/docs/get-started/authentication-and-authorization-flow/device-authorization-flow/call-your-api-using-the-device-authorization-flow"
    ],
    requires: ["clientId", { anyOf: ["tenant", "authority"] }],
    requiresWhy: {},
    accepts: ["clientId", "clientSecret", "authority", "tenant", "audience", "scopes"],
    defaults: { authority: "https://{tenant}.auth0.com", scopes: oidcScopes },
    authority: { _tag: "Base" },
    endpoints: { _tag: "Paths", deviceAuthorization: "/oauth/device/code", token: "/oauth/token" },
    params: [{ input: "audience", name: "audience", on: "deviceAuthorization" }],
    clientSecret: "optional",
    wire: "oauth",
    registration: undefined,
    verificationHosts: [],
    quirks: [
      "`audience` selects the API the access token is for",
      "pending as HTTP 403, slow_down as HTTP 429",
      "expired_token once, then invalid_grant"
    ]
  },
  keycloak: {
    id: "keycloak",
    title: "Keycloak",
    describe:
      "Keycloak: the issuer is https://{host}/realms/{realm} (/auth/realms/{realm} before Keycloak 17); endpoints are the fixed realm paths /protocol/openid-connect/auth/device and /protocol/openid-connect/token.",
    docs: ["https://www.keycloak.org/securing-apps/oidc-layers"],
    requires: ["clientId", { anyOf: ["authority", "issuer"] }],
    requiresWhy: {},
    accepts: ["clientId", "clientSecret", "authority", "issuer", "scopes"],
    defaults: { authority: undefined, scopes: ["openid", "profile"] },
    authority: {
      _tag: "Issuer",
      pathPattern: "^(/auth)?/realms/[^/]+$",
      example: "https://keycloak.example.com/realms/myrealm"
    },
    endpoints: {
      _tag: "Paths",
      deviceAuthorization: "/protocol/openid-connect/auth/device",
      token: "/protocol/openid-connect/token"
    },
    params: [],
    clientSecret: "optional",
    wire: "oauth",
    registration: undefined,
    verificationHosts: [],
    quirks: ["standard RFC 8628; verification_uri_complete present; the same paths are in its discovery document"]
  },
  "aws-sso": {
    id: "aws-sso",
    title: "AWS IAM Identity Center",
    describe:
      "AWS IAM Identity Center (SSO OIDC) at https://oidc.{region}.amazonaws.com: registers a public client (RegisterClient) unless a client secret is given, then StartDeviceAuthorization with the access portal's start URL and CreateToken.",
    docs: [
      "https://docs.aws.amazon.com/singlesignon/latest/OIDCAPIReference/API_RegisterClient.html",
      "https://docs.aws.amazon.com/singlesignon/latest/OIDCAPIReference/API_StartDeviceAuthorization.html",
      "https://docs.aws.amazon.com/singlesignon/latest/OIDCAPIReference/API_CreateToken.html"
    ],
    requires: ["clientId", "region", "startUrl"],
    requiresWhy: {
      region: "IAM Identity Center's OIDC service is regional (https://oidc.{region}.amazonaws.com)",
      startUrl: "StartDeviceAuthorization needs the AWS access portal URL (e.g. https://d-1234567890.awsapps.com/start)"
    },
    accepts: ["clientId", "clientSecret", "authority", "region", "startUrl", "scopes"],
    defaults: { authority: "https://oidc.{region}.{dnsSuffix}", scopes: ["sso:account:access"] },
    authority: { _tag: "Base" },
    endpoints: { _tag: "Paths", deviceAuthorization: "/device_authorization", token: "/token" },
    params: [{ input: "startUrl", name: "start_url", on: "deviceAuthorization" }],
    clientSecret: "optional",
    wire: "aws-sso-oidc",
    registration: { _tag: "AwsSsoOidc", path: "/client/register" },
    verificationHosts: ["device.sso.{region}.{dnsSuffix}", "*.awsapps.com"],
    quirks: [
      "client registration first (RegisterClient), its secret sent with every request",
      "JSON requests and camelCase JSON answers",
      "errors as exception names (AuthorizationPendingException, SlowDownException, …) in `error`, `__type` or x-amzn-errortype"
    ]
  },
  generic: {
    id: "generic",
    title: "RFC 8628 server (discovery)",
    describe:
      "Any authorization server that advertises device_authorization_endpoint in its OpenID Connect or RFC 8414 metadata; the authority is its issuer.",
    docs: ["https://www.rfc-editor.org/rfc/rfc8628", "https://www.rfc-editor.org/rfc/rfc8414"],
    requires: ["clientId", { anyOf: ["authority", "issuer"] }],
    requiresWhy: {},
    accepts: ["clientId", "clientSecret", "authority", "issuer", "scopes"],
    defaults: { authority: undefined, scopes: [] },
    authority: { _tag: "Issuer" },
    endpoints: { _tag: "Discovery" },
    params: [],
    clientSecret: "optional",
    wire: "oauth",
    registration: undefined,
    verificationHosts: [],
    quirks: []
  }
}

const invalid = (field: string, reason: string) => Effect.fail(new InvalidConfiguration({ field, reason }))

const given = (value: unknown): boolean =>
  value !== undefined && value !== null && (typeof value !== "string" || value.trim() !== "")

const text = (value: string | undefined): string | undefined => (given(value) ? value!.trim() : undefined)

const inputFields: ReadonlyArray<InputField> = [
  "clientId",
  "clientSecret",
  "authority",
  "tenant",
  "audience",
  "issuer",
  "region",
  "startUrl",
  "scopes"
]

// us-east-1, us-gov-west-1, ap-southeast-2, cn-north-1
const REGION = /^[a-z]{2,}(-[a-z]+)+-\d{1,2}$/
const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/i

/** `amazonaws.com`, or `amazonaws.com.cn` in the China regions. */
const dnsSuffix = (region: string): string => (region.startsWith("cn-") ? "amazonaws.com.cn" : "amazonaws.com")

// An Auth0 tenant as users write it: "dev-abc", "dev-abc.eu", or the whole "dev-abc.eu.auth0.com".
const hostTenant = (tenant: string): string => tenant.toLowerCase().replace(/\.auth0\.com\.?$/, "")

const isTenantName = (tenant: string): boolean => {
  const labels = tenant.split(".")
  return labels.length <= 3 && labels.every((l) => LABEL.test(l))
}

// Only well-formed values fill a template: a "tenant" such as "evil.example/x" must not become a host.
const placeholders = (input: Partial<ProviderInput>): Record<string, string> => {
  const out: Record<string, string> = {}
  const tenant = text(input.tenant)
  if (tenant !== undefined && isTenantName(hostTenant(tenant))) out.tenant = hostTenant(tenant)
  const region = text(input.region)?.toLowerCase()
  if (region !== undefined && REGION.test(region)) {
    out.region = region
    out.dnsSuffix = dnsSuffix(region)
  }
  return out
}

/** A template with every placeholder filled, or the name of the first one missing. */
const fill = (
  template: string,
  values: Readonly<Record<string, string>>
): { readonly value: string } | { readonly missing: string } => {
  let missing: string | undefined
  const value = template.replace(/\{(\w+)\}/g, (_, name: string) => {
    const v = values[name]
    if (v === undefined) missing ??= name
    return v ?? ""
  })
  return missing === undefined ? { value } : { missing }
}

// Inputs also come from untyped sources (flags, files, environment): every text input must be a string.
const textFields: ReadonlyArray<InputField> = ["clientId", "authority", "tenant", "audience", "issuer", "region", "startUrl"]

const checkInputs = (provider: Provider, input: ProviderInput) =>
  Effect.gen(function*() {
    if (typeof input !== "object" || input === null) return yield* invalid("input", "must be an object")
    const record = input as unknown as Readonly<Record<string, unknown>>
    for (const field of textFields) {
      if (record[field] !== undefined && record[field] !== null && typeof record[field] !== "string") {
        return yield* invalid(field, "must be a string")
      }
    }
    for (const field of inputFields) {
      if (given(record[field]) && !provider.accepts.includes(field)) {
        return yield* invalid(
          field,
          `is not used by the ${provider.id} preset (it reads ${provider.accepts.join(", ")})`
        )
      }
    }
    for (const requirement of provider.requires) {
      if (typeof requirement === "string") {
        if (!given(record[requirement])) {
          const why = provider.requiresWhy[requirement]
          return yield* invalid(requirement, `is required by the ${provider.id} preset${why === undefined ? "" : `: ${why}`}`)
        }
      } else if (!requirement.anyOf.some((field) => given(record[field]))) {
        const [first, ...rest] = requirement.anyOf
        const why = provider.requiresWhy[first!]
        return yield* invalid(first!, `(or ${rest.join(" or ")}) is required by the ${provider.id} preset${why === undefined ? "" : `: ${why}`}`)
      }
    }
    const authority = text(input.authority)
    const issuer = text(input.issuer)
    if (authority !== undefined && issuer !== undefined && authority.replace(/\/+$/, "") !== issuer.replace(/\/+$/, "")) {
      return yield* invalid("issuer", `(${issuer}) disagrees with authority (${authority}): give one of them`)
    }
    if (provider.authority._tag === "Base" && provider.defaults.authority?.includes("{tenant}")) {
      if (authority !== undefined && given(input.tenant)) {
        return yield* invalid("tenant", "and authority are alternatives: give the tenant, or the whole base address as authority")
      }
      const tenant = text(input.tenant)
      if (tenant !== undefined) {
        if (!isTenantName(hostTenant(tenant))) {
          return yield* invalid("tenant", `${JSON.stringify(tenant.slice(0, 100))} is not a tenant name (letters, digits and hyphens)`)
        }
      }
    }
    const region = text(input.region)
    if (region !== undefined && !REGION.test(region.toLowerCase())) {
      return yield* invalid("region", `${JSON.stringify(region.slice(0, 100))} is not an AWS region (e.g. us-east-1)`)
    }
  })

/** The base address (or issuer) every endpoint path of a preset hangs off. */
const resolveBase = (provider: Provider, input: ProviderInput) =>
  Effect.gen(function*() {
    const rule = provider.authority
    switch (rule._tag) {
      case "EntraTenant": {
        const entra = yield* Authority.entra({
          authority: text(input.authority) ?? provider.defaults.authority,
          tenant: text(input.tenant)
        })
        return `${entra.origin}/${entra.tenant}`
      }
      case "Issuer": {
        const field = text(input.authority) === undefined ? "issuer" : "authority"
        const url = yield* Authority.parse(field, text(input.authority) ?? text(input.issuer))
        if (rule.pathPattern !== undefined && !new RegExp(rule.pathPattern).test(url.pathname)) {
          return yield* invalid(
            field,
            `must be the ${provider.title} issuer${rule.example === undefined ? "" : `, e.g. ${rule.example}`} (its path ${
              JSON.stringify(url.pathname || "/")
            } does not match)`
          )
        }
        return Authority.toString(url)
      }
      case "Base": {
        const explicit = text(input.authority)
        if (explicit !== undefined) return Authority.toString(yield* Authority.parse("authority", explicit))
        const template = provider.defaults.authority
        if (template === undefined) return yield* invalid("authority", `is required by the ${provider.id} preset`)
        const filled = fill(template, placeholders(input))
        if ("missing" in filled) {
          return yield* invalid(filled.missing, `is required by the ${provider.id} preset (or give the base address as authority)`)
        }
        return Authority.toString(yield* Authority.parse("authority", filled.value))
      }
    }
  })

/** @internal */
export const resolve = (
  id: ProviderId,
  input: ProviderInput
): Effect.Effect<
  ClientConfig.ClientConfig,
  InvalidConfiguration | InvalidResponse | TransportError | OAuthError,
  HttpClient.HttpClient | ServerMetadata.Discovery
> =>
  Effect.gen(function*() {
    if (typeof id !== "string" || !Object.hasOwn(presets, id)) {
      return yield* invalid("provider", `${JSON.stringify(String(id).slice(0, 50))} is not one of ${Object.keys(presets).join(", ")}`)
    }
    const provider = presets[id]
    // Everything is checked before the first request.
    yield* checkInputs(provider, input)
    const scopes = yield* ClientConfig.validateScopes("scopes", input.scopes ?? provider.defaults.scopes)
    const base = yield* resolveBase(provider, input)
    const deviceAuthorizationParams: Record<string, string> = {}
    const tokenParams: Record<string, string> = {}
    for (const param of provider.params) {
      const value = param.input === "startUrl" ? yield* startUrlOf(input.startUrl) : text(input[param.input])
      if (value === undefined) continue
      deviceAuthorizationParams[param.name] = value
      if (param.on === "both") tokenParams[param.name] = value
    }
    const clientId = input.clientId.trim()
    const endpoints = provider.endpoints._tag === "Paths"
      ? { deviceAuthorization: base + provider.endpoints.deviceAuthorization, token: base + provider.endpoints.token }
      : yield* Effect.map(
        Effect.flatMap(ServerMetadata.Discovery, (discovery) => discovery.discover(base)),
        (metadata) => ({ deviceAuthorization: metadata.deviceAuthorizationEndpoint, token: metadata.tokenEndpoint })
      )
    const configInput: ClientConfig.ClientConfigInput = {
      clientId,
      clientSecret: input.clientSecret,
      endpoints,
      scopes,
      deviceAuthorizationParams,
      tokenParams,
      wire: provider.wire
    }
    // Validate the configuration before a registration creates anything server-side.
    const config = yield* ClientConfig.make(configInput)
    if (provider.registration === undefined || input.clientSecret !== undefined) return config
    const registered = yield* register(base + provider.registration.path, clientId, scopes)
    return yield* ClientConfig.make({ ...configInput, clientId: registered.clientId, clientSecret: registered.clientSecret })
  })

// The AWS access portal URL: https (http on loopback), no credentials. A "#/…" users copy from the portal is dropped.
const startUrlOf = (value: string | undefined) =>
  Effect.gen(function*() {
    const raw = text(value)
    if (raw === undefined) return undefined
    return yield* ClientConfig.validateEndpoint("startUrl", raw.replace(/#.*$/, ""))
  })

const RegisterClientResponse = Schema.Struct({
  clientId: NonEmpty,
  clientSecret: SecretString,
  clientSecretExpiresAt: Schema.optional(Schema.Number),
  clientIdIssuedAt: Schema.optional(Schema.Number)
})

const register = (
  endpoint: string,
  clientName: string,
  scopes: ReadonlyArray<string>
): Effect.Effect<AwsRegisteredClient, InvalidResponse | TransportError | OAuthError, HttpClient.HttpClient> =>
  Effect.gen(function*() {
    // RegisterClient: a public client for the device grant, with the scopes every later token carries
    const answer = yield* postJson(endpoint, { clientName, clientType: "public", scopes }, "aws-sso-oidc")
    switch (answer._tag) {
      case "ErrorBody":
        return yield* toOAuthError(endpoint, answer.status, answer.body)
      case "Unavailable":
        return yield* new TransportError({ endpoint, status: answer.status, reason: "the server asked to try again later" })
      case "Success": {
        const body = yield* decodeWire(RegisterClientResponse, new Set(["clientSecret"]), {
          endpoint,
          status: answer.status
        })(answer.body)
        const expires = body.clientSecretExpiresAt
        return {
          clientId: body.clientId,
          clientSecret: body.clientSecret,
          clientSecretExpiresAt: expires !== undefined && Number.isFinite(expires) && expires > 0
            ? DateTime.unsafeMake(expires * 1000)
            : undefined
        }
      }
    }
  })

/** @internal */
export const registerAwsClient = (options: {
  readonly base: string
  readonly clientName: string
  readonly scopes: ReadonlyArray<string>
}): Effect.Effect<
  AwsRegisteredClient,
  InvalidConfiguration | InvalidResponse | TransportError | OAuthError,
  HttpClient.HttpClient
> =>
  Effect.gen(function*() {
    const base = Authority.toString(yield* Authority.parse("base", options.base))
    const clientName = options.clientName.trim()
    if (clientName === "") return yield* invalid("clientName", "must not be empty")
    const scopes = yield* ClientConfig.validateScopes("scopes", options.scopes)
    return yield* register(base + presets["aws-sso"].registration!.path, clientName, scopes)
  })

// ---------------------------------------------------------------------------
// RFC 8628 §5.4

const hostOf = (value: string | undefined): string | undefined => {
  if (value === undefined) return undefined
  try {
    return normaliseHost(new URL(value.trim()).hostname)
  } catch {
    return undefined
  }
}

// DNS names are case-insensitive and "github.com." is "github.com".
const normaliseHost = (host: string): string => host.toLowerCase().replace(/\.$/, "")

const matches = (pattern: string, host: string): boolean =>
  pattern.startsWith("*.") ? host.endsWith(pattern.slice(1)) && host.length > pattern.length - 1 : pattern === host

const isConfig = (target: VerificationTarget): target is ClientConfig.ClientConfig =>
  typeof target === "object" && "endpoints" in target && "clientId" in target

/** @internal */
export const trustedHosts = (target: VerificationTarget): {
  readonly provider: Provider | undefined
  readonly authority: ReadonlyArray<string>
  readonly known: ReadonlyArray<string>
} => {
  const { config, id, input } = typeof target === "string"
    ? { id: target, input: {}, config: undefined }
    : isConfig(target)
    ? { id: undefined, input: {}, config: target }
    : { id: target.provider, input: target.input ?? {}, config: target.config }
  const provider = id !== undefined && Object.hasOwn(presets, id) ? presets[id] : undefined
  const authority = new Set<string>()
  const known = new Set<string>()
  if (config !== undefined) {
    for (const endpoint of [config.endpoints.deviceAuthorization, config.endpoints.token]) {
      const host = hostOf(endpoint)
      if (host !== undefined) authority.add(host)
    }
  }
  if (provider !== undefined) {
    const values = placeholders(input)
    const explicit = text(input.authority) ?? text(input.issuer)
    const template = explicit ?? provider.defaults.authority
    const filled = template === undefined ? undefined : fill(template, values)
    const host = filled !== undefined && "value" in filled ? hostOf(filled.value) : undefined
    if (host !== undefined) authority.add(host)
    for (const pattern of provider.verificationHosts) {
      const p = fill(pattern, values)
      if ("value" in p) known.add(normaliseHost(p.value))
    }
    // AWS: the organisation's own access portal shows the device page too
    const portal = provider.params.some((p) => p.input === "startUrl") ? hostOf(text(input.startUrl)) : undefined
    if (portal !== undefined) known.add(portal)
  }
  return { provider, authority: [...authority], known: [...known] }
}

/** @internal */
export const checkVerificationUri = (target: VerificationTarget, verificationUri: string): VerificationCheck => {
  let url: URL
  try {
    url = new URL(verificationUri.trim())
  } catch {
    return {
      trusted: false,
      host: undefined,
      reason: `${JSON.stringify(verificationUri.slice(0, 100))} is not an absolute URL`
    }
  }
  const host = normaliseHost(url.hostname)
  if (url.protocol !== "https:" && !(url.protocol === "http:" && ClientConfig.isLoopbackHost(host))) {
    return { trusted: false, host, reason: `${url.origin} does not use https: anyone on the way can change the page` }
  }
  if (url.username !== "" || url.password !== "") {
    return {
      trusted: false,
      host,
      reason: `the address has text before an @ (${JSON.stringify(url.username.slice(0, 60))}@${host}): the real host is ${host}`
    }
  }
  const { authority, known, provider } = trustedHosts(target)
  if (authority.includes(host)) return { trusted: true, host, reason: `${host} is the authority's host` }
  const pattern = known.find((p) => matches(p, host))
  if (pattern !== undefined && provider !== undefined) {
    return {
      trusted: true,
      host,
      reason: `${host} is a known ${provider.title} verification host${pattern === host ? "" : ` (${pattern})`}`
    }
  }
  const expected = [...authority, ...known]
  return {
    trusted: false,
    host,
    reason: `${host} is not the authority's host${provider === undefined ? "" : ` nor a known ${provider.title} verification host`}${
      expected.length === 0 ? "" : ` (${expected.join(", ")})`
    }: it may be a phishing page (RFC 8628 §5.4); check the address before entering the code`
  }
}
