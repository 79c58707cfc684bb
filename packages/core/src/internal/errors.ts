import { OAuthError } from "../DeviceFlowError.js"
import type { OAuthErrorBody } from "./oauthAnswer.js"

/**
 * The server's error as OAuthError fields. Its text was cleaned of the
 * request's secrets when the answer was read (internal/oauthAnswer.ts, internal/secrets.ts).
 * @internal
 */
export const oauthFields = (endpoint: string, status: number, body: OAuthErrorBody) => ({
  endpoint,
  status,
  error: body.error,
  ...(body.error_description === undefined ? {} : { errorDescription: body.error_description }),
  ...(body.error_uri === undefined ? {} : { errorUri: body.error_uri }),
  ...(body.error_codes === undefined ? {} : { errorCodes: body.error_codes }),
  ...(body.trace_id === undefined ? {} : { traceId: body.trace_id }),
  ...(body.correlation_id === undefined ? {} : { correlationId: body.correlation_id })
})

/** @internal */
export const toOAuthError = (endpoint: string, status: number, body: OAuthErrorBody): OAuthError =>
  new OAuthError(oauthFields(endpoint, status, body))
