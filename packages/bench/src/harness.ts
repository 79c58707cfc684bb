/**
 * Runs the benchmarks and collects their results. `quick` runs each with a
 * handful of flows and calls: the test suite uses it so the harness cannot
 * rot; the figures it gives mean nothing.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { b1 } from "./benchmarks/b1.js"
import { b2 } from "./benchmarks/b2.js"
import { b3 } from "./benchmarks/b3.js"
import { b4 } from "./benchmarks/b4.js"
import { b5 } from "./benchmarks/b5.js"
import { b6 } from "./benchmarks/b6.js"
import { b7 } from "./benchmarks/b7.js"
import { b8 } from "./benchmarks/b8.js"
import type { Context } from "./benchmarks/common.js"
import { buildWorkers } from "./build.js"
import { machine } from "./machine.js"
import type { BenchResult, Results } from "./report.js"
import { makeCertificate } from "./tls.js"

export type BenchId = BenchResult["id"]

/**
 * Every benchmark, in the order a full run takes them (B1 and B7 last: they need the CLI's
 * `token` command, which may land while the rest runs). A new benchmark joins with one entry here: the
 * targets it returns join the one targets table `pnpm bench` prints at the end (report.ts).
 */
const BENCHMARKS: ReadonlyArray<readonly [BenchId, (ctx: Context) => Promise<BenchResult>]> = [
  ["B4", b4],
  ["B6", b6],
  ["B5", b5],
  ["B3", b3],
  ["B2", b2],
  ["B8", b8],
  ["B1", b1],
  ["B7", b7]
]

export const ALL: ReadonlyArray<BenchId> = BENCHMARKS.map(([id]) => id).sort()

export interface Options {
  readonly quick: boolean
  readonly only?: ReadonlyArray<BenchId> | undefined
  readonly log?: ((line: string) => void) | undefined
}

export const run = async (options: Options): Promise<Results> => {
  const log = options.log ?? (() => {})
  const startedAt = new Date().toISOString()
  const t0 = performance.now()
  const before = machine()
  await buildWorkers()
  const cert = makeCertificate()
  const ctx: Context = { quick: options.quick, cert, env: { NODE_EXTRA_CA_CERTS: cert.certFile }, log }
  const wanted = new Set(options.only ?? ALL)
  const results: Array<BenchResult> = []
  try {
    const chosen = BENCHMARKS.filter(([id]) => wanted.has(id))
    // Quick mode only proves that every benchmark runs: they run at once, so the check stays short.
    if (options.quick) results.push(...(await Promise.all(chosen.map(([, runner]) => runner(ctx)))))
    else for (const [, runner] of chosen) results.push(await runner(ctx))
  } finally {
    fs.rmSync(cert.dir, { recursive: true, force: true })
  }
  results.sort((a, b) => a.id.localeCompare(b.id))
  return {
    version: 1,
    startedAt,
    quick: options.quick,
    machine: before,
    wallMs: performance.now() - t0,
    benchmarks: results
  }
}

export const write = (results: Results, file: string, markdown: string): void => {
  fs.mkdirSync(path.dirname(file), { recursive: true })
  fs.writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`)
  fs.writeFileSync(file.replace(/\.json$/, ".md"), `${markdown}\n`)
}
