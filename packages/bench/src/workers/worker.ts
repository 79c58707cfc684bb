/**
 * The child-process side of a benchmark: one client per process, so peak RSS
 * and CPU time are that client's alone. The job comes as JSON in argv[2];
 * progress and the result go to stdout as JSON lines.
 */
import * as v8 from "node:v8"
import { type DeviceFlowClient, type Endpoints, type FlowResult, now } from "../clients/types.js"

export type Job =
  | {
    /** `n` simultaneous flows; resources measured around them */
    readonly kind: "flows"
    readonly endpoints: Endpoints
    readonly n: number
  }
  | {
    /**
     * `n` flows left waiting between polls; on SIGUSR2 (sent by the parent once the
     * server has seen every flow's first poll) the live heap is measured and reported
     */
    readonly kind: "pending"
    readonly endpoints: Endpoints
    readonly n: number
  }
  | {
    /** one flow, reporting its code; optionally cancelled `cancelAfterMs` after the code arrived */
    readonly kind: "one"
    readonly endpoints: Endpoints
    readonly cancelAfterMs?: number | undefined
    /** after cancelling, how long to wait for the flow to stop before reporting that it did not */
    readonly stopWithinMs?: number | undefined
  }

export interface FlowsReport {
  readonly type: "result"
  readonly kind: "flows"
  readonly n: number
  readonly ok: number
  readonly failed: number
  /** failure descriptions with their counts (at most 5) */
  readonly errors: Record<string, number>
  readonly wallMs: number
  /** user + system CPU while the flows ran */
  readonly cpuMs: number
  /** user + system CPU of the whole process, start-up included */
  readonly cpuTotalMs: number
  /** peak resident set size of the process (getrusage ru_maxrss) */
  readonly maxRssMB: number
  /** RSS once the client library was loaded and configured, before any flow */
  readonly baselineRssMB: number
  /** process.memoryUsage() at the highest RSS sampled (every 250 ms): JS heap vs the rest */
  readonly atPeak: {
    readonly rssMB: number
    readonly heapUsedMB: number
    readonly heapTotalMB: number
    readonly externalMB: number
  }
}

export interface PendingReport {
  readonly type: "result"
  readonly kind: "pending"
  readonly n: number
  /** live JS heap after a full GC (what a heap snapshot holds), with the client loaded and configured, no flow */
  readonly emptyHeapBytes: number
  /** the same with `n` flows waiting between polls */
  readonly pendingHeapBytes: number
  /** (pending − empty) / n */
  readonly perFlowBytes: number
  /** RSS at the measurement */
  readonly rssMB: number
}

export interface OneReport {
  readonly type: "result"
  readonly kind: "one"
  readonly ok: boolean
  readonly error: string | undefined
  readonly codeAt: number | undefined
  readonly endedAt: number
  readonly cancelAt: number | undefined
  /** false when the flow had not ended `stopWithinMs` after the cancel */
  readonly stopped: boolean
}

const emit = (value: unknown) => process.stdout.write(`${JSON.stringify(value)}\n`)

const mb = (bytes: number) => Math.round((bytes / 1_048_576) * 10) / 10

const cpuMs = (usage: NodeJS.CpuUsage) => (usage.user + usage.system) / 1000

const runFlows = async (client: DeviceFlowClient, n: number): Promise<FlowsReport> => {
  const baselineRssMB = mb(process.memoryUsage().rss)
  const cpu0 = process.cpuUsage()
  const t0 = now()
  const errors: Record<string, number> = {}
  let ok = 0
  let failed = 0
  const done = (r: FlowResult) => {
    if (r.ok) return void ok++
    failed++
    const key = r.error ?? "unknown"
    if (key in errors || Object.keys(errors).length < 5) errors[key] = (errors[key] ?? 0) + 1
  }
  let atPeak = { rssMB: 0, heapUsedMB: 0, heapTotalMB: 0, externalMB: 0 }
  const sample = () => {
    const m = process.memoryUsage()
    if (mb(m.rss) > atPeak.rssMB) {
      atPeak = {
        rssMB: mb(m.rss),
        heapUsedMB: mb(m.heapUsed),
        heapTotalMB: mb(m.heapTotal),
        externalMB: mb(m.external)
      }
    }
  }
  // profiling aid (src/profile.ts): a heap snapshot while the flows are in flight
  const snapshotAt = Number(process.env.BENCH_HEAP_SNAPSHOT_MS ?? "")
  if (snapshotAt > 0) {
    setTimeout(() => {
      const file = v8.writeHeapSnapshot(process.env.BENCH_HEAP_SNAPSHOT_FILE)
      process.stderr.write(`heap snapshot: ${file}\n`)
    }, snapshotAt).unref()
  }
  const sampler = setInterval(sample, 250)
  sampler.unref()
  // Progress every 2 s: if the run is stopped and cannot answer SIGTERM in time
  // (an event loop saturated by thousands of flows), the parent keeps the last one.
  const progress = setInterval(() => emit({ ...report(), type: "progress" }), 2_000)
  progress.unref()
  const report = (): FlowsReport => ({
    type: "result",
    kind: "flows",
    n,
    ok,
    // flows that had not ended when the run was stopped count as failed
    failed: n - ok,
    errors: n - ok - failed > 0 ? { ...errors, "unfinished when the run was stopped": n - ok - failed } : errors,
    wallMs: now() - t0,
    cpuMs: cpuMs(process.cpuUsage(cpu0)),
    cpuTotalMs: cpuMs(process.cpuUsage()),
    maxRssMB: mb(process.resourceUsage().maxRSS * 1024),
    baselineRssMB,
    atPeak
  })
  // The parent stops a run that takes too long with SIGTERM: report what happened so far.
  process.once("SIGTERM", () => {
    emit(report())
    process.exit(0)
  })
  // every client the same way: one `flow` per sign-in, all at once
  await Promise.all(Array.from({ length: n }, () => client.flow().then(done)))
  return report()
}

