/**
 * The snapshot reader against real V8 heap snapshots: a small Node process
 * writes one, makes 1,000 objects of a known class each holding a named
 * closure, and writes another.
 */
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { diffPerUnit, readSnapshot, renderDiff } from "./heapSnapshot.js"

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "devflow-heap-test-"))
const before = path.join(dir, "before.heapsnapshot")
const after = path.join(dir, "after.heapsnapshot")
const UNITS = 1_000

const program = `
const v8 = require("node:v8")
class PendingMarker { constructor(i) { this.i = i; this.wake = function markerWake() { return i } } }
const kept = []
v8.writeHeapSnapshot(${JSON.stringify(before)})
for (let i = 0; i < ${UNITS}; i++) kept.push(new PendingMarker(i))
v8.writeHeapSnapshot(${JSON.stringify(after)})
globalThis.kept = kept
`

describe("heap snapshot difference per unit", () => {
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

  it("counts what each unit of work added, by constructor and by closure name", { timeout: 60_000 }, () => {
    execFileSync(process.execPath, ["-e", program], { stdio: "ignore", timeout: 50_000 })
    const diff = diffPerUnit(readSnapshot(before), readSnapshot(after), UNITS)
    const row = (name: string) => diff.rows.find((r) => r.name === name)

    expect(row("PendingMarker")?.countPerUnit).toBe(1)
    expect(row("PendingMarker")?.bytesPerUnit).toBeGreaterThan(0)
    expect(row("closure markerWake")?.countPerUnit).toBe(1)
    // every unit costs at least its object and its closure, and the rows add up to the total
    expect(diff.totalBytesPerUnit).toBeGreaterThanOrEqual(
      row("PendingMarker")!.bytesPerUnit + row("closure markerWake")!.bytesPerUnit
    )
    expect(diff.rows.reduce((s, r) => s + r.bytesPerUnit, 0)).toBeCloseTo(diff.totalBytesPerUnit, 6)
    // largest first
    expect(diff.rows.map((r) => r.bytesPerUnit)).toEqual(
      [...diff.rows.map((r) => r.bytesPerUnit)].sort((a, b) => b - a)
    )
    expect(renderDiff(diff, 25).join("\n")).toContain("PendingMarker")
  })

  it("rejects a file that is not a heap snapshot", () => {
    const bogus = path.join(dir, "bogus.heapsnapshot")
    fs.writeFileSync(bogus, "{\"not\":\"a snapshot\"}")
    expect(() => readSnapshot(bogus)).toThrow(/not a V8 heap snapshot/)
  })
})
