/**
 * What `devflow accounts` prints: each cached account with its clients,
 * tokens and profiles (never a token). Plain Node: the command
 * (commands/Accounts.ts) prints what the file cache read through
 * {@link print}, and bin.ts answers a plain `devflow accounts` through
 * {@link fast} from the cache file's records before Effect loads, leaving
 * everything else (a keychain to ask, a file to repair or refuse, a record
 * it does not recognise) to the full CLI.
 * @internal
 */
import * as SecretPlacement from "@devflow/cache-file/SecretPlacement"
import * as AccountLabel from "@devflow/core/AccountLabel"
import * as ServerText from "@devflow/core/ServerText"
import type * as Output from "../Output.js"
import * as FastToken from "./fastToken.js"
import type * as ProfileFile from "./profileFile.js"
import * as Terminal from "./terminal.js"

/**
 * An account as the cache holds it.
 * @internal
 */
export interface AccountRecord {
  readonly id: string
  readonly kind: string
  readonly authority: string
  readonly username?: string | undefined
  readonly name?: string | undefined
  readonly tenantId?: string | undefined
}

interface Entry {
  readonly authority: string
  readonly accountId: string
  readonly clientId: string
}

/**
 * The cache's records, as maps (the file cache's content) or arrays (the file's JSON).
 * @internal
 */
export interface Records<A extends AccountRecord> {
  readonly accounts: { readonly values: () => Iterable<A> }
  readonly accessTokens: { readonly values: () => Iterable<Entry & { readonly expiresOn?: number | undefined }> }
  readonly refreshTokens: { readonly values: () => Iterable<Entry> }
  readonly idTokens: { readonly values: () => Iterable<Entry> }
}

/** @internal */
export interface Listed<A extends AccountRecord> {
  readonly account: A
  readonly clients: ReadonlyArray<string>
  /** the latest expiry of its access tokens, epoch ms (undefined: none, or no expiry) */
  readonly accessTokenExpiresOn: number | undefined
  readonly accessTokens: number
  readonly refreshToken: boolean
  readonly profiles: ReadonlyArray<string>
}

/**
 * Every account with what the cache holds for it, in a stable order.
 * @internal
 */
export const list = <A extends AccountRecord>(
  content: Records<A>,
  profiles: ProfileFile.ProfilesFile
): ReadonlyArray<Listed<A>> => {
  const out: Array<Listed<A>> = []
  for (const account of content.accounts.values()) {
    const mine = (e: { readonly authority: string; readonly accountId: string }) =>
      e.authority === account.authority && e.accountId === account.id
    const accessTokens = [...content.accessTokens.values()].filter(mine)
    const refreshTokens = [...content.refreshTokens.values()].filter(mine)
    const clients = new Set(
      [...accessTokens, ...refreshTokens, ...[...content.idTokens.values()].filter(mine)].map((e) => e.clientId)
    )
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
  return out.sort((a, b) =>
    byCodePoint(a.account.authority, b.account.authority) || byCodePoint(a.account.id, b.account.id)
  )
}

// the same order in every locale, and no ICU collator to load (8 ms of a fast path's start-up)
const byCodePoint = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0)

const text = (value: string | undefined): string | null => (value === undefined ? null : ServerText.sanitize(value))

/**
 * An account in `--json` output (every string cleaned: it came from an id_token).
 * @internal
 */
export const accountJson = (account: AccountRecord) => ({
  id: ServerText.sanitize(account.id),
  username: text(account.username),
  name: text(account.name),
  authority: ServerText.sanitize(account.authority),
  kind: account.kind,
  tenant_id: text(account.tenantId)
})

/**
 * The listing: one JSON line per account, or lines for people (and a hint on
 * stderr when there is none).
 * @internal
 */
