/**
 * Authorization server metadata: OpenID Connect Discovery 1.0 and RFC 8414,
 * reduced to what the device flow needs, with the issuer check that keeps a
 * look-alike server from substituting its own endpoints.
 *
 * @since 0.1.0
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import * as Cache from "effect/Cache"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as Authority from "./Authority.js"
import { validateEndpoint } from "./ClientConfig.js"
import { GRANT_TYPE } from "./DeviceAuthorization.js"
import { type InvalidConfiguration, InvalidResponse, type TransportError } from "./DeviceFlowError.js"
import { decodeWire, NonEmpty } from "./internal/decode.js"
import { getJson } from "./internal/oauthHttp.js"

/**
 * The fields devflow reads; everything else is ignored.
 *
 * @since 0.1.0
 * @category schemas
 */
export const ServerMetadataDocument = Schema.Struct({
  issuer: NonEmpty,
  token_endpoint: NonEmpty,
  // RFC 8628 §4: the device flow's own metadata field
  device_authorization_endpoint: Schema.optional(NonEmpty),
  grant_types_supported: Schema.optional(Schema.Array(Schema.String)),
  scopes_supported: Schema.optional(Schema.Array(Schema.String)),
  token_endpoint_auth_methods_supported: Schema.optional(Schema.Array(Schema.String)),
  revocation_endpoint: Schema.optional(Schema.String),
  userinfo_endpoint: Schema.optional(Schema.String),
  dpop_signing_alg_values_supported: Schema.optional(Schema.Array(Schema.String))
})

/**
 * Validated metadata of a server that supports the device flow.
 *
 * @since 0.1.0
 * @category models
 */
export interface ServerMetadata {
  readonly issuer: string
  readonly deviceAuthorizationEndpoint: string
  readonly tokenEndpoint: string
  readonly scopesSupported: ReadonlyArray<string> | undefined
  /** an OpenID Provider: found by OpenID Connect Discovery, or listing `openid` in scopes_supported */
  readonly openIdProvider: boolean
  readonly tokenEndpointAuthMethodsSupported: ReadonlyArray<string> | undefined
  /** RFC 8414 §2 revocation_endpoint (RFC 7009), when advertised and well-formed */
  readonly revocationEndpoint: string | undefined
  /** RFC 9449 §5.1 dpop_signing_alg_values_supported, when advertised (see `Dpop.chooseAlgorithm`) */
  readonly dpopSigningAlgValuesSupported?: ReadonlyArray<string> | undefined
  /** where the document was found */
  readonly source: string
}

/**
 * The well-known locations for `issuer`, in the order they are tried: OpenID
 * Connect's (appended to the issuer's path), then RFC 8414's (inserted before
 * the path, §3.1), then RFC 8414's appended form that some servers use.
 *
 * @since 0.1.0
 * @category utils
 */
export const wellKnownUrls = (issuer: URL): ReadonlyArray<string> => {
  const path = issuer.pathname.replace(/\/+$/, "")
  const urls = [
    `${issuer.origin}${path}/.well-known/openid-configuration`,
    `${issuer.origin}/.well-known/oauth-authorization-server${path}`
  ]
  if (path !== "") urls.push(`${issuer.origin}${path}/.well-known/oauth-authorization-server`)
  return urls
}

/**
 * Fetch and validate the metadata of `issuer`, without caching.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8414#section-3
 * @since 0.1.0
 * @category requests
 */
