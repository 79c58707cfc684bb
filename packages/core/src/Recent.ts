/**
 * The most recently used entries of a map, up to a bound: a memo for a
 * long-lived process that meets ever more keys (accounts, DPoP keys, parts
 * of a shared cache) and must not grow with them. Reading an entry makes it
 * the most recent; adding one to a full map forgets the least recent.
 *
 * @example
 * ```ts
 * import { Recent } from "@devflow/core"
 *
 * const digests = Recent.make<string, string>(2)
 * digests.set("a", "1")
 * digests.set("b", "2")
 * digests.get("a") // "a" is now the most recent
 * digests.set("c", "3") // forgets "b"
 * console.log([...digests.keys()]) // ["a", "c"]
 * ```
 *
 * @since 0.1.0
 */
import * as internal from "./internal/recent.js"

/**
 * A bounded map that forgets its least recently used entry when full.
 *
 * @since 0.1.0
 * @category models
 */
export interface Recent<K, V> {
  /** the value kept for `key`, which becomes the most recent; undefined when none is kept */
  readonly get: (key: K) => V | undefined
  /** keep `value` for `key` as the most recent entry, forgetting the least recent one when full */
  readonly set: (key: K, value: V) => void
  /** forget `key`; `true` when it was kept */
  readonly delete: (key: K) => boolean
  /** the keys kept, least recent first */
  readonly keys: () => IterableIterator<K>
  /** how many entries are kept (never more than the capacity) */
  readonly size: number
}

/**
 * An empty map keeping at most `capacity` entries (a positive integer).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: <K, V>(capacity: number) => Recent<K, V> = internal.make
