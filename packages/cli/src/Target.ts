/**
 * Which server, client and cache a command works with: from the flags (and
 * their environment fallbacks) when any server flag is given, else from the
 * profile the last `devflow login` saved.
 *
 * @since 0.1.0
 */
import * as FileTokenCache from "@devflow/cache-file/FileTokenCache"
import * as ClientConfig from "@devflow/core/ClientConfig"
import type * as DeviceFlowError from "@devflow/core/DeviceFlowError"
import * as Providers from "@devflow/core/Providers"
import * as ScopeForm from "@devflow/core/ScopeForm"
import type * as ServerMetadata from "@devflow/core/ServerMetadata"
import type * as HttpClient from "@effect/platform/HttpClient"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as fs from "node:fs"
import * as path from "node:path"
import { flagOfField, NotSignedIn, UsageError } from "./CliError.js"
import type * as Flags from "./Flags.js"
import * as Profile from "./Profile.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface Common {
  readonly cacheDir: Option.Option<string>
  readonly profile: string
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Target {
  /** the cache directory (token cache and profiles) */
  readonly directory: string
  /** the profile a successful sign-in is saved under */
  readonly profileName: string
  readonly provider: Providers.ProviderId
  /** what was given (or remembered), to save with the profile */
  readonly inputs: Profile.Inputs
  readonly config: ClientConfig.ClientConfig
  /** the remembered profile in use, if one matched */
  readonly profile: Profile.Profile | undefined
  /** the profile's client authenticates with a secret, and none was given now */
  readonly secretMissing: boolean
}

/**
 * The cache directory: `--cache-dir`, else the platform's default.
 *
 * @since 0.1.0
 * @category utils
 */
export const directoryOf = (cacheDir: Option.Option<string>): string =>
  path.resolve(Option.getOrElse(Option.filter(cacheDir, (d) => d.trim() !== ""), FileTokenCache.defaultDirectory))

/**
 * Refuse a cache directory that is (or lies under) a file, naming it, before
 * anything tries to create it (which would only say EEXIST or ENOTDIR).
 *
 * @since 0.1.0
 * @category utils
 */
export const checkDirectory = (cacheDir: Option.Option<string>): Effect.Effect<void, UsageError> =>
  Effect.suspend(() => {
    const directory = directoryOf(cacheDir)
    const what = Option.isSome(cacheDir)
      ? `--cache-dir (DEVFLOW_CACHE_DIR) ${directory}`
      : `The cache directory ${directory}`
    let current = directory
    // bounded by the path's depth
    for (let depth = 0; depth < 256; depth++) {
      let stat: fs.Stats
      try {
        stat = fs.statSync(current)
      } catch {
        const parent = path.dirname(current)
        if (parent === current) return Effect.void
        current = parent
        continue
      }
      if (stat.isDirectory()) return Effect.void
      return Effect.fail(
        new UsageError({
          message: current === directory
            ? `${what} is a file, not a directory`
            : `${what} cannot be created: ${current} is a file`,
          hint: "Give a directory (devflow creates it when missing), or leave --cache-dir out for the default."
        })
      )
    }
    return Effect.void
  })

const checkProfileName = (name: string): Effect.Effect<string, UsageError> =>
  Profile.NAME_PATTERN.test(name)
    ? Effect.succeed(name)
    : Effect.fail(
      new UsageError({
        message: `--profile ${JSON.stringify(name.slice(0, 80))} is not a profile name`,
        hint: "Use letters, digits, '.', '_' and '-' (up to 64 characters)."
      })
    )

/**
 * The identity inputs given on the command line or in the environment.
 *
 * @since 0.1.0
 * @category utils
 */
export const givenInputs = (server: Flags.Server, scopes: ReadonlyArray<string> | undefined) =>
  Profile.inputsFrom({
    provider: Option.getOrUndefined(server.provider),
    clientId: Option.getOrUndefined(server.clientId),
    authority: Option.getOrUndefined(server.authority),
    issuer: Option.getOrUndefined(server.issuer),
    tenant: Option.getOrUndefined(server.tenant),
    audience: Option.getOrUndefined(server.audience),
    region: Option.getOrUndefined(server.region),
    startUrl: Option.getOrUndefined(server.startUrl)
  }, scopes)

