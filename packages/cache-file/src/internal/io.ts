import { CacheUnavailable } from "@devflow/core/TokenCache"
import * as Clock from "effect/Clock"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as fsSync from "node:fs"
import { performance } from "node:perf_hooks"

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
  typeof error === "object" && error !== null && "code" in error && typeof error.code === "string"
    ? error.code
    : undefined

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

/**
 * When process `pid` started, in clock ticks since boot (Linux's
 * `/proc/<pid>/stat`, field 22), or undefined where that cannot be read. Unlike
 * {@link processStarted} it does not move with the wall clock, so it tells a
 * live holder from a new process that reused its pid even across a clock step.
 * @internal
 */
export const processStartTicks = (pid: number): number | undefined => {
  if (process.platform !== "linux" || !Number.isInteger(pid) || pid <= 0) return undefined
  try {
    const stat = fsSync.readFileSync(`/proc/${pid}/stat`, "utf8")
    // the command name (field 2) may hold spaces and parentheses: count from the last ")"
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
    const ticks = Number(fields[19])
    return Number.isSafeInteger(ticks) ? ticks : undefined
  } catch {
    return undefined
  }
}

/**
 * Milliseconds on a clock that only moves forward at the pace of real time
 * (not the wall clock, which NTP, a user or a restored VM may step): for
 * deadlines and waits.
 * @internal
 */
export const monotonicNow = (): number => performance.now()
