import { CacheUnavailable } from "@devflow/core/TokenCache"
import * as Clock from "effect/Clock"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"

/**
 * The wall clock, whatever clock the caller runs with: locks and files are
 * shared with other processes, which do not live in a test's virtual time.
 * @internal
 */
export const liveClock: Clock.Clock = Clock.make()

/** @internal */
export const sleepLive = (duration: Duration.DurationInput): Effect.Effect<void> =>
  Effect.withClock(Effect.sleep(duration), liveClock)

/** @internal */
export const errorCode = (error: unknown): string | undefined =>
  typeof error === "object" && error !== null && "code" in error && typeof error.code === "string" ? error.code : undefined

/**
 * A file system call, its failure turned into `CacheUnavailable`.
 * @internal
 */
export const io = <A>(
  location: string,
  action: string,
  run: () => Promise<A>
): Effect.Effect<A, CacheUnavailable> =>
  Effect.tryPromise({
    try: run,
    catch: (cause) => ioError(location, action, cause)
  })

/** @internal */
export const ioError = (location: string, action: string, cause: unknown): CacheUnavailable => {
  const code = errorCode(cause)
  const reason = code === "EACCES" || code === "EPERM"
    ? "permission denied"
    : code === "ENOSPC"
    ? "no space left on the device"
    : code === "EROFS"
    ? "the file system is read-only"
    : code === "ENOTDIR" || code === "EISDIR"
    ? "a path component has the wrong type"
    : cause instanceof Error
    ? cause.message
    : String(cause)
  return new CacheUnavailable({
    location,
    reason: "io",
    detail: `cannot ${action}: ${reason}${code === undefined ? "" : ` (${code})`}`,
    cause
  })
}

/** @internal */
export const insecure = (location: string, detail: string): CacheUnavailable =>
  new CacheUnavailable({ location, reason: "insecure", detail })

/**
 * Whether a process with this id exists on this machine. `EPERM` means it
 * exists but belongs to another user.
 * @internal
 */
export const processAlive = (pid: number): boolean => {
  if (!Number.isInteger(pid) || pid <= 0) return false
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return errorCode(error) === "EPERM"
  }
}

/**
 * When this process started, to tell it from an earlier process that had the
 * same pid (containers start every process tree at the same small pids).
 * Shared by every thread of the process.
 * @internal
 */
export const processStarted: number = Math.round(Date.now() - process.uptime() * 1000)
