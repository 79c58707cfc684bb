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
