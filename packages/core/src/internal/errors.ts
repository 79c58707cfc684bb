import { OAuthError } from "../DeviceFlowError.js"
import type { OAuthErrorBody } from "./oauthHttp.js"

/**
 * The server's error, with any secret the request carried blanked out of the
 * free text (a server may echo the device code or a token back).
 * @internal
 */
export const oauthFields = (
  endpoint: string,
  status: number,
  body: OAuthErrorBody,
  secrets: ReadonlyArray<string> = []
) => ({
  endpoint,
  status,
  error: scrub(body.error, secrets),
  ...(body.error_description === undefined ? {} : { errorDescription: scrub(body.error_description, secrets) }),
  ...(body.error_uri === undefined ? {} : { errorUri: scrub(body.error_uri, secrets) }),
  ...(body.error_codes === undefined ? {} : { errorCodes: body.error_codes }),
  ...(body.trace_id === undefined ? {} : { traceId: body.trace_id }),
  ...(body.correlation_id === undefined ? {} : { correlationId: body.correlation_id })
})

/** @internal */
export const scrub = (text: string, secrets: ReadonlyArray<string>): string => {
  let out = text
  for (const secret of secrets) {
    if (secret.length >= 4) out = out.split(secret).join("<redacted>")
  }
  return out
}

/** @internal */
export const toOAuthError = (
  endpoint: string,
  status: number,
  body: OAuthErrorBody,
  secrets: ReadonlyArray<string> = []
): OAuthError => new OAuthError(oauthFields(endpoint, status, body, secrets))
