/**
 * The profiles file, `<cache dir>/profiles.json`: the non-secret settings of
 * the last sign-in per profile name, so that a later `devflow token` needs no
 * flags. Plain Node (no Effect): `devflow token`'s fast path reads it.
 *
 * Nothing secret is ever written here: no token, no client secret, no device
 * code. A missing or unreadable file is "no profile".
 * @internal
 */
import * as fs from "node:fs"
import * as path from "node:path"

/** @internal */
export const FILE_NAME = "profiles.json"

/** @internal */
export const DEFAULT_PROFILE = "default"

/** @internal */
export const PROFILE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/

/**
 * What the person gave (flags or environment), exactly: the key a profile is
 * matched on. Absent fields were not given.
 * @internal
 */
export interface Inputs {
  readonly provider: string
  readonly clientId: string
  readonly authority?: string | undefined
  readonly issuer?: string | undefined
  readonly tenant?: string | undefined
  readonly audience?: string | undefined
  readonly region?: string | undefined
  readonly startUrl?: string | undefined
  /** the scopes given with `--scope`; absent means the preset's defaults */
  readonly scopes?: ReadonlyArray<string> | undefined
}

/** @internal */
export const INPUT_FIELDS = [
  "provider",
  "clientId",
  "authority",
  "issuer",
  "tenant",
  "audience",
  "region",
  "startUrl"
] as const

/**
 * The client configuration those inputs resolved to (endpoints found by
 * discovery included), without the secret: `token` needs no discovery.
 * @internal
 */
export interface Client {
  readonly clientId: string
  /** the token cache partition the tokens are filed under */
  readonly authority: string
  readonly endpoints: {
    readonly deviceAuthorization: string
    readonly token: string
    /** RFC 7009 revocation endpoint, for `logout` */
    readonly revocation?: string | undefined
  }
  readonly clientAuthMethod: "none" | "client_secret_post" | "client_secret_basic"
  readonly wire: "oauth" | "aws-sso-oidc"
  /** how the server spells scopes (core's ScopeForm); absent in profiles written before it existed */
  readonly scopeForm?: "oauth" | "entra" | "github" | undefined
  readonly scopes: ReadonlyArray<string>
  readonly deviceAuthorizationParams: Readonly<Record<string, string>>
  readonly tokenParams: Readonly<Record<string, string>>
  /** `login --dpop`: the tokens are DPoP-bound (RFC 9449); absent: Bearer */
  readonly dpop?: true | undefined
}

/** @internal */
export interface Profile {
  readonly inputs: Inputs
  readonly client: Client
  /** the account of the last sign-in */
  readonly accountId?: string | undefined
  readonly updatedAt: string
}

/** @internal */
export interface ProfilesFile {
  readonly version: 1
  readonly profiles: Readonly<Record<string, Profile>>
}

/** @internal */
export const empty: ProfilesFile = { version: 1, profiles: {} }

/** @internal */
export const location = (directory: string): string => path.join(directory, FILE_NAME)

const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)
const isString = (u: unknown): u is string => typeof u === "string"
const isOptionalString = (u: unknown): boolean => u === undefined || isString(u)
const isStringArray = (u: unknown): u is ReadonlyArray<string> => Array.isArray(u) && u.every(isString)
const isStringRecord = (u: unknown): u is Record<string, string> => isRecord(u) && Object.values(u).every(isString)

const isInputs = (u: unknown): u is Inputs =>
  isRecord(u) && isString(u.provider) && isString(u.clientId) &&
  ["authority", "issuer", "tenant", "audience", "region", "startUrl"].every((k) => isOptionalString(u[k])) &&
  (u.scopes === undefined || isStringArray(u.scopes))

const isClient = (u: unknown): u is Client =>
  isRecord(u) && isString(u.clientId) && isString(u.authority) && isRecord(u.endpoints) &&
  isString(u.endpoints.deviceAuthorization) && isString(u.endpoints.token) &&
  isOptionalString(u.endpoints.revocation) &&
  (u.scopeForm === undefined || u.scopeForm === "oauth" || u.scopeForm === "entra" || u.scopeForm === "github") &&
  (u.clientAuthMethod === "none" || u.clientAuthMethod === "client_secret_post" ||
    u.clientAuthMethod === "client_secret_basic") &&
  (u.wire === "oauth" || u.wire === "aws-sso-oidc") && isStringArray(u.scopes) &&
  isStringRecord(u.deviceAuthorizationParams) && isStringRecord(u.tokenParams) &&
  (u.dpop === undefined || u.dpop === true)

const isProfile = (u: unknown): u is Profile =>
  isRecord(u) && isInputs(u.inputs) && isClient(u.client) && isOptionalString(u.accountId) && isString(u.updatedAt)

/**
 * The file's content, or why it cannot be used. Profiles that do not decode
 * are dropped one by one, so one bad entry does not hide the others.
 * @internal
 */
