/**
 * What a sign-in and an account look like in the CLI's output: never a token,
 * and every server-provided text through `ServerText` first.
 *
 * @since 0.1.0
 */
import type * as Account from "@devflow/core/Account"
import * as ServerText from "@devflow/core/ServerText"
import type * as TokenResponse from "@devflow/core/TokenResponse"
import * as DateTime from "effect/DateTime"
import * as Option from "effect/Option"
import * as AccountList from "./internal/accountList.js"

/**
 * What a successful sign-in yields, without any token; field names as in
 * every other JSON devflow writes (snake_case, ISO 8601 times in UTC).
 *
 * @since 0.1.0
 * @category utils
 */
export const summary = (result: TokenResponse.AuthenticationResult) => {
  const claims = Option.getOrElse(result.idTokenClaims, () => ({} as Readonly<Record<string, unknown>>))
  return {
    account: {
      id: stringClaim(claims, "sub") ?? null,
      username: stringClaim(claims, "preferred_username") ?? stringClaim(claims, "email") ?? null,
      name: stringClaim(claims, "name") ?? null
    },
    issuer: stringClaim(claims, "iss") ?? null,
    token_type: result.tokenType,
    scopes: result.scopes,
    expires_on: Option.getOrNull(Option.map(result.expiresOn, DateTime.formatIso)),
    refresh_token: Option.isSome(result.refreshToken),
    id_token: Option.isSome(result.idToken)
  }
}

/**
 * An account as shown to people and in JSON: never a token.
 *
 * @since 0.1.0
 * @category utils
 */
export const accountJson: (account: Account.Account) => ReturnType<typeof AccountList.accountJson> =
  AccountList.accountJson

const stringClaim = (claims: Readonly<Record<string, unknown>>, name: string): string | undefined => {
  const value = claims[name]
  const text = typeof value === "string" ? ServerText.sanitize(value) : ""
  return text === "" ? undefined : text
}
