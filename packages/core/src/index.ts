/**
 * The OAuth 2.0 Device Authorization Grant (RFC 8628) on Effect (package `@devflow/core`).
 *
 * @since 0.1.0
 */

/**
 * Client configuration: client id, secret, endpoints, scopes, wire format.
 *
 * @since 0.1.0
 */
export * as ClientConfig from "./ClientConfig.js"
/**
 * RFC 8628 §3.1–3.2: the device authorization request and response.
 *
 * @since 0.1.0
 */
export * as DeviceAuthorization from "./DeviceAuthorization.js"
/**
 * RFC 8628 §3.4–3.5: the device access token request (one poll) and its answer.
 *
 * @since 0.1.0
 */
export * as DeviceTokenRequest from "./DeviceTokenRequest.js"
/**
 * The device flow from request to tokens: acquireToken, events, resume.
 *
 * @since 0.1.0
 */
export * as DeviceFlow from "./DeviceFlow.js"
/**
 * The typed errors of the flow.
 *
 * @since 0.1.0
 */
export * as DeviceFlowError from "./DeviceFlowError.js"
/**
 * A pending flow as data, to resume in another process.
 *
 * @since 0.1.0
 */
export * as DeviceSession from "./DeviceSession.js"
/**
 * A flow store in this process's memory.
 *
 * @since 0.1.0
 */
export * as MemoryFlowStore from "./MemoryFlowStore.js"
/**
 * Every polling rule of RFC 8628 as pure functions of time.
 *
 * @since 0.1.0
 */
export * as PollSchedule from "./PollSchedule.js"
/**
 * RFC 6749 §5.1 token responses.
 *
 * @since 0.1.0
 */
export * as TokenResponse from "./TokenResponse.js"
/**
 * Authority and issuer URL rules, Entra tenants.
 *
 * @since 0.1.0
 */
export * as Authority from "./Authority.js"
/**
 * OpenID Connect and RFC 8414 discovery.
 *
 * @since 0.1.0
 */
export * as ServerMetadata from "./ServerMetadata.js"
/**
 * The one boundary for server text that reaches a person: codes and URIs refused with controls, free text cleaned.
 *
 * @since 0.1.0
 */
export * as ServerText from "./ServerText.js"
/**
 * Who signed in, from the id_token's claims.
 *
 * @since 0.1.0
 */
export * as Account from "./Account.js"
/**
 * MSAL's PublicClientApplication model: accounts, device code sign-in, silent acquisition.
 *
 * @since 0.1.0
 */
export * as PublicClient from "./PublicClient.js"
/**
 * Silent acquisition: cache, then refresh, then InteractionRequired.
 *
 * @since 0.1.0
 */
export * as Silent from "./Silent.js"
/**
 * What a token cache holds, its pure queries and changes, and its JSON form.
 *
 * @since 0.1.0
 */
export * as CacheContent from "./CacheContent.js"
/**
 * The token cache port and its in-memory layer.
 *
 * @since 0.1.0
 */
export * as TokenCache from "./TokenCache.js"
/**
 * Provider presets and the RFC 8628 §5.4 host check.
 *
 * @since 0.1.0
 */
export * as Providers from "./Providers.js"
/**
 * What to call an account in messages, without Effect.
 *
 * @since 0.1.0
 */
export * as AccountLabel from "./AccountLabel.js"
/**
 * The provider presets as plain data, without Effect.
 *
 * @since 0.1.0
 */
export * as ProviderPresets from "./ProviderPresets.js"
/**
 * RFC 7009 token revocation.
 *
 * @since 0.1.0
 */
export * as Revocation from "./Revocation.js"
/**
 * How each provider spells scopes.
 *
 * @since 0.1.0
 */
export * as ScopeForm from "./ScopeForm.js"
/**
 * Device flows shared by instances: start, watch, cancel and list flows by id.
 *
 * @since 0.1.0
 */
export * as FlowStore from "./FlowStore.js"
/**
 * One deadline and one body-size limit per OAuth request, and the mark of an HTTP client that enforces them itself.
 *
 * @since 0.1.0
 */
export * as RequestLimits from "./RequestLimits.js"
/**
 * A map keeping the most recently used entries up to a bound: memos of a long-lived process.
 *
 * @since 0.1.0
 */
export * as Recent from "./Recent.js"
/**
 * In-process locks by key, remembered only while held or awaited.
 *
 * @since 0.1.0
 */
export * as KeyedLock from "./KeyedLock.js"
/**
 * DPoP (RFC 9449): the client's key pair and the proofs that bind tokens to it.
 *
 * @since 0.1.0
 */
export * as Dpop from "./Dpop.js"
