import type { WireFormat } from "../ClientConfig.js"

/**
 * Provider wire quirks that are pure renamings, undone in one place before
 * any schema sees the body. Each line names the servers that need it.
 * @internal
 */
export const normaliseDeviceAuthorization = (body: Readonly<Record<string, unknown>>): Record<string, unknown> => {
  const out = dropNulls(body)
  // Entra v1, ADFS and Google send `verification_url` (a draft-era name) for `verification_uri`.
  if (out.verification_uri === undefined && out.verification_url !== undefined) {
    out.verification_uri = out.verification_url
  }
  return out
}

/** @internal */
export const normaliseTokenResponse = (body: Readonly<Record<string, unknown>>): Record<string, unknown> =>
  dropNulls(body)

// Some servers send `"interval": null` or `"scope": null` for "not given".
const dropNulls = (body: Readonly<Record<string, unknown>>): Record<string, unknown> => {
  const out: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(body)) {
    if (value !== null) out[key] = value
  }
  return out
}

/**
 * Request parameter names as AWS SSO-OIDC spells them (CreateToken,
 * StartDeviceAuthorization). Names not listed are sent as given.
 * @internal
 */
export const awsRequestNames: Readonly<Record<string, string>> = {
  client_id: "clientId",
  client_secret: "clientSecret",
  grant_type: "grantType",
  device_code: "deviceCode",
  refresh_token: "refreshToken",
  start_url: "startUrl"
}

/**
 * Encode OAuth request parameters for a wire format: a form body for
 * `"oauth"`, a JSON object for `"aws-sso-oidc"`.
 * @internal
 */
export const encodeRequest = (
  wire: WireFormat,
  params: Readonly<Record<string, string>>
): { readonly _tag: "Form"; readonly body: Readonly<Record<string, string>> } | {
  readonly _tag: "Json"
  readonly body: Readonly<Record<string, unknown>>
} => {
  if (wire === "oauth") return { _tag: "Form", body: params }
  const body: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(params)) {
    // StartDeviceAuthorization has no scope: the scopes were fixed by RegisterClient.
    if (key === "scope") continue
    body[awsRequestNames[key] ?? key] = value
  }
  return { _tag: "Json", body }
}

// AWS SSO-OIDC answers in camelCase (StartDeviceAuthorization, CreateToken).
const awsAnswerNames: Readonly<Record<string, string>> = {
  deviceCode: "device_code",
  userCode: "user_code",
  verificationUri: "verification_uri",
  verificationUriComplete: "verification_uri_complete",
  expiresIn: "expires_in",
  accessToken: "access_token",
  tokenType: "token_type",
  refreshToken: "refresh_token",
  idToken: "id_token"
}

// AWS SSO-OIDC exception names and the RFC 6749 §5.2 / RFC 8628 §3.5 codes they stand for.
// `undefined`: a server fault, so the HTTP status decides (retried like any 5xx).
const awsExceptions: Readonly<Record<string, string | undefined>> = {
  AuthorizationPendingException: "authorization_pending",
  SlowDownException: "slow_down",
  AccessDeniedException: "access_denied",
  ExpiredTokenException: "expired_token",
  InvalidClientException: "invalid_client",
  InvalidGrantException: "invalid_grant",
  InvalidRequestException: "invalid_request",
  InvalidScopeException: "invalid_scope",
  UnauthorizedClientException: "unauthorized_client",
  UnsupportedGrantTypeException: "unsupported_grant_type",
  InternalServerException: undefined
}

const rfcCode = /^[a-z][a-z0-9_]*$/

// "com.amazonaws.ssooidc#SlowDownException" and "SlowDownException:http://internal.amazon.com/…" → "SlowDownException"
const exceptionName = (value: unknown): string | undefined => {
  if (typeof value !== "string") return undefined
  const name = value.split(":")[0]!.split("#").pop()!.trim()
  return name === "" ? undefined : name
}

/**
 * Undo a wire format's spelling of an answer, so that everything after this
 * sees RFC 6749 / RFC 8628 names. For `"oauth"` the body is returned as is.
 * @internal
 */
export const normaliseAnswer = (
  wire: WireFormat,
  body: Readonly<Record<string, unknown>>,
  status: number,
  header: (name: string) => string | undefined
): Readonly<Record<string, unknown>> => {
  if (wire === "oauth") return body
  const out: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(body)) {
    const name = awsAnswerNames[key] ?? key
    // the RFC spelling wins when a body carries both
    if (name === key || !(name in body)) out[name] = value
  }
  // AWS SDKs read the error type from x-amzn-errortype, then `__type` / `code`; the body's `error` may be either spelling.
  const error = typeof out.error === "string" ? out.error.trim() : undefined
  if (error !== undefined && rfcCode.test(error)) return out
  const name = exceptionName(error) ?? exceptionName(out.__type) ?? exceptionName(out.code) ??
    exceptionName(header("x-amzn-errortype"))
  if (name === undefined) return out
  if (Object.hasOwn(awsExceptions, name)) {
    const code = awsExceptions[name]
    if (code === undefined) {
      delete out.error
      return out
    }
    out.error = code
  } else if (status >= 400 && status < 500 && status !== 429) {
    // an exception devflow does not know: keep its name as the error code
    out.error = name
  } else {
    // throttling and server faults without an OAuth code: the status decides
    delete out.error
    return out
  }
  const message = out.message ?? out.Message
  if (out.error_description === undefined && typeof message === "string") out.error_description = message
  return out
}
