/**
 * The options the commands share, each with its environment fallback
 * (`DEVFLOW_…`). docs/cli.md lists them all.
 *
 * @since 0.1.0
 */
import * as HelpDoc from "@effect/cli/HelpDoc"
import * as Options from "@effect/cli/Options"
import * as FileTokenCache from "@devflow/cache-file/FileTokenCache"
import * as ValidationError from "@effect/cli/ValidationError"
import * as Providers from "@devflow/core/Providers"
import * as Config from "effect/Config"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Redacted from "effect/Redacted"
import * as TokenFormat from "./internal/tokenFormat.js"

const described = (env: string, text: string) => Options.withDescription(`${text} (env ${env})`)

const optionalText = (name: string, env: string, text: string): Options.Options<Option.Option<string>> =>
  Options.text(name).pipe(described(env, text), Options.withFallbackConfig(Config.string(env)), Options.optional)

/**
 * A choice, refused with a message naming the flag, its variable and the
 * value (@effect/cli's own choice names neither).
 */
const oneOf = <A extends string>(
  name: string,
  env: string,
  choices: ReadonlyArray<A>,
  text: string
): Options.Options<Option.Option<A>> =>
  Options.text(name).pipe(
    Options.withPseudoName(choices.join(" | ")),
    described(env, `${text}. One of: ${choices.join(", ")}`),
    Options.withFallbackConfig(Config.string(env)),
    Options.optional,
    Options.mapEffect((given) => {
      if (Option.isNone(given) || (choices as ReadonlyArray<string>).includes(given.value)) {
        return Effect.succeed(given as Option.Option<A>)
      }
      return Effect.fail(
        ValidationError.invalidValue(
          HelpDoc.p(`--${name} (${env}) ${JSON.stringify(given.value.slice(0, 60))} is not one of: ${choices.join(", ")}`)
        )
      )
    })
  )

const flag = (name: string, env: string, text: string): Options.Options<boolean> =>
  Options.boolean(name).pipe(described(env, text), Options.withFallbackConfig(Config.boolean(env)))

/**
 * `--json`: JSON Lines on stdout, people's text on stderr.
 *
 * @since 0.1.0
 * @category options
 */
export const json = flag("json", "DEVFLOW_JSON", "Write JSON Lines to stdout (one event per line, the result last); messages stay on stderr")

/**
 * @since 0.1.0
 * @category options
 */
export const verbose = flag("verbose", "DEVFLOW_VERBOSE", "On failure, also show the error's details and cause chain (secrets stay redacted)")

/**
 * `--no-store-secret`: do not keep the client secret with the tokens.
 *
 * @since 0.1.0
 * @category options
 */
export const noStoreSecret = flag(
  "no-store-secret",
  "DEVFLOW_NO_STORE_SECRET",
  "Do not keep the client secret in the token cache (0600) with the tokens; later refreshes then need DEVFLOW_CLIENT_SECRET again"
)

/**
 * @since 0.1.0
 * @category options
 */
export const cacheDir = optionalText(
  "cache-dir",
  "DEVFLOW_CACHE_DIR",
  "Directory of the token cache and the profiles (default: the platform's per-user cache directory, e.g. ~/.cache/devflow)"
)

/**
 * `--secret-store`: where refresh tokens and kept client secrets live.
 *
 * @since 0.1.0
 * @category options
 */
export const secretStore: Options.Options<Option.Option<FileTokenCache.SecretStore>> = oneOf(
  "secret-store",
  "DEVFLOW_SECRET_STORE",
  FileTokenCache.secretStores,
  "Where refresh tokens and client secrets are kept: auto (default) the OS keychain when one answers, else the token cache file with a warning; keychain: the OS keychain or fail; file: the token cache file (0600)"
)

/**
 * @since 0.1.0
 * @category options
 */
export const profile = Options.text("profile").pipe(
  described("DEVFLOW_PROFILE", "Name under which login remembers its settings, and which settings token and logout use"),
  Options.withFallbackConfig(Config.string("DEVFLOW_PROFILE")),
  Options.withDefault("default")
)

/**
 * @since 0.1.0
 * @category options
 */
export const provider: Options.Options<Option.Option<Providers.ProviderId>> = oneOf(
  "provider",
  "DEVFLOW_PROVIDER",
  Providers.ids,
  "Provider preset (see `devflow providers`); generic when only --issuer is given"
)

/**
 * @since 0.1.0
 * @category options
 */
