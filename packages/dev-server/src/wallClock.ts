/**
 * Wall-clock rules for tests of real processes, sockets and timers, in one place.
 *
 * A lower bound states a protocol rule (a poll never comes early, a timeout never fires before
 * its time) and stays exact. An upper bound only tells "finished" from "hung" or "went the long
 * way" (a retry, a default timeout), so it carries headroom for a machine whose cores are shared:
 * CI, or `pnpm test:stress` with two CPU hogs, can leave a process unscheduled for seconds. How
 * fast something is belongs to `pnpm bench`, never to a test.
 */

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
