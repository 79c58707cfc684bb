/**
 * The interactive sign-in shared by `devflow login` and `devflow token
 * --login`: the device flow with the terminal prompt (instructions, QR code,
 * spinner and countdown on a TTY), the RFC 8628 §5.4 check, `--open`,
 * `--copy`, JSON Lines events, then the tokens stored in the cache and the
 * settings remembered as a profile.
 *
 * @since 0.1.0
 */
import type * as DeviceFlowError from "@devflow/core/DeviceFlowError"
import * as Providers from "@devflow/core/Providers"
import type * as PublicClient from "@devflow/core/PublicClient"
import * as ServerText from "@devflow/core/ServerText"
import type * as Silent from "@devflow/core/Silent"
import type * as TokenCache from "@devflow/core/TokenCache"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { type LocalError, WithHint } from "./CliError.js"
import * as Desktop from "./Desktop.js"
import type * as Flags from "./Flags.js"
import * as Output from "./Output.js"
import * as Profile from "./Profile.js"
import * as Target from "./Target.js"
import * as TerminalPrompt from "./TerminalPrompt.js"
import * as VerificationLink from "./VerificationLink.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly prompt: Flags.Prompt
  /** write the flow's events to stdout as JSON Lines */
  readonly json: boolean
}

/**
 * The line said with the code of a sign-in whose scopes nobody chose: no `--scope`,
 * none in the preset, so they come from the issuer's metadata
 * (`ServerMetadata.inferredScopes`) — or, when it suggests none, a warning,
 * since most servers decline a sign-in that asks for nothing.
 *
 * @since 0.1.0
 * @category utils
 */
export const scopeNote = (target: Target.Target): string | undefined => {
  const preset = Providers.presets[target.provider]
  if (
    target.inputs.scopes !== undefined || preset.defaults.scopes.length > 0 || preset.endpoints._tag !== "Discovery"
  ) {
    return undefined
  }
  return target.config.scopes.length > 0
    ? `No --scope given: asking for ${target.config.scopes.join(" ")}, which the issuer's metadata offers.`
    : "No --scope given and the issuer's metadata suggests none: most servers need --scope (e.g. --scope openid)."
}

// access_denied after a request for no scope at all: more likely the server's rule than the person's choice
const EMPTY_SCOPE_DENIED =
  "No scope was asked for (no --scope, and the issuer's metadata suggested none), which most servers " +
  "decline after the sign-in: run the command again with --scope (e.g. --scope openid)."

/**
 * Run the device flow for `scopes`, store the tokens, save the profile.
 *
 * @since 0.1.0
 * @category constructors
 */
export const signIn = (
  client: PublicClient.PublicClient,
  target: Target.Target,
  scopes: ReadonlyArray<string>,
  options: Options
): Effect.Effect<
  Silent.TokenResult,
  DeviceFlowError.DeviceFlowError | TokenCache.TokenCacheError | LocalError | WithHint
> =>
  Effect.gen(function*() {
    const stdout = Output.stdout()
    const stderr = Output.stderr()
    const note = scopeNote(target)
    const terminal = TerminalPrompt.stderr()
    // RFC 8628 §5.4: a verification page on a host the authority does not vouch for may be phishing —
    // the page shown (verification_uri) and the one the QR code and the link carry (verification_uri_complete)
    const vet = (code: Parameters<TerminalPrompt.PromptOptions["vet"]>[0]) =>
      VerificationLink.vet(Target.verificationTarget(target), code)
    const prompt = yield* TerminalPrompt.make(terminal, { qr: !options.prompt.noQr, vet })
    // a line among the spinner's redraws: clear the spinner's line first
    const noteLine = (line: string) => {
      if (terminal.isTTY) terminal.write("\r\x1b[2K")
      stderr.line(stderr.dim(`  ${line}`))
    }
    const result = yield* client.acquireTokenWithDeviceCode({ scopes }, {
      onCode: () => Effect.void,
      onEvent: (event) =>
        Effect.gen(function*() {
          const vetted = event._tag === "CodeIssued" ? vet(event.code) : undefined
          if (options.json) {
            const record = Output.jsonEvent(event)
            const extra = vetted?.warning === undefined ? {} : { warning: ServerText.sanitize(vetted.warning) }
            stdout.line(JSON.stringify({ ...record, ...extra }))
          }
          // with the code, not earlier: a sign-in that fails before it has no scope to talk about
          if (event._tag === "CodeIssued" && note !== undefined) stderr.line(note)
          yield* prompt(event)
          if (event._tag !== "CodeIssued" || vetted === undefined) return
          if (options.prompt.open) {
            // RFC 8628 §5.4: only the address that passed the check is opened
            noteLine(
              vetted.link === undefined
                ? "Not opened: the verification page did not pass the check above; open it by hand only if you trust it."
                : Desktop.describeOpen(yield* Desktop.openUrl(vetted.link), ServerText.sanitize(vetted.link))
            )
          }
          if (options.prompt.copy) {
            if (yield* Desktop.copyText(ServerText.sanitize(event.code.userCode), terminal)) {
              noteLine("The code is on the clipboard.")
            }
          }
        })
    }).pipe(
      Effect.catchTag("AccessDenied", (error) =>
        Effect.fail(scopes.length === 0 ? new WithHint({ error, hint: EMPTY_SCOPE_DENIED }) : error))
    )
    // login exists to keep the sign-in: tokens the cache refused are a failure here, with the cache's reason
    if (result.unsaved !== undefined) {
      return yield* Effect.fail(result.unsaved)
    }
    yield* Profile.save(target.directory, target.profileName, {
      inputs: target.inputs,
      client: {
        clientId: target.config.clientId,
        authority: client.authority,
        endpoints: target.config.endpoints,
        clientAuthMethod: target.config.clientAuthMethod,
        wire: target.config.wire ?? "oauth",
        scopeForm: target.config.scopeForm ?? "oauth",
        scopes: target.config.scopes,
        deviceAuthorizationParams: target.config.deviceAuthorizationParams,
        tokenParams: target.config.tokenParams,
        ...(target.config.dpop === undefined ? {} : { dpop: true })
      },
      accountId: result.account.id,
      updatedAt: new Date().toISOString()
    })
    const until = Option.match(result.expiresOn, {
      onNone: () =>
        "",
      onSome: (d) => `; the access token is valid until ${Output.localTime(DateTime.toEpochMillis(d))}`
    })
    stderr.line(
      `${stderr.green("Signed in")} as ${stderr.bold(ServerText.sanitize(result.account.label))} (profile ${
        JSON.stringify(target.profileName)
      })${until}.`
    )
    return result
  }).pipe(Effect.scoped)
