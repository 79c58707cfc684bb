/**
 * `devflow accounts`: what the cache holds. It sends no request.
 *
 * @since 0.1.0
 */
import * as FlagTable from "../internal/flagTable.js"
import * as FileTokenCache from "@devflow/cache-file/FileTokenCache"
import type * as Account from "@devflow/core/Account"
import * as ServerText from "@devflow/core/ServerText"
import type * as TokenCache from "@devflow/core/TokenCache"
import * as Command from "@effect/cli/Command"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Flags from "../Flags.js"
import * as Help from "../Help.js"
import * as Output from "../Output.js"
import * as Profile from "../Profile.js"
import * as ResultJson from "../ResultJson.js"
import * as Root from "../Root.js"
import * as Target from "../Target.js"

interface Listed {
  readonly account: Account.Account
  readonly clients: ReadonlyArray<string>
  /** the latest expiry of its access tokens, epoch ms (undefined: none, or no expiry) */
  readonly accessTokenExpiresOn: number | undefined
  readonly accessTokens: number
  readonly refreshToken: boolean
  readonly profiles: ReadonlyArray<string>
}

const list = (content: TokenCache.CacheContent, profiles: Profile.ProfilesFile): ReadonlyArray<Listed> => {
  const out: Array<Listed> = []
  for (const account of content.accounts.values()) {
    const mine = (e: { readonly authority: string; readonly accountId: string }) =>
      e.authority === account.authority && e.accountId === account.id
    const accessTokens = [...content.accessTokens.values()].filter(mine)
    const refreshTokens = [...content.refreshTokens.values()].filter(mine)
    const clients = new Set([...accessTokens, ...refreshTokens, ...[...content.idTokens.values()].filter(mine)].map((e) => e.clientId))
    const expiries = accessTokens.map((e) => e.expiresOn).filter((e): e is number => e !== undefined)
    out.push({
      account,
      clients: [...clients].sort(),
      accessTokenExpiresOn: expiries.length === 0 ? undefined : Math.max(...expiries),
      accessTokens: accessTokens.length,
      refreshToken: refreshTokens.length > 0,
      profiles: Object.entries(profiles.profiles)
        .filter(([, p]) => p.accountId === account.id && p.client.authority === account.authority)
        .map(([name]) => name)
        .sort()
    })
  }
  return out.sort((a, b) => a.account.authority.localeCompare(b.account.authority) || a.account.id.localeCompare(b.account.id))
}


/**
 * @since 0.1.0
 * @category commands
 */
export const accounts = Command.make(
  "accounts",
  Flags.of("accounts"),
  Root.handle((options, context) => {
    const directory = Target.directoryOf(options.cacheDir)
    return Effect.gen(function*() {
      yield* Target.checkDirectory(options.cacheDir)
      const cache = yield* FileTokenCache.make({
        directory,
        secretStore: Option.getOrUndefined(options.secretStore),
        fileStoreSetting: FlagTable.FILE_STORE_SETTING
      })
      const content = yield* cache.read
      const listed = list(content, yield* Profile.load(directory))
      const stdout = Output.stdout()
      if (context.json) {
        for (const entry of listed) {
          stdout.line(JSON.stringify({
            ...ResultJson.accountJson(entry.account),
            clients: entry.clients,
            access_tokens: entry.accessTokens,
            access_token_expires_on: entry.accessTokenExpiresOn === undefined
              ? null
              : new Date(entry.accessTokenExpiresOn).toISOString(),
            refresh_token: entry.refreshToken,
            profiles: entry.profiles
          }))
        }
        return
      }
      if (listed.length === 0) {
        Output.stderr().line(`No accounts in ${cache.location}. Sign in with \`devflow login\`.`)
        return
      }
      const now = Date.now()
      for (const entry of listed) {
        const a = entry.account
        // names come from id_tokens, and the cache may predate core's cleaning: the second wall (ServerText)
        const who = ServerText.sanitize(a.name !== undefined && a.name !== a.username ? `${a.label} (${a.name})` : a.label)
        const token = entry.accessTokens === 0
          ? "no access token"
          : entry.accessTokenExpiresOn === undefined
          ? "access token without expiry"
          : entry.accessTokenExpiresOn > now
          ? `access token valid until ${Output.localTime(entry.accessTokenExpiresOn, now)}`
          : `access token expired ${Output.localTime(entry.accessTokenExpiresOn, now)}`
        const profiles = entry.profiles.length === 0 ? "" : `  [profile ${entry.profiles.join(", ")}]`
        stdout.line(`${stdout.bold(who)}${profiles}`)
        stdout.line(`  id:        ${ServerText.sanitize(a.id)}`)
        stdout.line(`  authority: ${ServerText.sanitize(a.authority)}`)
        stdout.line(`  client:    ${entry.clients.join(", ")}`)
        stdout.line(`  tokens:    ${token}; ${entry.refreshToken ? "refresh token" : "no refresh token"}`)
      }
    })
  })
).pipe(Command.withDescription(Help.summaryOf("accounts")))
