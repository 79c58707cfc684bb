/**
 * Provider presets: what devflow knows about each major authorization
 * server, as plain data the generic engine applies — where the endpoints are
 * (fixed paths under a base address, or discovery from an issuer), which
 * inputs are needed, which parameters carry them, the wire format, and the
 * hosts a genuine verification page lives on. No preset has its own polling
 * logic: every quirk is absorbed by the core's one wire layer.
 *
 * Every preset takes a base-URL override (`authority`): a sovereign cloud,
 * GitHub Enterprise Server, a self-hosted Keycloak, a test double on
 * loopback. The preset's wire quirks stay the same at that address.
 *
 * @example
 * ```ts
 * import { DeviceFlow, Providers } from "@devflow/core"
 * import { Console, Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const config = yield* Providers.resolve("entra", {
 *     clientId: "00000000-0000-0000-0000-000000000000",
 *     tenant: "contoso.onmicrosoft.com"
 *   })
 *   return yield* DeviceFlow.acquireToken(config, {}, {
 *     onCode: (code) => {
 *       const check = Providers.checkVerificationUri({ provider: "entra", config }, code.verificationUri)
 *       return Console.error(check.trusted ? code.message : `${code.message}\nWarning: ${check.reason}`)
 *     }
 *   })
 * })
 * ```
 *
 * @since 0.1.0
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import type * as DateTime from "effect/DateTime"
import type * as Effect from "effect/Effect"
import type * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import type * as ClientConfig from "./ClientConfig.js"
import type { InvalidConfiguration, InvalidResponse, OAuthError, TransportError } from "./DeviceFlowError.js"
import * as providerInput from "./internal/providerInput.js"
import * as verificationHost from "./internal/verificationHost.js"
import * as verificationUriComplete from "./internal/verificationUriComplete.js"
import * as ProviderPresets from "./ProviderPresets.js"
import type * as ScopeForm from "./ScopeForm.js"
import type * as ServerMetadata from "./ServerMetadata.js"

/**
 * The presets devflow ships.
 *
 * @since 0.1.0
 * @category schemas
 */
export const ProviderId = Schema.Literal(...ProviderPresets.IDS)

/**
 * The ids of the provider presets.
 *
 * @since 0.1.0
 * @category models
 */
export type ProviderId = typeof ProviderId.Type

/**
 * Every preset id, in a stable order (for help texts and flag choices).
 *
 * @since 0.1.0
 * @category constants
 */
export const ids: ReadonlyArray<ProviderId> = ProviderId.literals

/**
 * Whether a value is a provider preset id.
 *
 * @since 0.1.0
 * @category refinements
 */
export const isProviderId: (u: unknown) => u is ProviderId = ProviderPresets.isProviderId

/**
 * What a caller (or the CLI's flags) can give a preset. Which fields a preset
 * needs and reads is in its {@link Provider.requires} and
 * {@link Provider.accepts}; any other field given is refused, so that a flag
 * that would be silently ignored is reported instead.
 *
 * @since 0.1.0
 * @category models
 */
export interface ProviderInput {
  /**
   * The OAuth client id. For `aws-sso` without a `clientSecret` it is the
   * name under which a public client is registered (RegisterClient's
   * `clientName`); with a `clientSecret` it is an already registered client's id.
   */
  readonly clientId: string
  readonly clientSecret?: Redacted.Redacted<string> | undefined
  /**
   * The base-URL override. `entra`, `entra-v1`: the cloud's host (default
   * `https://login.microsoftonline.com`), optionally with the tenant as its
   * path. `okta`, `keycloak`, `generic`: the issuer. `github`, `google`,
   * `auth0`, `aws-sso`: the base address replacing the public one.
   */
  readonly authority?: string | undefined
  /** `entra`, `entra-v1`: the tenant. `auth0`: the tenant name (`{tenant}.auth0.com`). */
  readonly tenant?: string | undefined
  /** `auth0`: the API audience. `entra-v1`: the `resource`. */
  readonly audience?: string | undefined
  /** `okta`, `keycloak`, `generic`: the issuer, another name for `authority`. */
  readonly issuer?: string | undefined
  /** `aws-sso`: the AWS region of IAM Identity Center, e.g. `eu-west-1`. */
  readonly region?: string | undefined
  /** `aws-sso`: the AWS access portal URL, e.g. `https://d-1234567890.awsapps.com/start`. */
  readonly startUrl?: string | undefined
  /** Scopes; the preset's defaults when omitted, and for a discovery preset without any (generic), `ServerMetadata.inferredScopes` of the issuer. */
  readonly scopes?: ReadonlyArray<string> | undefined
}

