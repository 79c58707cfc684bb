/**
 * `pnpm bench`: every benchmark, a table on stdout, the figures in
 * bench-results/latest.json (and .md) at the repository root.
 *
 *   pnpm bench                      all seven, full size (about 12 min on 2 cores)
 *   pnpm bench --quick              the harness check (seconds per benchmark; figures meaningless)
 *   pnpm bench --only B2,B4         some of them
 *   pnpm bench --out path.json      somewhere else
 */
import * as path from "node:path"
import { repoRoot } from "./build.js"
import { ALL, type BenchId, run, write } from "./harness.js"
import { renderResults } from "./report.js"

const args = process.argv.slice(2)
const valueOf = (flag: string) => {
  const i = args.indexOf(flag)
  return i === -1 ? undefined : args[i + 1]
}
const only = valueOf("--only")?.split(",").map((s) => s.trim().toUpperCase()) as Array<BenchId> | undefined
if (only?.some((id) => !ALL.includes(id))) {
  console.error(`--only takes ${ALL.join(", ")}`)
  process.exit(2)
}
const out = path.resolve(valueOf("--out") ?? path.join(repoRoot, "bench-results/latest.json"))

const results = await run({
  quick: args.includes("--quick"),
  only,
  log: (line) => console.error(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}`)
})
const markdown = renderResults(results)
console.log(markdown)
write(results, out, markdown)
console.error(
  `[bench] wrote ${path.relative(process.cwd(), out)} and ${
    path.relative(process.cwd(), out.replace(/\.json$/, ".md"))
  }`
)
