import * as KeyedLock from "@devflow/core/KeyedLock"
import { CacheUnavailable } from "@devflow/core/TokenCache"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as crypto from "node:crypto"
import * as fs from "node:fs/promises"
import * as os from "node:os"
import {
  errorCode,
  io,
  liveClock,
  monotonicNow,
  processAlive,
  processStarted,
  processStartTicks,
  sleepLive
} from "./io.js"

/**
 * What a lock file says about its holder.
 * @internal
 */
export interface Holder {
  readonly pid: number
  readonly host: string
  /** when the holder's process started, epoch ms */
  readonly started: number
  /** when the holder's process started, in clock ticks since boot (Linux), immune to wall-clock steps */
  readonly startTicks?: number | undefined
  /** unique per acquisition, so a holder only ever removes its own lock */
  readonly nonce: string
  readonly acquiredAt: number
}

/** @internal */
export interface LockOptions {
  /** the lock file */
  readonly path: string
  /** the cache file, for messages */
  readonly location: string
  /** give up waiting after this long */
  readonly timeout: Duration.Duration
  /**
   * A lock whose file was not touched for this long is abandoned (its holder
   * hangs, or lives on another machine and died). Holders touch it every
   * quarter of this.
   */
  readonly staleAfter: Duration.Duration
}

const host = os.hostname()
const ownStartTicks = processStartTicks(process.pid)

// A lock file is written complete before it appears (see create), so one
// that cannot be read was damaged; give a writer on a slow disk a moment anyway.
const UNREADABLE_GRACE_MS = 2_000
// The guard is held for two system calls; anything older is abandoned.
const GUARD_STALE = Duration.seconds(2)

/** @internal */
export interface Seen {
  readonly text: string
  readonly holder: Holder | undefined
  readonly ino: bigint
  readonly mtimeMs: number
}

const parseHolder = (text: string): Holder | undefined => {
  try {
    const value = JSON.parse(text) as Partial<Holder> | null
    if (
      value !== null && typeof value === "object" && typeof value.pid === "number" && typeof value.host === "string" &&
      typeof value.started === "number" && typeof value.nonce === "string" && typeof value.acquiredAt === "number"
    ) return value as Holder
  } catch {
    // fall through: unreadable
  }
  return undefined
}

/** The lock file as it is now (read and stat'ed through one descriptor), or undefined when there is none. */
const inspect = (location: string, file: string): Effect.Effect<Seen | undefined, CacheUnavailable> =>
  io(location, `read the lock ${file}`, async () => {
    let handle: fs.FileHandle
    try {
      handle = await fs.open(file, "r")
    } catch (error) {
      if (errorCode(error) === "ENOENT") return undefined
      throw error
    }
    try {
      const stat = await handle.stat({ bigint: true })
      const text = await handle.readFile("utf8")
      return { text, holder: parseHolder(text), ino: stat.ino, mtimeMs: Number(stat.mtimeMs) }
    } finally {
      await handle.close()
    }
  })

/**
 * Create `file` holding `text`, or report that it exists. The text is written
 * to a private file first and hard-linked into place (atomic, fails if the
 * name exists), so no reader ever sees a half-written lock; where the file
 * system has no hard links, an exclusive create does.
 */
const create = (location: string, file: string, text: string): Effect.Effect<boolean, CacheUnavailable> =>
  io(location, `create the lock ${file}`, async () => {
    const staging = `${file}.${process.pid}-${crypto.randomBytes(6).toString("hex")}.tmp`
    await fs.writeFile(staging, text, { flag: "wx", mode: 0o600 })
    try {
      await fs.link(staging, file)
      return true
    } catch (error) {
      const code = errorCode(error)
      if (code === "EEXIST") return false
      if (code !== "EPERM" && code !== "ENOTSUP" && code !== "ENOSYS" && code !== "EOPNOTSUPP") throw error
    } finally {
      await fs.unlink(staging).catch(() => undefined)
    }
    try {
      await fs.writeFile(file, text, { flag: "wx", mode: 0o600 })
      return true
    } catch (error) {
      if (errorCode(error) === "EEXIST") return false
      throw error
    }
  })

/**
 * Whether `holder`, which took a lock on this machine, is the process now running under its pid:
 * by the boot-relative start where both are known, else by the pid alone (and, for this process's
 * own pid, by its wall-clock start: a container restarted reuses small pids).
 */
const holderAlive = (holder: Holder): boolean => {
  const ticks = processStartTicks(holder.pid)
  if (holder.startTicks !== undefined && ticks !== undefined) return ticks === holder.startTicks
  if (holder.pid === process.pid) return Math.abs(holder.started - processStarted) <= 1_000
  return processAlive(holder.pid)
}

