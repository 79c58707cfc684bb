/**
 * `devflow token`: an access token without the user — from the cache, else
 * by refreshing — printed on stdout. The one place devflow prints a token.
 *
 * The common case (a cached token, a profile, plain flags) is answered by
 * `internal/fastToken.ts` before this module is even loaded; this is the
 * complete implementation, which the fast path defers to for everything else.
 *
 * @since 0.1.0
 */
import type * as FileTokenCache from "@devflow/cache-file/FileTokenCache"
import type * as Account from "@devflow/core/Account"
import * as CacheContent from "@devflow/core/CacheContent"
import type * as DeviceFlowError from "@devflow/core/DeviceFlowError"
import * as Dpop from "@devflow/core/Dpop"
import type * as Providers from "@devflow/core/Providers"
import * as PublicClient from "@devflow/core/PublicClient"
import * as ServerText from "@devflow/core/ServerText"
import * as Silent from "@devflow/core/Silent"
import * as TokenCache from "@devflow/core/TokenCache"
import * as Command from "@effect/cli/Command"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as CliError from "../CliError.js"
import * as Flags from "../Flags.js"
import * as Help from "../Help.js"
import * as TokenFormat from "../internal/tokenFormat.js"
import * as Output from "../Output.js"
import * as Root from "../Root.js"
import * as SignIn from "../SignIn.js"
import * as Target from "../Target.js"
import { services } from "./Login.js"

/**
 * The token as `TokenFormat` prints it.
 *
 * @since 0.1.0
 * @category utils
 */
export const view = (result: Silent.TokenResult): TokenFormat.TokenView => ({
  accessToken: Redacted.value(result.accessToken),
  tokenType: result.tokenType,
  expiresOn: Option.getOrUndefined(Option.map(result.expiresOn, DateTime.toEpochMillis)),
  scopes: result.scopes,
  account: accountView(result.account),
  source: result.source
})

const accountView = (account: Account.Account): TokenFormat.TokenView["account"] => ({
  id: account.id,
  authority: account.authority,
  username: account.username,
  name: account.name
})

const formatOf = (
  format: Option.Option<TokenFormat.Format>,
  json: boolean
): Effect.Effect<TokenFormat.Format, CliError.UsageError> => {
  if (Option.isNone(format)) return Effect.succeed(json ? "json" : "raw")
  if (json && format.value !== "json") {
    return Effect.fail(
      new CliError.UsageError({ message: `--json contradicts --format ${format.value}`, hint: "Give one of them." })
    )
  }
  return Effect.succeed(format.value)
}

/** What a failed refresh grant fails with (the silent path sends no other request). */
type RefreshFailure =
  | DeviceFlowError.TransportError
  | DeviceFlowError.OAuthError
  | DeviceFlowError.DpopProofRejected
  | DeviceFlowError.InvalidResponse
const isRefreshFailure = <E extends { readonly _tag: string }>(error: E): error is Extract<E, RefreshFailure> =>
  error._tag === "TransportError" || error._tag === "OAuthError" || error._tag === "DpopProofRejected" ||
  error._tag === "InvalidResponse"

/** RFC 9449 §7: a proof for one request, `ath` binding it to the token, signed with the key kept with it. */
const proof = (
  client: PublicClient.PublicClient,
  view: TokenFormat.TokenView,
  request: { readonly method: string; readonly url: string }
) =>
  Effect.gen(function*() {
    const noKey = new CliError.LocalError({
      message: `The DPoP key of ${
        ServerText.sanitize(view.account.username ?? view.account.id)
      }'s tokens is not in the token cache`,
      hint: "Sign in again with `devflow login` (it keeps a new key with the new tokens)."
    })
    const account = yield* client.getAccount(view.account.id)
    if (Option.isNone(account)) return yield* noKey
    const key = yield* client.dpopKey(account.value)
    if (Option.isNone(key)) return yield* noKey
    return yield* Dpop.proof(key.value, { method: request.method, url: request.url, accessToken: view.accessToken })
  })

