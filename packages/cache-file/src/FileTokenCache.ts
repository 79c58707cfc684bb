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
 * - Long-lived secrets — refresh tokens and kept client secrets — go to the
 *   OS keychain (macOS Keychain, Windows Credential Manager, the Secret
 *   Service on Linux) when it answers, and the file keeps a reference to
 *   each (`secretStore`: `auto`, the default; `keychain` requires it; `file`
 *   keeps them in the file). Secrets found in the other place are moved
 *   there on first use, without a new sign-in.
 *
 * Access tokens and id_tokens (short-lived) stay in the file, in clear:
 * its protection is the file system's (see docs/caching.md).
 *
 * @example
 * ```ts
 * import { PublicClient } from "@devflow/core"
 * import { TestKit } from "@devflow/core/testing"
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
import { InvalidConfiguration } from "@devflow/core/DeviceFlowError"
import * as TokenCache from "@devflow/core/TokenCache"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as paths from "./CacheLocation.js"
import * as internal from "./internal/fileCache.js"
import * as secretStore from "./internal/secretStore.js"

/**
 * The cache file's name in its directory.
 *
 * @since 0.1.0
 * @category constants
 */
export const DEFAULT_FILE_NAME = "tokens.json"

/**
 * Options of make and layer.
 *
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
  /**
   * Where refresh tokens and kept client secrets live:
   * - `auto` (default): the OS keychain when it answers, else the file —
   *   with a warning (logged once) that names the risk and this setting
   * - `keychain`: the OS keychain, else `CacheUnavailable("keychain")`
   * - `file`: the file (0600), as before keychains were supported
   *
   * Access tokens and id_tokens always stay in the file.
   */
  readonly secretStore?: SecretStore | undefined
  /** longest wait for one keychain call (a locked keychain may wait for a password); default 20 s */
  readonly keychainTimeout?: Duration.DurationInput | undefined
  /**
   * How your users choose the file store, for the warning that tells them
   * they can (default `secretStore: "file"`; the devflow CLI names its flag
   * and variable).
   */
  readonly fileStoreSetting?: string | undefined
  /** told once about every unreadable file moved aside, besides the warning log */
  readonly onWarning?: ((warning: TokenCache.CacheCorrupt) => Effect.Effect<void>) | undefined
}

/**
 * Where a cache keeps its long-lived secrets; see {@link Options}.
 *
 * @since 0.1.0
 * @category models
 */
export type SecretStore = secretStore.Mode

/**
 * Every {@link SecretStore}, in the order the CLI lists them.
 *
 * @since 0.1.0
 * @category constants
 */
export const secretStores: ReadonlyArray<SecretStore> = secretStore.MODES

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
  environment: {
    readonly platform: NodeJS.Platform
    readonly env: Readonly<Record<string, string | undefined>>
    readonly home: string
  }
) => string = paths.defaultDirectory

/**
 * Open (creating if needed) the cache directory and build the cache. Fails
 * with `InvalidConfiguration` (naming the option) when an option is malformed
 * — an empty directory, a file name with a path in it, a duration that is not
 * positive and finite — and with `CacheUnavailable` when the directory cannot
 * be created or is not safe.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  options: Options = {}
): Effect.Effect<TokenCache.TokenCache, TokenCache.CacheUnavailable | InvalidConfiguration> =>
  Effect.suspend(() =>
    Effect.flatMap(validate(options), (settings) =>
      internal.make({
        ...settings,
        onWarning: options.onWarning ?? (() => Effect.void),
        fileStoreSetting: options.fileStoreSetting ?? "secretStore: \"file\""
      }))
  )

/**
 * A TokenCache layer on the file in a directory (the platform's per-user cache directory by default).
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options: Options = {}
): Layer.Layer<TokenCache.TokenCache, TokenCache.CacheUnavailable | InvalidConfiguration> =>
  Layer.effect(TokenCache.TokenCache, make(options))

const invalid = (field: string, reason: string) => Effect.fail(new InvalidConfiguration({ field, reason }))

// Options may come from untyped sources (flags, environment, files): every one is checked.
const validate = (options: Options) =>
  Effect.gen(function*() {
    if (options.directory !== undefined && (typeof options.directory !== "string" || options.directory.trim() === "")) {
      // an empty path would resolve to the working directory
      return yield* invalid("directory", "must be a non-empty path")
    }
    const fileName = options.fileName ?? DEFAULT_FILE_NAME
    if (
      typeof fileName !== "string" || fileName.trim() === "" || fileName === "." || fileName === ".." ||
      // eslint-disable-next-line no-control-regex
      /[/\\\u0000]/.test(fileName)
    ) {
      return yield* invalid(
        "fileName",
        `must be a plain file name, without a directory: ${JSON.stringify(String(fileName).slice(0, 100))}`
      )
    }
    const secretStore = options.secretStore ?? "auto"
    if (!secretStores.includes(secretStore)) {
      return yield* invalid(
        "secretStore",
        `must be one of ${secretStores.join(", ")}: ${JSON.stringify(String(secretStore).slice(0, 50))}`
      )
    }
    return {
      directory: options.directory ?? defaultDirectory(),
      fileName,
      secretStore,
      keychainTimeout: yield* positive("keychainTimeout", options.keychainTimeout, "20 seconds"),
      lockTimeout: yield* positive("lockTimeout", options.lockTimeout, "10 seconds"),
      refreshLockTimeout: yield* positive("refreshLockTimeout", options.refreshLockTimeout, "60 seconds"),
      staleLockAfter: yield* positive("staleLockAfter", options.staleLockAfter, "10 seconds")
    }
  })

// A zero or negative staleLockAfter would break every live lock; a zero timeout never waits at all.
const positive = (field: string, input: unknown, fallback: Duration.DurationInput) => {
  if (input === undefined) return Effect.succeed(Duration.decode(fallback))
  const decoded = Duration.decodeUnknown(input)
  if (Option.isNone(decoded) || !Duration.isFinite(decoded.value) || Duration.toMillis(decoded.value) <= 0) {
    return invalid(
      field,
      `must be a positive, finite duration (e.g. "10 seconds"): ${JSON.stringify(String(input).slice(0, 50))}`
    )
  }
  return Effect.succeed(decoded.value)
}

/**
 * The cache in {@link defaultDirectory}.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerDefault: Layer.Layer<TokenCache.TokenCache, TokenCache.CacheUnavailable | InvalidConfiguration> =
  layer()