const providerOf = (id: string): Effect.Effect<Providers.ProviderId, UsageError> =>
  Providers.isProviderId(id)
    ? Effect.succeed(id)
    : Effect.fail(
      new UsageError({ message: `Unknown provider ${JSON.stringify(id)}`, hint: "`devflow providers` lists them." })
    )

/**
 * The preset's requirements the inputs leave unmet, as flags
 * (`--tenant (DEVFLOW_TENANT) or --authority (DEVFLOW_AUTHORITY)`).
 *
 * @since 0.1.0
 * @category utils
 */
export const unmet = (
  provider: Providers.ProviderId,
  inputs: Profile.Inputs,
  server: Flags.Server
): ReadonlyArray<string> => {
  const has = (field: Providers.InputField): boolean =>
    field === "clientSecret"
      ? Option.isSome(server.clientSecret)
      : field === "scopes"
      ? (inputs.scopes?.length ?? 0) > 0
      : (inputs[field] ?? "").trim() !== ""
  const name = (field: Providers.InputField) => flagOfField(field) ?? field
  const alternative = (field: Providers.InputField) => `--${flagOfField(field)?.split(" ")[0]?.slice(2) ?? field}`
  return Providers.presets[provider].requires.flatMap((r) => {
    if (typeof r === "string") return has(r) ? [] : [name(r)]
    const [first, ...rest] = r.anyOf
    return r.anyOf.some(has) ? [] : [`${name(first!)} (or ${rest.map(alternative).join(" or ")})`]
  })
}

/**
 * Resolve inputs to a client configuration (discovery for the presets that
 * use it).
 *
 * @since 0.1.0
 * @category constructors
 */
export const resolve = (
  provider: Providers.ProviderId,
  inputs: Profile.Inputs,
  server: Flags.Server
): Effect.Effect<
  ClientConfig.ClientConfig,
  DeviceFlowError.DeviceFlowError | UsageError,
  HttpClient.HttpClient | ServerMetadata.Discovery
> => {
  const missing = unmet(provider, inputs, server)
  // One missing input: the preset says why it needs it. Several: name them all at once.
  if (missing.length > 1) {
    return Effect.fail(
      new UsageError({
        message: `The ${provider} preset needs ${missing.slice(0, -1).join(", ")} and ${missing.at(-1)}`,
        hint: "`devflow providers` shows what each preset needs; `devflow login --help` has examples."
      })
    )
  }
  const resolved = Providers.resolve(provider, {
    clientId: inputs.clientId,
    clientSecret: Option.getOrUndefined(server.clientSecret),
    authority: inputs.authority,
    issuer: inputs.issuer,
    tenant: inputs.tenant,
    audience: inputs.audience,
    region: inputs.region,
    startUrl: inputs.startUrl,
    scopes: inputs.scopes
  })
  // RFC 9449: the tokens are bound to a key kept with them (core's PublicClient keeps it)
  return server.dpop
    ? Effect.map(resolved, (config): ClientConfig.ClientConfig => ({ ...config, dpop: true }))
    : resolved
}

const fromProfile = (profile: Profile.Profile, server: Flags.Server) =>
  Effect.gen(function*() {
    const client = profile.client
    const secret = Option.getOrUndefined(server.clientSecret)
    const secretMissing = client.clientAuthMethod !== "none" && secret === undefined
    const config = yield* ClientConfig.make({
      clientId: client.clientId,
      clientSecret: secret,
      // Without the secret a cached token can still be used; a refresh then says what is missing.
      clientAuthMethod: secretMissing ? "none" : client.clientAuthMethod,
      endpoints: client.endpoints,
      scopes: client.scopes,
      deviceAuthorizationParams: client.deviceAuthorizationParams,
      tokenParams: client.tokenParams,
      wire: client.wire,
      scopeForm: client.scopeForm ?? ScopeForm.forProvider(profile.inputs.provider),
      // a profile signed in with DPoP keeps proving (its refresh token is bound to the kept key)
      dpop: client.dpop === true || server.dpop
    })
    return { config, secretMissing }
  })

