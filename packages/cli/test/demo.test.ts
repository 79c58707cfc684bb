import { execFile } from "node:child_process"
import { createRequire } from "node:module"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"

const require = createRequire(import.meta.url)
const tsx = require.resolve("tsx/cli")
const bin = fileURLToPath(new URL("../src/bin.ts", import.meta.url))

const devflow = (args: ReadonlyArray<string>) =>
  new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    execFile(process.execPath, [tsx, "--conditions=@devflow/source", bin, ...args], { timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === "number" ? error.code : null) : 0, stdout, stderr })
    })
  })

describe("devflow demo (the README's first command)", () => {
  it("signs in against the embedded oidc-provider and reports events as JSON Lines", async () => {
    const run = await devflow(["demo", "--auto-approve", "--interval", "1", "--json"])
    expect(run.code, run.stderr).toBe(0)
    const events = run.stdout.trim().split("\n").map((line) => JSON.parse(line) as { event: string; account?: string })
    expect(events[0]?.event).toBe("code_issued")
    expect(events.at(-2)?.event).toBe("succeeded")
    expect(events.at(-1)).toMatchObject({ event: "result", account: "demo-user", refreshToken: true })
    // The token itself is never printed by the demo.
    expect(run.stdout).not.toMatch(/eyJ[\w-]+\.[\w-]+/)
    expect(run.stderr).toMatch(/enter the code [A-Z]{4}-[A-Z]{4}/)
  }, 60_000)

  it("a usage error exits 2 with a one-line message and no stack trace", async () => {
    const run = await devflow(["demo", "--port", "not-a-number"])
    expect(run.code).toBe(2)
    expect(run.stderr + run.stdout).not.toMatch(/\n\s+at /)
  }, 60_000)
})
