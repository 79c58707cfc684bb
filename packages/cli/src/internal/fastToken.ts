/**
 * `devflow token` answered from the cache without loading Effect, @effect/cli
 * or the HTTP stack: scripts and `kubectl` call it on every request, and
 * loading the whole CLI costs several times Node's own start-up.
 *
 * It is an optimisation, never a second implementation of anything that
 * matters: it answers only when everything is plain — flags it knows, a
 * profile, an account, a cache file that is safe to read and an access token
 * that lives longer than the silent path's 5-minute skew — and returns
 * `undefined` in every other case (a refresh is due, an error to report, an
 * unknown flag, `--help`, ...), and the full CLI then does the work and says
 * what is wrong. It only ever reads. `DEVFLOW_FAST_PATH=0` turns it off.
 *
 * What it reads must agree with `@devflow/core`'s `Silent` (cache hit rules)
 * and `@devflow/cache-file` (location and safety checks); test/fastPath.test.ts
 * compares both paths' answers.
 * @internal
 */
import * as SecretPlacement from "@devflow/cache-file/SecretPlacement"
import * as CacheQuery from "@devflow/core/CacheQuery"
import * as ProviderPresets from "@devflow/core/ProviderPresets"
import * as ScopeForm from "@devflow/core/ScopeForm"
import * as Setting from "@devflow/core/Setting"
import * as HttpSettings from "@devflow/node-http/HttpSettings"
import * as fs from "node:fs"
import * as path from "node:path"
import * as FlagTable from "./flagTable.js"
import { defaultCacheDirectory } from "./paths.js"
import * as ProfileFile from "./profileFile.js"
import * as TokenFormat from "./tokenFormat.js"

/**
 * The commands answered from the cache without Effect: `token`, `git-credential get`
 * (internal/gitCredential.ts), `exec` (internal/fastExec.ts) and `accounts` (internal/accountList.ts).
 */
type FastCommand = "token" | "git-credential" | "exec" | "accounts"

// The flags a command takes, from the one table (flagTable.ts); the fast path declines any it does not `read` or `ignore`.
const flagsOf = (command: FastCommand) =>
  FlagTable.keysOf(command).map((key) => ({ key, spec: FlagTable.FLAGS[key] as FlagTable.FlagSpec }))
const TOKEN_FLAGS = flagsOf("token")
const ENV: Readonly<Record<string, string | undefined>> = Object.fromEntries(
  TOKEN_FLAGS.map(({ key, spec }) => [key, spec.env])
)
const isSecretStore = (s: string): s is (typeof FlagTable.SECRET_STORES)[number] =>
  (FlagTable.SECRET_STORES as ReadonlyArray<string>).includes(s)
const BOOLEAN_ENV = TOKEN_FLAGS.flatMap((
  { spec }
) => (spec.kind === "boolean" && spec.env !== undefined ? [spec.env] : []))

/**
 * The flags given, by key.
 * @internal
 */
export interface Parsed {
  readonly values: Record<string, string>
  readonly scopes: Array<string>
  json: boolean
}

/**
 * `command`'s flags, or `undefined` for anything the fast path leaves to the full CLI.
 * @internal
 */
export const parse = (args: ReadonlyArray<string>, command: FastCommand = "token"): Parsed | undefined => {
  const BY_FLAG = new Map(flagsOf(command).map((entry) => [`--${entry.spec.name}`, entry]))
  const parsed: Parsed = { values: {}, scopes: [], json: false }
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!
    const eq = arg.indexOf("=")
    const entry = BY_FLAG.get(eq === -1 ? arg : arg.slice(0, eq))
    if (entry === undefined || entry.spec.fast === undefined) return undefined
    if (!FlagTable.takesValue(entry.spec)) {
      if (eq !== -1) return undefined
      if (entry.key === "json") parsed.json = true
      continue
    }
    const value = eq === -1 ? args[++i] : arg.slice(eq + 1)
    if (value === undefined || value === "" || value.startsWith("-")) return undefined
    if (entry.spec.fast === "ignore") continue
    if (entry.key === "scope") parsed.scopes.push(value)
    else if (entry.key in parsed.values) return undefined
    else parsed.values[entry.key] = value
  }
  return parsed
}

