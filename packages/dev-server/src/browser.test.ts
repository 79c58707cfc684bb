import { existsSync } from "node:fs"
import { afterEach, describe, expect, it } from "vitest"
import { approveInBrowser } from "./browser.js"
import { DEVICE_CODE_GRANT, type DevServer, startDevServer } from "./index.js"

const hasChromium = existsSync("/usr/bin/chromium")
// CI installs Chromium and sets this, so a missing browser fails there instead of skipping.
if (process.env.DEVFLOW_REQUIRE_BROWSER === "1" && !hasChromium) {
  throw new Error("DEVFLOW_REQUIRE_BROWSER=1 but /usr/bin/chromium is missing: install Debian's chromium package")
}

const servers: Array<DevServer> = []
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()))
})

const begin = async () => {
  const server = await startDevServer()
  servers.push(server)
  const res = await fetch(server.deviceAuthorizationEndpoint, {
    method: "POST",
    body: new URLSearchParams({ client_id: server.clientId, scope: "openid profile offline_access" })
  })
  const auth = (await res.json()) as {
    device_code: string
    user_code: string
    verification_uri: string
    verification_uri_complete: string
  }
  const poll = async () => {
    const r = await fetch(server.tokenEndpoint, {
      method: "POST",
      body: new URLSearchParams({
        client_id: server.clientId,
        grant_type: DEVICE_CODE_GRANT,
        device_code: auth.device_code
      })
    })
    return { status: r.status, json: (await r.json()) as Record<string, unknown> }
  }
  return { auth, poll }
}

describe("approveInBrowser (headless Chromium)", () => {
  it.skipIf(!hasChromium)("approves through verification_uri_complete", async () => {
    const { auth, poll } = await begin()
    await approveInBrowser(auth.verification_uri_complete, "Grace Hopper")
    const tokens = await poll()
    expect(tokens.status).toBe(200)
    expect(typeof tokens.json.refresh_token).toBe("string")
    const idToken = String(tokens.json.id_token)
    const claims = JSON.parse(Buffer.from(idToken.split(".")[1] ?? "", "base64url").toString("utf8")) as Record<
      string,
      unknown
    >
    expect(claims.sub).toBe("Grace Hopper")
  })

  it.skipIf(!hasChromium)("types the user code and denies consent", async () => {
    const { auth, poll } = await begin()
    await approveInBrowser(auth, "mallory", { deny: true })
    const denied = await poll()
    expect(denied.status).toBe(400)
    expect(denied.json.error).toBe("access_denied")
  })
})
