/**
 * The token cache port: where accounts and their tokens live between sign-ins.
 *
 * A cache implementation provides three primitives — a consistent `read`, an
 * atomic `modify` and an exclusive `withRefreshLock` — over a
 * {@link CacheContent.CacheContent} and {@link make} derives the rest. This
 * module also holds the port's errors and the in-memory implementation,
 * {@link layerMemory}; the persistent one is `@devflow/cache-file`, the shared
 * one `@devflow/store-redis`. What the cache holds, its queries and its JSON
 * form are `CacheContent`.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import * as Ref from "effect/Ref"
import * as Schema from "effect/Schema"
import type { Account } from "./Account.js"
import type { CacheContent, SaveInput } from "./CacheContent.js"
import * as internal from "./internal/cacheContent.js"
import * as telemetry from "./internal/telemetry.js"
import * as KeyedLock from "./KeyedLock.js"

// ---------------------------------------------------------------------------
// errors
// ---------------------------------------------------------------------------

/**
 * The stored cache could not be understood: not JSON, not an object, a field
 * missing or malformed, truncated. A persistent cache moves such a file aside
 * (`movedTo`) and starts empty; it reports this as a warning, not a failure.
 *
 * @since 0.1.0
 * @category errors
 */
export class CacheCorrupt extends Schema.TaggedError<CacheCorrupt>("@devflow/core/CacheCorrupt")("CacheCorrupt", {
  location: Schema.String,
  /** what is wrong, naming the field; never quotes the content */
  reason: Schema.String,
  /** where the unreadable file was moved, if it was */
  movedTo: Schema.optional(Schema.String)
}) {
  override get message(): string {
    const what = `The token cache ${this.location} is unreadable (${this.reason})`
    return this.movedTo === undefined
      ? what
      : `${what}: it was moved to ${this.movedTo} and a new, empty cache was started. Sign in again`
  }
}

/**
 * The stored cache was written by a newer devflow in a format this version
 * does not know. It is refused and left untouched, never overwritten.
 *
 * @since 0.1.0
 * @category errors
 */
export class CacheVersionUnsupported extends Schema.TaggedError<CacheVersionUnsupported>(
  "@devflow/core/CacheVersionUnsupported"
)("CacheVersionUnsupported", {
  location: Schema.String,
  /** the version found in the cache */
  version: Schema.Number,
  /** the newest version this devflow reads */
  supported: Schema.Number
}) {
  override get message(): string {
    return `The token cache ${this.location} has format version ${this.version}, written by a newer devflow; ` +
      `this version reads format ${this.supported} at most. The cache was left untouched: ` +
      `upgrade devflow, or use another cache location`
  }
}

/**
 * The cache cannot be used right now, or not safely.
 *
 * - `lock_timeout`: another process held the cache's lock longer than the
 *   configured bound (it is alive and not stale)
 * - `insecure`: the cache directory or file is owned by another user, is a
 *   symbolic link, or its permissions could not be tightened
 * - `io`: the file system refused (no space, read-only, I/O error, ...)
 * - `keychain`: the OS keychain holding the cache's secrets is not reachable
 *   or refused (a cache configured to require it)
 * - `connection`: the server holding a shared cache (Redis) cannot be reached,
 *   or was lost while a write held its lock
 *
 * @since 0.1.0
 * @category errors
 */
export class CacheUnavailable extends Schema.TaggedError<CacheUnavailable>("@devflow/core/CacheUnavailable")(
  "CacheUnavailable",
  {
    location: Schema.String,
    reason: Schema.Literal("lock_timeout", "insecure", "io", "keychain", "connection"),
    detail: Schema.String,
    cause: Schema.optional(Schema.Defect)
  }
) {
  override get message(): string {
    switch (this.reason) {
      case "lock_timeout":
        return `The token cache ${this.location} is busy: ${this.detail}`
      case "insecure":
        return `The token cache ${this.location} is not safe to use: ${this.detail}`
      case "io":
        return `The token cache ${this.location} cannot be used: ${this.detail}`
      case "keychain":
        return `The token cache ${this.location} keeps its secrets in the OS keychain, which cannot be used: ${this.detail}`
      case "connection":
        return `The token cache ${this.location} cannot be reached: ${this.detail}`
    }
  }
}

/**
 * Every failure of a token cache.
 *
 * @since 0.1.0
 * @category errors
 */
