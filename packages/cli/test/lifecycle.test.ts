import { type DevServer, startDevServer } from "@devflow/dev-server"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { asRun, cachedSecrets, Devflow, devflow, ESCAPE, STACK, tempDir, transcript } from "./helpers.js"

let server: DevServer
let cache: string
const seenTokens = new Set<string>()

beforeAll(async () => {
  server = await startDevServer({ pollIntervalSeconds: 1 })
  cache = tempDir()
})
afterAll(async () => {
  await server.close()
  fs.rmSync(cache, { recursive: true, force: true })
})

const loginArgs = () => [
  "login",
  "--provider",
  "generic",
  "--issuer",
  server.issuer,
  "--client-id",
  "devflow-demo",
  "--scope",
  "openid",
  "--scope",
  "offline_access",
  "--scope",
  "profile",
  "--json",
  "--cache-dir",
  cache
]

/** Sign in as `user`, approving over HTTP as soon as the code shows. */
const signIn = async (run: Devflow, user = "alice") => {
  await server.approve(await run.userCode(), { accountId: user })
  return run.exit
}

/** The token is real: the server's userinfo endpoint accepts it. */
const userinfo = async (token: string) => {
  const res = await fetch(`${server.issuer}/me`, { headers: { authorization: `Bearer ${token}` } })
  return { status: res.status, body: (await res.json()) as Record<string, unknown> }
}

