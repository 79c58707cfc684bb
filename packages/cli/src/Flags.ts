/**
 * The commands' options, built from the one flag table
 * (`internal/flagTable.ts`): each with its environment fallback
 * (`DEVFLOW_…`) and a refusal that names the flag, its variable and the
 * value. docs/cli.md lists them all.
 *
 * @since 0.1.0
 */
import type * as FileTokenCache from "@devflow/cache-file/FileTokenCache"
import * as Providers from "@devflow/core/Providers"
import * as Setting from "@devflow/core/Setting"
import * as HelpDoc from "@effect/cli/HelpDoc"
import * as Options from "@effect/cli/Options"
import * as ValidationError from "@effect/cli/ValidationError"
import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import type * as Redacted from "effect/Redacted"
import * as DidYouMean from "./internal/didYouMean.js"
import * as FlagTable from "./internal/flagTable.js"
import type * as TokenFormat from "./internal/tokenFormat.js"

/**
 * The value a flag of the table parses to.
 *
 * @since 0.1.0
 * @category models
 */
export type ValueOf<K extends FlagTable.Key> = K extends "provider" ? Option.Option<Providers.ProviderId>
  : K extends "format" ? Option.Option<TokenFormat.Format>
  : K extends "secretStore" ? Option.Option<FileTokenCache.SecretStore>
  : FlagTable.Table[K] extends { readonly kind: "boolean" } ? boolean
  : FlagTable.Table[K] extends { readonly kind: "integer" } ?
    FlagTable.Table[K] extends { readonly default: number } ? number
    : Option.Option<number>
  : FlagTable.Table[K] extends { readonly kind: "scopes" } ? ReadonlyArray<string>
  : FlagTable.Table[K] extends { readonly kind: "secret" } ? Option.Option<Redacted.Redacted<string>>
  : FlagTable.Table[K] extends { readonly default: string } ? string
  : Option.Option<string>

/**
 * The options a command takes, by key.
 *
 * @since 0.1.0
 * @category models
 */
export type OptionsOf<C extends FlagTable.CommandName | "devflow"> = {
  readonly [K in FlagTable.Key as C extends FlagTable.Table[K]["commands"][number] ? K : never]: Options.Options<
    ValueOf<K>
  >
}

const described = (spec: FlagTable.FlagSpec) =>
  Options.withDescription(spec.env === undefined ? spec.help : `${spec.help} [env ${spec.env}]`)

const withEnv =
  <A>(spec: FlagTable.FlagSpec, config: (name: string) => Config.Config<A>) => (self: Options.Options<A>) =>
    spec.env === undefined ? self : Options.withFallbackConfig(self, config(spec.env))

// A yes/no variable, read as every devflow path reads one (core's Setting; the fast path too).
const booleanConfig = (name: string): Config.Config<boolean> =>
  Config.mapOrFail(Config.string(name), (text) => {
    const value = Setting.boolean(text)
    return value === undefined
      ? Either.left(ConfigError.InvalidData([], `Expected a boolean value but received ${text}`))
      : Either.right(value)
  })

const refuse = (text: string) => Effect.fail(ValidationError.invalidValue(HelpDoc.p(text)))

const guessOf = (value: string, choices: ReadonlyArray<string>) => {
  const guess = DidYouMean.closest(value, choices)
  return guess === undefined ? "" : `; did you mean ${guess}?`
}

/** A choice, refused with a message naming the flag, its variable and the value (@effect/cli's own names neither). */
const oneOf = (spec: FlagTable.FlagSpec, choices: ReadonlyArray<string>) =>
  Options.text(spec.name).pipe(
    Options.withPseudoName(choices.join(" | ")),
    described(spec),
    withEnv(spec, Config.string),
    Options.optional,
    Options.mapEffect((given) =>
      Option.isNone(given) || choices.includes(given.value)
        ? Effect.succeed(given)
        : refuse(
          `${labelOf(spec)} ${JSON.stringify(given.value.slice(0, 60))} is not one of: ${choices.join(", ")}${
            guessOf(given.value, choices)
          }`
        )
    )
  )

const labelOf = (spec: FlagTable.FlagSpec) => spec.env === undefined ? `--${spec.name}` : `--${spec.name} (${spec.env})`

