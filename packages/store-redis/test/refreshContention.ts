/**
 * The refresh contention figure of issue 23: several processes, each asking
 * at once for a token of every account of a shared Redis token cache, all of
 * whose access tokens have just expired. Shared by the test that runs it
 * (refreshContention.test.ts) and its worker processes (refreshWorkerMain.ts).
 */
import * as Account from "@devflow/core/Account"
import * as TestKitCache from "@devflow/core/TestKitCache"

export const PROCESSES = 4
export const ACCOUNTS = 50
/**
 * Accounts of a second namespace, expired too, that each worker refreshes
 * (contending with the others) before it says it listens: the figure is of
 * a service that has run before, not of code compiled during the burst.
 */
export const WARMUP_ACCOUNTS = 20
/** the namespace of the warm-up accounts */
export const WARMUP_NAMESPACE = "contention-warmup"
/** the channel on which the test tells every worker to start */
export const GO = "refresh-contention:go"
/** how long the fake token endpoint takes to answer a refresh */
export const TOKEN_ENDPOINT_MS = 20

/** The `i`-th account, the same in every process. */
export const account = (i: number): Account.Account =>
  Account.fromClaims(TestKitCache.AUTHORITY, { ...TestKitCache.claims, sub: `contention-${i}` })!

/** What each worker prints, after `result `. */
export interface WorkerResult {
  /** milliseconds of each account's call */
  readonly durations: ReadonlyArray<number>
  /** refresh grants this worker sent */
  readonly refreshes: number
  /** CPU time the process spent from the go to the last answer (load does not inflate it, unlike the durations) */
  readonly cpuMs: number
  /** Redis commands (and scripts) this worker sent from the go to the last answer */
  readonly commands: number
  /** where each call's token came from (`refresh`, `cache`) */
  readonly sources: Record<string, number>
}