/**
 * The name of one {@link ProviderInput} field.
 *
 * @since 0.1.0
 * @category models
 */
export type InputField = keyof ProviderInput

/**
 * A required input, or a choice of inputs of which one is required.
 *
 * @since 0.1.0
 * @category models
 */
export type Requirement = InputField | { readonly anyOf: ReadonlyArray<InputField> }

/**
 * How a preset reads its `authority`.
 *
 * - `EntraTenant`: a Microsoft Entra cloud's host plus a tenant (the rules of
 *   `Authority.entra`); endpoints hang off `{origin}/{tenant}`.
 * - `Issuer`: an OpenID Connect issuer; `pathPattern`, when set, is a regular
 *   expression its path must match.
 * - `Base`: a base address that replaces the provider's public one.
 *
 * @since 0.1.0
 * @category models
 */
export type AuthorityRule =
  | { readonly _tag: "EntraTenant" }
  | { readonly _tag: "Issuer"; readonly pathPattern?: string | undefined; readonly example?: string | undefined }
  | { readonly _tag: "Base" }

/**
 * Where a preset's endpoints are: fixed paths appended to the authority, or
 * RFC 8414 / OpenID Connect discovery from the issuer.
 *
 * @since 0.1.0
 * @category models
 */
export type EndpointRule =
  | { readonly _tag: "Paths"; readonly deviceAuthorization: string; readonly token: string }
  | { readonly _tag: "Discovery" }

/**
 * Where a preset's token revocation endpoint (RFC 7009) is: a path under the
 * base address, the discovery document's `revocation_endpoint`, or nowhere —
 * with what the user can do instead.
 *
 * @since 0.1.0
 * @category models
 */
export type RevocationRule =
  | { readonly _tag: "Path"; readonly path: string }
  | { readonly _tag: "Discovery" }
  | { readonly _tag: "None"; readonly why: string }

/**
 * A request parameter filled from an input: `on` says which requests carry it.
 *
 * @since 0.1.0
 * @category models
 */
export interface InputParam {
  readonly input: "audience" | "startUrl"
  readonly name: string
  readonly on: "deviceAuthorization" | "both"
}

/**
 * A provider preset: plain data, applied by {@link resolve}.
 *
 * Templates (`defaults.authority`, `verificationHosts`) may use the
 * placeholders `{tenant}`, `{region}` and `{dnsSuffix}` (`amazonaws.com`, or
 * `amazonaws.com.cn` for China regions).
 *
 * @since 0.1.0
 * @category models
 */
export interface Provider {
  readonly id: ProviderId
  readonly title: string
  /** One paragraph for help texts. */
  readonly describe: string
  /** The provider's own documentation of its device flow. */
  readonly docs: ReadonlyArray<string>
  /** Inputs that must be given. */
  readonly requires: ReadonlyArray<Requirement>
  /** Why a required input is required, where it is not obvious. */
  readonly requiresWhy: Readonly<Partial<Record<InputField, string>>>
  /** Every input the preset reads (the required ones included). */
  readonly accepts: ReadonlyArray<InputField>
  readonly defaults: {
    /** the public base address or issuer (a template), if the provider has one */
    readonly authority: string | undefined
    readonly scopes: ReadonlyArray<string>
  }
  readonly authority: AuthorityRule
  readonly endpoints: EndpointRule
  readonly params: ReadonlyArray<InputParam>
  readonly clientSecret: "required" | "optional"
  readonly wire: ClientConfig.WireFormat
  /** Where sign-out revokes the refresh token (RFC 7009), or why it cannot */
  readonly revocation: RevocationRule
  /** How the provider spells scopes in token answers (see `ScopeForm`) */
  readonly scopeForm: ScopeForm.ScopeForm
  /**
   * A client registration the preset performs when no `clientSecret` is given
   * (AWS SSO-OIDC RegisterClient: `POST {authority}{path}`).
   */
  readonly registration: { readonly _tag: "AwsSsoOidc"; readonly path: string } | undefined
  /**
   * Hosts of the provider's genuine verification pages, besides the
   * authority's own host. `*.example.com` matches any subdomain.
   */
  readonly verificationHosts: ReadonlyArray<string>
  /** The provider's wire quirks, in words (the core absorbs each). */
  readonly quirks: ReadonlyArray<string>
}

