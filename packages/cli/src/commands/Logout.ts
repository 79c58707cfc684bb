/**
 * `devflow logout`: forgetting accounts. It revokes the refresh tokens it
 * forgets where the server can (RFC 7009), then removes them from the cache.
 *
 * @since 0.1.0
 */
import * as FileTokenCache from "@devflow/cache-file/FileTokenCache"
import type * as Account from "@devflow/core/Account"
import * as ServerText from "@devflow/core/ServerText"
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as CliError from "../CliError.js"
import * as Flags from "../Flags.js"
import * as Help from "../Help.js"
import * as Http from "../Http.js"
import * as FlagTable from "../internal/flagTable.js"
import * as Output from "../Output.js"
import * as Profile from "../Profile.js"
import * as ResultJson from "../ResultJson.js"
import * as Root from "../Root.js"
import * as SignOut from "../SignOut.js"
import * as Target from "../Target.js"

/**
 * @since 0.1.0
 * @category commands
 */
export const logout = Command.make(
  "logout",
  {
    ...Flags.of("logout"),
    account: Args.text({ name: "account" }).pipe(
      Args.withDescription(Help.COMMANDS.logout.args?.[0]?.help ?? ""),
      Args.optional
    )
  },
  Root.handle((options, context) => {
    const directory = Target.directoryOf(options.cacheDir)
    return Effect.gen(function*() {
      yield* Target.checkDirectory(options.cacheDir)
      if (options.all && Option.isSome(options.account)) {
        return yield* new CliError.UsageError({ message: "Give an account or --all, not both" })
      }
      const cache = yield* FileTokenCache.make({
        directory,
        secretStore: Option.getOrUndefined(options.secretStore),
        fileStoreSetting: FlagTable.FILE_STORE_SETTING
      })
      const content = yield* cache.read
      const all = [...content.accounts.values()]
      let targets: ReadonlyArray<Account.Account>
      if (options.all) {
        targets = all
      } else if (Option.isSome(options.account)) {
        const wanted = options.account.value
        const byId = all.filter((a) => a.id === wanted)
        targets = byId.length > 0 ? byId : all.filter((a) => a.username === wanted)
        if (targets.length === 0) {
          return yield* new CliError.UsageError({
            message: `No account ${JSON.stringify(wanted)} in ${cache.location}`,
            hint: "`devflow accounts` lists the accounts."
          })
        }
      } else {
        const profiles = yield* Profile.load(directory)
        const found = Profile.find(profiles, options.profile, undefined)
        const id = found?.profile.accountId
        targets = id === undefined
          ? []
          : all.filter((a) => a.id === id && a.authority === found!.profile.client.authority)
      }
      // RFC 7009: end the grant at the server first (the refresh token is needed for that), then here
      const profiles = yield* Profile.load(directory)
      const revocations = yield* Effect.forEach(targets, (account) => SignOut.revokeAccount(content, profiles, account))
        .pipe(
          Effect.provide(Http.layerLazy)
        )
      if (options.all) {
        yield* cache.clear
      } else {
        for (const account of targets) yield* cache.removeAccount(account.authority, account.id)
      }
      if (context.json) {
        Output.stdout().line(JSON.stringify({
          event: "result",
          removed: targets.map((account, i) => ({
            ...ResultJson.accountJson(account),
            revocation: revocations[i]!.map((r) => ({
              client_id: r.clientId,
              outcome: r.outcome,
              ...(r.host === undefined ? {} : { host: r.host }),
              ...(r.reason === undefined ? {} : { reason: ServerText.sanitize(r.reason) })
            }))
          }))
        }))
      }
      const stderr = Output.stderr()
      if (targets.length === 0) stderr.line("Not signed in: nothing to sign out of.")
      targets.forEach((account, i) => {
        stderr.line(
          `Signed out of ${stderr.bold(ServerText.sanitize(account.label))} (${
            ServerText.sanitize(account.authority)
          }).`
        )
        for (const revoked of revocations[i]!) stderr.line(`  ${ServerText.sanitize(SignOut.describe(revoked))}`)
      })
    })
  })
).pipe(
  Command.withDescription(Help.summaryOf("logout"))
)
