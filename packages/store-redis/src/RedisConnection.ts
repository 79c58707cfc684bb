/**
 * The connection both Redis layers share: one command connection, one
 * subscriber connection (pub/sub needs its own), the key prefix and the
 * {@link Keyring.Keyring} that seals secrets.
 *
 * Every command goes through {@link RedisConnection.run} or
 * {@link RedisConnection.script}: a time limit per try and a bounded number
 * of tries with backoff, so a lost connection or a restarting Redis becomes
 * a typed {@link RedisUnavailable} after a few seconds, never a hang and
 * never a crash. The client reconnects on its own in the background
 * (backoff capped at 1 s).
 *
 * Works with a single node or a Redis Cluster (`ioredis` `Cluster`): every
 * key of one flow, and every key of the token cache, carries the same hash
 * tag (`{…}`), so each script touches one slot.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import type { Cluster, Redis, RedisOptions } from "ioredis"
import * as internal from "./internal/connection.js"
import type * as Keyring from "./Keyring.js"

/**
 * Redis did not answer in time, refused, or was unreachable, after the
 * bounded retries.
 *
 * @since 0.1.0
 * @category errors
 */
export const RedisUnavailable: typeof internal.RedisUnavailable = internal.RedisUnavailable

/**
 * An instance of {@link RedisUnavailable}.
 *
 * @since 0.1.0
 * @category errors
 */
export type RedisUnavailable = internal.RedisUnavailable

/**
 * A Lua script, run by its SHA1 (loaded on first use and after a restart).
 *
 * @since 0.1.0
 * @category models
 */
export interface Script {
  readonly name: string
  readonly lua: string
  readonly sha: string
}

/**
 * A Redis connection with bounded retries and typed errors.
 *
 * @since 0.1.0
 * @category models
 */
export interface RedisConnection {
  /** `redis://host:port/db` without credentials, for messages */
  readonly location: string
  /** every key starts with this, then `:` */
  readonly prefix: string
  readonly keyring: Keyring.Keyring
  readonly client: Redis | Cluster
  /** one command (or pipeline), with the time limit and bounded retries */
  readonly run: <A>(operation: string, f: (client: Redis | Cluster) => Promise<A>) => Effect.Effect<A, RedisUnavailable>
  readonly script: (
    script: Script,
    keys: ReadonlyArray<string>,
    args: ReadonlyArray<string | number>
  ) => Effect.Effect<unknown, RedisUnavailable>
  /** deliver `channel`'s messages to `listener` until the scope closes */
  readonly subscribe: (
    channel: string,
    listener: (message: string) => void
  ) => Effect.Effect<void, RedisUnavailable, Scope.Scope>
  /** counts of commands sent, for measurements */
  readonly stats: { commands: number; scripts: number; publishes: number }
}

/**
 * A Redis connection with bounded retries and typed errors.
 *
 * @since 0.1.0
 * @category tags
 */
export const RedisConnection: Context.Tag<RedisConnection, RedisConnection> = Context.GenericTag<RedisConnection>(
  "@devflow/store-redis/RedisConnection"
)

/**
 * Options of the connection: the Redis URL, command timeout and retries.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** `redis://[user:password@]host:port[/db]` (default `redis://127.0.0.1:6379`) */
  readonly url?: string | undefined
  /** extra ioredis options (TLS, password, ...) */
  readonly redisOptions?: RedisOptions | undefined
  /** build the clients yourself, e.g. a `Cluster`; the layer quits them when it closes */
  readonly connect?: (() => { readonly client: Redis | Cluster; readonly subscriber: Redis | Cluster }) | undefined
  /** key prefix (default `devflow`) */
  readonly prefix?: string | undefined
  readonly keyring: Keyring.Keyring
  /** time limit of one try of one command (default 2 s) */
  readonly commandTimeout?: Duration.DurationInput | undefined
  /** tries per command before RedisUnavailable (default 4: about 2 s of backoff) */
  readonly attempts?: number | undefined
}

/**
 * A Lua script run on Redis (by its SHA, loaded on first use).
 *
 * @since 0.1.0
 * @category constructors
 */
export const script = (name: string, lua: string): Script => internal.script(name, lua)

/**
 * Connect (the clients connect in the background; the first command waits
 * for them within its time limit) and quit when the scope closes.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options): Effect.Effect<RedisConnection, never, Scope.Scope> =>
  internal.make({
    ...options,
    commandTimeout: Duration.toMillis(options.commandTimeout ?? "2 seconds"),
    attempts: Math.max(1, Math.floor(options.attempts ?? 4))
  })

/**
 * A layer providing the RedisConnection.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options): Layer.Layer<RedisConnection> => Layer.scoped(RedisConnection, make(options))
