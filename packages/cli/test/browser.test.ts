import { type DevServer, startDevServer } from "@devflow/dev-server"
import { approveInBrowser } from "@devflow/dev-server/browser"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Devflow, devflow, tempDir } from "./helpers.js"

const hasChromium = fs.existsSync("/usr/bin/chromium")
// CI installs Chromium and sets this, so a missing browser fails there instead of skipping.
if (process.env.DEVFLOW_REQUIRE_BROWSER === "1" && !hasChromium) {
  throw new Error("DEVFLOW_REQUIRE_BROWSER=1 but /usr/bin/chromium is missing: install Debian's chromium package")
}

let server: DevServer
let cache: string
beforeAll(async () => {
  server = await startDevServer({ pollIntervalSeconds: 1 })
  cache = tempDir()
})
afterAll(async () => {
  await server.close()
  fs.rmSync(cache, { recursive: true, force: true })
})

describe.skipIf(!hasChromium)("a person signs in with a real browser (headless Chromium)", () => {
  it("login --json, the code typed into the verification page, then devflow token", async () => {
    const run = new Devflow([
      "login",
      "--issuer",
      server.issuer,
      "--client-id",
      "devflow-demo",
      "--scope",
      "openid",
      "--json",
      "--cache-dir",
      cache
    ])
    const issued = await run.event("code_issued")
    // The person opens the plain verification URI and types the code shown in the terminal.
    await approveInBrowser({ verification_uri: issued.verification_uri, user_code: issued.user_code }, "browser-user")
    const done = await run.exit
    expect(done.code, done.stderr).toBe(0)
    expect(run.events.at(-1)).toMatchObject({ event: "result", account: { id: `${server.issuer}#browser-user` } })
    expect(fs.statSync(path.join(cache, "tokens.json")).mode & 0o777).toBe(0o600)

    const token = await devflow(["token", "--cache-dir", cache], { tokenOutput: true })
    expect(token.code).toBe(0)
    const res = await fetch(`${server.issuer}/me`, { headers: { authorization: `Bearer ${token.stdout.trim()}` } })
    expect(res.status).toBe(200)
    expect(await res.json()).toMatchObject({ sub: "browser-user" })
  }, 60_000)
})
