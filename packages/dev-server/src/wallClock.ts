/**
 * Wall-clock rules for tests of real processes, sockets and timers, in one place.
 *
 * A lower bound states a protocol rule (a poll never comes early, a timeout never fires before
 * its time) and stays exact. An upper bound only tells "finished" from "hung" or "went the long
 * way" (a retry, a default timeout), so it carries headroom for a machine whose cores are shared:
 * CI, or `pnpm test:stress` with two CPU hogs, can leave a process unscheduled for seconds. How
 * fast something is belongs to `pnpm bench`, never to a test.
 */
import * as fs from "node:fs"
import * as path from "node:path"

/** What a busy machine may add to any step of a test. */
export const HEADROOM_MS = 5_000

/** The latest a step expected to take `expectedMs` may end on a busy machine. */
export const late = (expectedMs: number): number => expectedMs + HEADROOM_MS

/**
 * Resolves as soon as `holds()` is true — the condition a test needs (a file written, a socket
 * closed, an event seen), checked every 10 ms — and rejects, naming `what`, when it is still false
 * after `timeoutMs`.
 */
export const until = async (holds: () => boolean, what: string, timeoutMs: number = HEADROOM_MS): Promise<void> => {
  const deadline = Date.now() + timeoutMs
  while (!holds()) {
    if (Date.now() > deadline) throw new Error(`still waiting after ${timeoutMs} ms: ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

/**
 * Debian's libfaketime (package `faketime`), for tests whose process sees its wall clock step
 * while its monotonic clock does not. Required where CI runs (`DEVFLOW_REQUIRE_FAKETIME=1`, as
 * `.ci/run` sets): there a missing library fails the test file instead of skipping it.
 */
export const libfaketime = (): string | undefined => {
  for (const dir of ["/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/usr/lib"]) {
    const file = path.join(dir, "faketime", "libfaketime.so.1")
    if (fs.existsSync(file)) return file
  }
  if (process.env.CI === "true" || process.env.DEVFLOW_REQUIRE_FAKETIME === "1") {
    throw new Error(
      "CI needs Debian's faketime package (libfaketime) for the clock-step tests: apt-get install faketime"
    )
  }
  return undefined
}

/**
 * The environment that makes a child process's wall clock follow `timestampFile` (an offset such
 * as `+0` or `+1h`, read again on every call, so the test can step it mid-run); its monotonic
 * clock is left alone.
 */
export const steppedWallClock = (library: string, timestampFile: string): Record<string, string> => ({
  LD_PRELOAD: library,
  FAKETIME_TIMESTAMP_FILE: timestampFile,
  FAKETIME_DONT_FAKE_MONOTONIC: "1",
  FAKETIME_NO_CACHE: "1"
})
