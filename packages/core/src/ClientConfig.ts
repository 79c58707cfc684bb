/**
 * What devflow needs to know about the OAuth client and the server it talks
 * to, validated before any request is sent.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import { InvalidConfiguration } from "./DeviceFlowError.js"
import * as ScopeForm from "./ScopeForm.js"
import { isPrintable } from "./ServerText.js"

/**
 * How the client authenticates at the server (RFC 6749 §2.3.1). Public
 * clients (the usual case for the device grant) use `"none"`.
 *
 * @since 0.1.0
 * @category models
 */
export type ClientAuthMethod = "none" | "client_secret_post" | "client_secret_basic"

/**
 * How requests are encoded and answers named on the wire. `"oauth"` is
 * RFC 6749 / RFC 8628: form-encoded requests, snake_case answers.
 * `"aws-sso-oidc"` is AWS IAM Identity Center OIDC: JSON requests and
 * answers with camelCase names, errors as exception names. The protocol is
 * the same; only the spelling differs, and it is undone in one place.
 *
 * @since 0.1.0
 * @category models
 */
export type WireFormat = "oauth" | "aws-sso-oidc"

/**
 * The input to {@link make}.
 *
 * @since 0.1.0
 * @category models
 */
export interface ClientConfigInput {
  readonly clientId: string
  /** Some providers (Google) require a secret even for device clients. */
  readonly clientSecret?: Redacted.Redacted<string> | undefined
  /** Defaults to `client_secret_post` when a secret is given, else `none`. */
  readonly clientAuthMethod?: ClientAuthMethod | undefined
  readonly endpoints: {
    /** RFC 8628 §3.1 device authorization endpoint */
    readonly deviceAuthorization: string
    /** RFC 6749 §3.2 token endpoint */
    readonly token: string
    /** RFC 7009 §2 token revocation endpoint, when the server has one (sign-out revokes the refresh token there) */
    readonly revocation?: string | undefined
  }
  /** Scopes requested when a request names none. */
  readonly scopes?: ReadonlyArray<string> | undefined
  /** Extra parameters for every device authorization request (e.g. `audience`, `resource`). */
  readonly deviceAuthorizationParams?: Readonly<Record<string, string>> | undefined
  /** Extra parameters for every token request. */
  readonly tokenParams?: Readonly<Record<string, string>> | undefined
  /** The wire format; `"oauth"` when omitted. */
  readonly wire?: WireFormat | undefined
  /** How the server spells scopes (see `ScopeForm`); `"oauth"` when omitted. */
  readonly scopeForm?: ScopeForm.ScopeForm | undefined
  /** The provider preset this configuration came from, for traces and messages (`Providers.resolve` sets it). */
  readonly preset?: string | undefined
  /**
   * The OpenID Provider's issuer identifier: an id_token must name it in
   * `iss` before its claims name an account (OpenID Connect Core §3.1.3.7);
   * `{tenantid}` stands for the token's `tid` (Entra). `Providers.resolve`
   * sets it when the provider's issuer is known.
   */
  readonly issuer?: string | undefined
  /**
   * DPoP (RFC 9449): every token request carries a proof of `Dpop.CurrentKey`
   * and the tokens are bound to that key. `"required"` also refuses a server
   * that ignores DPoP and answers a Bearer token; `true` accepts one.
   */
  readonly dpop?: boolean | "required" | undefined
}

/**
 * A validated client configuration.
 *
 * @since 0.1.0
 * @category models
 */
export interface ClientConfig {
  readonly clientId: string
  readonly clientSecret: Redacted.Redacted<string> | undefined
  readonly clientAuthMethod: ClientAuthMethod
  readonly endpoints: {
    readonly deviceAuthorization: string
    readonly token: string
    readonly revocation?: string | undefined
  }
  readonly scopes: ReadonlyArray<string>
  readonly deviceAuthorizationParams: Readonly<Record<string, string>>
  readonly tokenParams: Readonly<Record<string, string>>
  /** The wire format; absent means `"oauth"` ({@link make} always sets it). */
  readonly wire?: WireFormat | undefined
  /** How the server spells scopes; absent means `"oauth"` ({@link make} always sets it). */
  readonly scopeForm?: ScopeForm.ScopeForm | undefined
  /** The provider preset this configuration came from, if any. */
  readonly preset?: string | undefined
  /** The issuer an id_token must name (see {@link ClientConfigInput.issuer}); none: only its audience is checked. */
  readonly issuer?: string | undefined
  /** DPoP on token requests (see {@link ClientConfigInput.dpop}); absent: off. */
  readonly dpop?: true | "required" | undefined
}

