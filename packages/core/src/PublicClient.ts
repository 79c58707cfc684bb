/**
 * A client facade in the spirit of MSAL's `PublicClientApplication`: sign in
 * with a device code once, then get tokens silently, from a shared
 * {@link TokenCache.TokenCache}.
 *
 * @example
 * ```ts
 * import { PublicClient, Silent, TokenCache } from "@devflow/core"
 * import { TestKit } from "@devflow/core/testing"
 * import { Console, Effect, Layer } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const client = yield* PublicClient.make({ config: yield* TestKit.config() })
 *   const scopes = ["openid", "offline_access"]
 *   const [account] = yield* client.getAccounts
 *   const silent = account === undefined
 *     ? Effect.fail(new Silent.InteractionRequired({ reason: "no_account", scopes }))
 *     : client.acquireTokenSilent(scopes, account)
 *   return yield* silent.pipe(
 *     Effect.catchTag("InteractionRequired", () =>
 *       client.acquireTokenWithDeviceCode({ scopes }, { onCode: (code) => Console.error(code.message) }))
 *   )
 * }).pipe(
 *   Effect.provide(Layer.merge(TokenCache.layerMemory, TestKit.layer(TestKit.scenarios.pendingThenSuccess(1))))
 * )
 * ```
 *
 * @since 0.1.0
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Account from "./Account.js"
import * as CacheContent from "./CacheContent.js"
import { type ClientConfig, validateEndpoint } from "./ClientConfig.js"
import type { DeviceCodeRequest } from "./DeviceAuthorization.js"
import * as DeviceFlow from "./DeviceFlow.js"
import { type DeviceFlowError, InvalidConfiguration } from "./DeviceFlowError.js"
import * as Dpop from "./Dpop.js"
import * as DpopKeep from "./internal/dpopKeep.js"
import * as internal from "./internal/silent.js"
import { DEFAULT_EXPIRY_SKEW, DEFAULT_REQUEST_TIMEOUT, type SilentError, type TokenResult } from "./Silent.js"
import { TokenCache, type TokenCacheError } from "./TokenCache.js"

/**
 * Options of make: the client configuration, the cache partition and tuning.
 *
 * @since 0.1.0
 * @category models
 */
export interface PublicClientOptions {
  readonly config: ClientConfig
  /**
   * The cache partition: the authority or issuer URL the client signs in at.
   * Defaults to the token endpoint, which identifies the server (and, for
   * Entra, the tenant) that issued the tokens.
   */
  readonly authority?: string | undefined
  /** default {@link Silent.DEFAULT_EXPIRY_SKEW} */
  readonly expirySkew?: Duration.DurationInput | undefined
  /** timeout of a refresh request, default {@link Silent.DEFAULT_REQUEST_TIMEOUT} */
  readonly requestTimeout?: Duration.DurationInput | undefined
  /** tuning for device code flows */
  readonly flow?: DeviceFlow.FlowOptions | undefined
  /**
   * Keep the configuration's client secret in the cache with the tokens, so
   * that a later refresh works without it (Google and GitHub Apps require it
   * on the refresh grant). Default `true`; a public client's secret is not
   * confidential (RFC 8252 §8.5), the refresh token next to it is.
   */
  readonly storeClientSecret?: boolean | undefined
}

/**
 * A device code request, plus the identity to file the tokens under when the
 * server sends no id_token (GitHub). Without one, such a server's tokens go
 * to the single account of this authority and client.
 *
 * @since 0.1.0
 * @category models
 */
export interface DeviceCodeTokenRequest extends DeviceCodeRequest {
  readonly identity?: Account.SuppliedIdentity | undefined
}

/**
 * Options of acquireTokenSilent.
 *
 * @since 0.1.0
 * @category models
 */
export interface SilentOptions {
  /** refresh even when the cached access token is still good (e.g. the resource refused it) */
  readonly forceRefresh?: boolean | undefined
}

/**
 * A client application with accounts and a token cache, in the model of MSAL's PublicClientApplication: device code sign-in, accounts, silent acquisition, sign-out.
 *
 * @since 0.1.0
 * @category models
 */
export interface PublicClient {
  readonly config: ClientConfig
  readonly authority: string
  /** the accounts holding tokens of this client at this authority */
  readonly getAccounts: Effect.Effect<ReadonlyArray<Account.Account>, TokenCacheError>
  readonly getAccount: (id: string) => Effect.Effect<Option.Option<Account.Account>, TokenCacheError>
  /** run the device code flow and store its tokens under the signed-in account */
  readonly acquireTokenWithDeviceCode: <R = never>(
    request: DeviceCodeTokenRequest,
    options: DeviceFlow.AcquireOptions<R>
  ) => Effect.Effect<TokenResult, DeviceFlowError | TokenCacheError, R>
  /**
   * A token for `scopes` (the configuration's scopes when empty) without the
   * user; see {@link Silent.acquireSilent}.
   */
  readonly acquireTokenSilent: (
    scopes: ReadonlyArray<string>,
    account: Account.Account,
    options?: SilentOptions
  ) => Effect.Effect<TokenResult, SilentError>
  /** sign out: forget the account and every token it holds at this authority */
  readonly removeAccount: (account: Account.Account) => Effect.Effect<void, TokenCacheError>
  /**
   * The DPoP key the account's tokens are bound to, kept with them (RFC 9449 §5), for
   * resource requests in any process: `Dpop.proof(key, { method, url, accessToken })`,
   * or `Dpop.layerKey(key)` for `Dpop.proofFor` and `Dpop.withAccessToken`. None when
   * the tokens are Bearer tokens or the kept key is damaged.
   */
  readonly dpopKey: (account: Account.Account) => Effect.Effect<Option.Option<Dpop.KeyPair>, TokenCacheError>
}