describe("devflow login → token → accounts → logout against the dev server (oidc-provider)", () => {
  it("login --json signs in: JSON Lines events, the result last, tokens cached 0600, profile saved without secrets", async () => {
    const run = await signIn(new Devflow(loginArgs()))
    expect(run.code, run.stderr).toBe(0)
    const events = run.stdout.trim().split("\n").map((l) => JSON.parse(l) as Record<string, any>)
    expect(events[0]).toMatchObject({ event: "code_issued", verification_uri: `${server.issuer}/device` })
    expect(events[0]!.user_code).toMatch(/^[A-Z]{4}-[A-Z]{4}$/)
    expect(events.at(-2)).toMatchObject({ event: "succeeded" })
    expect(events.at(-1)).toMatchObject({
      event: "result",
      profile: "default",
      account: { id: `${server.issuer}#alice`, username: "alice" },
      cache: path.join(cache, "tokens.json")
    })
    // people's text on stderr, no escape codes when it is not a terminal
    expect(run.stderr).toMatch(/To sign in, open .*\/device/)
    expect(run.stderr).toMatch(/Signed in as alice/)
    expect(run.stderr).not.toMatch(ESCAPE)

    const stat = fs.statSync(path.join(cache, "tokens.json"))
    expect(stat.mode & 0o777).toBe(0o600)
    expect(fs.statSync(cache).mode & 0o777).toBe(0o700)
    const secrets = cachedSecrets(cache)
    expect(secrets.length).toBe(3) // access, refresh, id token
    for (const secret of secrets) seenTokens.add(secret)
    const profiles = fs.readFileSync(path.join(cache, "profiles.json"), "utf8")
    for (const secret of secrets) expect(profiles).not.toContain(secret)
    expect(JSON.parse(profiles).profiles.default).toMatchObject({
      inputs: { provider: "generic", issuer: server.issuer, clientId: "devflow-demo" },
      client: { endpoints: { token: `${server.issuer}/token` } },
      accountId: `${server.issuer}#alice`
    })
  })

  it("token prints only the access token, which the server accepts; no flags needed (the profile)", async () => {
    const run = await devflow(["token", "--cache-dir", cache], { tokenOutput: true })
    expect(run.code, run.stderr).toBe(0)
    expect(run.stderr).toBe("")
    const token = run.stdout.trimEnd()
    expect(run.stdout).toBe(`${token}\n`)
    expect(cachedSecrets(cache)).toContain(token)
    seenTokens.add(token)
    expect(await userinfo(token)).toMatchObject({ status: 200, body: { sub: "alice" } })
  })

  it("token --format json | header | k8s", async () => {
    const [json, header, k8s] = await Promise.all(
      ["json", "header", "k8s"].map((format) =>
        devflow(["token", "--format", format, "--cache-dir", cache], { tokenOutput: true })
      )
    )
    const token = [...seenTokens][0]!
    expect(JSON.parse(json!.stdout)).toMatchObject({
      access_token: token,
      token_type: "Bearer",
      scopes: expect.arrayContaining(["openid", "profile"]),
      account: { id: `${server.issuer}#alice`, username: "alice", authority: `${server.issuer}/token` },
      source: "cache"
    })
    expect(Date.parse(JSON.parse(json!.stdout).expires_on)).toBeGreaterThan(Date.now())
    expect(header!.stdout).toBe(`Authorization: Bearer ${token}\n`)
    const credential = JSON.parse(k8s!.stdout)
    expect(credential).toMatchObject({
      apiVersion: "client.authentication.k8s.io/v1",
      kind: "ExecCredential",
      status: { token }
    })
    expect(credential.status.expirationTimestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/)
  })

  it("the fast path and the full CLI print the same thing", async () => {
    for (const format of ["raw", "json"]) {
      const [fast, full] = await Promise.all([
        devflow(["token", "--format", format, "--cache-dir", cache], { tokenOutput: true }),
        devflow(["token", "--format", format, "--cache-dir", cache], {
          tokenOutput: true,
          env: { DEVFLOW_FAST_PATH: "0" }
        })
      ])
      expect(full.code, full.stderr).toBe(0)
      expect(fast.stdout).toBe(full.stdout)
    }
  })

  it("every setting has an environment fallback (DEVFLOW_CACHE_DIR, DEVFLOW_FORMAT, DEVFLOW_ISSUER, ...)", async () => {
    const run = await devflow(["token"], {
      tokenOutput: true,
      env: {
        DEVFLOW_CACHE_DIR: cache,
        DEVFLOW_FORMAT: "header",
        DEVFLOW_ISSUER: server.issuer,
        DEVFLOW_CLIENT_ID: "devflow-demo",
        DEVFLOW_SCOPE: "openid profile"
      }
    })
    expect(run.code, run.stderr).toBe(0)
    expect(run.stdout).toMatch(/^Authorization: Bearer \S+\n$/)
  })

  it("accounts lists the account (never a token); --json one object per line", async () => {
    const [human, json] = await Promise.all([
      devflow(["accounts", "--cache-dir", cache]),
      devflow(["accounts", "--json", "--cache-dir", cache])
    ])
    expect(human.code).toBe(0)
    expect(human.stdout).toMatch(/alice/)
    expect(human.stdout).toMatch(/refresh token/)
    const lines = json.stdout.trim().split("\n").map((l) => JSON.parse(l))
    expect(lines).toEqual([
      expect.objectContaining({
        id: `${server.issuer}#alice`,
        username: "alice",
        authority: `${server.issuer}/token`,
        clients: ["devflow-demo"],
        refresh_token: true,
        profiles: ["default"]
      })
    ])
  })

  it("logout --all revokes the refresh token at the server (RFC 7009) and signs out; then token exits 7 with one line and a hint", async () => {
    const cached = JSON.parse(fs.readFileSync(path.join(cache, "tokens.json"), "utf8"))
    const refreshToken: string = cached.refreshTokens[0].secret
    const logout = await devflow(["logout", "--all", "--json", "--cache-dir", cache])
    expect(logout.code, logout.stderr).toBe(0)
    expect(JSON.parse(logout.stdout)).toMatchObject({
      event: "result",
      removed: [{ username: "alice", revocation: [{ client_id: "devflow-demo", outcome: "revoked" }] }]
    })
    expect(logout.stderr).toMatch(/Revoked the refresh token at 127\.0\.0\.1:\d+\./)
    expect(cachedSecrets(cache)).toEqual([])
    // the server no longer honours it
    const refresh = await fetch(`${server.issuer}/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ grant_type: "refresh_token", refresh_token: refreshToken, client_id: "devflow-demo" })
    })
    expect(refresh.status).toBe(400)
    expect(await refresh.json()).toMatchObject({ error: "invalid_grant" })
    const accounts = await devflow(["accounts", "--json", "--cache-dir", cache])
    expect(accounts.stdout).toBe("")

    const token = await devflow(["token", "--cache-dir", cache], { tokenOutput: true })
    expect(token.code).toBe(7)
    expect(token.stdout).toBe("")
    const lines = token.stderr.trimEnd().split("\n")
    expect(lines[0]).toMatch(/^devflow: No cached sign-in/)
    expect(lines[1]).toContain(`hint: Run \`${asRun()} login\``)
    expect(lines.length).toBe(2)
    expect(token.stderr).not.toMatch(STACK)
  })

  it("token --login runs the device flow when a sign-in is needed, then prints the token", async () => {
    const run = new Devflow(["token", "--login", "--json", "--format", "json", "--cache-dir", cache], {
      tokenOutput: true
    })
    await server.approve(await run.userCode(), { accountId: "bob" })
    const done = await run.exit
    expect(done.code, done.stderr).toBe(0)
    const last = JSON.parse(done.stdout.trim().split("\n").at(-1)!)
    expect(last).toMatchObject({ source: "device_code", account: { username: "bob" } })
    expect(await userinfo(last.access_token)).toMatchObject({ status: 200, body: { sub: "bob" } })
    for (const secret of cachedSecrets(cache)) seenTokens.add(secret)
    // the profile now points at bob: a plain `token` finds him
    const again = await devflow(["token", "--format", "json", "--cache-dir", cache], { tokenOutput: true })
    expect(JSON.parse(again.stdout)).toMatchObject({ access_token: last.access_token, source: "cache" })
  })

  it("logout <account> removes that account only", async () => {
    const run = await devflow(["logout", "bob", "--cache-dir", cache])
    expect(run.code, run.stderr).toBe(0)
    expect(run.stderr).toMatch(/Signed out of bob/)
    const missing = await devflow(["logout", "nobody", "--cache-dir", cache])
    expect(missing.code).toBe(2)
    expect(missing.stderr.split("\n")[0]).toMatch(/^devflow: No account "nobody"/)
  })

  it("a token about to expire is refreshed (full path, lazy HTTP client); the new one is cached", async () => {
    const short = await startDevServer({ pollIntervalSeconds: 1, accessTokenTtlSeconds: 60 })
    const dir = tempDir()
    try {
      const login = new Devflow([
        "login",
        "--issuer",
        short.issuer,
        "--client-id",
        "devflow-demo",
        "--scope",
        "openid",
        "--scope",
        "offline_access",
        "--cache-dir",
        dir
      ])
      await short.approve(await login.userCode(), { accountId: "carol" })
      expect((await login.exit).code).toBe(0)
      const first = cachedSecrets(dir)
      // 60 s is inside the 5-minute skew: every token call refreshes
      const run = await devflow(["token", "--format", "json", "--cache-dir", dir], { tokenOutput: true })
      expect(run.code, run.stderr).toBe(0)
      const out = JSON.parse(run.stdout)
      expect(out.source).toBe("refresh")
      expect(first).not.toContain(out.access_token)
      expect(cachedSecrets(dir)).toContain(out.access_token)
      for (const secret of cachedSecrets(dir)) seenTokens.add(secret)
      for (const secret of first) seenTokens.add(secret)
    } finally {
      await short.close()
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })

  it("no token, refresh token or id_token ever appeared outside token's stdout", () => {
    for (const secret of [...seenTokens, ...cachedSecrets(cache)]) {
      for (const text of transcript) expect(text.includes(secret)).toBe(false)
    }
    expect(transcript.length).toBeGreaterThan(10)
  })
})