/**
 * Every preset, by id.
 *
 * @since 0.1.0
 * @category constants
 */
export const presets: Readonly<Record<ProviderId, Provider>> = ProviderPresets.presets

/**
 * Turn a preset and the caller's inputs into a validated
 * {@link ClientConfig.ClientConfig}.
 *
 * Every input is checked before any request: unknown preset, a required input
 * missing (e.g. Google's client secret), an input the preset does not use, an
 * Entra authority without a tenant (AADSTS50059), a malformed or non-https
 * address. Discovery presets (`okta`, `generic`) then fetch the issuer's
 * metadata through {@link ServerMetadata.Discovery}; `aws-sso` registers a
 * public client first unless a `clientSecret` is given.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8628#section-3.1
 * @since 0.1.0
 * @category constructors
 */
export const resolve: (
  id: ProviderId,
  input: ProviderInput
) => Effect.Effect<
  ClientConfig.ClientConfig,
  InvalidConfiguration | InvalidResponse | TransportError | OAuthError,
  HttpClient.HttpClient | ServerMetadata.Discovery
> = providerInput.resolve

/**
 * A client registered with AWS SSO-OIDC's RegisterClient.
 *
 * @since 0.1.0
 * @category models
 */
export interface AwsRegisteredClient {
  readonly clientId: string
  readonly clientSecret: Redacted.Redacted<string>
  /** after this instant AWS refuses the secret: register again */
  readonly clientSecretExpiresAt: DateTime.Utc | undefined
}

/**
 * Register a public client with AWS IAM Identity Center OIDC
 * (`POST {base}/client/register`). `resolve("aws-sso", …)` does this when no
 * client secret is given; call it yourself to keep the registration (valid
 * for about 90 days) and pass its id and secret to later resolves.
 *
 * @see https://docs.aws.amazon.com/singlesignon/latest/OIDCAPIReference/API_RegisterClient.html
 * @since 0.1.0
 * @category constructors
 */
export const registerAwsClient: (options: {
  /** `https://oidc.{region}.amazonaws.com`, or an override */
  readonly base: string
  readonly clientName: string
  readonly scopes: ReadonlyArray<string>
}) => Effect.Effect<
  AwsRegisteredClient,
  InvalidConfiguration | InvalidResponse | TransportError | OAuthError,
  HttpClient.HttpClient
> = providerInput.registerAwsClient

/**
 * What a verification URI is checked against: a preset (with the inputs it
 * was resolved from, for the authority, tenant, region and start URL), a
 * bare configuration (its endpoints' hosts), or both.
 *
 * @since 0.1.0
 * @category models
 */
export type VerificationTarget =
  | ProviderId
  | ClientConfig.ClientConfig
  | {
    readonly provider: ProviderId
    readonly input?: Partial<ProviderInput> | undefined
    readonly config?: ClientConfig.ClientConfig | undefined
  }

/**
 * The verdict on a verification URI.
 *
 * @since 0.1.0
 * @category models
 */
export interface VerificationCheck {
  readonly trusted: boolean
  /** the URI's host, when it has one */
  readonly host: string | undefined
  /** one line, for the user */
  readonly reason: string
}

/**
 * RFC 8628 §5.4 (remote phishing): is the verification URI a server sent on
 * the authority's host, or on one of the provider's known verification
 * hosts? Anything else should be shown with a warning.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8628#section-5.4
 * @since 0.1.0
 * @category utils
 */
export const checkVerificationUri: (target: VerificationTarget, verificationUri: string) => VerificationCheck =
  verificationHost.checkVerificationUri

/**
 * RFC 8628 §5.4 for `verification_uri_complete` (the QR code and the link):
 * the same check as {@link checkVerificationUri}, and a warning when its host
 * differs from `verification_uri`'s. A server that sent none is trusted.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8628#section-5.4
 * @since 0.1.0
 * @category utils
 */
export const checkVerificationUriComplete: (
  target: VerificationTarget,
  verificationUri: string,
  verificationUriComplete: string | undefined
) => VerificationCheck = verificationUriComplete.checkVerificationUriComplete