export const authority = optionalText(
  "authority",
  "DEVFLOW_AUTHORITY",
  "entra/entra-v1: the cloud's host (default https://login.microsoftonline.com); okta/keycloak/generic: the issuer; github/google/auth0/aws-sso: the base address replacing the public one"
)

/**
 * @since 0.1.0
 * @category options
 */
export const issuer = optionalText("issuer", "DEVFLOW_ISSUER", "OpenID Connect / RFC 8414 issuer, for discovery (okta, keycloak, generic)")

/**
 * @since 0.1.0
 * @category options
 */
export const clientId = optionalText("client-id", "DEVFLOW_CLIENT_ID", "OAuth client id (aws-sso: the name to register a client under)")

/**
 * @since 0.1.0
 * @category options
 */
export const tenant = optionalText("tenant", "DEVFLOW_TENANT", "entra/entra-v1: tenant id or domain (or organizations); auth0: tenant name")

/**
 * @since 0.1.0
 * @category options
 */
export const audience = optionalText("audience", "DEVFLOW_AUDIENCE", "auth0: the API audience; entra-v1: the resource")

/**
 * @since 0.1.0
 * @category options
 */
export const startUrl = optionalText("start-url", "DEVFLOW_START_URL", "aws-sso: the AWS access portal URL (https://d-….awsapps.com/start)")

/**
 * @since 0.1.0
 * @category options
 */
export const region = optionalText("region", "DEVFLOW_REGION", "aws-sso: the IAM Identity Center region, e.g. eu-west-1")

/**
 * @since 0.1.0
 * @category options
 */
export const clientSecret: Options.Options<Option.Option<Redacted.Redacted<string>>> = Options.redacted("client-secret")
  .pipe(
    described("DEVFLOW_CLIENT_SECRET", "Client secret, for providers that require one (google); prefer the environment variable"),
    Options.withFallbackConfig(Config.redacted("DEVFLOW_CLIENT_SECRET")),
    Options.optional
  )

/**
 * `--scope`, repeatable; `DEVFLOW_SCOPE` holds them space-separated.
 *
 * @since 0.1.0
 * @category options
 */
export const scope: Options.Options<ReadonlyArray<string>> = Options.text("scope").pipe(
  described("DEVFLOW_SCOPE", "A scope to request; repeat for several. Default: the profile's, else the preset's"),
  Options.repeated,
  Options.mapEffect((given) =>
    given.length > 0
      ? Effect.succeed(given as ReadonlyArray<string>)
      : Config.option(Config.string("DEVFLOW_SCOPE")).pipe(
        Effect.map(Option.match({
          onNone: () => [] as ReadonlyArray<string>,
          onSome: (text) => text.split(" ").filter((s) => s !== "")
        })),
        Effect.mapError((error) => ValidationError.invalidValue(HelpDoc.p(`DEVFLOW_SCOPE: ${String(error)}`)))
      )
  )
)

/**
 * The options naming the server and the client.
 *
 * @since 0.1.0
 * @category options
 */
export const server = {
  provider,
  authority,
  issuer,
  clientId,
  tenant,
  audience,
  startUrl,
  region,
  clientSecret,
  scope
}

/**
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
}

/**
 * How the code reaches the person (login, token --login).
 *
 * @since 0.1.0
 * @category options
 */
export const prompt = {
  open: flag("open", "DEVFLOW_OPEN", "Open the verification page in the default browser"),
  copy: flag("copy", "DEVFLOW_COPY", "Copy the user code to the clipboard (OSC 52 on a terminal, and wl-copy/xclip/xsel/pbcopy/clip when present)"),
  noQr: flag("no-qr", "DEVFLOW_NO_QR", "Do not draw a QR code of the verification URI")
}

/**
 * @since 0.1.0
 * @category models
 */
export type Prompt = { readonly open: boolean; readonly copy: boolean; readonly noQr: boolean }

/**
 * @since 0.1.0
 * @category options
 */
export const format: Options.Options<Option.Option<TokenFormat.Format>> = oneOf(
  "format",
  "DEVFLOW_FORMAT",
  TokenFormat.FORMATS,
  "raw: the access token alone; json: token, expiry, scopes, account; header: an Authorization header; k8s: a client.authentication.k8s.io/v1 ExecCredential"
)

/**
 * @since 0.1.0
 * @category options
 */
export const account = optionalText("account", "DEVFLOW_ACCOUNT", "The account (id or username, see `devflow accounts`); default: the profile's")