export const discover = (
  issuer: string
): Effect.Effect<ServerMetadata, InvalidConfiguration | InvalidResponse | TransportError, HttpClient.HttpClient> =>
  Effect.gen(function*() {
    const url = yield* Authority.parse("issuer", issuer)
    const expected = Authority.toString(url)
    const tried: Array<string> = []
    for (const location of wellKnownUrls(url)) {
      const answer = yield* getJson(location)
      if (answer._tag === "Missing") {
        tried.push(`${location} (${answer.reason})`)
        continue
      }
      const doc = yield* decodeWire(ServerMetadataDocument, new Set(), { endpoint: location, status: 200 })(answer.body)
      // RFC 8414 §3.3 / OIDC Discovery §4.3: the issuer must be identical to the one configured
      if (doc.issuer.replace(/\/+$/, "") !== expected) {
        return yield* new InvalidResponse({
          endpoint: location,
          status: 200,
          field: "issuer",
          reason: `is ${JSON.stringify(doc.issuer)}, not the configured issuer ${
            JSON.stringify(expected)
          }: refusing metadata that names another server`
        })
      }
      if (doc.device_authorization_endpoint === undefined) {
        const grants = doc.grant_types_supported
        return yield* new InvalidResponse({
          endpoint: location,
          status: 200,
          field: "device_authorization_endpoint",
          reason: grants !== undefined && !grants.includes(GRANT_TYPE)
            ? "is missing and the device code grant is not in grant_types_supported: this server does not offer the device flow"
            : "is missing: this server does not advertise the device flow (RFC 8628 §4)"
        })
      }
      const invalidEndpoint = (field: string) => (e: InvalidConfiguration) =>
        new InvalidResponse({ endpoint: location, status: 200, field, reason: e.reason })
      return {
        issuer: doc.issuer,
        deviceAuthorizationEndpoint: yield* validateEndpoint(
          "device_authorization_endpoint",
          doc.device_authorization_endpoint
        )
          .pipe(Effect.mapError(invalidEndpoint("device_authorization_endpoint"))),
        tokenEndpoint: yield* validateEndpoint("token_endpoint", doc.token_endpoint).pipe(
          Effect.mapError(invalidEndpoint("token_endpoint"))
        ),
        scopesSupported: doc.scopes_supported,
        openIdProvider: location === wellKnownUrls(url)[0] || (doc.scopes_supported?.includes("openid") ?? false),
        tokenEndpointAuthMethodsSupported: doc.token_endpoint_auth_methods_supported,
        // only sign-out uses it: a malformed one costs the revocation, not the sign-in
        revocationEndpoint: doc.revocation_endpoint === undefined
          ? undefined
          : yield* Effect.orElseSucceed(
            validateEndpoint("revocation_endpoint", doc.revocation_endpoint),
            () => undefined
          ),
        ...(doc.dpop_signing_alg_values_supported === undefined
          ? {}
          : { dpopSigningAlgValuesSupported: doc.dpop_signing_alg_values_supported }),
        source: location
      }
    }
    return yield* new InvalidResponse({
      endpoint: wellKnownUrls(url)[0]!,
      status: 404,
      reason: `no metadata found for ${expected} (tried ${tried.join(", ")})`
    })
  })

/**
 * The scopes to ask for when the caller names none: `openid` from an OpenID
 * Provider, and `offline_access` when the server lists it. An OpenID Provider
 * asked for no scope lets the person sign in and then answers `access_denied`
 * (oidc-provider does), and without `offline_access` there is no refresh
 * token for a later silent call.
 *
 * @since 0.1.0
 * @category utils
 */
export const inferredScopes = (
  metadata: Pick<ServerMetadata, "openIdProvider" | "scopesSupported">
): ReadonlyArray<string> => [
  ...(metadata.openIdProvider ? ["openid"] : []),
  ...(metadata.scopesSupported?.includes("offline_access") === true ? ["offline_access"] : [])
]

/**
 * Discovery with a per-process cache: each issuer is fetched once, concurrent
 * lookups share one request, and failures are not cached.
 *
 * @since 0.1.0
 * @category models
 */
export interface Discovery {
  readonly discover: (
    issuer: string
  ) => Effect.Effect<ServerMetadata, InvalidConfiguration | InvalidResponse | TransportError>
}

/**
 * The {@link Discovery} service's tag.
 *
 * @since 0.1.0
 * @category tags
 */
export const Discovery: Context.Tag<Discovery, Discovery> = Context.GenericTag<Discovery>(
  "@devflow/core/ServerMetadata/Discovery"
)

/**
 * The cached {@link Discovery} (metadata kept for an hour by default).
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: { readonly timeToLive?: Duration.DurationInput } = {}): Layer.Layer<
  Discovery,
  never,
  HttpClient.HttpClient
> =>
  Layer.effect(
    Discovery,
    Effect.gen(function*() {
      const context = yield* Effect.context<HttpClient.HttpClient>()
      const cache = yield* Cache.makeWith({
        capacity: 64,
        lookup: (issuer: string) => Effect.provide(discover(issuer), context),
        timeToLive: (
          exit
        ) => (exit._tag === "Success" ? Duration.decode(options.timeToLive ?? "1 hour") : Duration.zero)
      })
      return {
        // Effect's Cache keeps even a zero-lifetime failure until the clock moves: drop it at once.
        discover: (issuer) => cache.get(issuer).pipe(Effect.tapError(() => cache.invalidate(issuer)))
      }
    })
  )