/**
 * Whether answers without Effect are allowed: `DEVFLOW_FAST_PATH=0` leaves every command to the full CLI.
 * @internal
 */
export const enabled = (env: Readonly<Record<string, string | undefined>>): boolean => env.DEVFLOW_FAST_PATH !== "0"

// as the full CLI reads a yes/no variable (core's Setting, through Flags.ts)
const envBoolean = (v: string | undefined): boolean | undefined | "invalid" =>
  v === undefined ? undefined : Setting.boolean(v) ?? "invalid"

/**
 * Whether DEVFLOW_JSON asks for JSON, reading `command`'s yes/no variables as the full CLI does;
 * `undefined` when one of them is malformed (a usage error, for the full CLI to report).
 * @internal
 */
export const jsonFromEnv = (
  command: FastCommand,
  env: Readonly<Record<string, string | undefined>>
): boolean | undefined => {
  const names = flagsOf(command).flatMap((
    { spec }
  ) => (spec.kind === "boolean" && spec.env !== undefined ? [spec.env] : []))
  if (names.some((name) => envBoolean(env[name]) === "invalid")) return undefined
  return envBoolean(env[FlagTable.FLAGS.json.env]) === true
}

/**
 * Whether the full CLI's parser (Flags.ts) would accept every flag of `command` given in `parsed`
 * or through its variable: yes/no variables in core's spellings, choices and presets among their
 * values, whole numbers in range. Free text it accepts as it is.
 * @internal
 */
export const flagsValid = (
  command: FastCommand,
  parsed: Parsed,
  env: Readonly<Record<string, string | undefined>>
): boolean =>
  flagsOf(command).every(({ key, spec }) => {
    // parse() drops the values of flags it ignores: one that takes a value could hide a bad one
    if (spec.fast === "ignore" && FlagTable.takesValue(spec)) return false
    const given = key === "scope" ? undefined : parsed.values[key]
    const raw = given ?? (spec.env === undefined ? undefined : env[spec.env])
    if (raw === undefined) return true
    switch (spec.kind) {
      case "boolean":
        return envBoolean(raw) !== "invalid"
      case "choice":
        return (spec.choices ?? []).includes(raw)
      case "provider":
        return ProviderPresets.isProviderId(raw)
      case "integer": {
        const n = Number(raw.trim())
        return /^-?\d+$/.test(raw.trim()) && Number.isSafeInteger(n) && n >= (spec.min ?? Number.MIN_SAFE_INTEGER) &&
          n <= (spec.max ?? Number.MAX_SAFE_INTEGER)
      }
      default:
        return true
    }
  })

const ownerOnly = (stat: fs.Stats, uid: number | undefined): boolean =>
  process.platform === "win32" || ((uid === undefined || stat.uid === uid) && (stat.mode & 0o077) === 0)

interface AccountRecord {
  readonly id: string
  readonly authority: string
  readonly username?: unknown
  readonly name?: unknown
}

interface AccessTokenRecord {
  readonly authority: string
  readonly clientId: string
  readonly accountId: string
  readonly scopes: ReadonlyArray<string>
  readonly secret: string
  readonly tokenType: string
  readonly expiresOn?: number
  readonly cachedAt?: number
}

const isRecord = (u: unknown): u is Readonly<Record<string, unknown>> => typeof u === "object" && u !== null

const isAccount = (u: unknown): u is AccountRecord =>
  isRecord(u) && typeof u.id === "string" && typeof u.authority === "string"

const isAccessToken = (u: unknown): u is AccessTokenRecord =>
  isRecord(u) && typeof u.authority === "string" && typeof u.clientId === "string" &&
  typeof u.accountId === "string" && Array.isArray(u.scopes) && u.scopes.every((s: unknown) => typeof s === "string") &&
  typeof u.secret === "string" && u.secret !== "" && typeof u.tokenType === "string" &&
  (u.expiresOn === undefined || (typeof u.expiresOn === "number" && Number.isFinite(u.expiresOn)))

/**
 * Print the token and return 0, or return `undefined` to let the full CLI
 * answer. Never throws.
 * @internal
 */