/**
 * Validate a configuration: a non-empty client id, absolute https endpoints
 * (http only on loopback), well-formed scopes.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (input: ClientConfigInput): Effect.Effect<ClientConfig, InvalidConfiguration> =>
  Effect.gen(function*() {
    // Configuration also comes from untyped sources (JSON files, environment): check types too.
    if (typeof input !== "object" || input === null) return yield* invalid("config", "must be an object")
    if (input.clientId !== undefined && typeof input.clientId !== "string") {
      return yield* invalid("clientId", "must be a string")
    }
    const clientId = input.clientId?.trim() ?? ""
    if (clientId === "") return yield* invalid("clientId", "must not be empty")
    if (!isPrintable(clientId)) return yield* invalid("clientId", "must not contain control characters")
    const deviceAuthorization = yield* validateEndpoint(
      "endpoints.deviceAuthorization",
      input.endpoints?.deviceAuthorization
    )
    const token = yield* validateEndpoint("endpoints.token", input.endpoints?.token)
    const revocation = input.endpoints?.revocation === undefined
      ? undefined
      : yield* validateEndpoint("endpoints.revocation", input.endpoints.revocation)
    const scopes = yield* validateScopes("scopes", input.scopes ?? [])
    if (input.clientSecret !== undefined) {
      if (!Redacted.isRedacted(input.clientSecret)) return yield* invalid("clientSecret", "must be a Redacted string")
      const secret: unknown = Redacted.value(input.clientSecret)
      if (typeof secret !== "string" || secret.trim() === "") {
        return yield* invalid("clientSecret", "must be a non-empty string")
      }
    }
    const clientAuthMethod = input.clientAuthMethod ??
      (input.clientSecret === undefined ? "none" : "client_secret_post")
    if (!clientAuthMethods.includes(clientAuthMethod)) {
      return yield* invalid("clientAuthMethod", `must be one of ${clientAuthMethods.join(", ")}`)
    }
    if (clientAuthMethod !== "none" && input.clientSecret === undefined) {
      return yield* invalid("clientSecret", `is required for ${clientAuthMethod}`)
    }
    const deviceAuthorizationParams = yield* validateParams(
      "deviceAuthorizationParams",
      input.deviceAuthorizationParams
    )
    const tokenParams = yield* validateParams("tokenParams", input.tokenParams)
    const wire = input.wire ?? "oauth"
    if (wire !== "oauth" && wire !== "aws-sso-oidc") return yield* invalid("wire", `must be "oauth" or "aws-sso-oidc"`)
    // AWS SSO-OIDC reads the client's credentials from the JSON body only
    if (wire === "aws-sso-oidc" && clientAuthMethod === "client_secret_basic") {
      return yield* invalid("clientAuthMethod", "client_secret_basic is not supported by the aws-sso-oidc wire format")
    }
    const scopeForm = input.scopeForm ?? "oauth"
    if (!ScopeForm.isScopeForm(scopeForm)) {
      return yield* invalid("scopeForm", `must be one of ${ScopeForm.forms.join(", ")}`)
    }
    if (input.issuer !== undefined) {
      if (typeof input.issuer !== "string" || !isPrintable(input.issuer)) {
        return yield* invalid("issuer", "must be a URL")
      }
      yield* validateEndpoint("issuer", input.issuer.replace("{tenantid}", "tenant"))
    }
    if (input.dpop !== undefined && input.dpop !== true && input.dpop !== false && input.dpop !== "required") {
      return yield* invalid("dpop", "must be true, false or \"required\"")
    }
    return {
      clientId,
      clientSecret: input.clientSecret,
      clientAuthMethod,
      endpoints: revocation === undefined ? { deviceAuthorization, token } : { deviceAuthorization, token, revocation },
      scopes,
      deviceAuthorizationParams,
      tokenParams,
      wire,
      scopeForm,
      ...(input.preset === undefined ? {} : { preset: String(input.preset).slice(0, 50) }),
      ...(input.issuer === undefined ? {} : { issuer: input.issuer }),
      ...(input.dpop === undefined || input.dpop === false ? {} : { dpop: input.dpop })
    }
  })

const invalid = (field: string, reason: string) => Effect.fail(new InvalidConfiguration({ field, reason }))

const clientAuthMethods: ReadonlyArray<ClientAuthMethod> = ["none", "client_secret_post", "client_secret_basic"]

/**
 * Hosts where plain http cannot be intercepted on the way.
 *
 * @since 0.1.0
 * @category utils
 */
