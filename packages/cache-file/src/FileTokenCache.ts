/**
 * The persistent `TokenCache`: one JSON file per user, shared safely by every
 * process of that user.
 *
 * - Location: `$XDG_CACHE_HOME/devflow` (else `~/.cache/devflow`) on Linux
 *   and other Unix systems, `~/Library/Caches/devflow` on macOS,
 *   `%LOCALAPPDATA%\devflow` on Windows; `tokens.json` inside. Both can be
 *   overridden.
 * - The directory is 0700 and the file 0600: checked on every use, tightened
 *   when looser, refused when owned by another user or when the file is a
 *   symbolic link.
 * - Every write is temp file + fsync + rename + directory fsync, under a
 *   cross-process lock file; a lock whose holder died is broken at once
 *   (holder pid), one whose holder cannot be checked once it has not been
 *   touched for `staleLockAfter`. Waiting is bounded by `lockTimeout`.
 * - Refreshes are single-flight across processes: `withRefreshLock` is a
 *   lock file per account, and silent acquisition reads the cache again once
 *   it holds it.
 * - A file that does not parse is moved aside to `tokens.json.corrupt-<time>-<pid>`,
 *   reported once (`Effect.logWarning` and `onWarning`), and the cache
 *   starts empty. A file in a newer format is refused
 *   (`CacheVersionUnsupported`) and never overwritten.
 *
 * The file holds the tokens in clear, as any token cache must: its
 * protection is the file system's (see docs/caching.md).
 *
 * @example
 * ```ts
 * import { PublicClient, TestKit } from "@devflow/core"
 * import { FileTokenCache } from "@devflow/cache-file"
 * import { Effect, Layer } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const client = yield* PublicClient.make({ config: yield* TestKit.config() })
 *   return yield* client.getAccounts
 * }).pipe(Effect.provide(Layer.merge(FileTokenCache.layerDefault, TestKit.layer(TestKit.scenarios.denied()))))
 * ```
 *
 * @since 0.1.0
 */
import * as TokenCache from "@devflow/core/TokenCache"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as internal from "./internal/fileCache.js"
import * as paths from "./internal/paths.js"

/**
 * @since 0.1.0
 * @category constants
 */
export const DEFAULT_FILE_NAME = "tokens.json"

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** the cache directory; default {@link defaultDirectory} */
  readonly directory?: string | undefined
  /** default {@link DEFAULT_FILE_NAME} */
  readonly fileName?: string | undefined
  /** longest wait for the data lock before failing with `CacheUnavailable("lock_timeout")` (default 10 s) */
  readonly lockTimeout?: Duration.DurationInput | undefined
  /** longest wait for another process's refresh of the same account (default 60 s) */
  readonly refreshLockTimeout?: Duration.DurationInput | undefined
  /**
   * A lock not touched for this long is abandoned even when its holder's pid
   * cannot be checked (another machine sharing the directory, a reused pid).
   * Holders touch their lock every quarter of this. Default 10 s.
   */
  readonly staleLockAfter?: Duration.DurationInput | undefined
  /** told once about every unreadable file moved aside, besides the warning log */
  readonly onWarning?: ((warning: TokenCache.CacheCorrupt) => Effect.Effect<void>) | undefined
}

/**
 * The platform's per-user cache directory for devflow, from the current
 * environment.
 *
 * @since 0.1.0
 * @category utils
 */
export const defaultDirectory = (): string => paths.defaultDirectory(paths.currentEnvironment())

/**
 * {@link defaultDirectory} for a given platform, environment and home directory.
 *
 * @since 0.1.0
 * @category utils
 */
export const defaultDirectoryFor: (
  environment: { readonly platform: NodeJS.Platform; readonly env: Readonly<Record<string, string | undefined>>; readonly home: string }
) => string = paths.defaultDirectory

/**
 * Open (creating if needed) the cache directory and build the cache. Fails
 * when the directory cannot be created or is not safe.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options = {}): Effect.Effect<TokenCache.TokenCache, TokenCache.CacheUnavailable> =>
  Effect.suspend(() =>
    internal.make({
      directory: options.directory ?? defaultDirectory(),
      fileName: options.fileName ?? DEFAULT_FILE_NAME,
      lockTimeout: Duration.decode(options.lockTimeout ?? "10 seconds"),
      refreshLockTimeout: Duration.decode(options.refreshLockTimeout ?? "60 seconds"),
      staleLockAfter: Duration.decode(options.staleLockAfter ?? "10 seconds"),
      onWarning: options.onWarning ?? (() => Effect.void)
    })
  )

/**
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options = {}): Layer.Layer<TokenCache.TokenCache, TokenCache.CacheUnavailable> =>
  Layer.effect(TokenCache.TokenCache, make(options))

/**
 * The cache in {@link defaultDirectory}.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerDefault: Layer.Layer<TokenCache.TokenCache, TokenCache.CacheUnavailable> = layer()
