/**
 * Everything the CLI says to people (stderr) and to programs (stdout, exit
 * codes) when something goes wrong. Every error path ends here: one line
 * saying what happened, a hint when there is one, never a stack trace.
 *
 * @since 0.1.0
 */
import type * as Account from "@devflow/core/Account"
import type * as DeviceFlowError from "@devflow/core/DeviceFlowError"
import type * as Silent from "@devflow/core/Silent"
import type * as TokenCache from "@devflow/core/TokenCache"
import type * as TokenResponse from "@devflow/core/TokenResponse"
import * as Data from "effect/Data"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Output from "./Output.js"

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
 * The command line cannot work as given: a missing or contradictory flag, an
 * unknown account. Exit code 2.
 *
 * @since 0.1.0
 * @category errors
 */
export class UsageError extends Data.TaggedError("UsageError")<{ readonly message: string; readonly hint?: string | undefined }> {}

/**
 * A local failure that is not a bug: a file devflow could not write. Exit code 1.
 *
 * @since 0.1.0
 * @category errors
 */
export class LocalError extends Data.TaggedError("LocalError")<{
  readonly message: string
  readonly hint?: string | undefined
  readonly cause?: unknown
}> {}

/**
 * A failure with a better hint than the generic one, known where it happened.
 *
 * @since 0.1.0
 * @category errors
 */
export class WithHint extends Data.TaggedError("WithHint")<{ readonly error: Exclude<CliError, WithHint>; readonly hint: string }> {
  override get message(): string {
    return this.error.message
  }
}

/**
 * Every failure a command reports.
 *
 * @since 0.1.0
 * @category models
 */
export type CliError =
  | DeviceFlowError.DeviceFlowError
  | Silent.InteractionRequired
  | TokenCache.TokenCacheError
  | UsageError
  | LocalError
  | WithHint

/**
 * What to say about a failure, and how to exit.
 *
 * @since 0.1.0
 * @category models
 */
export interface Failure {
  readonly tag: string
  readonly code: ExitCode
  readonly message: string
  readonly hint: string | undefined
}

const FIELD_FLAGS: Readonly<Record<string, string>> = {
  provider: "--provider (DEVFLOW_PROVIDER)",
  clientId: "--client-id (DEVFLOW_CLIENT_ID)",
  clientSecret: "--client-secret (DEVFLOW_CLIENT_SECRET)",
  authority: "--authority (DEVFLOW_AUTHORITY)",
  issuer: "--issuer (DEVFLOW_ISSUER)",
  tenant: "--tenant (DEVFLOW_TENANT)",
  audience: "--audience (DEVFLOW_AUDIENCE)",
  region: "--region (DEVFLOW_REGION)",
  startUrl: "--start-url (DEVFLOW_START_URL)",
  scopes: "--scope (DEVFLOW_SCOPE)"
}

/**
 * The exit code for a flow error.
 *
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
 * @since 0.1.0
 * @category utils
 */