export const isLoopbackHost = (hostname: string): boolean =>
  hostname === "localhost" || hostname === "[::1]" || /^127(\.\d{1,3}){3}$/.test(hostname)

/**
 * An absolute URL that tokens may be sent to: https, or http on loopback
 * (RFC 8628 §5.1 / RFC 6749 §3.2 require TLS).
 *
 * @since 0.1.0
 * @category constructors
 */
export const validateEndpoint = (
  field: string,
  value: string | undefined
): Effect.Effect<string, InvalidConfiguration> =>
  Effect.gen(function*() {
    if (value !== undefined && typeof value !== "string") return yield* invalid(field, "must be a string")
    if (value === undefined || value.trim() === "") return yield* invalid(field, "is required")
    let url: URL
    try {
      url = new URL(value.trim())
    } catch {
      return yield* invalid(field, `is not an absolute URL: ${JSON.stringify(withoutCredentials(value.slice(0, 200)))}`)
    }
    // The URL parser would quietly percent-encode them: a space or control character inside is a paste error.
    // eslint-disable-next-line no-control-regex
    if (/[\s\u0000-\u001f\u007f]/.test(value.trim())) {
      return yield* invalid(
        field,
        `must not contain spaces or control characters: ${
          JSON.stringify(withoutCredentials(value.trim().slice(0, 200)))
        }`
      )
    }
    if (url.protocol !== "https:" && !(url.protocol === "http:" && isLoopbackHost(url.hostname))) {
      return yield* invalid(field, `must use https (http is allowed only for loopback hosts): ${originOf(url)}`)
    }
    if (url.username !== "" || url.password !== "") return yield* invalid(field, "must not contain credentials")
    // RFC 6749 §3.1: no fragment; WHATWG URL reports an empty one ("…#") as no hash at all
    if (url.hash !== "" || value.includes("#")) return yield* invalid(field, "must not contain a fragment")
    return url.href
  })

/**
 * The origin of `url` for messages; `javascript:` and other schemes without one show their scheme.
 *
 * @since 0.1.0
 * @category utils
 */
export const originOf = (url: URL): string => (url.origin === "null" ? `${url.protocol}…` : url.origin)

/**
 * A URL-ish string with any `user:password@` part blanked, for messages.
 *
 * @since 0.1.0
 * @category utils
 */
export const withoutCredentials = (text: string): string => text.replace(/\/\/[^/?#\s]*@/, "//<credentials>@")

/**
 * Scopes as RFC 6749 §3.3 allows them: no spaces, quotes, backslashes or
 * control characters, no duplicates (the first occurrence wins).
 *
 * @since 0.1.0
 * @category constructors
 */
export const validateScopes = (
  field: string,
  scopes: ReadonlyArray<string>
): Effect.Effect<ReadonlyArray<string>, InvalidConfiguration> =>
  Effect.gen(function*() {
    if (!Array.isArray(scopes)) return yield* invalid(field, "must be a list of scopes")
    const out: Array<string> = []
    for (const scope of scopes) {
      if (!ScopeForm.isScopeToken(scope)) return yield* invalid(field, ScopeForm.notAScopeToken(scope))
      if (!out.includes(scope)) out.push(scope)
    }
    return out
  })

const reservedParams = new Set(["client_id", "client_secret", "grant_type", "device_code", "refresh_token"])

/**
 * Extra request parameters as devflow accepts them, in the configuration
 * and per request alike: string values, names without control characters,
 * and none of the names devflow sets itself (`client_id`, `client_secret`,
 * `grant_type`, `device_code`, `refresh_token`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const validateParams = (
  field: string,
  params: Readonly<Record<string, string>> | undefined
): Effect.Effect<Readonly<Record<string, string>>, InvalidConfiguration> =>
  Effect.gen(function*() {
    if (params !== undefined && params !== null && (typeof params !== "object" || Array.isArray(params))) {
      return yield* invalid(field, "must be an object of string parameters")
    }
    const out: Record<string, string> = {}
    for (const [key, value] of Object.entries(params ?? {})) {
      if (key === "" || !isPrintable(key)) {
        return yield* invalid(field, `has an invalid parameter name ${JSON.stringify(key)}`)
      }
      if (reservedParams.has(key)) {
        return yield* invalid(`${field}.${key}`, "is set by devflow and cannot be overridden")
      }
      if (typeof value !== "string") {
        return yield* invalid(`${field}.${key}`, "must be a string")
      }
      out[key] = value
    }
    return out
  })
