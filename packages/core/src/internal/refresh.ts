import type * as HttpClient from "@effect/platform/HttpClient"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import type { ClientConfig } from "../ClientConfig.js"
import { DpopProofRejected, type InvalidResponse, OAuthError, TransportError } from "../DeviceFlowError.js"
import * as TokenResponse from "../TokenResponse.js"
import { postToken } from "./dpopGrant.js"
import { oauthFields } from "./errors.js"
import { InteractionRequired, type InteractionRequiredReason } from "./interaction.js"
import { type OAuthErrorBody, tryLater } from "./oauthAnswer.js"
import { isUnavailable } from "./oauthCodes.js"
import { failureOutcome, hostOf, traced } from "./telemetry.js"

// Entra codes that mean "the user must do something in a browser" (MFA,
// registration, external challenge, device compliance): a new sign-in helps.
const entraInteraction: ReadonlySet<number> = new Set([50072, 50074, 50076, 50079, 50158, 53000, 53001])
// Entra AADSTS65001: the user or admin has not consented to the scopes.
const entraConsent = 65001

/**
 * Which refresh errors a new interactive sign-in resolves, and why.
 * @internal
 */
export const interactionReason = (body: OAuthErrorBody): InteractionRequiredReason | undefined => {
  const codes = body.error_codes ?? []
  const consent = body.suberror === "consent_required" || codes.includes(entraConsent)
  switch (body.error) {
    // OpenID Connect Core §3.1.2.6 error codes
    case "consent_required":
      return "consent_required"
    case "login_required":
      return "login_required"
    case "interaction_required":
      return body.claims !== undefined ? "claims_required" : consent ? "consent_required" : "interaction_required"
    // RFC 6749 §6: a refresh "MUST NOT include any scope not originally granted": new scopes need a new grant
    case "invalid_scope":
      return "consent_required"
    // RFC 6749 §5.2: the refresh token is invalid, expired or revoked
    case "invalid_grant":
      if (body.claims !== undefined) return "claims_required"
      if (consent) return "consent_required"
      if (codes.some((c) => entraInteraction.has(c))) return "interaction_required"
      return "invalid_grant"
    default:
      return body.claims !== undefined ? "claims_required" : undefined
  }
}

/**
 * Whether the server refused the refresh for want of the client's secret
 * (RFC 6749 §5.2 invalid_client and its relatives, saying so).
 * @internal
 */
export const refusesClient = (body: OAuthErrorBody): boolean =>
  // GitHub: "The client_id and/or client_secret passed are incorrect."
  body.error === "incorrect_client_credentials" ||
  // Google: invalid_request "client_secret is missing."; Entra AADSTS7000218: invalid_client
  // "The request body must contain the following parameter: 'client_assertion' or 'client_secret'"
  ((body.error === "invalid_client" || body.error === "unauthorized_client" || body.error === "invalid_request") &&
    /client[_ ]secret/i.test(body.error_description ?? ""))

/**
 * The refresh-token grant (RFC 6749 §6), through the same wire code as the
 * device flow: `postToken`, then `TokenResponse.process` for a success.
 * Errors a new sign-in resolves become `InteractionRequired`; the others
 * keep the device flow's classes.
 * @internal
 */
export const refresh = (
  config: ClientConfig,
  refreshToken: Redacted.Redacted<string>,
  scopes: ReadonlyArray<string>,
  timeout: Duration.Duration,
  accountId?: string | undefined
): Effect.Effect<
  TokenResponse.AuthenticationResult,
  InteractionRequired | OAuthError | DpopProofRejected | InvalidResponse | TransportError,
  HttpClient.HttpClient
> =>
  Effect.gen(function*() {
    const endpoint = config.endpoints.token
    const sentAt = yield* DateTime.now
    const params: Record<string, string> = {
      ...config.tokenParams,
      // RFC 6749 §6: grant_type=refresh_token, refresh_token, optional scope
      grant_type: "refresh_token",
      refresh_token: Redacted.value(refreshToken)
    }
    if (scopes.length > 0) params.scope = scopes.join(" ")
    // RFC 9449 §5: a refresh of a DPoP-bound token is proved with the sign-in's key (Dpop.CurrentKey)
    const answer = yield* postToken(config, endpoint, params, Duration.toMillis(timeout))
    switch (answer._tag) {
      case "Success":
        return yield* TokenResponse.process(
          { endpoint, status: answer.status },
          answer.body,
          scopes,
          sentAt,
          config.scopeForm,
          config
        )
      case "Unavailable":
        return yield* tryLater(endpoint, answer.status, answer.retryAfterMs)
      case "ErrorBody": {
        const fields = oauthFields(endpoint, answer.status, answer.body)
        if (isUnavailable(answer.status, answer.body.error)) {
          return yield* new TransportError({
            endpoint,
            status: answer.status,
            reason: `the server answered ${fields.error}: try again later`
          })
        }
        // Google and GitHub Apps refuse a refresh without the client secret: say what is missing
        const reason = config.clientSecret === undefined && refusesClient(answer.body)
          ? "client_secret_missing"
          : interactionReason(answer.body)
        // RFC 9449 §5.2: the server refused the proof; its hint is the description
        if (answer.body.error === "invalid_dpop_proof") return yield* new DpopProofRejected(fields)
        if (reason === undefined) return yield* new OAuthError(fields)
        return yield* new InteractionRequired({
          reason,
          scopes,
          ...(accountId === undefined ? {} : { accountId }),
          ...fields,
          ...(answer.body.suberror === undefined ? {} : { suberror: answer.body.suberror }),
          ...(answer.body.claims === undefined ? {} : { claims: answer.body.claims })
        })
      }
    }
  }).pipe(
    traced("devflow.refresh", {
      "devflow.endpoint.host": hostOf(config.endpoints.token),
      "devflow.client_id": config.clientId,
      "devflow.provider": config.preset,
      "devflow.scopes": scopes.join(" ")
    }, (exit) => (exit._tag === "Success" ? { "devflow.outcome": "tokens" } : failureOutcome(exit)))
  )
