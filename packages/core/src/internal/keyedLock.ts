import * as Effect from "effect/Effect"
import type { KeyedLock } from "../KeyedLock.js"

interface Entry {
  readonly semaphore: Effect.Semaphore
  /** fibers holding or waiting for the lock: the entry goes when none is left */
  users: number
}

class Locks implements KeyedLock {
  private readonly entries = new Map<string, Entry>()

  get size(): number {
    return this.entries.size
  }

  private leave(key: string, entry: Entry): void {
    if (--entry.users === 0 && this.entries.get(key) === entry) this.entries.delete(key)
  }

  take = (key: string): Effect.Effect<void> =>
    // counted before the wait, uncounted if the wait is interrupted: no interruption falls in between
    Effect.uninterruptibleMask((restore) =>
      Effect.suspend(() => {
        let entry = this.entries.get(key)
        if (entry === undefined) this.entries.set(key, entry = { semaphore: Effect.unsafeMakeSemaphore(1), users: 0 })
        entry.users++
        const counted = entry
        return Effect.onInterrupt(restore(counted.semaphore.take(1)), () => Effect.sync(() => this.leave(key, counted)))
      })
    )

  release = (key: string): Effect.Effect<void> =>
    Effect.suspend(() => {
      const entry = this.entries.get(key)
      if (entry === undefined) return Effect.void
      return Effect.zipRight(entry.semaphore.release(1), Effect.sync(() => this.leave(key, entry)))
    })

  withLock = <A, E, R>(key: string, effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Effect.uninterruptibleMask((restore) =>
      Effect.zipRight(restore(this.take(key)), Effect.ensuring(restore(effect), this.release(key)))
    )
}

/** @internal */
export const make = (): KeyedLock => new Locks()
