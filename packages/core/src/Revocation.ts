/**
 * Token revocation (RFC 7009): telling the server a refresh token is no
 * longer wanted, so that signing out ends the grant at the server and not
 * only in the local cache. Google, Okta, Auth0, Keycloak and any server whose
 * discovery document names a `revocation_endpoint` support it; Microsoft
 * Entra ID, GitHub and AWS IAM Identity Center do not (see
 * `Providers.Provider.revocation`).
 *
 * @since 0.1.0
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import type { ClientConfig } from "./ClientConfig.js"
import { InvalidConfiguration, type InvalidResponse, type OAuthError, type TransportError } from "./DeviceFlowError.js"
import { failureOf } from "./internal/oauthAnswer.js"
import { postForm } from "./internal/oauthHttp.js"
import { clientAuthOf } from "./internal/oauthRequest.js"

/**
 * RFC 7009 §2.1 `token_type_hint`.
 *
 * @since 0.1.0
 * @category models
 */
export type TokenTypeHint = "refresh_token" | "access_token"

/**
 * Options of revoke.
 *
 * @since 0.1.0
 * @category models
 */
export interface RevokeOptions {
  /** default `"refresh_token"`: revoking it ends the whole grant (RFC 7009 §2.1) */
  readonly hint?: TokenTypeHint | undefined
  /** default 10 s */
  readonly timeout?: Duration.DurationInput | undefined
}

/**
 * Revoke `token` at the configuration's revocation endpoint, authenticating
 * as the client does at the token endpoint. Succeeds when the server answers
 * 2xx — RFC 7009 §2.2: also for a token that was already invalid.
 *
 * @see https://www.rfc-editor.org/rfc/rfc7009#section-2
 * @since 0.1.0
 * @category requests
 */
export const revoke = (
  config: ClientConfig,
  token: Redacted.Redacted<string>,
  options: RevokeOptions = {}
): Effect.Effect<void, InvalidConfiguration | OAuthError | TransportError | InvalidResponse, HttpClient.HttpClient> =>
  Effect.gen(function*() {
    const endpoint = config.endpoints.revocation
    if (endpoint === undefined) {
      return yield* new InvalidConfiguration({
        field: "endpoints.revocation",
        reason: "is not known: this server has no token revocation endpoint (RFC 7009)"
      })
    }
    const timeout = Duration.decode(options.timeout ?? Duration.seconds(10))
    // RFC 7009 §2.1: token, token_type_hint, and the client's authentication as at the token endpoint
    const answer = yield* postForm(
      endpoint,
      { token: Redacted.value(token), token_type_hint: options.hint ?? "refresh_token" },
      clientAuthOf(config),
      "oauth",
      Duration.toMillis(timeout)
    ).pipe(
      // RFC 7009 §2.2: "The content of the response body is ignored by the client"
      Effect.catchTag(
        "InvalidResponse",
        (error) =>
          error.status !== undefined && error.status >= 200 && error.status < 300
            ? Effect.succeed({ _tag: "Success" as const, status: error.status })
            : Effect.fail(error)
      )
    )
    // RFC 7009 §2.2.1: 503 means try again later; the caller decides whether to
    if (answer._tag !== "Success") return yield* failureOf(endpoint, answer)
  })
