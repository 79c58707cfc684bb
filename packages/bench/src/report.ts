/** The shape of a run's results (bench-results/latest.json) and the stdout table. */
import type { Machine } from "./machine.js"
import type { Summary } from "./stats.js"

export type Column = "devflow" | "openid-client" | "msal-node" | "node -e 0"

export interface Row {
  /** what is measured, with its unit */
  readonly metric: string
  readonly unit: string
  readonly values: Partial<Record<Column, Summary | string>>
  /** ratios to print: devflow ÷ that column's median */
  readonly ratioTo?: ReadonlyArray<Column> | undefined
  /** decimals to print (default: by magnitude) */
  readonly digits?: number | undefined
}

export interface Target {
  readonly name: string
  /** null: not measured in this run */
  readonly met: boolean | null
  readonly detail: string
}

export interface BenchResult {
  readonly id: "B1" | "B2" | "B3" | "B4" | "B5" | "B6"
  readonly title: string
  readonly rows: ReadonlyArray<Row>
  readonly targets: ReadonlyArray<Target>
  readonly notes: ReadonlyArray<string>
  /** free-form detail (B6's per-client behaviour, raw runs) */
  readonly detail?: unknown
  readonly wallMs: number
  readonly loadBefore: number
  readonly loadAfter: number
  /** "list": one paragraph per row (long descriptive cells, B6) */
  readonly layout?: "table" | "list" | undefined
  /** set when the benchmark could not run as specified */
  readonly pending?: string | undefined
}

export interface Results {
  readonly version: 1
  readonly startedAt: string
  readonly quick: boolean
  readonly machine: Machine
  readonly wallMs: number
  readonly benchmarks: ReadonlyArray<BenchResult>
}

const COLUMNS: ReadonlyArray<Column> = ["devflow", "openid-client", "msal-node", "node -e 0"]

const fmt = (x: number, digits?: number): string => {
  if (digits !== undefined) return x.toFixed(digits)
  const a = Math.abs(x)
  return a >= 100 ? x.toFixed(0) : a >= 10 ? x.toFixed(1) : a >= 1 ? x.toFixed(2) : x.toFixed(3)
}

const cell = (v: Summary | string | undefined, digits?: number): string => {
  if (v === undefined) return "–"
  if (typeof v === "string") return v
  return v.runs > 1 && v.min !== v.max
    ? `${fmt(v.median, digits)} (${fmt(v.min, digits)}–${fmt(v.max, digits)})`
    : fmt(v.median, digits)
}

const ratio = (row: Row): string => {
  const d = row.values.devflow
  if (d === undefined || typeof d === "string") return ""
  return (row.ratioTo ?? [])
    .map((c) => {
      const p = row.values[c]
      if (p === undefined || typeof p === "string" || p.median === 0) return undefined
      return `÷${c === "node -e 0" ? "floor" : c}: ${(d.median / p.median).toFixed(2)}×`
    })
    .filter((s): s is string => s !== undefined)
    .join(", ")
}

const table = (header: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>): string => {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)))
  const line = (cells: ReadonlyArray<string>) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(" | ")} |`
  return [line(header), `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`, ...rows.map(line)].join("\n")
}

/** One benchmark as a Markdown table (also readable on a terminal). */
export const renderBench = (b: BenchResult): string => {
  const used = COLUMNS.filter((c) => b.rows.some((r) => r.values[c] !== undefined))
  const header = ["metric", ...used, "devflow ÷ other"]
  const rows = b.rows.map((r) => [`${r.metric} (${r.unit})`, ...used.map((c) => cell(r.values[c], r.digits)), ratio(r)])
  const parts = [`### ${b.id} — ${b.title}`, ""]
  if (b.pending !== undefined) parts.push(`**Pending:** ${b.pending}`, "")
  if (b.layout === "list") {
    for (const r of b.rows) {
      parts.push(`**${r.metric}**`, "")
      for (const c of used) parts.push(`- ${c}: ${cell(r.values[c], r.digits)}`)
      parts.push("")
    }
  } else if (rows.length > 0) parts.push(table(header, rows), "")
  for (const t of b.targets) {
    parts.push(`- target ${t.met === null ? "NOT MEASURED" : t.met ? "MET" : "NOT MET"}: ${t.name} — ${t.detail}`)
  }
  for (const n of b.notes) parts.push(`- ${n}`)
  parts.push(`- wall ${(b.wallMs / 1000).toFixed(1)} s, load ${b.loadBefore} → ${b.loadAfter}`)
  return parts.join("\n")
}

export const renderResults = (r: Results): string =>
  [
    `## devflow benchmarks — ${r.startedAt}${r.quick ? " (quick mode)" : ""}`,
    "",
    `Machine: ${r.machine.nproc} × ${r.machine.cpuModel}, ${r.machine.memoryGiB} GiB, ${r.machine.platform}, Node ${r.machine.node}, load ${
      r.machine.load.join(" / ")
    } at start. Total wall time ${(r.wallMs / 1000).toFixed(0)} s.`,
    "Figures: median of the runs, (min–max) when more than one. Ratios: devflow's median ÷ the other's (below 1: devflow is lower).",
    "",
    ...r.benchmarks.flatMap((b) => [renderBench(b), ""])
  ].join("\n")