export const run = (
  args: ReadonlyArray<string>,
  env: Readonly<Record<string, string | undefined>>,
  write: (text: string) => void
): 0 | undefined => {
  try {
    return serve(args, env, write)
  } catch {
    return undefined
  }
}

const serve = (
  args: ReadonlyArray<string>,
  env: Readonly<Record<string, string | undefined>>,
  write: (text: string) => void
): 0 | undefined => {
  const parsed = parse(args)
  if (parsed === undefined) return undefined
  const value = valueOf(parsed, env)
  const jsonEnv = envBoolean(env.DEVFLOW_JSON)
  const json = parsed.json || jsonEnv === true
  const formatText = value("format") ?? (json ? "json" : "raw")
  if (!TokenFormat.isFormat(formatText)) return undefined
  // --json with another --format: for the full CLI to refuse
  if (json && formatText !== "json") return undefined
  const found = find(parsed, env)
  if (found === undefined) return undefined
  // a DPoP token's header goes with a proof signed for one request: the full CLI's (Web Crypto, the kept key)
  if (formatText === "header" && TokenFormat.isDpop(found.view.tokenType)) return undefined
  write(TokenFormat.render(formatText, found.view))
  return 0
}

/**
 * A flag's value, else its variable's; blank counts as absent.
 * @internal
 */
export const valueOf =
  (parsed: Parsed, env: Readonly<Record<string, string | undefined>>) => (key: string): string | undefined => {
    const name = ENV[key]
    const v = parsed.values[key] ?? (name === undefined ? undefined : env[name])
    return v === undefined || v.trim() === "" ? undefined : v
  }

/**
 * The cached token the flags ask for and the profile's provider, when the
 * answer is plain (see the module's comment); never throws.
 * @internal
 */
export const find = (
  parsed: Parsed,
  env: Readonly<Record<string, string | undefined>>
): { readonly view: TokenFormat.TokenView; readonly provider: string | undefined } | undefined => {
  try {
    return lookup(parsed, env)
  } catch {
    return undefined
  }
}

const lookup = (
  parsed: Parsed,
  env: Readonly<Record<string, string | undefined>>
): { readonly view: TokenFormat.TokenView; readonly provider: string | undefined } | undefined => {
  if (!enabled(env)) return undefined
  const value = valueOf(parsed, env)
  // A malformed boolean or HTTP setting in the environment is a usage error for the full CLI to report.
  if (BOOLEAN_ENV.some((name) => envBoolean(env[name]) === "invalid")) return undefined
  if (HttpSettings.firstProblem(env) !== undefined) return undefined

  const secretStore = value("secretStore") ?? "auto"

  const profileName = value("profile") ?? ProfileFile.DEFAULT_PROFILE
  if (!ProfileFile.PROFILE_NAME.test(profileName)) return undefined
  const envScopes = env[ENV.scope!]?.split(" ").filter((s) => s !== "") ?? []
  const scopes = parsed.scopes.length > 0 ? parsed.scopes : envScopes
  if (!scopes.every(ScopeForm.isScopeToken)) return undefined
  const inputs = ProfileFile.inputsFrom({
    provider: value("provider"),
    clientId: value("clientId"),
    authority: value("authority"),
    issuer: value("issuer"),
    tenant: value("tenant"),
    audience: value("audience"),
    region: value("region"),
    startUrl: value("startUrl")
  }, undefined)
  if (inputs !== undefined && "missing" in inputs) return undefined

  const cache = readCache(value("cacheDir"), secretStore)
  if (cache === undefined) return undefined
  const { profiles, content } = cache
  const found = ProfileFile.find(profiles, profileName, inputs)
  if (found === undefined) return undefined
  const client = found.profile.client
  const wanted = scopes.length > 0 ? scopes : client.scopes
  // Compared exactly as core's Silent compares them (Entra's Graph prefix, GitHub's commas).
  const form = client.scopeForm ?? ScopeForm.forProvider(found.profile.inputs.provider)

  const accounts = (content.accounts as ReadonlyArray<unknown>).filter(isAccount).filter((a) =>
    a.authority === client.authority
  )
  const selector = value("account")
  const matches = selector === undefined
    ? accounts.filter((a) => a.id === found.profile.accountId)
    : accounts.filter((a) => a.id === selector).length > 0
    ? accounts.filter((a) => a.id === selector)
    : accounts.filter((a) => a.username === selector)
  if (matches.length !== 1) return undefined
  const account = matches[0]!

  // Core's own rule (CacheQuery): the token that answers, and whether it may be handed out now;
  // one about to expire, or stored "later" than the clock now reads, is for the full CLI to refresh.
  const best = CacheQuery.best((content.accessTokens as ReadonlyArray<unknown>).filter(isAccessToken), {
    authority: client.authority,
    clientId: client.clientId,
    accountId: account.id,
    scopes: wanted,
    form
  })
  if (best === undefined || !CacheQuery.usable(best, Date.now(), CacheQuery.DEFAULT_EXPIRY_SKEW_MS)) {
    return undefined
  }

  const view: TokenFormat.TokenView = {
    accessToken: best.secret,
    tokenType: best.tokenType,
    expiresOn: best.expiresOn,
    scopes: [...new Set(best.scopes)].filter((s) => s !== "").sort(),
    account: {
      id: account.id,
      authority: account.authority,
      username: typeof account.username === "string" ? account.username : undefined,
      name: typeof account.name === "string" ? account.name : undefined
    },
    source: "cache"
  }
  return { view, provider: found.profile.inputs.provider }
}