/** `--url` for a DPoP proof: an absolute http(s) URL. */
const requestUrl = (url: string): Effect.Effect<string, CliError.UsageError> => {
  let parsed: URL | undefined
  try {
    parsed = new URL(url)
  } catch {
    parsed = undefined
  }
  return parsed === undefined || (parsed.protocol !== "https:" && parsed.protocol !== "http:")
    ? Effect.fail(
      new CliError.UsageError({
        message: `--url ${JSON.stringify(url.slice(0, 100))} is not an absolute http(s) URL`,
        hint: "Give the address of the request the token is for, e.g. --url https://api.example/x."
      })
    )
    : Effect.succeed(url)
}

/** `--method`: an HTTP method token (RFC 9110 §9.1), upper-cased as proofs carry it. */
const requestMethod = (method: string): Effect.Effect<string, CliError.UsageError> =>
  /^[A-Za-z]{1,20}$/.test(method)
    ? Effect.succeed(method.toUpperCase())
    : Effect.fail(
      new CliError.UsageError({
        message: `--method ${JSON.stringify(method.slice(0, 40))} is not an HTTP method`,
        hint: "E.g. --method POST."
      })
    )

/**
 * The account to get a token for: `--account` (an id, else a username),
 * else the profile's, else the only one this client has at this authority.
 */
const selectAccount = (
  client: PublicClient.PublicClient,
  selector: Option.Option<string>,
  remembered: string | undefined,
  scopes: ReadonlyArray<string>
) =>
  Effect.gen(function*() {
    const accounts = yield* client.getAccounts
    const wanted = Option.getOrUndefined(selector) ?? remembered
    const noAccount = (accountId?: string) =>
      new Silent.InteractionRequired({
        reason: "no_account",
        scopes,
        ...(accountId === undefined ? {} : { accountId })
      })
    if (wanted !== undefined) {
      const byId = accounts.filter((a) => a.id === wanted)
      const matches = byId.length > 0 ? byId : accounts.filter((a) => a.username === wanted)
      if (matches.length > 1) {
        return yield* new CliError.UsageError({
          message: `Several accounts have the username ${JSON.stringify(wanted)}`,
          hint: "Give the account's id (see `devflow accounts`)."
        })
      }
      const [match] = matches
      return match === undefined ? yield* noAccount(wanted) : match
    }
    if (accounts.length > 1) {
      return yield* new CliError.UsageError({
        message: `${accounts.length} accounts are signed in with this client`,
        hint: "Pick one with --account (see `devflow accounts`)."
      })
    }
    const [only] = accounts
    return only === undefined ? yield* noAccount() : only
  })

/**
 * What getting a token needs: the server and profile flags, the prompt flags
 * (for a sign-in) and the cache flags. `token`, `exec` and `git-credential`
 * all take them.
 *
 * @since 0.1.0
 * @category models
 */
export interface AcquireOptions extends Target.Common, Flags.Server, Flags.Prompt {
  readonly account: Option.Option<string>
  readonly noStoreSecret: boolean
  readonly secretStore: Option.Option<FileTokenCache.SecretStore>
}

/**
 * A token and the provider that issued it (git-credential's username follows the provider's convention).
 *
 * @since 0.1.0
 * @category models
 */
export interface Acquired {
  readonly view: TokenFormat.TokenView
  readonly provider: Providers.ProviderId
}

/**
 * An access token without the user (cache, else refresh), or with a device
 * sign-in on stderr when `login` says one may be started; `InteractionRequired`
 * (exit 7) otherwise.
 *
 * @since 0.1.0
 * @category utils
 */