export const describe = (error: CliError): Failure => {
  const failure = (code: ExitCode, hint?: string): Failure => ({ tag: error._tag, code, message: error.message, hint })
  switch (error._tag) {
    case "AccessDenied":
      return failure(ExitCode.Denied, "Run the command again for a new code if this was a mistake.")
    case "DeviceCodeExpired":
      return failure(ExitCode.Expired, "Run `devflow login` again and enter the new code before it expires.")
    case "TransportError":
      return failure(
        ExitCode.Network,
        "Check the network connection and the server address (and HTTPS_PROXY / NO_PROXY if you use a proxy)."
      )
    case "OAuthError":
      return failure(
        ExitCode.Server,
        // the message already ends with the provider-specific remediation, when there is one
        error.remediation === undefined && (error.error === "invalid_client" || error.error === "unauthorized_client")
          ? "Check --client-id (and --client-secret): the client must exist and be allowed the device code grant."
          : undefined
      )
    case "InvalidResponse":
      return failure(ExitCode.Server, "Check that --issuer / --authority points at the authorization server itself.")
    case "InvalidConfiguration": {
      const root = error.field.split(".")[0]!
      const flag = FIELD_FLAGS[root]
      return failure(
        ExitCode.Usage,
        flag === undefined ? "See `devflow login --help`." : `Set ${flag}; \`devflow providers\` shows what each preset needs.`
      )
    }
    case "InteractionRequired":
      return failure(
        ExitCode.InteractionRequired,
        error.reason === "client_secret_missing"
          ? "Set DEVFLOW_CLIENT_SECRET (or --client-secret) to the client's secret and run the command again; `devflow login` keeps it with the tokens (unless --no-store-secret)."
          : "Run `devflow login` (or `devflow token --login`) to sign in."
      )
    case "CacheCorrupt":
    case "CacheVersionUnsupported":
    case "CacheUnavailable":
      return failure(
        ExitCode.Internal,
        error._tag === "CacheUnavailable" && error.reason === "keychain"
          ? "Unlock or start the OS keychain (a Secret Service such as GNOME Keyring on Linux), or keep the secrets in the token cache file with --secret-store file (DEVFLOW_SECRET_STORE=file)."
          : "Use --cache-dir (DEVFLOW_CACHE_DIR) to choose another cache directory."
      )
    case "UsageError":
      return { tag: error._tag, code: ExitCode.Usage, message: error.message, hint: error.hint }
    case "LocalError":
      return { tag: error._tag, code: ExitCode.Internal, message: error.message, hint: error.hint }
    case "WithHint":
      return { ...describe(error.error), hint: error.hint }
  }
}

/**
 * @since 0.1.0
 * @category models
 */
export interface ReportOptions {
  /** also write an `error` event to stdout */
  readonly json: boolean
  /** also show the error's fields and cause chain */
  readonly verbose: boolean
}

const causeChain = (error: unknown): ReadonlyArray<string> => {
  const out: Array<string> = []
  let current: unknown = (error as { readonly cause?: unknown })?.cause
  for (let depth = 0; current !== undefined && current !== null && depth < 8; depth++) {
    out.push(current instanceof Error ? `${current.name}: ${current.message}` : String(current))
    current = (current as { readonly cause?: unknown }).cause
  }
  return out
}

const details = (error: unknown): string => {
  try {
    // Redacted values render as "<redacted>"; causes are listed separately.
    return JSON.stringify(error, (key, value) => (key === "cause" ? undefined : value))
  } catch {
    return String(error)
  }
}

/**
 * Say what went wrong: one line on stderr (plus a hint line), an `error`
 * event on stdout under `--json`; return the exit code.
 *
 * @since 0.1.0
 * @category utils
 */
export const report = (error: CliError, options: ReportOptions): Effect.Effect<ExitCode> =>
  Effect.sync(() => {
    const failure = describe(error)
    const stderr = Output.stderr()
    stderr.line(`devflow: ${stderr.red(oneLine(failure.message))}`)
    if (failure.hint !== undefined) stderr.line(`  hint: ${failure.hint}`)
    if (options.verbose) {
      stderr.line(`  details: ${details(error)}`)
      for (const cause of causeChain(error)) stderr.line(`  caused by: ${oneLine(cause)}`)
    }
    if (options.json) {
      Output.stdout().line(JSON.stringify({
        event: "error",
        error: failure.tag,
        exit_code: failure.code,
        message: oneLine(failure.message),
        hint: failure.hint ?? null
      }))
    }
    return failure.code
  })

// eslint-disable-next-line no-control-regex
const oneLine = (text: string): string => text.replace(/[\u0000-\u001f\u007f]+/g, " ").trim()

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

/**
 * An account as shown to people and in JSON: never a token.
 *
 * @since 0.1.0
 * @category utils
 */
export const accountJson = (account: Account.Account) => ({
  id: account.id,
  username: account.username ?? null,
  name: account.name ?? null,
  authority: account.authority,
  kind: account.kind,
  tenant_id: account.tenantId ?? null
})

const stringClaim = (claims: Readonly<Record<string, unknown>>, name: string): string | undefined => {
  const value = claims[name]
  return typeof value === "string" && value !== "" ? value : undefined
}
