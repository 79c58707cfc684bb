/**
 * What a V8 heap snapshot (`.heapsnapshot`, as `v8.writeHeapSnapshot` writes
 * it) holds, summed by constructor or closure name, and the difference of
 * two snapshots per unit of work (per pending flow).
 *
 * The file is read as bytes, not as one string: a snapshot of 10,000
 * pending flows runs to hundreds of MB, near V8's maximum string length. Only
 * the header (`snapshot.meta`) and the `strings` table go through
 * `JSON.parse`; the `nodes` array (flat integers, `meta.node_fields` per
 * node) is read straight from the bytes and the edges are skipped.
 */
import * as fs from "node:fs"

/** Objects of one name in a snapshot. */
export interface Group {
  readonly count: number
  readonly bytes: number
}

/** One row of a difference, per unit (per flow). */
export interface DiffRow {
  readonly name: string
  readonly countPerUnit: number
  readonly bytesPerUnit: number
}

interface Meta {
  readonly node_fields: ReadonlyArray<string>
  readonly node_types: readonly [ReadonlyArray<string>, ...ReadonlyArray<unknown>]
}

const find = (bytes: Buffer, marker: string, from = 0): number => {
  const at = bytes.indexOf(marker, from, "latin1")
  if (at < 0) throw new Error(`not a V8 heap snapshot: no ${marker}`)
  return at
}

/** The non-negative integers of a JSON array body, from `start` up to its closing `]`. */
const readIntegers = (bytes: Buffer, start: number): Array<number> => {
  const out: Array<number> = []
  let value = 0
  let inNumber = false
  for (let i = start; i < bytes.length; i++) {
    const c = bytes[i]!
    if (c >= 48 && c <= 57) {
      value = value * 10 + (c - 48)
      inNumber = true
    } else {
      if (inNumber) out.push(value)
      value = 0
      inNumber = false
      if (c === 93) return out // ]
    }
  }
  throw new Error("truncated heap snapshot: the nodes array never ends")
}

/**
 * Every node of the snapshot summed by name: `closure` nodes by function name
 * (`closure NAME`), `object` and `native` nodes by constructor / class name,
 * every other type (strings, arrays, code, hidden) by its type, `(type)`.
 */
export const readSnapshot = (file: string): Map<string, Group> => {
  const bytes = fs.readFileSync(file)
  const nodesAt = find(bytes, "\"nodes\":[")
  const header = bytes.subarray(0, nodesAt).toString("utf8").replace(/,\s*$/, "")
  const meta = (JSON.parse(`${header}}`) as { snapshot: { meta: Meta } }).snapshot.meta
  const nodes = readIntegers(bytes, nodesAt + "\"nodes\":[".length)
  // `"strings":[` cannot occur inside a JSON string (its quotes would be escaped)
  const stringsAt = find(bytes, "\"strings\":[", nodesAt)
  const stringsEnd = bytes.lastIndexOf("]")
  const strings = JSON.parse(
    bytes.subarray(stringsAt + "\"strings\":".length, stringsEnd + 1).toString("utf8")
  ) as Array<string>

  const width = meta.node_fields.length
  const typeAt = meta.node_fields.indexOf("type")
  const nameAt = meta.node_fields.indexOf("name")
  const sizeAt = meta.node_fields.indexOf("self_size")
  if (typeAt < 0 || nameAt < 0 || sizeAt < 0 || nodes.length % width !== 0) {
    throw new Error(`unexpected heap snapshot layout in ${file}`)
  }
  const types = meta.node_types[0]
  const groups = new Map<string, { count: number; bytes: number }>()
  for (let i = 0; i < nodes.length; i += width) {
    const type = types[nodes[i + typeAt]!] ?? "unknown"
    const name = type === "closure"
      ? `closure ${strings[nodes[i + nameAt]!] || "(anonymous)"}`
      : type === "object" || type === "native"
      ? (strings[nodes[i + nameAt]!] ?? "(unnamed)")
      : `(${type})`
    const group = groups.get(name)
    if (group === undefined) groups.set(name, { count: 1, bytes: nodes[i + sizeAt]! })
    else {
      group.count++
      group.bytes += nodes[i + sizeAt]!
    }
  }
  return groups
}

/** (after − before) ÷ `units` for every name, largest bytes first; the total over all names first. */
export const diffPerUnit = (
  before: ReadonlyMap<string, Group>,
  after: ReadonlyMap<string, Group>,
  units: number
): { readonly totalBytesPerUnit: number; readonly rows: ReadonlyArray<DiffRow> } => {
  const names = new Set([...before.keys(), ...after.keys()])
  const rows: Array<DiffRow> = []
  let total = 0
  for (const name of names) {
    const a = before.get(name) ?? { count: 0, bytes: 0 }
    const b = after.get(name) ?? { count: 0, bytes: 0 }
    total += b.bytes - a.bytes
    rows.push({ name, countPerUnit: (b.count - a.count) / units, bytesPerUnit: (b.bytes - a.bytes) / units })
  }
  rows.sort((x, y) => y.bytesPerUnit - x.bytesPerUnit)
  return { totalBytesPerUnit: total / units, rows }
}

/** The difference as text lines: bytes and objects per unit, then the name. */
export const renderDiff = (diff: ReturnType<typeof diffPerUnit>, top: number, unit = "flow"): Array<string> => [
  `${"bytes".padStart(8)} ${"count".padStart(7)}  per ${unit}: constructor / closure / (type)`,
  ...diff.rows.slice(0, top).map((r) =>
    `${r.bytesPerUnit.toFixed(0).padStart(8)} ${r.countPerUnit.toFixed(2).padStart(7)}  ${r.name.slice(0, 100)}`
  ),
  `${diff.totalBytesPerUnit.toFixed(0).padStart(8)} ${"".padStart(7)}  total (every name)`
]
