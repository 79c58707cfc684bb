/**
 * The `FlowStore` on Redis: any instance starts, watches, cancels and lists
 * any flow, and exactly one instance polls each device code.
 *
 * - A flow is one record `<prefix>:flow:{<id>}` (a small JSON object: status,
 *   fencing counter, the code as shown, the poll state, the sealed secret part
 *   of the `DeviceSession`, the final update) and a lease
 *   `<prefix>:flow:{<id>}:lease:<fence>` named by the poller's fencing token,
 *   holding the live poll state. Both carry the hash tag `{<id>}`, so every
 *   script touches one slot (Redis Cluster). A pending flow holds under 1 KB.
 * - Each poll is one command: a script whose `SET … XX PX` on the lease is
 *   the fence check, the state write and the renewal, then one `PUBLISH`
 *   to watchers (3 commands in Redis). The lease is renewed apart from a
 *   poll only when the next poll comes too late to. The poller stops
 *   polling before the lease can have expired in Redis, unless a poll is in
 *   flight; a poller that lost its lease can store nothing but tokens it
 *   was given (the code is spent: they are the truth).
 * - Each instance scans `<prefix>:flows:pending` (a sorted set of when to
 *   look at a flow next) and takes over flows whose lease expired: it resumes
 *   from the stored session with its interval and every slow_down kept, and
 *   waits a full interval before its first poll (`DeviceFlow.resumeEvents`).
 *   Each scan also moves on the entries of the flows this instance holds,
 *   hundreds per command, so that polls need not.
 * - Updates are published on the flow's channel; watchers also re-read the
 *   state every `resyncEvery`, so a lost message delays them, never loses
 *   the result. A finished flow's final update stays for `retention`.
 * - Tokens and device codes are sealed (AES-256-GCM, {@link Keyring}).
 *
 * @since 0.1.0
 */
import type { ClientConfig } from "@devflow/core/ClientConfig"
import * as FlowStore from "@devflow/core/FlowStore"
import * as RequestLimits from "@devflow/core/RequestLimits"
import type * as HttpClient from "@effect/platform/HttpClient"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as internal from "./internal/flowStore.js"
import { RedisConnection } from "./RedisConnection.js"

/**
 * Options of the Redis flow store: key prefix, lease length, takeover scan, the keyring.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options extends FlowStore.Options {
  /** how long a poller's lease lasts without renewal: the takeover time after a crash (default 10 s) */
  readonly lease?: Duration.DurationInput | undefined
  /** how often each instance looks for flows to take over (default half the lease) */
  readonly scanEvery?: Duration.DurationInput | undefined
  /**
   * After a takeover, when the server calls the code spent (invalid_grant) or
   * expired, how long to wait for the previous holder's outcome before
   * storing the failure: its poll may have been answered with the tokens
   * (default the request timeout, 30 s)
   */
  readonly takeoverGrace?: Duration.DurationInput | undefined
  /** how often a watcher re-reads the state besides listening (default 5 s) */
  readonly resyncEvery?: Duration.DurationInput | undefined
}

/**
 * The FlowStore on Redis, as an effect.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  config: ClientConfig,
  options: Options = {}
): Effect.Effect<FlowStore.FlowStore, never, RedisConnection | HttpClient.HttpClient | Scope.Scope> =>
  Effect.flatMap(RedisConnection, (connection) => {
    const lease = Duration.decode(options.lease ?? "10 seconds")
    return internal.make(connection, config, {
      lease,
      scanEvery: Duration.decode(options.scanEvery ?? Duration.times(lease, 0.5)),
      resyncEvery: Duration.decode(options.resyncEvery ?? "5 seconds"),
      retention: Duration.decode(options.retention ?? "10 minutes"),
      takeoverGrace: Duration.decode(
        options.takeoverGrace ?? options.requestTimeout ?? Duration.millis(RequestLimits.DEFAULT_TIMEOUT_MS)
      ),
      flow: { requestTimeout: options.requestTimeout, policy: options.policy }
    })
  })

/**
 * A FlowStore layer on Redis.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  config: ClientConfig,
  options: Options = {}
): Layer.Layer<FlowStore.FlowStore, never, RedisConnection | HttpClient.HttpClient> =>
  Layer.scoped(FlowStore.FlowStore, make(config, options))
