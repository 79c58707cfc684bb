/**
 * Everything the CLI says to people (stderr) and to programs (stdout, exit
 * codes) when something goes wrong. Every error path ends here: one line
 * saying what happened, a hint when there is one, never a stack trace.
 *
 * @since 0.1.0
 */
import * as ClientConfig from "@devflow/core/ClientConfig"
import type * as DeviceFlowError from "@devflow/core/DeviceFlowError"
import * as ServerText from "@devflow/core/ServerText"
import type * as Silent from "@devflow/core/Silent"
import type * as TokenCache from "@devflow/core/TokenCache"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as FlagTable from "./internal/flagTable.js"
import * as Invocation from "./internal/invocation.js"
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
export class UsageError
  extends Data.TaggedError("UsageError")<{ readonly message: string; readonly hint?: string | undefined }>
{}

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
export class WithHint
  extends Data.TaggedError("WithHint")<{ readonly error: Exclude<CliError, WithHint>; readonly hint: string }>
{
  override get message(): string {
    return this.error.message
  }
}

/**
 * A refresh grant (RFC 6749 §6) that failed: which account, at which server,
 * and why. Exits with the underlying failure's code.
 *
 * @since 0.1.0
 * @category errors
 */
export class RefreshFailed extends Data.TaggedError("RefreshFailed")<{
  readonly account: string
  readonly endpoint: string
  readonly error: DeviceFlowError.DeviceFlowError
  readonly hint?: string | undefined
}> {
  override get message(): string {
    const why = this.error._tag === "TransportError"
      ? "the server could not be reached"
      : this.error._tag === "OAuthError"
      ? "the server refused it"
      : this.error._tag === "DpopProofRejected"
      ? "the server refused its DPoP proof"
      : "the server's answer could not be used"
    return `Could not refresh the access token of ${this.account} at ${this.endpoint}: ${why} (${this.error.message})`
  }
}

/**
 * Not signed in at all: no profile, no server flags. Exit code 7, as after
 * `devflow logout`.
 *
 * @since 0.1.0
 * @category errors
 */
export class NotSignedIn extends Data.TaggedError("NotSignedIn")<{ readonly message: string; readonly hint: string }> {}

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
  | RefreshFailed
  | NotSignedIn
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

/**
 * The flag (and variable) behind a configuration field: `--client-id (DEVFLOW_CLIENT_ID)`.
 *
 * @since 0.1.0
 * @category utils
 */
export const flagOfField = (field: string): string | undefined => {
  const key = field === "scopes" ? "scope" : field
  return Object.hasOwn(FlagTable.FLAGS, key) ? FlagTable.label(key as FlagTable.Key) : undefined
}

// "(or issuer) is required…", "(or give the base address as authority)": the library names the other
// inputs by field; a person types flags
const flagsIn = (reason: string): string =>
  reason
    .replace(/^\(or ([\w ]+?)\)/, (whole, names: string) => {
      const flags = names.split(" or ").map((name) => flagOfField(name)?.split(" ")[0])
      return flags.every((f) => f !== undefined) ? `(or ${flags.join(" or ")})` : whole
    })
    .replace(/\(or give the base address as (\w+)\)/, (whole, name: string) => {
      const flag = flagOfField(name)?.split(" ")[0]
      return flag === undefined ? whole : `(or give the base address as ${flag})`
    })

// `127.0.0.1:8628` or `id.example.com/realms/x` given where an address belongs: the address it most likely is
const schemeless = (reason: string): string | undefined => {
  const given = /^is not an absolute URL: "([^"]*)"$/.exec(reason)?.[1]
  if (given === undefined || given.includes("://") || !/^[\w.-]+(:\d+)?(\/\S*)?$/.test(given)) return undefined
  const host = given.split(/[:/]/)[0]!
  return `${ClientConfig.isLoopbackHost(host) ? "http" : "https"}://${given}`
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
      return failure(
        ExitCode.Expired,
        error.reason === "expired_token"
          ? "The server no longer accepts this code (it expired, or was used or abandoned in the browser): run the command again for a new code."
          : "Run `devflow login` again and enter the new code before it expires."
      )
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
          // Auth0 and others answer a used-up device code with invalid_grant (RFC 6749 §5.2)
          : error.remediation === undefined && error.error === "invalid_grant"
          ? "The server no longer accepts this code (used, abandoned or expired): run the command again for a new code."
          : undefined
      )
    case "DpopProofRejected":
      return failure(
        ExitCode.Server,
        "The server refused the proof of possession (DPoP) this client signs: check this machine's clock (each proof carries the time), or sign in again with `devflow login` (the tokens may be bound to a key that is gone)."
      )
    case "InvalidResponse":
      return failure(ExitCode.Server, "Check that --issuer / --authority points at the authorization server itself.")
    case "InvalidConfiguration": {
      const flag = flagOfField(error.field.split(".")[0]!)
      // The flag, not the library's field name: "--issuer (DEVFLOW_ISSUER) must use https …"
      const message = flag === undefined ? error.message : `${flag} ${flagsIn(error.reason)}`
      const withScheme = schemeless(error.reason)
      const hint = withScheme !== undefined
        ? `Did you mean ${withScheme}? An address needs its scheme: https://, or http:// for 127.0.0.1, localhost and [::1].`
        : /must use https/.test(error.reason)
        ? "Use an https:// address; http:// is accepted only for 127.0.0.1, localhost and [::1]."
        : flag === undefined
        ? "See `devflow login --help`."
        : "`devflow providers` shows what each preset needs; `devflow login --help` has examples."
      return { tag: error._tag, code: ExitCode.Usage, message, hint }
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
          ? `Unlock or start the OS keychain (a Secret Service such as GNOME Keyring on Linux), or keep the secrets in the token cache file with ${FlagTable.FILE_STORE_SETTING}.`
          : `Use ${FlagTable.label("cacheDir")} to choose another cache directory.`
      )
    case "UsageError":
      return { tag: error._tag, code: ExitCode.Usage, message: error.message, hint: error.hint }
    case "LocalError":
      return { tag: error._tag, code: ExitCode.Internal, message: error.message, hint: error.hint }
    case "WithHint":
      return { ...describe(error.error), hint: error.hint }
    case "RefreshFailed": {
      const underlying = describe(error.error)
      return { ...underlying, message: error.message, hint: error.hint ?? underlying.hint }
    }
    case "NotSignedIn":
      return {
        tag: "InteractionRequired",
        code: ExitCode.InteractionRequired,
        message: error.message,
        hint: error.hint
      }
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
    // messages quote server text (error descriptions, names): the second wall after core's decoding
    const message = ServerText.sanitize(failure.message)
    // the commands a hint suggests, as the person started devflow (`pnpm -s devflow login`, `node …/devflow.mjs login`)
    const hint = failure.hint === undefined ? undefined : Invocation.respell(ServerText.sanitize(failure.hint))
    stderr.line(`devflow: ${stderr.red(message)}`)
    if (hint !== undefined) stderr.line(`  hint: ${hint}`)
    if (options.verbose) {
      stderr.line(`  details: ${ServerText.sanitize(details(error))}`)
      for (const cause of causeChain(error)) stderr.line(`  caused by: ${ServerText.sanitize(cause)}`)
    }
    if (options.json) {
      Output.stdout().line(JSON.stringify({
        event: "error",
        error: failure.tag,
        exit_code: failure.code,
        message,
        hint: hint ?? null
      }))
    }
    return failure.code
  })
