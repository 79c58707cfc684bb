import { setTimeout as sleep } from "node:timers/promises"
import { describe, expect, it, type TestContext } from "vitest"
import { DEVICE_CODE_GRANT, type DevServer, type DevServerOptions, startDevServer } from "./index.js"

type Json = Record<string, unknown>

/** Starts a server that is closed when the (possibly concurrent) test finishes. */
const start = async ({ onTestFinished }: TestContext, options?: DevServerOptions) => {
  const server = await startDevServer(options)
  onTestFinished(() => server.close())
  return server
}

const post = async (url: string, body: Record<string, string>, headers: Record<string, string> = {}) => {
  const res = await fetch(url, { method: "POST", headers, body: new URLSearchParams(body) })
  return { status: res.status, json: (await res.json()) as Json }
}
const getJson = async (url: string) => {
  const res = await fetch(url)
  return { status: res.status, json: (await res.json()) as Json }
}

const deviceAuthorization = async (server: DevServer, scope = "openid profile offline_access") => {
  const { status, json } = await post(server.deviceAuthorizationEndpoint, { client_id: server.clientId, scope })
  if (status !== 200) throw new Error(`device authorization failed: ${status} ${JSON.stringify(json)}`)
  return json as {
    device_code: string
    user_code: string
    verification_uri: string
    verification_uri_complete: string
    expires_in: number
    interval: number
  }
}

const poll = (server: DevServer, deviceCode: string) =>
  post(server.tokenEndpoint, { client_id: server.clientId, grant_type: DEVICE_CODE_GRANT, device_code: deviceCode })

const jwtPayload = (jwt: unknown): Json => {
  if (typeof jwt !== "string") throw new Error(`not a JWT: ${String(jwt)}`)
  return JSON.parse(Buffer.from(jwt.split(".")[1] ?? "", "base64url").toString("utf8")) as Json
}

const count = (kind: string) => process.getActiveResourcesInfo().filter((r) => r === kind).length

