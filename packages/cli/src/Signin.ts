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
import type * as Silent from "@devflow/core/Silent"
import type * as TokenCache from "@devflow/core/TokenCache"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Desktop from "./Desktop.js"
import type * as Flags from "./Flags.js"
import * as Output from "./Output.js"
import * as Profile from "./Profile.js"
import type { LocalError } from "./Render.js"
import * as Target from "./Target.js"
import * as TerminalPrompt from "./TerminalPrompt.js"

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
): Effect.Effect<Silent.TokenResult, DeviceFlowError.DeviceFlowError | TokenCache.TokenCacheError | LocalError> =>
  Effect.gen(function*() {
    const stdout = Output.stdout()
    const stderr = Output.stderr()
    const terminal = TerminalPrompt.stderr()
    const checked = new Map<string, ReadonlyArray<Providers.VerificationCheck>>()
    // RFC 8628 §5.4: a verification page on a host the authority does not vouch for may be phishing —
    // the page shown (verification_uri) and the one the QR code and the link carry (verification_uri_complete)
    const checks = (code: { readonly verificationUri: string; readonly verificationUriComplete?: string | undefined }) => {
      const key = `${code.verificationUri}\n${code.verificationUriComplete ?? ""}`
      let verdicts = checked.get(key)
      if (verdicts === undefined) {
        const on = Target.verificationTarget(target)
        verdicts = [
          Providers.checkVerificationUri(on, code.verificationUri),
          Providers.checkVerificationUriComplete(on, code.verificationUri, code.verificationUriComplete)
        ]
        checked.set(key, verdicts)
      }
      return verdicts
    }
    const warningFor = (code: Parameters<typeof checks>[0]): string | undefined => {
      const reasons = [...new Set(checks(code).filter((v) => !v.trusted).map((v) => v.reason))]
      return reasons.length === 0 ? undefined : reasons.join("; ")
    }
    const prompt = yield* TerminalPrompt.make(terminal, {
      qr: !options.prompt.noQr,
      warning: warningFor
    })
    const result = yield* client.acquireTokenWithDeviceCode({ scopes }, {
      onCode: () => Effect.void,
      onEvent: (event) =>
        Effect.gen(function*() {
          if (options.json) {
            const record = Output.jsonEvent(event)
            const warning = event._tag === "CodeIssued" ? warningFor(event.code) : undefined
            const extra = warning === undefined ? {} : { warning }
            stdout.line(JSON.stringify({ ...record, ...extra }))
          }
          yield* prompt(event)
          if (event._tag !== "CodeIssued") return
          if (options.prompt.open) {
            // a link the §5.4 check does not vouch for is not opened: the page to type the code into is
            const complete = checks(event.code)[1]!.trusted ? event.code.verificationUriComplete : undefined
            const url = complete ?? event.code.verificationUri
            if (yield* Desktop.openUrl(url)) stderr.line(stderr.dim("  Opened the verification page in your browser."))
          }
          if (options.prompt.copy) {
            if (yield* Desktop.copyText(event.code.userCode, terminal)) {
              stderr.line(stderr.dim("  The code is on the clipboard."))
            }
          }
        })
    })
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
        tokenParams: target.config.tokenParams
      },
      accountId: result.account.id,
      updatedAt: new Date().toISOString()
    })
    const until = Option.match(result.expiresOn, {
      onNone: () => "",
      onSome: (d) => `; the access token is valid until ${Output.localTime(DateTime.toEpochMillis(d))}`
    })
    stderr.line(
      `${stderr.green("Signed in")} as ${stderr.bold(result.account.label)} (profile ${JSON.stringify(target.profileName)})${until}.`
    )
    return result
  }).pipe(Effect.scoped)