const build = (spec: FlagTable.FlagSpec): Options.Options<unknown> => {
  switch (spec.kind) {
    case "boolean":
      return Options.boolean(spec.name).pipe(described(spec), withEnv(spec, booleanConfig))
    case "text": {
      const text = Options.text(spec.name).pipe(described(spec), withEnv(spec, Config.string))
      return typeof spec.default === "string" ? Options.withDefault(text, spec.default) : Options.optional(text)
    }
    case "secret":
      return Options.redacted(spec.name).pipe(described(spec), withEnv(spec, Config.redacted), Options.optional)
    case "choice":
      return oneOf(spec, spec.choices ?? [])
    case "provider":
      return oneOf(spec, Providers.ids)
    case "integer": {
      const min = spec.min ?? Number.MIN_SAFE_INTEGER
      const max = spec.max ?? Number.MAX_SAFE_INTEGER
      const inRange = (n: number) =>
        Number.isSafeInteger(n) && n >= min && n <= max
          ? Effect.succeed(n)
          : refuse(`${labelOf(spec)} must be a whole number from ${min} to ${max}, got ${n}`)
      // read as text: @effect/cli's own refusal ("'0.3' is not a integer") names neither the flag nor the range
      const integer = Options.text(spec.name).pipe(
        Options.withPseudoName("integer"),
        described(spec),
        withEnv(spec, Config.string),
        Options.mapEffect((text) =>
          /^-?\d+$/.test(text.trim())
            ? Effect.succeed(Number(text.trim()))
            : refuse(
              `${labelOf(spec)} must be a whole number from ${min} to ${max}, got ${JSON.stringify(text.slice(0, 60))}`
            )
        )
      )
      return typeof spec.default === "number"
        ? integer.pipe(Options.withDefault(spec.default), Options.mapEffect(inRange))
        : integer.pipe(
          Options.optional,
          Options.mapEffect(
            Option.match({ onNone: () => Effect.succeedNone, onSome: (n) => Effect.asSome(inRange(n)) })
          )
        )
    }
    case "scopes":
      // Repeatable; the variable holds them space-separated.
      return Options.text(spec.name).pipe(
        described(spec),
        Options.repeated,
        Options.mapEffect((given) =>
          given.length > 0 || spec.env === undefined
            ? Effect.succeed(given as ReadonlyArray<string>)
            : Config.option(Config.string(spec.env)).pipe(
              Effect.map(Option.match({
                onNone: () => [] as ReadonlyArray<string>,
                onSome: (text) => text.split(" ").filter((s) => s !== "")
              })),
              Effect.mapError((error) => ValidationError.invalidValue(HelpDoc.p(`${spec.env}: ${String(error)}`)))
            )
        )
      )
  }
}

const built = new Map<FlagTable.Key, Options.Options<unknown>>()

/**
 * The option of one flag.
 *
 * @since 0.1.0
 * @category options
 */
export const option = <K extends FlagTable.Key>(key: K): Options.Options<ValueOf<K>> => {
  let options = built.get(key)
  if (options === undefined) {
    options = build(FLAGS[key])
    built.set(key, options)
  }
  return options as Options.Options<ValueOf<K>>
}

const FLAGS: Readonly<Record<FlagTable.Key, FlagTable.FlagSpec>> = FlagTable.FLAGS

/**
 * Every option `command` takes, as the table lists them.
 *
 * @since 0.1.0
 * @category options
 */
export const of = <C extends FlagTable.CommandName | "devflow">(command: C): OptionsOf<C> =>
  Object.fromEntries(FlagTable.keysOf(command).map((key) => [key, option(key)])) as unknown as OptionsOf<C>

/**
 * The options naming the server and the client, as commands receive them.
 *
 * @since 0.1.0
 * @category models
 */
export interface Server {
  readonly provider: Option.Option<Providers.ProviderId>
  readonly authority: Option.Option<string>
  readonly issuer: Option.Option<string>
  readonly clientId: Option.Option<string>
  readonly tenant: Option.Option<string>
  readonly audience: Option.Option<string>
  readonly startUrl: Option.Option<string>
  readonly region: Option.Option<string>
  readonly clientSecret: Option.Option<Redacted.Redacted<string>>
  readonly scope: ReadonlyArray<string>
  /** DPoP (RFC 9449) for the tokens of a sign-in */
  readonly dpop: boolean
}

/**
 * How the code reaches the person (login, token --login).
 *
 * @since 0.1.0
 * @category models
 */
export type Prompt = { readonly open: boolean; readonly copy: boolean; readonly noQr: boolean }