// Every flow test has its own server on its own port, so they run concurrently
// (the expiry and pacing tests mostly wait).
describe.concurrent("startDevServer", () => {
  it("serves a discovery document with the device authorization endpoint", async (ctx) => {
    const { expect } = ctx
    const server = await start(ctx)
    expect(server.issuer).toBe(`http://127.0.0.1:${server.port}`)
    expect(server.clientId).toBe("devflow-demo")

    const { status, json } = await getJson(`${server.issuer}/.well-known/openid-configuration`)
    expect(status).toBe(200)
    expect(json.issuer).toBe(server.issuer)
    expect(json.device_authorization_endpoint).toBe(server.deviceAuthorizationEndpoint)
    expect(json.token_endpoint).toBe(server.tokenEndpoint)
    expect(json.grant_types_supported).toEqual(expect.arrayContaining([DEVICE_CODE_GRANT, "refresh_token"]))
    expect(json.scopes_supported).toEqual(expect.arrayContaining(["openid", "profile", "email", "offline_access"]))
  })

  it("supports an issuer with a path (RFC 8414 path insertion and OIDC path appending)", async (ctx) => {
    const { expect } = ctx
    const server = await start(ctx, { issuerPath: "/realms/demo" })
    expect(server.issuer).toBe(`http://127.0.0.1:${server.port}/realms/demo`)
    const origin = `http://127.0.0.1:${server.port}`
    for (
      const url of [
        `${origin}/.well-known/oauth-authorization-server/realms/demo`,
        `${server.issuer}/.well-known/openid-configuration`
      ]
    ) {
      const { status, json } = await getJson(url)
      expect(status).toBe(200)
      expect(json.issuer).toBe(server.issuer)
      expect(json.device_authorization_endpoint).toBe(`${server.issuer}/device/auth`)
    }
    expect((await fetch(`${origin}/.well-known/openid-configuration`)).status).toBe(404)

    const auth = await deviceAuthorization(server)
    expect(auth.verification_uri).toBe(`${server.issuer}/device`)
    await server.approve(auth.user_code)
    const { status, json } = await poll(server, auth.device_code)
    expect(status).toBe(200)
    expect(jwtPayload(json.id_token).iss).toBe(server.issuer)
  })

  it("runs the full device flow: pending, approval, tokens, refresh", async (ctx) => {
    const { expect } = ctx
    const server = await start(ctx, { pollIntervalSeconds: 1 })
    const auth = await deviceAuthorization(server, "openid profile email offline_access")
    expect(auth).toMatchObject({
      verification_uri: `${server.issuer}/device`,
      verification_uri_complete: `${server.issuer}/device?user_code=${encodeURIComponent(auth.user_code)}`,
      expires_in: 600,
      interval: 1
    })
    expect(auth.user_code).toMatch(/^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/)

    const pending = await poll(server, auth.device_code)
    // the server saw that poll before this instant: measure the interval from here
    const polledBefore = Date.now()
    expect(pending.status).toBe(400)
    expect(pending.json.error).toBe("authorization_pending")

    await server.approve(auth.user_code, { accountId: "Ada Lovelace" })
    await sleep(Math.max(0, polledBefore + 1_050 - Date.now()))

    const tokens = await poll(server, auth.device_code)
    expect(tokens.status).toBe(200)
    expect(tokens.json).toMatchObject({ token_type: "Bearer", expires_in: 3600 })
    expect(String(tokens.json.scope).split(" ").sort()).toEqual(["email", "offline_access", "openid", "profile"])
    expect(typeof tokens.json.access_token).toBe("string")
    expect(typeof tokens.json.refresh_token).toBe("string")
    expect(jwtPayload(tokens.json.id_token)).toMatchObject({
      iss: server.issuer,
      aud: server.clientId,
      sub: "Ada Lovelace",
      name: "Ada Lovelace",
      preferred_username: "Ada Lovelace",
      email: "ada-lovelace@devflow.test"
    })

    const refreshed = await post(server.tokenEndpoint, {
      client_id: server.clientId,
      grant_type: "refresh_token",
      refresh_token: String(tokens.json.refresh_token)
    })
    expect(refreshed.status).toBe(200)
    expect(typeof refreshed.json.access_token).toBe("string")
    expect(refreshed.json.access_token).not.toBe(tokens.json.access_token)
    // public client: oidc-provider rotates the refresh token on every use
    expect(typeof refreshed.json.refresh_token).toBe("string")
    expect(refreshed.json.refresh_token).not.toBe(tokens.json.refresh_token)
    expect(jwtPayload(refreshed.json.id_token).sub).toBe("Ada Lovelace")

    const userinfo = await fetch(`${server.issuer}/me`, {
      headers: { authorization: `Bearer ${String(refreshed.json.access_token)}` }
    })
    expect(userinfo.status).toBe(200)
    expect(await userinfo.json()).toMatchObject({ sub: "Ada Lovelace", email: "ada-lovelace@devflow.test" })

    // re-using the rotated refresh token is rejected (and revokes the grant)
    const reused = await post(server.tokenEndpoint, {
      client_id: server.clientId,
      grant_type: "refresh_token",
      refresh_token: String(tokens.json.refresh_token)
    })
    expect(reused.status).toBe(400)
    expect(reused.json.error).toBe("invalid_grant")
  })

  it("issues no refresh token without offline_access", async (ctx) => {
    const { expect } = ctx
    const server = await start(ctx)
    const auth = await deviceAuthorization(server, "openid")
    await server.approve(auth.user_code)
    const tokens = await poll(server, auth.device_code)
    expect(tokens.status).toBe(200)
    expect(tokens.json.refresh_token).toBeUndefined()
    expect(typeof tokens.json.id_token).toBe("string")
  })

  it("answers access_denied when the user denies consent", async (ctx) => {
    const { expect } = ctx
    const server = await start(ctx)
    const auth = await deviceAuthorization(server)
    await server.approve(auth.user_code, { accountId: "mallory", deny: true })
    const denied = await poll(server, auth.device_code)
    expect(denied.status).toBe(400)
    expect(denied.json.error).toBe("access_denied")
    // the code is spent: approving again fails on the verification page
    await expect(server.approve(auth.user_code)).rejects.toThrow(/AlreadyUsedError/)
  })

  it("rejects an unknown user code on the verification page", async (ctx) => {
    const { expect } = ctx
    const server = await start(ctx)
    await expect(server.approve("BCDF-GHJK")).rejects.toThrow(/NotFoundError/)
  })

  it("answers expired_token once the device code expired", async (ctx) => {
    const { expect } = ctx
    const server = await start(ctx, { deviceCodeTtlSeconds: 2, pollIntervalSeconds: 1 })
    const auth = await deviceAuthorization(server)
    expect(auth.expires_in).toBe(2)
    // lifetimes are whole epoch seconds: the code expires 1 to 2 s from now
    await sleep(2_100)
    const expired = await poll(server, auth.device_code)
    expect(expired.status).toBe(400)
    expect(expired.json.error).toBe("expired_token")
    await expect(server.approve(auth.user_code)).rejects.toThrow(/ExpiredError/)
  })

  it("answers slow_down when polled faster than the interval, and raises the interval by 5 s", async (ctx) => {
    const { expect } = ctx
    const server = await start(ctx, { pollIntervalSeconds: 1 })
    const auth = await deviceAuthorization(server)
    expect(auth.interval).toBe(1)

    expect((await poll(server, auth.device_code)).json.error).toBe("authorization_pending")
    await sleep(1_050)
    // a client that keeps to the interval is not penalised
    expect((await poll(server, auth.device_code)).json.error).toBe("authorization_pending")
    const fast = await poll(server, auth.device_code)
    expect(fast.status).toBe(400)
    expect(fast.json.error).toBe("slow_down")
    expect(fast.json.error_description).toMatch(/6 seconds/)
    // 1 s is no longer enough after a slow_down (the interval is now 6 s)
    await sleep(1_050)
    expect((await poll(server, auth.device_code)).json.error).toBe("slow_down")
  })

  it("advertises the default 5 s interval and enforces it", async (ctx) => {
    const { expect } = ctx
    const server = await start(ctx)
    const auth = await deviceAuthorization(server)
    expect(auth.interval).toBe(5)
    expect((await poll(server, auth.device_code)).json.error).toBe("authorization_pending")
    expect((await poll(server, auth.device_code)).json.error).toBe("slow_down")
  })

  it("supports confidential clients", async (ctx) => {
    const { expect } = ctx
    const server = await start(ctx, { clients: [{ client_id: "cli", client_secret: "s3cret" }] })
    expect(server.clientId).toBe("cli")
    const basic = `Basic ${Buffer.from("cli:s3cret").toString("base64")}`
    const anonymous = await post(server.deviceAuthorizationEndpoint, { client_id: "cli", scope: "openid" })
    expect(anonymous.json.error).toBe("invalid_client")
    const auth = await post(server.deviceAuthorizationEndpoint, { scope: "openid offline_access" }, {
      authorization: basic
    })
    expect(auth.status).toBe(200)
    await server.approve(String(auth.json.user_code))
    const tokens = await post(
      server.tokenEndpoint,
      { grant_type: DEVICE_CODE_GRANT, device_code: String(auth.json.device_code) },
      { authorization: basic }
    )
    expect(tokens.status).toBe(200)
    expect(typeof tokens.json.refresh_token).toBe("string")
  })

  it("validates its options", async ({ expect }) => {
    await expect(startDevServer({ pollIntervalSeconds: 0 })).rejects.toThrow(RangeError)
    await expect(startDevServer({ deviceCodeTtlSeconds: 1.5 })).rejects.toThrow(RangeError)
    await expect(startDevServer({ issuerPath: "realms" })).rejects.toThrow(RangeError)
    await expect(startDevServer({ clients: [] })).rejects.toThrow(RangeError)
  })
})

// Counts the process's sockets: must not overlap with other tests.
describe("close()", () => {
  it("stops listening and leaves no open sockets", async () => {
    const servers0 = count("TCPServerWrap")
    const sockets0 = count("TCPSocketWrap")
    const server = await startDevServer()
    expect(count("TCPServerWrap")).toBe(servers0 + 1)
    // leave a keep-alive connection open, then close
    expect((await fetch(`${server.issuer}/.well-known/openid-configuration`)).status).toBe(200)
    await server.close()
    await server.close() // idempotent

    for (let i = 0; i < 100 && (count("TCPServerWrap") > servers0 || count("TCPSocketWrap") > sockets0); i++) {
      await sleep(10)
    }
    expect(count("TCPServerWrap")).toBe(servers0)
    expect(count("TCPSocketWrap")).toBeLessThanOrEqual(sockets0)
    await expect(fetch(`${server.issuer}/.well-known/openid-configuration`)).rejects.toThrow()
  })
})
