/**
 * @devflow/core — the OAuth 2.0 Device Authorization Grant (RFC 8628) on Effect.
 *
 * @since 0.1.0
 */

/** @since 0.1.0 */
export * as ClientConfig from "./ClientConfig.js"
/** @since 0.1.0 */
export * as DeviceAuthorization from "./DeviceAuthorization.js"
/** @since 0.1.0 */
export * as DeviceFlow from "./DeviceFlow.js"
/** @since 0.1.0 */
export * as DeviceFlowError from "./DeviceFlowError.js"
/** @since 0.1.0 */
export * as DeviceSession from "./DeviceSession.js"
/** @since 0.1.0 */
export * as PollSchedule from "./PollSchedule.js"
/** @since 0.1.0 */
export * as TokenResponse from "./TokenResponse.js"
/** @since 0.1.0 */
export * as TestKit from "./TestKit.js"
/** @since 0.1.0 */
export * as Authority from "./Authority.js"
/** @since 0.1.0 */
export * as ServerMetadata from "./ServerMetadata.js"
/** @since 0.1.0 */
export * as Account from "./Account.js"
/** @since 0.1.0 */
export * as PublicClient from "./PublicClient.js"
/** @since 0.1.0 */
export * as Silent from "./Silent.js"
/** @since 0.1.0 */
export * as TestKitCache from "./TestKitCache.js"
/** @since 0.1.0 */
export * as TokenCache from "./TokenCache.js"
/** @since 0.1.0 */
export * as Providers from "./Providers.js"
/** @since 0.1.0 */
export * as FlowStore from "./FlowStore.js"