/**
 * Why the lock in `seen` is abandoned, or undefined while its holder may still be at work. Called
 * only by a fiber that holds this process's own turn for the lock (see {@link withLock}).
 * @internal
 */
export const staleness = (seen: Seen, staleAfter: Duration.Duration, now: number): string | undefined => {
  const age = now - seen.mtimeMs
  const holder = seen.holder
  if (holder === undefined) {
    return age > UNREADABLE_GRACE_MS ? "its lock file is unreadable" : undefined
  }
  if (holder.host === host) {
    if (!holderAlive(holder)) return `process ${holder.pid} that took it has exited`
    // This process takes its locks one fiber at a time: a file naming it was left behind.
    if (holder.pid === process.pid) return `this process left it behind`
    // A live holder on this machine is never judged by its file's age: the wall clock that
    // measures the age can step (NTP, a restored VM), and two processes would hold the lock at once.
    return undefined
  }
  if (age > Duration.toMillis(staleAfter)) {
    return `its holder (process ${holder.pid} on ${holder.host}) has not touched it for ${Math.round(age / 1000)} s`
  }
  return undefined
}

const describeHolder = (seen: Seen | undefined, now: number): string => {
  const holder = seen?.holder
  if (seen === undefined || holder === undefined) return "another process"
  const where = holder.host === host ? "" : ` on ${holder.host}`
  return `process ${holder.pid}${where} (holding it for ${((now - holder.acquiredAt) / 1000).toFixed(1)} s)`
}

const newHolder = (): Holder => ({
  pid: process.pid,
  host,
  started: processStarted,
  ...(ownStartTicks === undefined ? {} : { startTicks: ownStartTicks }),
  nonce: crypto.randomUUID(),
  acquiredAt: Date.now()
})

/** Remove `file` if it still is the lock we saw, i.e. no one replaced it meanwhile. */
const removeIfUnchanged = (location: string, file: string, seen: Seen): Effect.Effect<void, CacheUnavailable> =>
  Effect.flatMap(inspect(location, file), (now) =>
    now !== undefined && now.ino === seen.ino && now.text === seen.text
      ? io(location, `remove the lock ${file}`, () =>
        fs.unlink(file).catch((e) => {
          if (errorCode(e) !== "ENOENT") throw e
        }))
      : Effect.void)

/**
 * Break an abandoned lock. Breakers take a guard first, so that two of them
 * cannot both see the dead lock, and the second then delete the fresh lock
 * the first one took in its place. Under the guard the lock is removed only
 * if it is still the very file judged abandoned. `true` when it is gone.
 */
const breakStale = (options: LockOptions, seen: Seen): Effect.Effect<boolean, CacheUnavailable> =>
  Effect.gen(function*() {
    const guard = `${options.path}.break`
    const mine = JSON.stringify(newHolder())
    if (!(yield* create(options.location, guard, mine))) {
      const other = yield* inspect(options.location, guard)
      if (other !== undefined && staleness(other, GUARD_STALE, Date.now()) !== undefined) {
        yield* removeIfUnchanged(options.location, guard, other)
      }
      return false
    }
    return yield* removeIfUnchanged(options.location, options.path, seen).pipe(
      Effect.as(true),
      Effect.ensuring(
        Effect.flatMap(
          inspect(options.location, guard),
          (g) => g !== undefined && g.text === mine ? removeIfUnchanged(options.location, guard, g) : Effect.void
        ).pipe(Effect.ignore)
      )
    )
  })

/** Wait between attempts: 2, 4, 8 … ms up to 50 ms, jittered so waiters do not move in step. */
const backoff = (attempt: number): number => Math.min(50, 2 ** Math.min(attempt + 1, 6)) * (0.5 + Math.random())

/**
 * Take the cross-process lock at `options.path`, waiting at most until
 * `deadline` (on {@link monotonicNow}'s clock). A lock whose holder is dead
 * (same machine, pid gone or reused) is broken at once; one whose holder cannot
 * be checked (another machine) is broken once it has not been touched for
 * `staleAfter`; one whose holder lives on this machine never is.
 * @internal
 */
