/**
 * `devflow login`: sign in with a device code and keep the tokens in the
 * cache; remember the settings as a profile.
 *
 * @since 0.1.0
 */
import * as FileTokenCache from "@devflow/cache-file/FileTokenCache"
import * as CacheContent from "@devflow/core/CacheContent"
import * as PublicClient from "@devflow/core/PublicClient"
import * as ServerMetadata from "@devflow/core/ServerMetadata"
import type * as Silent from "@devflow/core/Silent"
import * as TokenCache from "@devflow/core/TokenCache"
import * as Command from "@effect/cli/Command"
import type * as HttpClient from "@effect/platform/HttpClient"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as path from "node:path"
import type * as CliError from "../CliError.js"
import * as Flags from "../Flags.js"
import * as Help from "../Help.js"
import * as Http from "../Http.js"
import * as FlagTable from "../internal/flagTable.js"
import * as Output from "../Output.js"
import * as ResultJson from "../ResultJson.js"
import * as Root from "../Root.js"
import * as SignIn from "../SignIn.js"
import * as Target from "../Target.js"

/**
 * The services a command talking to a server needs: the HTTP client (loaded
 * at its first request), discovery, and the file cache in `directory`
 * (its secrets where `--secret-store` says).
 *
 * @since 0.1.0
 * @category layers
 */
export const services = (directory: string, secretStore: Option.Option<FileTokenCache.SecretStore>) =>
  Layer.mergeAll(
    ServerMetadata.layer().pipe(Layer.provideMerge(Http.layerLazy)),
    FileTokenCache.layer({
      directory,
      secretStore: Option.getOrUndefined(secretStore),
      fileStoreSetting: FlagTable.FILE_STORE_SETTING
    })
  )

/**
 * @since 0.1.0
 * @category commands
 */
export const login = Command.make(
  "login",
  Flags.of("login"),
  Root.handle((options, context) => {
    const directory = Target.directoryOf(options.cacheDir)
    const signIn = (retry: boolean): Effect.Effect<
      { readonly result: Silent.TokenResult; readonly target: Target.Target },
      CliError.CliError,
      TokenCache.TokenCache | HttpClient.HttpClient | ServerMetadata.Discovery
    > =>
      Effect.gen(function*() {
        const target = yield* Target.make(options, options, "login")
        const { config } = target
        const client = yield* PublicClient.make({ config, storeClientSecret: !options.noStoreSecret })
        const cache = yield* TokenCache.TokenCache
        const result = yield* SignIn.signIn(client, target, config.scopes, { prompt: options, json: context.json })
          .pipe(
            // AWS: a kept client registration the service no longer accepts is forgotten and a new one made, once
            Effect.catchTag("OAuthError", (error) =>
              Effect.flatMap(
                cache.modify((content) => {
                  const kept = CacheContent.findClient(content, config.endpoints.token, config.clientId)
                  const forget = retry && error.error === "invalid_client" && kept?.registration !== undefined
                  return forget
                    ? [true, CacheContent.withoutClient(content, config.endpoints.token, config.clientId)] as const
                    : [false, content] as const
                }),
                (forgotten) => (forgotten ? Effect.map(signIn(false), (again) => again.result) : Effect.fail(error))
              ))
          )
        return { result, target }
      })
    return Effect.gen(function*() {
      const { result, target } = yield* signIn(true)
      if (context.json) {
        Output.stdout().line(JSON.stringify({
          event: "result",
          account: ResultJson.accountJson(result.account),
          profile: target.profileName,
          cache: path.join(directory, FileTokenCache.DEFAULT_FILE_NAME),
          token_type: result.tokenType,
          scopes: result.scopes,
          expires_on: Option.getOrNull(Option.map(result.expiresOn, DateTime.formatIso))
        }))
      }
    }).pipe(
      Effect.provide(services(directory, options.secretStore)),
      // before the cache layer tries to create the directory
      (body) => Effect.zipRight(Target.checkDirectory(options.cacheDir), body)
    )
  })
).pipe(
  Command.withDescription(Help.summaryOf("login"))
)