export type TokenCacheError = CacheCorrupt | CacheVersionUnsupported | CacheUnavailable

/**
 * The errors a token cache can fail with: CacheCorrupt, CacheVersionUnsupported, CacheUnavailable.
 *
 * @since 0.1.0
 * @category schemas
 */
export const TokenCacheError: Schema.Union<
  [typeof CacheCorrupt, typeof CacheVersionUnsupported, typeof CacheUnavailable]
> = Schema.Union(CacheCorrupt, CacheVersionUnsupported, CacheUnavailable)

const errorTags: ReadonlySet<string> = new Set(["CacheCorrupt", "CacheVersionUnsupported", "CacheUnavailable"])

/**
 * Whether a value is one of the token cache's errors.
 *
 * @since 0.1.0
 * @category refinements
 */
export const isTokenCacheError = (u: unknown): u is TokenCacheError =>
  Predicate.hasProperty(u, "_tag") && typeof u._tag === "string" && errorTags.has(u._tag) && u instanceof Error

// ---------------------------------------------------------------------------
// port
// ---------------------------------------------------------------------------

/**
 * A token cache. Implementations provide `location`, `read`, `modify` and
 * `withRefreshLock` (and may provide `readAccount`, `modifyAccount` and
 * `checkWritable`); {@link make} derives the rest.
 *
 * @since 0.1.0
 * @category models
 */
export interface TokenCache {
  /** where the content lives, for messages (`"memory"`, a file path) */
  readonly location: string
  /** the current content, a consistent snapshot */
  readonly read: Effect.Effect<CacheContent, TokenCacheError>
  /**
   * Replace the content with what `f` makes of the current one, atomically:
   * no other `modify` of the same cache (in any process, for a shared cache)
   * runs in between, so none of them loses another's change. When `f`
   * returns the content it was given, nothing is written.
   */
  readonly modify: <A>(f: (content: CacheContent) => readonly [A, CacheContent]) => Effect.Effect<A, TokenCacheError>
  /**
   * {@link read}, as far as one account is concerned: a consistent snapshot
   * holding at least that account's record and tokens (for every client) and
   * every client registration. A cache shared by many accounts reads only
   * those, so that one account's call costs the same however many others
   * there are; the others give the whole content.
   */
  readonly readAccount: (authority: string, accountId: string) => Effect.Effect<CacheContent, TokenCacheError>
  /**
   * {@link modify} on {@link readAccount}'s snapshot, with `modify`'s
   * guarantees. A change that reaches beyond that account and the client
   * registrations is made as `modify` would make it, on the whole content.
   */
  readonly modifyAccount: <A>(
    authority: string,
    accountId: string,
    f: (content: CacheContent) => readonly [A, CacheContent]
  ) => Effect.Effect<A, TokenCacheError>
  /**
   * Run `effect` holding the exclusive lock named `key`, shared by every user
   * of the same cache (other processes included, for a shared cache). Silent
   * acquisition takes it around a refresh, so that one refresh serves all.
   *
   * `settled`, when given, tells whether waiting is still needed: a cache
   * whose waiters learn that the lock was released may run it first, and when
   * it gives a value, that is the result and the lock is not taken (whoever
   * just held it stored what was wanted). Caches may ignore it.
   */
  readonly withRefreshLock: <A, E, R>(
    key: string,
    effect: Effect.Effect<A, E, R>,
    settled?: Effect.Effect<Option.Option<A>, E, R>
  ) => Effect.Effect<A, E | TokenCacheError, R>
  /** {@link modify} without a result */
  readonly update: (f: (content: CacheContent) => CacheContent) => Effect.Effect<void, TokenCacheError>
  /** see {@link listAccounts} */
  readonly getAccounts: (authority: string, clientId?: string) => Effect.Effect<ReadonlyArray<Account>, TokenCacheError>
  /** see {@link withTokens} */
  readonly save: (input: SaveInput) => Effect.Effect<void, TokenCacheError>
  /** see {@link withoutAccount}; `true` when something was removed */
  readonly removeAccount: (authority: string, accountId: string) => Effect.Effect<boolean, TokenCacheError>
  /** forget everything */
  readonly clear: Effect.Effect<void, TokenCacheError>
  /**
   * Fails when a sign-in's tokens could not be stored now (a file cache's
   * keychain that refuses items). A device-code sign-in checks it before it
   * asks for a code, so that nobody approves on their phone for tokens the
   * cache would then refuse. Succeeds for caches without such a condition.
   */
  readonly checkWritable: Effect.Effect<void, TokenCacheError>
}