/**
 * The token cache file's JSON as far as {@link readCache} checked it; each record is for its reader to check.
 * @internal
 */
export interface CacheFileJson {
  readonly version: 1
  readonly accounts: ReadonlyArray<unknown>
  readonly accessTokens: ReadonlyArray<unknown>
  readonly refreshTokens?: unknown
  readonly idTokens?: unknown
}

/**
 * The cache directory's profiles and token file (`content`: its parsed JSON, with `accounts` and
 * `accessTokens` arrays), read as @devflow/cache-file and the full CLI would read them: a directory
 * and files of this user, closed to others, in the current format, the secrets where `secretStore`
 * keeps them. `undefined` when anything is otherwise: the full CLI then reads it, and says what is
 * wrong or repairs it. Throws on a missing file.
 * @internal
 */
export const readCache = (
  cacheDir: string | undefined,
  secretStore: string
): {
  readonly directory: string
  readonly file: string
  readonly profiles: ProfileFile.ProfilesFile
  readonly content: CacheFileJson
} | undefined => {
  // Access tokens stay in the file whichever store keeps the long-lived secrets (docs/caching.md); an
  // unknown store is for the full CLI to refuse.
  if (!isSecretStore(secretStore)) return undefined
  const directory = path.resolve(cacheDir ?? defaultCacheDirectory())
  const uid = typeof process.getuid === "function" ? process.getuid() : undefined
  const dirStat = fs.statSync(directory)
  if (!dirStat.isDirectory() || !ownerOnly(dirStat, uid)) return undefined

  // no profiles file: none yet, as the full CLI reads it; an unreadable one is for it to report
  const profiles = ProfileFile.readSync(directory) ?? ProfileFile.empty
  if ("invalid" in profiles) return undefined

  // The token cache file, read as @devflow/cache-file would: a regular file of this user, 0600.
  const file = path.join(directory, "tokens.json")
  const fileStat = fs.lstatSync(file)
  if (!fileStat.isFile() || !ownerOnly(fileStat, uid)) return undefined
  const content = JSON.parse(fs.readFileSync(file, "utf8"))
  if (content?.version !== 1 || !Array.isArray(content.accounts) || !Array.isArray(content.accessTokens)) {
    return undefined
  }
  // Secrets not yet where the chosen store keeps them (`--secret-store` switched): the full CLI moves them,
  // or says that the keychain it must use does not answer ("the keychain or nothing").
  const secrets = [...(content.refreshTokens ?? []), ...(content.clients ?? []), ...(content.dpopKeys ?? [])]
    .map((e: { secret?: unknown }) => e?.secret)
  if (!secrets.every((s) => typeof s === "string") || !SecretPlacement.settled(secretStore, secrets as Array<string>)) {
    return undefined
  }
  return { directory, file, profiles, content: content as CacheFileJson }
}