export const acquire = (
  options: AcquireOptions,
  mode: {
    readonly json: boolean
    readonly login: boolean
    /** a DPoP token: also sign a proof for this request (RFC 9449 §7), with the key kept with the token */
    readonly proofFor?: { readonly method: string; readonly url: string } | undefined
  }
): Effect.Effect<Acquired, CliError.CliError> => {
  const directory = Target.directoryOf(options.cacheDir)
  return Effect.gen(function*() {
    const target = yield* Target.make(options, options, "silent")
    const client = yield* PublicClient.make({ config: target.config, storeClientSecret: !options.noStoreSecret })
    const scopes = options.scope
    const wanted = scopes.length > 0 ? scopes : target.config.scopes
    const stderr = Output.stderr()
    const silent = Effect.flatMap(
      selectAccount(client, options.account, target.profile?.accountId, wanted),
      (account: Account.Account) =>
        client.acquireTokenSilent(scopes, account).pipe(
          // A server may grant fewer scopes than asked (RFC 6749 §3.3), and a refresh never more than the sign-in did (§6).
          Effect.filterOrFail(
            (result) => CacheContent.covers(result.scopes, wanted, target.config.scopeForm, client.authority),
            () => new Silent.InteractionRequired({ reason: "consent_required", scopes: wanted, accountId: account.id })
          ),
          Effect.map(view),
          Effect.catchIf(isRefreshFailure, (error) => stillValid(account, error))
        )
    )
    /** The refresh failed: a cached access token that is still valid (inside the early-refresh margin) will do, with a warning. */
    const stillValid = (account: Account.Account, error: DeviceFlowError.DeviceFlowError) =>
      Effect.gen(function*() {
        const content = yield* (yield* TokenCache.TokenCache).read
        const entry = CacheContent.findAccessToken(
          content,
          client.authority,
          target.config.clientId,
          account.id,
          wanted,
          target.config.scopeForm
        )
        const failed = new CliError.RefreshFailed({
          account: account.label,
          endpoint: target.config.endpoints.token,
          error,
          hint: target.secretMissing && error._tag === "OAuthError"
            ? "This profile's client authenticates with a secret, and none was given or kept with the tokens: set DEVFLOW_CLIENT_SECRET (aws-sso: run `devflow login` again)."
            : undefined
        })
        if (entry === undefined || (entry.expiresOn !== undefined && entry.expiresOn <= Date.now())) {
          return yield* failed
        }
        stderr.line(
          `devflow: warning: ${ServerText.sanitize(failed.message)}; using the cached access token${
            entry.expiresOn === undefined ? "" : `, valid until ${Output.localTime(entry.expiresOn)}`
          }.`
        )
        return {
          accessToken: Redacted.value(entry.secret),
          tokenType: entry.tokenType,
          expiresOn: entry.expiresOn,
          scopes: entry.scopes,
          account: accountView(account),
          source: "cache"
        } satisfies TokenFormat.TokenView
      })
    const result = yield* silent.pipe(
      Effect.catchTag(
        "InteractionRequired",
        (required): Effect.Effect<TokenFormat.TokenView, CliError.CliError> =>
          mode.login
            ? Effect.zipRight(
              Effect.sync(() =>
                stderr.line(`${stderr.bold("Sign-in needed")}: ${ServerText.sanitize(required.message)}.`)
              ),
              Effect.map(SignIn.signIn(client, target, wanted, { prompt: options, json: mode.json }), view)
            )
            : Effect.fail(required)
      )
    )
    if (mode.proofFor === undefined || !TokenFormat.isDpop(result.tokenType)) {
      return { view: result, provider: target.provider }
    }
    return { view: { ...result, dpopProof: yield* proof(client, result, mode.proofFor) }, provider: target.provider }
  }).pipe(
    Effect.provide(services(directory, options.secretStore)),
    // before the cache layer tries to create the directory
    (body) => Effect.zipRight(Target.checkDirectory(options.cacheDir), body)
  )
}

/**
 * @since 0.1.0
 * @category commands
 */
export const token = Command.make(
  "token",
  Flags.of("token"),
  Root.handle((options, context) =>
    Effect.gen(function*() {
      const format = yield* formatOf(options.format, context.json)
      const method = yield* requestMethod(options.method)
      const url = Option.isSome(options.url) ? yield* requestUrl(options.url.value) : undefined
      const proofFor = format === "header" && url !== undefined ? { method, url } : undefined
      const { view } = yield* acquire(options, { json: context.json, login: options.login, proofFor })
      if (format === "header" && TokenFormat.isDpop(view.tokenType) && view.dpopProof === undefined) {
        return yield* new CliError.UsageError({
          message: "A DPoP token is used with a proof made for each request, and no --url was given",
          hint:
            "Give the request: devflow token --format header --method GET --url https://api.example/x (both lines go with it)."
        })
      }
      Output.stdout().write(TokenFormat.render(format, view))
    })
  )
).pipe(
  Command.withDescription(Help.summaryOf("token"))
)
