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
import type * as Account from "@devflow/core/Account"
import * as PublicClient from "@devflow/core/PublicClient"
import * as Silent from "@devflow/core/Silent"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Config from "effect/Config"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Flags from "../Flags.js"
import * as TokenFormat from "../internal/tokenFormat.js"
import * as Output from "../Output.js"
import * as Render from "../Render.js"
import * as Root from "../Root.js"
import * as Signin from "../Signin.js"
import * as Target from "../Target.js"
import { services } from "./Login.js"

const login = Options.boolean("login").pipe(
  Options.withDescription("When the user must sign in (again), run the device flow instead of failing (env DEVFLOW_LOGIN)"),
  Options.withFallbackConfig(Config.boolean("DEVFLOW_LOGIN"))
)

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
  account: {
    id: result.account.id,
    authority: result.account.authority,
    username: result.account.username,
    name: result.account.name
  },
  source: result.source
})

const formatOf = (format: Option.Option<TokenFormat.Format>, json: boolean): Effect.Effect<TokenFormat.Format, Render.UsageError> => {
  if (Option.isNone(format)) return Effect.succeed(json ? "json" : "raw")
  if (json && format.value !== "json") {
    return Effect.fail(new Render.UsageError({ message: `--json contradicts --format ${format.value}`, hint: "Give one of them." }))
  }
  return Effect.succeed(format.value)
}

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
      new Silent.InteractionRequired({ reason: "no_account", scopes, ...(accountId === undefined ? {} : { accountId }) })
    if (wanted !== undefined) {
      const byId = accounts.filter((a) => a.id === wanted)
      const matches = byId.length > 0 ? byId : accounts.filter((a) => a.username === wanted)
      if (matches.length > 1) {
        return yield* new Render.UsageError({
          message: `Several accounts have the username ${JSON.stringify(wanted)}`,
          hint: "Give the account's id (see `devflow accounts`)."
        })
      }
      const [match] = matches
      return match === undefined ? yield* noAccount(wanted) : match
    }
    if (accounts.length > 1) {
      return yield* new Render.UsageError({
        message: `${accounts.length} accounts are signed in with this client`,
        hint: "Pick one with --account (see `devflow accounts`)."
      })
    }
    const [only] = accounts
    return only === undefined ? yield* noAccount() : only
  })

/**
 * @since 0.1.0
 * @category commands
 */
export const token = Command.make(
  "token",
  {
    ...Flags.server,
    ...Flags.prompt,
    format: Flags.format,
    account: Flags.account,
    login,
    noStoreSecret: Flags.noStoreSecret,
    cacheDir: Flags.cacheDir,
    secretStore: Flags.secretStore,
    profile: Flags.profile,
    json: Flags.json,
    verbose: Flags.verbose
  },
  Root.handle((options, context) => {
    const directory = Target.directoryOf(options.cacheDir)
    return Effect.gen(function*() {
      const format = yield* formatOf(options.format, context.json)
      const target = yield* Target.make(options, options, "silent")
      const client = yield* PublicClient.make({ config: target.config, storeClientSecret: !options.noStoreSecret })
      const scopes = options.scope
      const silent = Effect.flatMap(
        selectAccount(client, options.account, target.profile?.accountId, scopes.length > 0 ? scopes : target.config.scopes),
        (account: Account.Account) => client.acquireTokenSilent(scopes, account)
      )
      const result = yield* silent.pipe(
        Effect.catchTag("InteractionRequired", (required): Effect.Effect<Silent.TokenResult, Render.CliError> =>
          options.login
            ? Effect.zipRight(
              Effect.sync(() => Output.stderr().line(`devflow: ${required.message}.`)),
              Signin.signIn(client, target, scopes.length > 0 ? scopes : target.config.scopes, {
                prompt: options,
                json: context.json
              })
            )
            : Effect.fail(required)),
        Effect.catchTag("OAuthError", (error): Effect.Effect<never, Render.CliError> =>
          target.secretMissing
            ? Effect.fail(
              new Render.WithHint({
                error,
                hint:
                  "This profile's client authenticates with a secret, and none was given or kept with the tokens: set DEVFLOW_CLIENT_SECRET (aws-sso: run `devflow login` again)."
              })
            )
            : Effect.fail(error))
      )
      Output.stdout().write(TokenFormat.render(format, view(result)))
    }).pipe(Effect.provide(services(directory, options.secretStore)))
  })
).pipe(
  Command.withDescription(
    "Print an access token for the signed-in account, from the cache or by refreshing it; fails with exit code 7 when the user must sign in again, unless --login. The only command that prints a token"
  )
)
