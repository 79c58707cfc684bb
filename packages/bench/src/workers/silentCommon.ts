/** Shared by the B4 workers: the same accounts, resources and pick order for both libraries. */
import { performance } from "node:perf_hooks"

export const ACCOUNTS = 1_000
/** access tokens per account: 10,000 in all */
export const RESOURCES = 10

export interface SilentJob {
  /** calls to time after the warm-up, at most */
  readonly calls: number
  readonly warmup: number
  /** stop timing after this long, whatever `calls` says */
  readonly budgetMs: number
  /** accounts × resources (default 1,000 × 10) */
  readonly accounts?: number | undefined
}

export interface Timing {
  readonly calls: number
  readonly medianUs: number
  readonly p99Us: number
}

export const resource = (r: number) => `https://api-${r}.bench.test/.default`

/** Deterministic pseudo-random picks, the same sequence in every process. */
export const picker = () => {
  let seed = 42
  return (n: number) => {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31
    return seed % n
  }
}

const q = (sorted: ReadonlyArray<number>, p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!

export const timing = (ms: ReadonlyArray<number>): Timing => {
  const sorted = [...ms].sort((a, b) => a - b)
  return { calls: sorted.length, medianUs: q(sorted, 0.5) * 1000, p99Us: q(sorted, 0.99) * 1000 }
}

/** Time calls of `call(i)` one after another: warm-up first, then at most `calls` or `budgetMs`. */
export const timeCalls = async (
  job: SilentJob,
  call: (pick: (n: number) => number) => Promise<void> | void
): Promise<Timing> => {
  const pick = picker()
  const warmEnd = performance.now() + job.budgetMs / 4
  for (let i = 0; i < job.warmup && performance.now() < warmEnd; i++) await call(pick)
  const times: Array<number> = []
  const end = performance.now() + job.budgetMs
  for (let i = 0; i < job.calls && performance.now() < end; i++) {
    const t = performance.now()
    await call(pick)
    times.push(performance.now() - t)
  }
  return timing(times)
}

export const emitResult = (value: Record<string, unknown>) => {
  process.stdout.write(`${JSON.stringify({ type: "result", ...value })}\n`)
  process.exit(0)
}
