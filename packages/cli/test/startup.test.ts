/**
 * Start-up (issue 23): help, the version and `providers` are answered before
 * the full CLI (Effect, @effect/cli) loads, and say exactly what the full
 * CLI says. How fast that is belongs to `pnpm bench` (B7), never to a test.
 */
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest"
import { cleanEnv, devflow } from "./helpers.js"

/** Answered by the fast paths; each must agree with the full CLI. */
const FAST: ReadonlyArray<ReadonlyArray<string>> = [
  [],
  ["--help"],
  ["help"],
  ["help", "login"],
  ["login", "--help"],
  ["providers", "-h"],
  ["-v"],
  ["--version"],
  ["providers"],
  ["providers", "github"],
  ["providers", "--json"],
  ["providers", "--verbose", "okta", "--json"]
]

describe("start-up: answers given before the full CLI loads", () => {
  let copy: string
  beforeAll(() => {
    // the bundle without the chunk that holds the full CLI (main.ts): what still answers never loaded it
    copy = fs.mkdtempSync(path.join(path.dirname(path.dirname(inject("devflowBin"))), "startup-"))
    fs.cpSync(path.dirname(inject("devflowBin")), copy, { recursive: true })
    const chunks = path.join(copy, "chunks")
    const main = fs.readdirSync(chunks).filter((f) => f.startsWith("main-"))
    expect(main).toHaveLength(1)
    fs.rmSync(path.join(chunks, main[0]!))
  })
  afterAll(() => fs.rmSync(copy, { recursive: true, force: true }))

  const withoutMain = (args: ReadonlyArray<string>, env: Readonly<Record<string, string>> = {}) =>
    spawnSync(process.execPath, [path.join(copy, "devflow.mjs"), ...args], { env: cleanEnv(env), encoding: "utf8", timeout: 20_000 })

  it("help, the version and `providers` never load the full CLI", () => {
    for (const args of FAST) {
      const run = withoutMain(args)
      expect(run.status, args.join(" ")).toBe(0)
      expect(run.stdout, args.join(" ")).not.toBe("")
      expect(run.stderr, args.join(" ")).toBe("")
    }
    expect(withoutMain(["--version"]).stdout).toMatch(/^\d+\.\d+\.\d+\n$/)
    expect(withoutMain(["providers", "github", "--json"]).stdout).toMatch(/^\{"id":"github",.*\}\n$/)
  })

  it("what the fast paths leave to the full CLI needs it (the copy without it cannot answer)", () => {
    for (const args of [["providers", "nope"], ["providers", "github", "okta"], ["accounts"], ["--json", "providers"]]) {
      const run = withoutMain(args, { DEVFLOW_CACHE_DIR: copy })
      expect(run.status, args.join(" ")).not.toBe(0)
      expect(run.stderr, args.join(" ")).toMatch(/ERR_MODULE_NOT_FOUND|Cannot find module/)
    }
    // a malformed variable is a usage error the full CLI reports
    expect(withoutMain(["providers"], { DEVFLOW_JSON: "maybe" }).stderr).toMatch(/ERR_MODULE_NOT_FOUND|Cannot find module/)
  })

  it("say exactly what the full CLI says (DEVFLOW_FAST_PATH=0), output and exit code", { timeout: 120_000 }, async () => {
    for (const args of FAST) {
      for (const env of [{}, { DEVFLOW_JSON: "yes" }]) {
        const fast = await devflow(args, { env })
        const full = await devflow(args, { env: { ...env, DEVFLOW_FAST_PATH: "0" } })
        const what = `${JSON.stringify(env)} ${args.join(" ")}`
        expect(fast.code, what).toBe(full.code)
        expect(fast.stdout, what).toBe(full.stdout)
        expect(fast.stderr, what).toBe(full.stderr)
      }
    }
  })
})