/**
 * Nothing to work with: no server flags and no profile.
 *
 * @since 0.1.0
 * @category errors
 */
export const noProfile = (directory: string, name: string): UsageError =>
  new UsageError({
    message: `No server given and no profile ${JSON.stringify(name)} in ${directory}`,
    hint:
      "Sign in once with `devflow login --provider <id> --client-id <id> …` (it remembers the settings), or give the same flags here."
  })

/**
 * `devflow token` with nothing signed in: no server flags and no profile.
 *
 * @since 0.1.0
 * @category errors
 */
export const notSignedIn = (directory: string, name: string): NotSignedIn =>
  new NotSignedIn({
    message: `Not signed in: no profile ${JSON.stringify(name)} in ${directory}`,
    hint:
      "Run `devflow login --provider <id> --client-id <id> …` once (`devflow login --help` has examples); later commands need no flags."
  })

/**
 * The target of a command.
 *
 * - `login` resolves the inputs afresh (a new sign-in may as well rediscover
 *   the endpoints); `--scope` is part of its inputs.
 * - `token` reuses a matching profile's resolved client, so that a cached
 *   token is found without any request; `--scope` only says what the token
 *   must cover.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  common: Common,
  server: Flags.Server,
  mode: "login" | "silent"
): Effect.Effect<
  Target,
  UsageError | NotSignedIn | DeviceFlowError.DeviceFlowError,
  HttpClient.HttpClient | ServerMetadata.Discovery
> =>
  Effect.gen(function*() {
    const directory = directoryOf(common.cacheDir)
    const name = yield* checkProfileName(common.profile)
    const requestScopes = mode === "login" ? server.scope : undefined
    const given = givenInputs(server, requestScopes)
    if (given !== undefined && "missing" in given) {
      return yield* new UsageError({
        message: "--provider is required when server flags are given (it defaults to generic only with --issuer)",
        hint: "`devflow providers` lists the presets and what each needs."
      })
    }
    const file = yield* Profile.load(directory)
    const found = Profile.find(file, name, given)
    if (given === undefined && found === undefined) {
      // token before any sign-in: the same exit (7) and the same advice as after `devflow logout`
      return yield* (mode === "silent" ? notSignedIn(directory, name) : noProfile(directory, name))
    }
    const base = given ?? found!.profile.inputs
    const inputs: Profile.Inputs = mode === "login" && server.scope.length > 0
      ? { ...base, scopes: server.scope }
      : base
    const provider = yield* providerOf(inputs.provider)
    // login saves under the name asked for; token --login updates the profile it used
    const profileName = mode === "login" ? name : found?.name ?? name
    if (mode === "silent" && found !== undefined) {
      const { config, secretMissing } = yield* fromProfile(found.profile, server)
      return { directory, profileName, provider, inputs, config, profile: found.profile, secretMissing }
    }
    // a sign-in from the profile's inputs keeps its DPoP (login --dpop is remembered)
    const dpop = server.dpop || (given === undefined && found?.profile.client.dpop === true)
    const config = yield* resolve(provider, inputs, { ...server, dpop })
    return { directory, profileName, provider, inputs, config, profile: found?.profile, secretMissing: false }
  })

/**
 * The §5.4 check's target for this sign-in.
 *
 * @since 0.1.0
 * @category utils
 */
export const verificationTarget = (target: Target): Providers.VerificationTarget => ({
  provider: target.provider,
  input: {
    clientId: target.inputs.clientId,
    authority: target.inputs.authority,
    issuer: target.inputs.issuer,
    tenant: target.inputs.tenant,
    region: target.inputs.region,
    startUrl: target.inputs.startUrl
  },
  config: target.config
})
