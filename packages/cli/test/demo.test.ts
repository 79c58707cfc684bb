import { describe, expect, it } from "vitest"
import { devflow, STACK } from "./helpers.js"

describe("devflow demo (the README's first command)", () => {
  it("signs in against the embedded oidc-provider and reports events as JSON Lines", async () => {
    const run = await devflow(["demo", "--auto-approve", "--interval", "1", "--json"])
    expect(run.code, run.stderr).toBe(0)
    const events = run.stdout.trim().split("\n").map((line) => JSON.parse(line) as { event: string })
    expect(events[0]?.event).toBe("code_issued")
    expect(events.at(-2)?.event).toBe("succeeded")
    expect(events.at(-1)).toMatchObject({
      event: "result",
      account: { id: "demo-user", username: "demo-user" },
      token_type: "Bearer",
      refresh_token: true,
      id_token: true
    })
    // UTC in JSON
    expect(events.at(-1)?.["expires_on" as never]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/)
    // The token itself is never printed by the demo.
    expect(run.stdout).not.toMatch(/eyJ[\w-]+\.[\w-]+/)
    expect(run.stderr).toMatch(/enter the code [A-Z]{4}-[A-Z]{4}/)
  }, 60_000)

  it("a usage error exits 2 with a one-line message and no stack trace", async () => {
    const run = await devflow(["demo", "--port", "not-a-number"])
    expect(run.code).toBe(2)
    expect(run.stderr.trim().split("\n")).toHaveLength(1)
    expect(run.stderr + run.stdout).not.toMatch(STACK)
  })
})
