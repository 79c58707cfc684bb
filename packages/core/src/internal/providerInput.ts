import type * as HttpClient from "@effect/platform/HttpClient"
import * as Clock from "effect/Clock"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Authority from "../Authority.js"
import * as ClientConfig from "../ClientConfig.js"
import { InvalidConfiguration, type InvalidResponse, type OAuthError, type TransportError } from "../DeviceFlowError.js"
import type { AwsRegisteredClient, InputField, Provider, ProviderId, ProviderInput } from "../Providers.js"
import * as ServerMetadata from "../ServerMetadata.js"
import { TokenCache } from "../TokenCache.js"
import * as Content from "./cacheContent.js"
import { decodeWire, NonEmpty, SecretString } from "./decode.js"
import { failureOf } from "./oauthAnswer.js"
import { postJson } from "./oauthHttp.js"
import { presets } from "./presets.js"

const invalid = (field: string, reason: string) => Effect.fail(new InvalidConfiguration({ field, reason }))

export const given = (value: unknown): boolean =>
  value !== undefined && value !== null && (typeof value !== "string" || value.trim() !== "")

export const text = (value: string | undefined): string | undefined => (given(value) ? value!.trim() : undefined)

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
export const placeholders = (input: Partial<ProviderInput>): Record<string, string> => {
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

/** @internal A template with every placeholder filled, or the name of the first one missing. */
export const fill = (
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
const textFields: ReadonlyArray<InputField> = [
  "clientId",
  "authority",
  "tenant",
  "audience",
  "issuer",
  "region",
  "startUrl"
]

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
          return yield* invalid(
            requirement,
            `is required by the ${provider.id} preset${why === undefined ? "" : `: ${why}`}`
          )
        }
      } else if (!requirement.anyOf.some((field) => given(record[field]))) {
        const [first, ...rest] = requirement.anyOf
        const why = provider.requiresWhy[first!]
        return yield* invalid(
          first!,
          `(or ${rest.join(" or ")}) is required by the ${provider.id} preset${why === undefined ? "" : `: ${why}`}`
        )
      }
    }
    const authority = text(input.authority)
    const issuer = text(input.issuer)
    if (
      authority !== undefined && issuer !== undefined && authority.replace(/\/+$/, "") !== issuer.replace(/\/+$/, "")
    ) {
      return yield* invalid("issuer", `(${issuer}) disagrees with authority (${authority}): give one of them`)
    }
    if (provider.authority._tag === "Base" && provider.defaults.authority?.includes("{tenant}")) {
      if (authority !== undefined && given(input.tenant)) {
        return yield* invalid(
          "tenant",
          "and authority are alternatives: give the tenant, or the whole base address as authority"
        )
      }
      const tenant = text(input.tenant)
      if (tenant !== undefined) {
        if (!isTenantName(hostTenant(tenant))) {
          return yield* invalid(
            "tenant",
            `${JSON.stringify(tenant.slice(0, 100))} is not a tenant name (letters, digits and hyphens)`
          )
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
        return `${entra.origin}${entra.prefix ?? ""}/${entra.tenant}`
      }
      case "Issuer": {
        const field = text(input.authority) === undefined ? "issuer" : "authority"
        const url = yield* Authority.parse(field, text(input.authority) ?? text(input.issuer))
        if (rule.pathPattern !== undefined && !new RegExp(rule.pathPattern).test(url.pathname)) {
          return yield* invalid(
            field,
            `must be the ${provider.title} issuer${
              rule.example === undefined ? "" : `, e.g. ${rule.example}`
            } (its path ${JSON.stringify(url.pathname || "/")} does not match)`
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
          return yield* invalid(
            filled.missing,
            `is required by the ${provider.id} preset (or give the base address as authority)`
          )
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
      return yield* invalid(
        "provider",
        `${JSON.stringify(String(id).slice(0, 50))} is not one of ${Object.keys(presets).join(", ")}`
      )
    }
    const provider = presets[id]
    // Everything is checked before the first request.
    yield* checkInputs(provider, input)
    const given = yield* ClientConfig.validateScopes("scopes", input.scopes ?? provider.defaults.scopes)
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
    const revocationPath = provider.revocation._tag === "Path" ? base + provider.revocation.path : undefined
    const { endpoints, issuer, metadata } = provider.endpoints._tag === "Paths"
      ? {
        endpoints: {
          deviceAuthorization: base + provider.endpoints.deviceAuthorization,
          token: base + provider.endpoints.token,
          revocation: revocationPath
        },
        issuer: knownIssuer(provider, base),
        metadata: undefined
      }
      : yield* Effect.map(
        Effect.flatMap(ServerMetadata.Discovery, (discovery) => discovery.discover(base)),
        (metadata) => ({
          metadata,
          endpoints: {
            deviceAuthorization: metadata.deviceAuthorizationEndpoint,
            token: metadata.tokenEndpoint,
            revocation: provider.revocation._tag === "Discovery" ? metadata.revocationEndpoint : revocationPath
          },
          // the metadata's issuer, already checked to be the configured one
          issuer: metadata.issuer
        })
      )
    // No scope given and none in the preset: what the server's metadata says it needs (an OpenID Provider
    // asked for nothing lets the person sign in, then denies)
    const scopes = input.scopes === undefined && given.length === 0 && metadata !== undefined
      ? ServerMetadata.inferredScopes(metadata)
      : given
    const configInput: ClientConfig.ClientConfigInput = {
      clientId,
      clientSecret: input.clientSecret,
      endpoints,
      scopes,
      deviceAuthorizationParams,
      tokenParams,
      wire: provider.wire,
      scopeForm: provider.scopeForm,
      preset: provider.id,
      ...(issuer === undefined ? {} : { issuer })
    }
    // Validate the configuration before a registration creates anything server-side.
    const config = yield* ClientConfig.make(configInput)
    if (provider.registration === undefined || input.clientSecret !== undefined) return config
    const registered = yield* registration(
      base + provider.registration.path,
      clientId,
      scopes,
      deviceAuthorizationParams.start_url,
      endpoints.token
    )
    return yield* ClientConfig.make({
      ...configInput,
      clientId: registered.clientId,
      clientSecret: registered.clientSecret
    })
  })

// The issuer an id_token must name (OpenID Connect Core §3.1.3.7), where the preset's address says it:
// an issuer preset's base is its issuer; Entra v2 names the user's own tenant under the sign-in host.
const knownIssuer = (provider: Provider, base: string): string | undefined => {
  if (provider.authority._tag === "Issuer") return base
  if (provider.id !== "entra") return undefined
  const url = new URL(base)
  // The public cloud's aliases issue as login.microsoftonline.com; China's issuer host is not
  // documented alike, so there only the audience is checked.
  if (ENTRA_CHINA_HOSTS.has(url.hostname)) return undefined
  const origin = ENTRA_PUBLIC_ALIASES.has(url.hostname) ? "https://login.microsoftonline.com" : url.origin
  return `${origin}/{tenantid}/v2.0`
}
const ENTRA_PUBLIC_ALIASES: ReadonlySet<string> = new Set(["login.microsoft.com", "login.windows.net"])
const ENTRA_CHINA_HOSTS: ReadonlySet<string> = new Set(["login.chinacloudapi.cn", "login.partner.microsoftonline.cn"])

// A registration lives ~90 days; one this close to its end is not worth starting a sign-in with.
const REGISTRATION_MARGIN_MS = 60 * 60 * 1000

/**
 * The client registration for this endpoint, start URL and scopes: the one
 * kept in the token cache (when the program has one) until it expires, else a
 * new one, kept there for the next sign-in and for refreshes — as the AWS CLI
 * does. A cache that cannot be read or written only costs a new registration.
 */
const registration = (
  endpoint: string,
  clientName: string,
  scopes: ReadonlyArray<string>,
  startUrl: string | undefined,
  tokenEndpoint: string
) =>
  Effect.gen(function*() {
    const key = Content.registrationKey(endpoint, startUrl, scopes)
    const cache = Option.getOrUndefined(yield* Effect.serviceOption(TokenCache))
    const now = yield* Clock.currentTimeMillis
    const content = cache === undefined ? undefined : yield* Effect.option(cache.read)
    const kept = content === undefined || Option.isNone(content)
      ? undefined
      : Content.findRegistration(content.value, key, now, REGISTRATION_MARGIN_MS)
    if (kept !== undefined) return { clientId: kept.clientId, clientSecret: kept.secret }
    const registered = yield* register(endpoint, clientName, scopes)
    if (cache !== undefined) {
      const expiresOn = registered.clientSecretExpiresAt === undefined
        ? undefined
        : DateTime.toEpochMillis(registered.clientSecretExpiresAt)
      yield* Effect.ignore(cache.update((c) =>
        Content.withClient(c, {
          tokenEndpoint,
          clientId: registered.clientId,
          secret: registered.clientSecret,
          authMethod: "client_secret_post",
          ...(expiresOn === undefined ? {} : { expiresOn }),
          registration: key,
          cachedAt: now
        })
      ))
    }
    return registered
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
    if (answer._tag !== "Success") return yield* failureOf(endpoint, answer)
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
