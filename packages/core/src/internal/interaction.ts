import * as Schema from "effect/Schema"
import { clip, headline } from "./text.js"

/**
 * Why a token cannot be had without the user.
 * @internal
 */
export const InteractionRequiredReason = Schema.Literal(
  "no_account",
  "no_refresh_token",
  "invalid_grant",
  "consent_required",
  "claims_required",
  "login_required",
  "interaction_required",
  "client_secret_missing"
)

/** @internal */
export type InteractionRequiredReason = typeof InteractionRequiredReason.Type

/**
 * No token can be had silently: the user must sign in (again). The MSAL
 * "UI required" outcome; callers usually answer it with a device code flow.
 * @internal
 */
export class InteractionRequired extends Schema.TaggedError<InteractionRequired>("@devflow/core/InteractionRequired")(
  "InteractionRequired",
  {
    reason: InteractionRequiredReason,
    /** the scopes that were requested */
    scopes: Schema.Array(Schema.String),
    /** the account's id, when the request named one */
    accountId: Schema.optional(Schema.String),
    /** set when the server refused a refresh: what it said (RFC 6749 §5.2) */
    endpoint: Schema.optional(Schema.String),
    status: Schema.optional(Schema.Number),
    error: Schema.optional(Schema.String),
    errorDescription: Schema.optional(Schema.String),
    errorUri: Schema.optional(Schema.String),
    errorCodes: Schema.optional(Schema.Array(Schema.Number)),
    traceId: Schema.optional(Schema.String),
    correlationId: Schema.optional(Schema.String),
    /** Entra's refinement of the error (`basic_action`, `consent_required`, ...) */
    suberror: Schema.optional(Schema.String),
    /** a claims challenge to pass on with the next interactive request */
    claims: Schema.optional(Schema.String)
  }
) {
  override get message(): string {
    const scopes = this.scopes.length === 0 ? "" : ` for ${this.scopes.join(" ")}`
    const server = this.error === undefined
      ? ""
      : ` (${clip(headline(this.error), 100)}${this.status === undefined ? "" : `, HTTP ${this.status}`}${
        this.errorDescription ? `: ${headline(this.errorDescription)}` : ""
      })`
    switch (this.reason) {
      case "no_account":
        return `No cached sign-in for account ${this.accountId ?? "(none)"}: sign in first`
      case "no_refresh_token":
        return `The cached token${scopes} has expired or is missing, and there is no refresh token to renew it: sign in again`
      case "invalid_grant":
        return `The refresh token was refused${server}: it has expired or was revoked. Sign in again`
      case "consent_required":
        return `The requested scopes${scopes} need the user's consent${server}: sign in again with these scopes`
      case "claims_required":
        return `The server requires additional claims${server} (conditional access or step-up): sign in again, passing on the claims challenge`
      case "login_required":
      case "interaction_required":
        return `The server requires the user to sign in again${server}`
      case "client_secret_missing":
        return `The server requires the client's secret to refresh the token${server}, and none was given or stored with the tokens`
    }
  }
}
