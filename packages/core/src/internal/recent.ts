import type { Recent } from "../Recent.js"

// A Map keeps insertion order: re-inserting on a hit makes the first key the least recent.
class RecentMap<K, V> implements Recent<K, V> {
  private readonly entries = new Map<K, V>()
  constructor(private readonly capacity: number) {}

  get size(): number {
    return this.entries.size
  }

  get(key: K): V | undefined {
    const value = this.entries.get(key)
    if (value === undefined) return undefined
    this.entries.delete(key)
    this.entries.set(key, value)
    return value
  }

  set(key: K, value: V): void {
    this.entries.delete(key)
    if (this.entries.size >= this.capacity) this.entries.delete(this.entries.keys().next().value!)
    this.entries.set(key, value)
  }

  delete(key: K): boolean {
    return this.entries.delete(key)
  }

  keys(): IterableIterator<K> {
    return this.entries.keys()
  }
}

/** @internal */
export const make = <K, V>(capacity: number): Recent<K, V> => {
  if (!Number.isInteger(capacity) || capacity < 1) {
    throw new RangeError(`capacity must be a positive integer: ${capacity}`)
  }
  return new RecentMap(capacity)
}