export const print = (
  listed: ReadonlyArray<Listed<AccountRecord>>,
  options: { readonly json: boolean; readonly location: string },
  out: { readonly stdout: Output.Stream; readonly stderr: Output.Stream }
): void => {
  const { stdout, stderr } = out
  if (options.json) {
    for (const entry of listed) {
      stdout.line(JSON.stringify({
        ...accountJson(entry.account),
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
    stderr.line(`No accounts in ${options.location}. Sign in with \`devflow login\`.`)
    return
  }
  const now = Date.now()
  for (const entry of listed) {
    const a = entry.account
    const label = AccountLabel.of(a)
    // names come from id_tokens, and the cache may predate core's cleaning: the second wall (ServerText)
    const who = ServerText.sanitize(a.name !== undefined && a.name !== a.username ? `${label} (${a.name})` : label)
    const token = entry.accessTokens === 0
      ? "no access token"
      : entry.accessTokenExpiresOn === undefined
      ? "access token without expiry"
      : entry.accessTokenExpiresOn > now
      ? `access token valid until ${Terminal.localTime(entry.accessTokenExpiresOn, now)}`
      : `access token expired ${Terminal.localTime(entry.accessTokenExpiresOn, now)}`
    const profiles = entry.profiles.length === 0 ? "" : `  [profile ${entry.profiles.join(", ")}]`
    stdout.line(`${stdout.bold(who)}${profiles}`)
    stdout.line(`  id:        ${ServerText.sanitize(a.id)}`)
    stdout.line(`  authority: ${ServerText.sanitize(a.authority)}`)
    stdout.line(`  client:    ${entry.clients.join(", ")}`)
    stdout.line(`  tokens:    ${token}; ${entry.refreshToken ? "refresh token" : "no refresh token"}`)
  }
}

const isRecord = (u: unknown): u is Readonly<Record<string, unknown>> => typeof u === "object" && u !== null
const isText = (u: unknown): u is string => typeof u === "string" && u !== ""
const isOptionalString = (u: unknown): boolean => u === undefined || typeof u === "string"
const ACCOUNT_KINDS: ReadonlyArray<unknown> = ["oidc", "client", "supplied"]

const isAccount = (u: unknown): u is AccountRecord =>
  isRecord(u) && isText(u.id) && isText(u.authority) && ACCOUNT_KINDS.includes(u.kind) &&
  isOptionalString(u.username) && isOptionalString(u.name) && isOptionalString(u.tenantId) &&
  isOptionalString(u.issuer) && isOptionalString(u.subject)

const isEntry = (u: unknown): u is Entry =>
  isRecord(u) && isText(u.authority) && isText(u.accountId) && isText(u.clientId)

const isAccessEntry = (u: unknown): u is Entry & { readonly expiresOn?: number } =>
  isEntry(u) && isRecord(u) &&
  (u.expiresOn === undefined || (typeof u.expiresOn === "number" && Number.isFinite(u.expiresOn)))

/**
 * `devflow accounts` (the arguments after it) answered from the cache file
 * without Effect: true when it printed, false to leave the command to the
 * full CLI. It only reads; it declines whenever the full CLI would do more
 * than list: secrets kept in the keychain, a file to repair, refuse or move
 * aside, a record it does not recognise, a flag or variable it does not read.
 * @internal
 */
export const fast = (args: ReadonlyArray<string>, env: Readonly<Record<string, string | undefined>>): boolean => {
  try {
    return serve(args, env)
  } catch {
    return false
  }
}

const serve = (args: ReadonlyArray<string>, env: Readonly<Record<string, string | undefined>>): boolean => {
  if (!FastToken.enabled(env)) return false
  const parsed = FastToken.parse(args, "accounts")
  if (parsed === undefined) return false
  const value = FastToken.valueOf(parsed, env)
  const jsonEnv = FastToken.jsonFromEnv("accounts", env)
  if (jsonEnv === undefined) return false
  const cache = FastToken.readCache(value("cacheDir"), value("secretStore") ?? "auto")
  if (cache === undefined) return false
  const { content } = cache
  const records = {
    accounts: content.accounts as ReadonlyArray<unknown>,
    accessTokens: content.accessTokens as ReadonlyArray<unknown>,
    refreshTokens: (content.refreshTokens ?? []) as ReadonlyArray<unknown>,
    idTokens: (content.idTokens ?? []) as ReadonlyArray<unknown>
  }
  if (!Array.isArray(records.refreshTokens) || !Array.isArray(records.idTokens)) return false
  const accounts = records.accounts.filter(isAccount)
  const accessTokens = records.accessTokens.filter(isAccessEntry)
  const refreshTokens = records.refreshTokens.filter(isEntry)
  const idTokens = records.idTokens.filter(isEntry)
  // anything unrecognised may be what the file cache calls corrupt (and moves aside): its call
  if (
    accounts.length !== records.accounts.length || accessTokens.length !== records.accessTokens.length ||
    refreshTokens.length !== records.refreshTokens.length || idTokens.length !== records.idTokens.length
  ) return false
  // refresh tokens in the keychain: whether each is still there takes the keychain, for the full CLI
  const secrets = (records.refreshTokens as ReadonlyArray<{ readonly secret?: unknown }>).map((e) => e.secret)
  if (secrets.some((s) => typeof s !== "string" || SecretPlacement.REFERENCE.test(s))) return false
  print(list({ accounts, accessTokens, refreshTokens, idTokens }, cache.profiles), {
    json: parsed.json || jsonEnv,
    location: cache.file
  }, { stdout: Terminal.stdout(), stderr: Terminal.stderr() })
  return true
}
