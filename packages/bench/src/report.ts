/** The shape of a run's results (bench-results/latest.json) and the stdout table. */
import type { Machine } from "./machine.js"
import type { Summary } from "./stats.js"

export type Column = "devflow" | "devflow-user" | "openid-client" | "msal-node" | "node -e 0"

export interface Row {
  /** what is measured, with its unit */
  readonly metric: string
  readonly unit: string
  readonly values: Partial<Record<Column, Summary | string>>
  /** ratios to print: devflow's (and devflow-user's) median ÷ that column's */
  readonly ratioTo?: ReadonlyArray<Column> | undefined
  /** decimals to print (default: by magnitude) */
  readonly digits?: number | undefined
}

/** A measured figure with its unit. */
export interface Figure {
  readonly value: number
  readonly unit: string
}

export interface Target {
  readonly name: string
  /** null: not measured in this run */
  readonly met: boolean | null
  readonly detail: string
  /** devflow's figure the target judges */
  readonly devflow?: Figure | undefined
  /** the figure it is compared with: a peer's (or the floor's), measured in the same run; label: a column or a variant of one (B2's openid-client-dpop) */
  readonly versus?: { readonly label: string; readonly figure: Figure } | undefined
}

/**
 * A target judged on devflow's figure, shown beside the peer figure it is compared with
 * (`met` receives both; the peer's may be missing when the peer could not run, and `met`
 * may answer null: not measured).
 */
export const compared = (
  name: string,
  unit: string,
  devflow: number | undefined,
  versus: { readonly label: string; readonly value: number | undefined },
  met: (devflow: number, peer: number | undefined) => boolean | null,
  detail = ""
): Target => ({
  name,
  met: devflow === undefined || Number.isNaN(devflow) ? null : met(devflow, versus.value),
  detail: devflow === undefined || Number.isNaN(devflow)
    ? `devflow not measured${detail ? `; ${detail}` : ""}`
    : detail,
  devflow: devflow === undefined || Number.isNaN(devflow) ? undefined : { value: devflow, unit },
  versus: versus.value === undefined || Number.isNaN(versus.value)
    ? undefined
    : { label: versus.label, figure: { value: versus.value, unit } }
})

export interface BenchResult {
  readonly id: `B${number}`
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

const COLUMNS: ReadonlyArray<Column> = ["devflow", "devflow-user", "openid-client", "msal-node", "node -e 0"]

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

const ratio = (row: Row): string =>
  (["devflow", "devflow-user"] as const).flatMap((mine) => {
    const d = row.values[mine]
    if (d === undefined || typeof d === "string") return []
    const label = mine === "devflow" ? "" : `${mine} `
    return (row.ratioTo ?? []).flatMap((c) => {
      const p = row.values[c]
      if (p === undefined || typeof p === "string" || p.median === 0) return []
      return [`${label}÷${c === "node -e 0" ? "floor" : c}: ${(d.median / p.median).toFixed(2)}×`]
    })
  }).join(", ")

const table = (header: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>): string => {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)))
  const line = (cells: ReadonlyArray<string>) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(" | ")} |`
  return [line(header), `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`, ...rows.map(line)].join("\n")
}

const figure = (f: Figure): string => `${Number.isInteger(f.value) ? f.value : fmt(f.value)} ${f.unit}`

const targetRatio = (t: Target): string =>
  t.devflow === undefined || t.versus === undefined || t.versus.figure.value === 0
    ? ""
    : `${(t.devflow.value / t.versus.figure.value).toFixed(2)}×`

const verdict = (t: Target): string => (t.met === null ? "NOT MEASURED" : t.met ? "MET" : "NOT MET")

/**
 * Every benchmark's targets in one table: devflow's figure, the peer figure it is compared
 * with, their ratio, met or not, and the machine's load (1-minute average) before → after
 * that benchmark. A benchmark's targets join it by being returned in its result.
 */
export const renderTargets = (benchmarks: ReadonlyArray<BenchResult>): string => {
  const rows = benchmarks.flatMap((b) =>
    b.targets.map((t) => [
      b.id,
      t.name,
      t.devflow === undefined ? "–" : figure(t.devflow),
      t.versus === undefined ? "–" : `${t.versus.label} ${figure(t.versus.figure)}`,
      targetRatio(t) || "–",
      verdict(t),
      `${b.loadBefore} → ${b.loadAfter}`
    ])
  )
  if (rows.length === 0) return ""
  return ["### Targets", "", table(["", "target", "devflow", "compared with", "ratio", "met", "load"], rows), ""].join(
    "\n"
  )
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
    const figures = [
      t.devflow === undefined ? "" : `devflow ${figure(t.devflow)}`,
      t.versus === undefined ? "" : `${t.versus.label} ${figure(t.versus.figure)}`,
      targetRatio(t)
    ].filter((x) => x !== "").join(", ")
    parts.push(`- target ${verdict(t)}: ${t.name} — ${[figures, t.detail].filter((x) => x !== "").join("; ")}`)
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
    ...r.benchmarks.flatMap((b) => [renderBench(b), ""]),
    // last, so it is what a terminal shows when the run ends
    renderTargets(r.benchmarks)
  ].join("\n")