/**
 * The token cache service.
 *
 * @since 0.1.0
 * @category tags
 */
export const TokenCache: Context.Tag<TokenCache, TokenCache> = Context.GenericTag<TokenCache>(
  "@devflow/core/TokenCache"
)

/**
 * The primitives a cache implementation provides.
 *
 * @since 0.1.0
 * @category models
 */
export type TokenCacheImpl =
  & Pick<TokenCache, "location" | "read" | "modify" | "withRefreshLock">
  & Partial<Pick<TokenCache, "checkWritable" | "readAccount" | "modifyAccount">>

/**
 * A {@link TokenCache} from its primitives.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (impl: TokenCacheImpl): TokenCache => {
  const traced = tracedCache(impl)
  return {
    ...impl,
    read: traced.read,
    modify: traced.modify,
    readAccount: traced.readAccount,
    modifyAccount: traced.modifyAccount,
    update: (f) => traced.modify((content) => [undefined, f(content)] as const),
    getAccounts: (authority, clientId) =>
      Effect.map(traced.read, (content) => internal.accountsOf(content, authority, clientId)),
    // A sign-in and a sign-out touch one account: on a cache shared by many, they read and write
    // that account's part only, as a refresh does, whatever the number of others (issue 23).
    save: (input) =>
      traced.modifyAccount(
        input.authority,
        input.account.id,
        (content) => [undefined, internal.save(content, input)] as const
      ),
    removeAccount: impl.modifyAccount === undefined
      ? (authority, accountId) =>
        traced.modify((content) => {
          const next = internal.removeAccount(content, authority, accountId)
          return [next !== content, next] as const
        })
      : (authority, accountId) =>
        Effect.flatMap(
          traced.modifyAccount(authority, accountId, (content) => {
            const next = internal.withoutAccountTokens(content, authority, accountId)
            // a client secret the user gave may have been this account's last use: only the whole content can tell
            const secretsLeft = next !== content && internal.withoutUnusedSecrets(next) !== next
            return [next === content ? "kept" : secretsLeft ? "secrets" : "removed", next] as const
          }),
          (outcome) =>
            outcome === "secrets"
              ? Effect.as(
                traced.modify((content) => [undefined, internal.withoutUnusedSecrets(content)] as const),
                true
              )
              : Effect.succeed(outcome === "removed")
        ),
    clear: traced.modify((content) => [undefined, internal.size(content) === 0 ? content : internal.empty] as const),
    checkWritable: impl.checkWritable ?? Effect.void
  }
}

// One span per read and per write, when the application traces (see internal/telemetry.ts).
const tracedCache = (
  impl: TokenCacheImpl
): Pick<TokenCache, "read" | "modify" | "readAccount" | "modifyAccount"> => {
  const attributes = { "devflow.cache.location": impl.location }
  // a cache hit is the silent path's whole cost (B4): untraced, nothing is added to it
  const read = telemetry.traced("devflow.cache.read", attributes)
  const write = telemetry.traced("devflow.cache.write", attributes)
  const { modifyAccount, readAccount } = impl
  const whole = read(impl.read)
  return {
    read: whole,
    modify: (f) => write(impl.modify(f)),
    readAccount: readAccount === undefined
      ? () => whole
      : (authority, accountId) => read(readAccount(authority, accountId)),
    modifyAccount: modifyAccount === undefined
      ? (_authority, _accountId, f) => write(impl.modify(f))
      : (authority, accountId, f) => write(modifyAccount(authority, accountId, f))
  }
}

/**
 * A cache in this process's memory, starting from `initial` (empty by
 * default). `withRefreshLock` serialises the fibers of this process.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeMemory = (initial: CacheContent = internal.empty): Effect.Effect<TokenCache> =>
  Effect.map(Ref.make(initial), (ref) => {
    const locks = KeyedLock.make()
    return make({
      location: "memory",
      read: Ref.get(ref),
      modify: (f) => Ref.modify(ref, f),
      withRefreshLock: (key, effect) => locks.withLock(key, effect)
    })
  })

/**
 * An empty in-memory cache: the default for tests and for programs that
 * need no persistence.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerMemory: Layer.Layer<TokenCache> = Layer.effect(TokenCache, makeMemory())
