/**
 * The benchmark harness, in quick mode: every benchmark runs with a handful
 * of flows and calls, so the harness cannot rot. Asserts that each produced
 * figures and counted failures — never a timing.
 */
import { describe, expect, it } from "vitest"
import { run } from "../src/harness.js"
import type { Row } from "../src/report.js"
import { renderResults } from "../src/report.js"

const numbers = (row: Row | undefined): Array<number> =>
  Object.values(row?.values ?? {}).flatMap((v) => (v !== undefined && typeof v !== "string" ? [v.median] : []))

describe("benchmark harness (quick mode)", () => {
  it("runs B1–B8 and produces figures for every client", { timeout: 120_000 }, async () => {
    const results = await run({ quick: true })
    const byId = new Map(results.benchmarks.map((b) => [b.id, b]))
    expect([...byId.keys()].sort()).toEqual(["B1", "B2", "B3", "B4", "B5", "B6", "B7", "B8"])
    // B8 runs store-redis' own tests, which `pnpm test` runs anyway: quick mode says so instead
    expect(byId.get("B8")!.pending).toMatch(/quick mode/)
    for (const b of results.benchmarks) {
      // a harness crash is reported as `pending: the harness failed …`
      expect(b.pending ?? "", b.id).not.toMatch(/harness failed/)
    }

    const row = (id: string, metric: string) => byId.get(id as never)!.rows.find((r) => r.metric.includes(metric))
    // B1: the floor and msal-node always; devflow once the CLI has `token`
    expect(numbers(row("B1", "wall per process")).length).toBeGreaterThanOrEqual(byId.get("B1")!.pending ? 2 : 3)
    // B1 with a DPoP-bound token cached (issue 24): beside the floor, no failed run, once the CLI is bundled
    if (byId.get("B1")!.pending === undefined) {
      expect(numbers(row("B1", "DPoP-bound token cached: wall per process"))).toHaveLength(2)
      expect(row("B1", "DPoP-bound token cached: failed runs")?.values).toEqual({ devflow: "0" })
    }
    // B2: RSS and CPU for the three clients and devflow as a user writes it, failures counted for each
    expect(numbers(row("B2", "peak RSS"))).toHaveLength(4)
    expect(numbers(row("B2", "CPU"))).toHaveLength(4)
    expect(numbers(row("B2", "failures"))).toHaveLength(4)
    // B2 with DPoP (issue 24): devflow-dpop and openid-client-dpop in devflow's and openid-client's columns,
    // every flow done and its tokens DPoP-bound by the server's count (quick mode: N=10)
    expect(numbers(row("B2", "with DPoP peak RSS"))).toHaveLength(2)
    expect(numbers(row("B2", "with DPoP CPU"))).toHaveLength(2)
    expect(numbers(row("B2", "with DPoP failures"))).toEqual([0, 0])
    expect(numbers(row("B2", "with DPoP tokens DPoP-bound"))).toEqual([10, 10])
    expect(numbers(row("B2", "CPU added by DPoP"))).toHaveLength(2)
    // the cost of one proof, both libraries
    for (const metric of ["one DPoP proof (ES256), wall", "one DPoP proof (ES256), CPU"]) {
      const values = numbers(row("B2", metric))
      expect(values, metric).toHaveLength(2)
      expect(values.every((v) => v > 0), metric).toBe(true)
    }
    // B3: lateness percentiles from the server's records
    expect(numbers(row("B3", "p99 lateness"))).toHaveLength(3)
    expect(numbers(row("B3", "polls timed")).every((n) => n > 0)).toBe(true)
    // B4: devflow and msal-node silent hits
    expect(numbers(row("B4", "median per silent hit"))).toHaveLength(2)
    // B5: every client got through the real dev server
    expect(numbers(row("B5", "approval → tokens"))).toHaveLength(3)
    // B6: one described behaviour per client and scenario
    for (const r of byId.get("B6")!.rows) expect(Object.values(r.values)).toHaveLength(3)
    // B7: each command beside the floor, once the CLI is bundled
    if (byId.get("B7")!.pending === undefined) {
      for (const r of byId.get("B7")!.rows) expect(numbers(r), r.metric).toHaveLength(2)
    }

    // the targets table: each issue 11 target with devflow's figure, the peer's, and a verdict
    const targets = results.benchmarks.flatMap((b) => b.targets.map((t) => ({ id: b.id, ...t })))
    for (const id of ["B1", "B2", "B3", "B4", "B6"]) expect(targets.some((t) => t.id === id), id).toBe(true)
    for (
      const name of [
        "0 failures",
        "CPU ≤ ½",
        "peak RSS ≤ ½",
        "8 KiB",
        "p99 lateness",
        "never early",
        "20 µs",
        "cancel mid-request"
      ]
    ) {
      const t = targets.find((x) => x.name.includes(name))
      expect(t?.devflow?.value, name).toBeTypeOf("number")
      expect(t?.versus?.figure.value, name).toBeTypeOf("number")
      expect(t?.met, name).not.toBeNull()
    }
    // devflow as a user writes it is judged by the same targets, and so is devflow with DPoP against openid-client with DPoP
    expect(targets.some((t) => t.name.includes("devflow-user CPU ≤ ½") && t.devflow !== undefined)).toBe(true)
    for (
      const name of ["devflow-dpop CPU ≤ ½ openid-client-dpop's", "devflow-dpop peak RSS ≤ ½ openid-client-dpop's"]
    ) {
      const t = targets.find((x) => x.name.includes(name))
      expect(t?.devflow?.value, name).toBeTypeOf("number")
      expect(t?.versus?.label, name).toBe("openid-client-dpop")
      expect(t?.versus?.figure.value, name).toBeTypeOf("number")
    }
    if (byId.get("B1")!.pending === undefined) {
      const t = targets.find((x) => x.name.includes("DPoP-bound token cached"))
      expect(t?.devflow?.value).toBeTypeOf("number")
      expect(t?.versus?.figure.value).toBeTypeOf("number")
    }
    const markdown = renderResults(results)
    // one targets table, at the end of the report
    expect(markdown.indexOf("### Targets")).toBeGreaterThan(markdown.indexOf("### B6"))
    expect(markdown).toContain("### B6")
  })
})
