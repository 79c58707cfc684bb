/**
 * Everything the CLI says to people (stderr) and to programs (stdout, exit
 * codes). Every error path ends here, never in a stack trace.
 *
 * @since 0.1.0
 */
import type { DeviceFlowError, TokenResponse } from "@devflow/core"
import * as Console from "effect/Console"
import * as DateTime from "effect/DateTime"
import type * as Effect from "effect/Effect"
import * as Option from "effect/Option"

/**
 * One exit code per outcome, documented in docs/cli.md.
 *
 * @since 0.1.0
 * @category constants
 */
export const ExitCode = {
  Success: 0,
  Internal: 1,
  Usage: 2,
  Denied: 3,
  Expired: 4,
  Network: 5,
  Server: 6,
  InteractionRequired: 7,
  Interrupted: 130
} as const

/**
 * @since 0.1.0
 * @category models
 */
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode]

/**
 * @since 0.1.0
 * @category utils
 */
export const exitCodeFor = (error: DeviceFlowError.DeviceFlowError): ExitCode => {
  switch (error._tag) {
    case "AccessDenied":
      return ExitCode.Denied
    case "DeviceCodeExpired":
      return ExitCode.Expired
    case "TransportError":
      return ExitCode.Network
    case "OAuthError":
    case "InvalidResponse":
      return ExitCode.Server
    case "InvalidConfiguration":
      return ExitCode.Usage
  }
}

/**
 * What a successful sign-in yields, without any token.
 *
 * @since 0.1.0
 * @category utils
 */
export const summary = (result: TokenResponse.AuthenticationResult) => {
  const claims = Option.getOrElse(result.idTokenClaims, () => ({} as Readonly<Record<string, unknown>>))
  return {
    account: stringClaim(claims, "preferred_username") ?? stringClaim(claims, "email") ?? stringClaim(claims, "sub"),
    name: stringClaim(claims, "name"),
    issuer: stringClaim(claims, "iss"),
    tokenType: result.tokenType,
    scopes: result.scopes,
    expiresOn: Option.getOrUndefined(Option.map(result.expiresOn, DateTime.formatIso)),
    refreshToken: Option.isSome(result.refreshToken),
    idToken: Option.isSome(result.idToken)
  }
}

const stringClaim = (claims: Readonly<Record<string, unknown>>, name: string): string | undefined => {
  const value = claims[name]
  return typeof value === "string" && value !== "" ? value : undefined
}

/**
 * Print a typed error as one line (plus a hint when there is one) on stderr.
 *
 * @since 0.1.0
 * @category utils
 */
export const error = (e: DeviceFlowError.DeviceFlowError): Effect.Effect<void> => Console.error(`devflow: ${e.message}`)
