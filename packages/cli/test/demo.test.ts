import { approveOverHttp } from "@devflow/dev-server"
import * as fs from "node:fs"
import { afterAll, describe, expect, it } from "vitest"
import { asRun, Devflow, devflow, STACK, tempDir } from "./helpers.js"

const caches: Array<string> = []
afterAll(() => {
  for (const dir of caches) fs.rmSync(dir, { recursive: true, force: true })
})

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

  it("its last lines say it kept nothing and what to run next", async () => {
    const run = await devflow(["demo", "--auto-approve", "--interval", "1", "--no-qr"])
    expect(run.code, run.stderr).toBe(0)
    const last = run.stderr.trimEnd().split("\n").slice(-6)
    expect(last[0]).toMatch(/^The demo keeps nothing/)
    // spelled as it was started: here, the bundle run by path
    expect(last.join("\n")).toContain(`${asRun()} demo --serve`)
    expect(last.join("\n")).toContain(
      `${asRun()} login --issuer http://127.0.0.1:8628 --client-id devflow-demo --scope openid`
    )
    expect(last.join("\n")).toContain(`${asRun()} token`)
    expect(last.at(-1)).toContain(`${asRun()} login --help`)
    // a person reads local time; it is not an ISO string (and carries the date when that is tomorrow: an hour
    // after 23:00)
    expect(run.stderr).toMatch(
      /Signed in as demo-user; the access token is valid until (?:\d{4}-\d\d-\d\d )?\d\d:\d\d:\d\d /
    )
  }, 60_000)

  it(
    "--serve keeps the server for a second terminal: its login line signs in, token and accounts then work",
    async () => {
      const cache = tempDir()
      caches.push(cache)
      const serve = new Devflow(["demo", "--serve", "--port", "0", "--interval", "1", "--json"])
      try {
        const serving = await serve.event("serving")
        expect(serving.issuer).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
        // the endpoints the README's library example uses, printed for people too
        expect(serving).toMatchObject({
          device_authorization_endpoint: `${serving.issuer}/device/auth`,
          token_endpoint: `${serving.issuer}/token`
        })
        await serve.until((self) => (self.stderr.includes(`token endpoint ${serving.issuer}/token`) ? true : undefined))
        await serve.until((self) => (self.stderr.includes("forget the account") ? true : undefined))
        expect(serve.stderr).toContain("In a second terminal")
        expect(serve.stderr).toContain(serving.login)
        // the exact line it printed, run as printed
        const line = String(serving.login)
        expect(line.startsWith(`${asRun()} login `), line).toBe(true)
        const args = line.slice(asRun().length + 1).split(" ")
        const login = new Devflow([...args, "--no-qr", "--cache-dir", cache])
        const code = await login.userCode()
        await approveOverHttp(`${serving.issuer}/device`, code, { accountId: "grace" })
        const signedIn = await login.exit
        expect(signedIn.code, signedIn.stderr).toBe(0)
        const [token, accounts] = await Promise.all([
          devflow(["token", "--format", "json", "--cache-dir", cache], { tokenOutput: true }),
          devflow(["accounts", "--cache-dir", cache])
        ])
        expect(token.code, token.stderr).toBe(0)
        expect(JSON.parse(token.stdout)).toMatchObject({ account: { username: "grace" }, source: "cache" })
        expect(accounts.stdout).toMatch(/^grace/m)
      } finally {
        serve.child.kill("SIGINT")
      }
      const stopped = await serve.exit
      expect(stopped.stderr).toContain("Demo server stopped.")
      // the Ctrl-C it asks for is its normal end
      expect(stopped.code).toBe(0)
      expect(stopped.stderr).not.toMatch(/interrupted/)
    },
    60_000
  )

  it("a usage error exits 2 with a one-line message and no stack trace", async () => {
    const run = await devflow(["demo", "--port", "not-a-number"])
    expect(run.code).toBe(2)
    expect(run.stderr.trim().split("\n")).toHaveLength(1)
    expect(run.stderr + run.stdout).not.toMatch(STACK)
  })
})