/**
 * A client application with accounts and a token cache, in the model of MSAL's PublicClientApplication: device code sign-in, accounts, silent acquisition, sign-out.
 *
 * @since 0.1.0
 * @category tags
 */
export const PublicClient: Context.Tag<PublicClient, PublicClient> = Context.GenericTag<PublicClient>(
  "@devflow/core/PublicClient"
)

/**
 * A client on the {@link TokenCache.TokenCache} and `HttpClient` in context.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  options: PublicClientOptions
): Effect.Effect<PublicClient, InvalidConfiguration, TokenCache | HttpClient.HttpClient> =>
  Effect.gen(function*() {
    const cache = yield* TokenCache
    const http = yield* HttpClient.HttpClient
    const { config } = options
    const authority = options.authority === undefined
      ? config.endpoints.token
      : yield* validateEndpoint("authority", options.authority)
    const clientId = config.clientId
    const skewMillis = Duration.toMillis(options.expirySkew ?? DEFAULT_EXPIRY_SKEW)
    const timeout = Duration.decode(options.requestTimeout ?? DEFAULT_REQUEST_TIMEOUT)

    const acquireTokenWithDeviceCode = <R = never>(
      request: DeviceCodeTokenRequest,
      flowOptions: DeviceFlow.AcquireOptions<R>
    ): Effect.Effect<TokenResult, DeviceFlowError | TokenCacheError, R> =>
      Effect.gen(function*() {
        const identity = request.identity
        if (identity !== undefined && identity.id.trim() === "") {
          return yield* new InvalidConfiguration({ field: "identity.id", reason: "must not be empty" })
        }
        // before a code is asked for: nobody should approve on their phone for tokens the cache would refuse
        yield* cache.checkWritable
        // RFC 9449 §5: the tokens are bound to the key the polls prove; it is kept with them (null: not bound)
        const key = yield* DpopKeep.forSignIn(config)
        const result = yield* DpopKeep.provide(
          DeviceFlow.acquireToken(config, request, { ...options.flow, ...flowOptions }),
          key?.holder
        )
        const dpopKey = key !== undefined && result.tokenType.toLowerCase() === "dpop" ? key.stored : null
        const account = Account.fromResult(authority, clientId, Option.getOrUndefined(result.idTokenClaims), identity)
        const now = yield* Clock.currentTimeMillis
        const secret = config.clientSecret !== undefined && config.clientAuthMethod !== "none" &&
            options.storeClientSecret !== false
          ? { tokenEndpoint: config.endpoints.token, secret: config.clientSecret, authMethod: config.clientAuthMethod }
          : undefined
        const store = Effect.gen(function*() {
          yield* cache.save({
            ...internal.saveInput(authority, clientId, account, result, now),
            client: secret,
            dpopKey
          })
          if (options.storeClientSecret === false) {
            // opting out also forgets a secret an earlier sign-in kept (a registration is not the user's secret)
            yield* cache.modifyAccount(authority, account.id, (content) => {
              const kept = CacheContent.findClient(content, config.endpoints.token, clientId)
              return [
                undefined,
                kept === undefined || kept.registration !== undefined
                  ? content
                  : CacheContent.withoutClient(content, config.endpoints.token, clientId)
              ] as const
            })
          }
        })
        // the device code is spent once redeemed: a refused save must not throw the sign-in away, nor hide
        const unsaved = yield* Effect.catchAll(Effect.as(store, undefined), (error) => Effect.succeed(error))
        const tokens = internal.toTokenResult(account, result, "device_code")
        return unsaved === undefined ? tokens : { ...tokens, unsaved }
      }).pipe(Effect.provideService(HttpClient.HttpClient, http))

    return {
      config,
      authority,
      getAccounts: cache.getAccounts(authority, clientId),
      // one account's view: as getAccounts lists it, without reading every other account of a shared cache
      getAccount: (id) =>
        Effect.map(
          cache.readAccount(authority, id),
          (content) =>
            Option.fromNullable(CacheContent.listAccounts(content, authority, clientId).find((a) => a.id === id))
        ),
      acquireTokenWithDeviceCode,
      acquireTokenSilent: (scopes, account, silentOptions) =>
        internal.acquireSilentWith(cache, {
          config,
          authority,
          account,
          scopes: scopes.length === 0 ? config.scopes : scopes,
          forceRefresh: silentOptions?.forceRefresh ?? false,
          skewMillis,
          timeout
        }, Effect.provideService(HttpClient.HttpClient, http)),
      removeAccount: (account) => Effect.asVoid(cache.removeAccount(authority, account.id)),
      dpopKey: (account) =>
        Effect.flatMap(cache.readAccount(authority, account.id), (content) => {
          const kept = CacheContent.findDpopKey(content, authority, clientId, account.id)
          return kept === undefined ? Effect.succeedNone : Dpop.restore(kept)
        })
    }
  })

/**
 * A layer providing the PublicClient service.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options: PublicClientOptions
): Layer.Layer<PublicClient, InvalidConfiguration, TokenCache | HttpClient.HttpClient> =>
  Layer.effect(PublicClient, make(options))