export const acquire = (options: LockOptions, deadline: number): Effect.Effect<Holder, CacheUnavailable> =>
  Effect.gen(function*() {
    const holder = newHolder()
    const text = JSON.stringify(holder)
    let last: Seen | undefined
    for (let attempt = 0;; attempt++) {
      if (yield* create(options.location, options.path, text)) return holder
      const seen = yield* inspect(options.location, options.path)
      // file times are wall-clock times: the age of a lock is measured on that clock, every wait on the monotonic one
      const wallNow = Date.now()
      const now = monotonicNow()
      if (seen !== undefined) {
        last = seen
        if (staleness(seen, options.staleAfter, wallNow) !== undefined && (yield* breakStale(options, seen))) continue
      }
      if (now >= deadline) {
        return yield* new CacheUnavailable({
          location: options.location,
          reason: "lock_timeout",
          detail: `${describeHolder(last, wallNow)} holds its lock ${options.path}; gave up after ${
            Duration.format(options.timeout)
          }`
        })
      }
      // released between our two calls: try again at once
      if (seen === undefined) continue
      yield* Effect.interruptible(sleepLive(Math.max(1, Math.min(backoff(attempt), deadline - now))))
    }
  })

/**
 * Release a lock taken by {@link acquire}: remove the file if it is still ours.
 * @internal
 */
export const release = (options: LockOptions, holder: Holder): Effect.Effect<void> =>
  Effect.flatMap(inspect(options.location, options.path), (seen) => {
    if (seen?.holder?.nonce === holder.nonce) return removeIfUnchanged(options.location, options.path, seen)
    return Effect.logWarning(
      `The lock ${options.path} was taken over while this process held it (it looked abandoned): ` +
        `this process was stalled for more than ${Duration.format(options.staleAfter)}`
    )
  }).pipe(Effect.ignore)

/** Touch the lock now and then, so that waiters see its holder is alive. */
const heartbeat = (options: LockOptions): Effect.Effect<never> => {
  const every = Math.max(10, Duration.toMillis(options.staleAfter) / 4)
  const touch = Effect.promise(() => {
    const now = new Date()
    return fs.utimes(options.path, now, now).catch(() => undefined)
  })
  return Effect.forever(Effect.zipRight(sleepLive(every), touch))
}

// One waiter per lock file and process: fibers of this process queue here
// rather than polling the file system against each other.
const local = KeyedLock.make()

/**
 * Fails unless the lock file still names `holder`: another process broke it
 * while this one was stalled for longer than `staleAfter` (a VM paused, a
 * process stopped), and whatever this one was about to write is not its to write.
 * @internal
 */
export const stillHeld = (options: LockOptions, holder: Holder): Effect.Effect<void, CacheUnavailable> =>
  Effect.flatMap(
    inspect(options.location, options.path),
    (seen) =>
      seen?.holder?.nonce === holder.nonce ? Effect.void : Effect.fail(
        new CacheUnavailable({
          location: options.location,
          reason: "lock_timeout",
          detail: `its lock ${options.path} was taken over while this process was stalled (${
            describeHolder(seen, Date.now())
          } holds it now); the change was not written`
        })
      )
  )

/**
 * Run `body` holding the lock: exclusive among the fibers of this process
 * and among processes. Waiting (for both) is bounded by `options.timeout`.
 * `body` is given a check that the lock is still this process's, for the
 * moment before a write becomes visible.
 * @internal
 */
export const withLockChecked = <A, E, R>(
  options: LockOptions,
  body: (held: Effect.Effect<void, CacheUnavailable>) => Effect.Effect<A, E, R>
): Effect.Effect<A, E | CacheUnavailable, R> =>
  Effect.uninterruptibleMask((restore) =>
    Effect.gen(function*() {
      const deadline = monotonicNow() + Duration.toMillis(options.timeout)
      yield* restore(local.take(options.path)).pipe(
        Effect.timeoutFail({
          duration: options.timeout,
          onTimeout: () =>
            new CacheUnavailable({
              location: options.location,
              reason: "lock_timeout",
              detail: `another task of this process holds its lock ${options.path}; gave up after ${
                Duration.format(options.timeout)
              }`
            })
        }),
        Effect.withClock(liveClock)
      )
      return yield* Effect.gen(function*() {
        // Uninterruptible but for its sleeps: a lock file created is always handed on to be released.
        const holder = yield* acquire(options, deadline)
        const beat = yield* Effect.fork(Effect.interruptible(heartbeat(options)))
        return yield* restore(body(stillHeld(options, holder))).pipe(
          Effect.ensuring(Effect.zipRight(Fiber.interrupt(beat), release(options, holder)))
        )
      }).pipe(Effect.ensuring(local.release(options.path)))
    })
  )

/**
 * Run `effect` holding the lock (see {@link withLockChecked}).
 * @internal
 */
export const withLock = <A, E, R>(
  options: LockOptions,
  effect: Effect.Effect<A, E, R>
): Effect.Effect<A, E | CacheUnavailable, R> => withLockChecked(options, () => effect)