// Live heap after full collections (node --expose-gc): what a heap snapshot would hold.
const liveHeap = (): number => {
  const gc = (globalThis as { gc?: () => void }).gc
  if (gc === undefined) throw new Error("the pending job needs node --expose-gc")
  for (let i = 0; i < 3; i++) gc()
  return process.memoryUsage().heapUsed
}

const runPending = (client: DeviceFlowClient, n: number): Promise<PendingReport> => {
  const emptyHeapBytes = liveHeap()
  // profiling aid (src/profile.ts --heap): the same process with no flow, to subtract
  if (process.env.BENCH_HEAP_SNAPSHOT_EMPTY_FILE) v8.writeHeapSnapshot(process.env.BENCH_HEAP_SNAPSHOT_EMPTY_FILE)
  return new Promise((resolve) => {
    process.once("SIGUSR2", () => {
      const pendingHeapBytes = liveHeap()
      // profiling aid: what the pending flows hold
      if (process.env.BENCH_HEAP_SNAPSHOT_FILE) v8.writeHeapSnapshot(process.env.BENCH_HEAP_SNAPSHOT_FILE)
      resolve({
        type: "result",
        kind: "pending",
        n,
        emptyHeapBytes,
        pendingHeapBytes,
        perFlowBytes: Math.round((pendingHeapBytes - emptyHeapBytes) / n),
        rssMB: mb(process.memoryUsage().rss)
      })
    })
    // ready for the signal: now start the flows (their results do not matter; the process exits after the report)
    emit({ type: "started" })
    const ignore = () => {}
    for (let i = 0; i < n; i++) void client.flow().then(ignore)
  })
}

const runOne = (
  client: DeviceFlowClient,
  cancelAfterMs: number | undefined,
  stopWithinMs: number
): Promise<OneReport> =>
  new Promise((resolve) => {
    const controller = new AbortController()
    let codeAt: number | undefined
    let cancelAt: number | undefined
    let settled = false
    client.flow({
      signal: controller.signal,
      onCode: (userCode) => {
        codeAt = now()
        emit({ type: "code", userCode, at: codeAt })
        if (cancelAfterMs !== undefined) {
          setTimeout(() => {
            cancelAt = now()
            controller.abort()
            // Bounded: a client that does not stop is reported, not waited for.
            setTimeout(() => {
              if (settled) return
              settled = true
              resolve({
                type: "result",
                kind: "one",
                ok: false,
                error: "still running",
                codeAt,
                endedAt: now(),
                cancelAt,
                stopped: false
              })
            }, stopWithinMs).unref()
          }, cancelAfterMs)
        }
      }
    }).then((result) => {
      if (settled) return
      settled = true
      resolve({
        type: "result",
        kind: "one",
        ok: result.ok,
        error: result.error,
        codeAt,
        endedAt: now(),
        cancelAt,
        stopped: true
      })
    })
  })

/**
 * A child's main: the job from argv[2], its report on stdout as the result (then exit, so that
 * nothing left running, such as a client that ignored a cancel, keeps the process alive), a
 * failure as `fatal`.
 */
export const runJob = <J>(main: (job: J) => Promise<unknown>): void => {
  const job = JSON.parse(process.argv[2] ?? "null") as J | null
  if (job === null) {
    console.error("usage: node worker.mjs '<job json>'")
    process.exit(2)
  }
  main(job).then(
    (report) => {
      emit(report)
      process.exit(0)
    },
    (error: unknown) => {
      emit({ type: "fatal", error: error instanceof Error ? (error.stack ?? error.message) : String(error) })
      process.exit(1)
    }
  )
}

export const runWorker = (make: (endpoints: Endpoints) => Promise<DeviceFlowClient>): void =>
  runJob<Job>(async (job) => {
    const client = await make(job.endpoints)
    return job.kind === "flows"
      ? await runFlows(client, job.n)
      : job.kind === "pending"
      ? await runPending(client, job.n)
      : await runOne(client, job.cancelAfterMs, job.stopWithinMs ?? 10_000)
  })
