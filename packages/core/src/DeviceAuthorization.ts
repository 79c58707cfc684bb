/**
 * RFC 8628 §3.1–3.2: the device authorization request and its response.
 *
 * @since 0.1.0
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import type { ClientConfig } from "./ClientConfig.js"
import { type InvalidResponse, type OAuthError, type TransportError } from "./DeviceFlowError.js"
import { decodeWire, FreeText, Seconds, SecretString, Uri, UserCode } from "./internal/decode.js"
import { type Answer, failureOf } from "./internal/oauthAnswer.js"
import { postForm } from "./internal/oauthHttp.js"
import { clientAuthOf } from "./internal/oauthRequest.js"
import { normaliseDeviceAuthorization } from "./internal/wire.js"
import * as PollSchedule from "./PollSchedule.js"

/**
 * The `grant_type` of a device access token request (RFC 8628 §3.4), and
 * what a server lists in `grant_types_supported` when it has the grant.
 *
 * @since 0.1.0
 * @category constants
 */
export const GRANT_TYPE = "urn:ietf:params:oauth:grant-type:device_code"

/**
 * The RFC 8628 §3.2 response, after provider renamings are undone. Unknown
 * fields are ignored; `device_code` is decoded straight into `Redacted`; what
 * reaches the user crosses ServerText (codes and URIs with control
 * characters refused, URIs as their `href`, the message cleaned).
 *
 * @since 0.1.0
 * @category schemas
 */
export const DeviceAuthorizationResponse = Schema.Struct({
  device_code: SecretString,
  user_code: UserCode,
  verification_uri: Uri,
  verification_uri_complete: Schema.optional(Uri),
  expires_in: Seconds,
  interval: Schema.optionalWith(Seconds, { default: () => PollSchedule.DEFAULT_INTERVAL_MS / 1000 }),
  /** Entra's ready-made instruction text */
  message: Schema.optional(FreeText)
})

/**
 * The device authorization response (RFC 8628 §3.2) as sent on the wire, before its quirks are normalised.
 *
 * @since 0.1.0
 * @category models
 */
export type DeviceAuthorizationResponse = typeof DeviceAuthorizationResponse.Type

/**
 * What the user needs to see, in the shape of MSAL's `DeviceCodeResult`.
 *
 * @since 0.1.0
 * @category models
 */
export interface DeviceCode {
  /** the code the user types at the verification page */
  readonly userCode: string
  /** the secret the client polls with; never shown to the user */
  readonly deviceCode: Redacted.Redacted<string>
  readonly verificationUri: string
  /** the verification URI with the code filled in (RFC 8628 §3.3.1), for a QR code or a link */
  readonly verificationUriComplete: string | undefined
  /** when the request for this code was sent */
  readonly issuedAt: DateTime.Utc
  /** issuedAt + expires_in: no poll is sent after this */
  readonly expiresOn: DateTime.Utc
  /** the polling interval the server asked for */
  readonly interval: Duration.Duration
  /** a ready-to-print instruction (the server's own when it sends one) */
  readonly message: string
  readonly clientId: string
  readonly scopes: ReadonlyArray<string>
}

/**
 * A device authorization request.
 *
 * @since 0.1.0
 * @category models
 */
export interface DeviceCodeRequest {
  /** Scopes to request; the configuration's defaults when omitted. */
  readonly scopes?: ReadonlyArray<string> | undefined
  /** Extra parameters for the device authorization request (merged over the configuration's). */
  readonly extraParams?: Readonly<Record<string, string>> | undefined
  /** Extra parameters for the token requests (merged over the configuration's). */
  readonly extraTokenParams?: Readonly<Record<string, string>> | undefined
}

/**
 * Form parameters of the RFC 8628 §3.1 request (client authentication is added by the transport).
 *
 * @since 0.1.0
 * @category utils
 */
export const requestParams = (
  config: ClientConfig,
  scopes: ReadonlyArray<string>,
  extraParams: Readonly<Record<string, string>> | undefined
): Record<string, string> => {
  const params: Record<string, string> = { ...config.deviceAuthorizationParams, ...extraParams }
  if (scopes.length > 0) params.scope = scopes.join(" ")
  return params
}

/**
 * Send the RFC 8628 §3.1 request; {@link process} reads its answer.
 *
 * Take the `issuedAt` that {@link process} needs before sending (`DateTime.now`),
 * so that the code's deadline errs on the early side by the round trip.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8628#section-3.1
 * @since 0.1.0
 * @category requests
 */
export const request = (
  config: ClientConfig,
  scopes: ReadonlyArray<string>,
  extraParams?: Readonly<Record<string, string>> | undefined,
  options?: {
    /** from sending until the whole answer has arrived; RequestLimits.DEFAULT_TIMEOUT_MS when omitted */
    readonly timeoutMs?: number | undefined
  } | undefined
): Effect.Effect<Answer, InvalidResponse | TransportError, HttpClient.HttpClient> =>
  postForm(
    config.endpoints.deviceAuthorization,
    requestParams(config, scopes, extraParams),
    clientAuthOf(config),
    config.wire,
    options?.timeoutMs
  )

/**
 * Validate an answer of the device authorization endpoint (RFC 8628 §3.2).
 * Pure: the result is an `Either`, which is also an Effect.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8628#section-3.2
 * @since 0.1.0
 * @category requests
 */
export const process = (
  config: ClientConfig,
  scopes: ReadonlyArray<string>,
  issuedAt: DateTime.Utc,
  endpoint: string,
  answer: Answer
): Either.Either<DeviceCode, OAuthError | InvalidResponse | TransportError> =>
  // Entra's /devicecode can answer an error with HTTP 200: the body decided (internal/oauthAnswer.ts).
  answer._tag === "Success"
    ? Either.map(
      decodeWire(DeviceAuthorizationResponse, secretFields, { endpoint, status: answer.status })(
        normaliseDeviceAuthorization(answer.body)
      ),
      (body) => toDeviceCode(config, scopes, issuedAt, body)
    )
    : Either.left(failureOf(endpoint, answer))

const secretFields: ReadonlySet<string> = new Set(["device_code"])

const toDeviceCode = (
  config: ClientConfig,
  scopes: ReadonlyArray<string>,
  issuedAt: DateTime.Utc,
  body: DeviceAuthorizationResponse
): DeviceCode => ({
  userCode: body.user_code,
  deviceCode: body.device_code,
  verificationUri: body.verification_uri,
  verificationUriComplete: body.verification_uri_complete,
  issuedAt,
  expiresOn: DateTime.addDuration(issuedAt, Duration.seconds(body.expires_in)),
  interval: Duration.seconds(body.interval),
  message: body.message ||
    `To sign in, use a web browser to open the page ${body.verification_uri} and enter the code ${body.user_code} to authenticate.`,
  clientId: config.clientId,
  scopes
})