export const decode = (u: unknown): ProfilesFile | { readonly invalid: string } => {
  if (!isRecord(u)) return { invalid: "is not a JSON object" }
  if (u.version !== 1) return { invalid: `has an unknown format version ${JSON.stringify(u.version)}` }
  if (!isRecord(u.profiles)) return { invalid: "has no \"profiles\" object" }
  const profiles: Record<string, Profile> = {}
  for (const [name, profile] of Object.entries(u.profiles)) {
    if (PROFILE_NAME.test(name) && isProfile(profile)) profiles[name] = profile
  }
  return { version: 1, profiles }
}

/**
 * Read the file: `undefined` when there is none, `{ invalid }` when it cannot
 * be understood.
 * @internal
 */
export const readSync = (directory: string): ProfilesFile | { readonly invalid: string } | undefined => {
  let text: string
  try {
    text = fs.readFileSync(location(directory), "utf8")
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined
    return { invalid: `cannot be read (${(error as NodeJS.ErrnoException).code ?? String(error)})` }
  }
  try {
    return decode(JSON.parse(text))
  } catch {
    return { invalid: "is not valid JSON" }
  }
}

/**
 * Replace the file: temp file (0600) + fsync + rename, so a reader sees the
 * old or the new version, whole.
 * @internal
 */
export const writeSync = (directory: string, file: ProfilesFile): void => {
  const target = location(directory)
  const temp = `${target}.${process.pid}-${Math.random().toString(16).slice(2, 10)}.tmp`
  const fd = fs.openSync(temp, "wx", 0o600)
  try {
    fs.writeFileSync(fd, JSON.stringify(file, null, 2) + "\n")
    fs.fsyncSync(fd)
  } finally {
    fs.closeSync(fd)
  }
  try {
    fs.renameSync(temp, target)
  } catch (error) {
    fs.rmSync(temp, { force: true })
    throw error
  }
}

/**
 * Whether two sets of inputs name the same provider, server and client
 * (scopes aside).
 * @internal
 */
export const sameClient = (a: Inputs, b: Inputs): boolean =>
  INPUT_FIELDS.every((k) => (a[k] ?? undefined) === (b[k] ?? undefined))

/**
 * The profile to use: with no inputs given, the named one; with inputs, the
 * named one if it matches them, else any profile that does (so that several
 * servers used with explicit flags each keep their resolved endpoints).
 * @internal
 */
export const find = (
  file: ProfilesFile | undefined,
  name: string,
  inputs: Inputs | undefined
): { readonly name: string; readonly profile: Profile } | undefined => {
  if (file === undefined) return undefined
  const named = Object.hasOwn(file.profiles, name) ? file.profiles[name] : undefined
  if (inputs === undefined) return named === undefined ? undefined : { name, profile: named }
  if (named !== undefined && sameClient(named.inputs, inputs)) return { name, profile: named }
  for (const [other, profile] of Object.entries(file.profiles)) {
    if (sameClient(profile.inputs, inputs)) return { name: other, profile }
  }
  return undefined
}

/**
 * The identity inputs as given on the command line or in the environment
 * (empty strings count as not given).
 * @internal
 */
export interface RawInputs {
  readonly provider?: string | undefined
  readonly clientId?: string | undefined
  readonly authority?: string | undefined
  readonly issuer?: string | undefined
  readonly tenant?: string | undefined
  readonly audience?: string | undefined
  readonly region?: string | undefined
  readonly startUrl?: string | undefined
}

const given = (s: string | undefined): string | undefined => {
  const t = s?.trim()
  return t === undefined || t === "" ? undefined : t
}

/**
 * Inputs from what was given: `undefined` when nothing was (use the profile),
 * `{ missing }` when no provider can be told. `--issuer` alone means the
 * `generic` preset.
 * @internal
 */
export const inputsFrom = (
  raw: RawInputs,
  scopes: ReadonlyArray<string> | undefined
): Inputs | { readonly missing: "provider" } | undefined => {
  const values = {
    provider: given(raw.provider),
    clientId: given(raw.clientId),
    authority: given(raw.authority),
    issuer: given(raw.issuer),
    tenant: given(raw.tenant),
    audience: given(raw.audience),
    region: given(raw.region),
    startUrl: given(raw.startUrl)
  }
  if (Object.values(values).every((v) => v === undefined)) return undefined
  const provider = values.provider ?? (values.issuer === undefined ? undefined : "generic")
  if (provider === undefined) return { missing: "provider" }
  const out: { -readonly [K in keyof Inputs]: Inputs[K] } = { provider, clientId: values.clientId ?? "" }
  for (const k of ["authority", "issuer", "tenant", "audience", "region", "startUrl"] as const) {
    if (values[k] !== undefined) out[k] = values[k]
  }
  if (scopes !== undefined && scopes.length > 0) out.scopes = scopes
  return out
}
