/**
 * Locks of this process by key (an account, a lock file): one fiber holds a
 * key's lock at a time, the others wait in turn, and a key is remembered
 * only while its lock is held or awaited — a long-lived process that meets
 * ever more keys does not grow with them.
 *
 * @example
 * ```ts
 * import { KeyedLock } from "@devflow/core"
 * import { Effect } from "effect"
 *
 * const locks = KeyedLock.make()
 * // refreshes of one account run one at a time; other accounts do not wait
 * const refresh = (account: string) => locks.withLock(account, Effect.log(`refreshing ${account}`))
 * ```
 *
 * @since 0.1.0
 */
import type * as Effect from "effect/Effect"
import * as internal from "./internal/keyedLock.js"

/**
 * In-process locks by key.
 *
 * @since 0.1.0
 * @category models
 */
export interface KeyedLock {
  /** run `effect` holding `key`'s lock, released however `effect` ends; the wait is interruptible */
  readonly withLock: <A, E, R>(key: string, effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  /**
   * Wait for `key`'s lock and hold it until {@link release}: for a caller that
   * bounds the wait itself (a timeout) or releases it elsewhere. Interrupted
   * while waiting, it holds nothing.
   */
  readonly take: (key: string) => Effect.Effect<void>
  /** release `key`'s lock taken with {@link take} */
  readonly release: (key: string) => Effect.Effect<void>
  /** how many keys are held or awaited now */
  readonly size: number
}

/**
 * No lock held.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: () => KeyedLock = internal.make
