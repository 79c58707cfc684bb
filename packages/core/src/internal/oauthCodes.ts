/**
 * RFC 6749 §5.2 and RFC 8628 §3.5 error codes, and Entra's
 * authorization_declined: the codes whose meaning does not depend on the server.
 * @internal
 */
export const PROTOCOL_CODES: ReadonlySet<string> = new Set([
  "authorization_pending",
  "slow_down",
  "access_denied",
  "authorization_declined",
  "expired_token",
  "invalid_request",
  "invalid_client",
  "invalid_grant",
  "unauthorized_client",
  "unsupported_grant_type",
  "invalid_scope"
])

/**
 * An error answer whose status says "not now" (HTTP 429 or 5xx) and whose
 * code does not say otherwise: a rate limiter's or gateway's own word
 * (`rate_limit_exceeded`, `upstream_timeout`) means what a bare 429 or 5xx
 * means. A code the protocol defines keeps its meaning whatever the status.
 * @internal
 */
export const isUnavailable = (status: number, error: string): boolean =>
  (status === 429 || status >= 500) && !PROTOCOL_CODES.has(error)

/**
 * Every error code devflow knows: the protocol's, RFC 6749 §4.1.2.1's server
 * ones, OpenID Connect's interaction codes, RFC 7009's, and the providers' own.
 * @internal
 */
export const KNOWN_CODES: ReadonlySet<string> = new Set([
  ...PROTOCOL_CODES,
  "server_error",
  "temporarily_unavailable",
  "interaction_required",
  "login_required",
  "consent_required",
  "unsupported_token_type",
  "device_flow_disabled",
  "incorrect_client_credentials",
  "incorrect_device_code"
])
