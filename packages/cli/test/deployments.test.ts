/**
 * What real deployments do after the first sign-in, with the bundled CLI
 * against wire-exact loopback doubles of the providers (the scriptable server
 * of `@devflow/dev-server/faults`): scopes answered in another spelling,
 * refreshes that need the client secret, AWS client registrations, token
 * revocation on logout. Every request the double receives is recorded, so a
 * test can say "no request was made".
 */
import { type FaultRequest, type Handler, json, startFaultServer } from "@devflow/dev-server/faults"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { devflow, STACK, tempDir } from "./helpers.js"

const jwt = (claims: Readonly<Record<string, unknown>>) =>
  `${Buffer.from(JSON.stringify({ alg: "none" })).toString("base64url")}.${
    Buffer.from(JSON.stringify(claims)).toString("base64url")
  }.c2ln`

const form = (request: FaultRequest): URLSearchParams => new URLSearchParams(request.body)

/** A loopback double whose handlers also record each request's form (or JSON) parameters. */
const double = async (routes: Readonly<Record<string, Handler>>) => {
  const seen: Array<{ readonly path: string; readonly params: Readonly<Record<string, string>> }> = []
  const recorded: Record<string, Handler> = {}
  for (const [route, handler] of Object.entries(routes)) {
    recorded[route] = (request) => {
      let params: Record<string, string>
      try {
        params = request.body.trimStart().startsWith("{")
          ? JSON.parse(request.body)
          : Object.fromEntries(form(request))
      } catch {
        params = {}
      }
      seen.push({ path: request.path, params })
      return handler(request)
    }
  }
  const server = await startFaultServer(recorded)
  servers.push(server)
  return { server, seen, origin: server.origin }
}

const servers: Array<{ close: () => Promise<void> }> = []
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()))
})

const ok = (run: { code: number | null; stderr: string; stdout: string }) => {
  expect(run.stderr, run.stderr).not.toMatch(STACK)
  expect(run.code, `${run.stdout}\n${run.stderr}`).toBe(0)
}

// ---------------------------------------------------------------------------
// Entra: Graph scopes asked qualified, answered short or qualified

const GRAPH_USER_READ = "https://graph.microsoft.com/User.Read"
const TENANT = "contoso.onmicrosoft.com"
const TENANT_ID = "72f988bf-86f1-41af-91ab-2d7cd011db47"
const ENTRA_CLIENT_ID = "11111111-2222-3333-4444-555555555555"

const entraDouble = (answered: string, firstExpiresIn: number) => {
  let issued = 0
  const tokens: Handler = (request) => {
    const grant = form(request).get("grant_type")
    const n = issued++
    return json({
      token_type: "Bearer",
      scope: answered,
      // the first token is near expiry, so the next `token` refreshes; the refreshed one lives an hour
      expires_in: grant === "refresh_token" ? 3600 : firstExpiresIn,
      ext_expires_in: 3600,
      access_token: `at-entra-${n}`,
      refresh_token: `rt-entra-${n}`,
      // Entra names the user's tenant under the sign-in host, here the double's
      id_token: jwt({
        iss: `${request.origin}/${TENANT_ID}/v2.0`,
        sub: "entra-user",
        tid: TENANT_ID,
        oid: "o",
        aud: ENTRA_CLIENT_ID
      })
    })
  }
  return double({
    [`/${TENANT}/oauth2/v2.0/devicecode`]: ({ origin }) =>
      json({
        device_code: "dc-entra",
        user_code: "BCDFGHJKL",
        verification_uri: `${origin}/devicelogin`,
        expires_in: 900,
        interval: 1,
        message:
          `To sign in, use a web browser to open the page ${origin}/devicelogin and enter the code BCDFGHJKL to authenticate.`
      }),
    [`/${TENANT}/oauth2/v2.0/token`]: tokens
  })
}

describe("Entra: scopes come back in another form (issue 10.1)", () => {
  for (const answered of ["User.Read openid profile email", `${GRAPH_USER_READ} openid profile email`]) {
    it(`login --scope ${GRAPH_USER_READ}, answered "${answered}": token makes no request, before and after a refresh`, async () => {
      const { origin, seen } = await entraDouble(answered, 200)
      const dir = tempDir()
      const login = await devflow([
        "login",
        "--provider",
        "entra",
        "--authority",
        origin,
        "--tenant",
        TENANT,
        "--client-id",
        ENTRA_CLIENT_ID,
        "--scope",
        GRAPH_USER_READ,
        "--scope",
        "offline_access",
        "--no-qr",
        "--cache-dir",
        dir
      ])
      ok(login)
      // the first token expires within the 5-minute margin: one refresh, stored in the same form
      const refreshed = await devflow(["token", "--cache-dir", dir], { tokenOutput: true })
      ok(refreshed)
      expect(refreshed.stdout.trim()).toBe("at-entra-1")
      const after = seen.length
      for (const env of [{}, { DEVFLOW_FAST_PATH: "0" }]) {
        const run = await devflow(["token", "--cache-dir", dir], { env, tokenOutput: true })
        ok(run)
        expect(run.stdout.trim()).toBe("at-entra-1")
        const qualified = await devflow(["token", "--scope", GRAPH_USER_READ, "--cache-dir", dir], {
          env,
          tokenOutput: true
        })
        ok(qualified)
        expect(qualified.stdout.trim()).toBe("at-entra-1")
      }
      expect(seen.slice(after).map((s) => s.path)).toEqual([])
      expect(seen.filter((s) => s.params.grant_type === "refresh_token")).toHaveLength(1)
      const cache = JSON.parse(fs.readFileSync(path.join(dir, "tokens.json"), "utf8"))
      expect(cache.accessTokens.map((e: { scopes: Array<string> }) => e.scopes)).toEqual([[
        "User.Read",
        "email",
        "openid",
        "profile"
      ]])
    })
  }
})

// ---------------------------------------------------------------------------
// Google and GitHub Apps: the refresh grant needs the client secret

const SECRET = "GOCSPX-deployments-canary-7f2a"

const secretDoubles = {
  google: {
    args: (
      origin: string
    ) => ["--provider", "google", "--authority", origin, "--client-id", "tv-client.apps.googleusercontent.com"],
    routes: (tokens: Handler): Record<string, Handler> => ({
      "/device/code": ({ origin }) =>
        json({
          device_code: "dc-google",
          user_code: "GQVQ-JKEC",
          verification_url: `${origin}/device`,
          expires_in: 1800,
          interval: 1
        }),
      "/token": tokens
    }),
    // Google: HTTP 400 invalid_request "client_secret is missing."
    refused: () => json({ error: "invalid_request", error_description: "client_secret is missing." }, { status: 400 })
  },
  github: {
    args: (origin: string) => ["--provider", "github", "--authority", origin, "--client-id", "Iv1.github-app"],
    routes: (tokens: Handler): Record<string, Handler> => ({
      "/login/device/code": ({ origin }) =>
        json({
          device_code: "dc-github",
          user_code: "WDJB-MJHT",
          verification_uri: `${origin}/login/device`,
          expires_in: 900,
          interval: 1
        }),
      "/login/oauth/access_token": tokens
    }),
    // GitHub: errors with HTTP 200
    refused: () =>
      json({
        error: "incorrect_client_credentials",
        error_description: "The client_id and/or client_secret passed are incorrect."
      })
  }
} as const

const secretServer = (provider: keyof typeof secretDoubles, extra: Readonly<Record<string, Handler>> = {}) => {
  let issued = 0
  const tokens: Handler = (request) => {
    const params = form(request)
    if (params.get("client_secret") !== SECRET) return secretDoubles[provider].refused()
    const n = issued++
    return json({
      access_token: `at-${provider}-${n}`,
      token_type: "bearer",
      // the sign-in's token is due for a refresh at once
      expires_in: n === 0 ? 120 : 28_800,
      refresh_token: `rt-${provider}-${n}`,
      scope: provider === "github" ? "repo,read:org" : "openid email"
    })
  }
  return double({ ...secretDoubles[provider].routes(tokens), ...extra })
}

describe("refresh that needs the client secret (issue 10.2)", () => {
  for (const provider of ["google", "github"] as const) {
    it(`${provider}: the secret given at login is kept in the 0600 cache; token refreshes without it`, async () => {
      const { origin, seen } = await secretServer(provider)
      const dir = tempDir()
      const login = await devflow(["login", ...secretDoubles[provider].args(origin), "--no-qr", "--cache-dir", dir], {
        env: { DEVFLOW_CLIENT_SECRET: SECRET }
      })
      ok(login)
      const token = await devflow(["token", "--cache-dir", dir], { tokenOutput: true })
      ok(token)
      expect(token.stdout.trim()).toBe(`at-${provider}-1`)
      const refresh = seen.filter((s) => s.params.grant_type === "refresh_token")
      expect(refresh.map((s) => s.params.client_secret)).toEqual([SECRET])
      // where it is kept: the token cache (0600), never the profiles
      expect(fs.readFileSync(path.join(dir, "profiles.json"), "utf8")).not.toContain(SECRET)
      expect(fs.readFileSync(path.join(dir, "tokens.json"), "utf8")).toContain(SECRET)
      expect(fs.statSync(path.join(dir, "tokens.json")).mode & 0o777).toBe(0o600)
      for (const run of [login, token]) expect(run.stderr).not.toContain(SECRET)
    })
  }

  it("--no-store-secret: nothing kept; token then exits 7 naming DEVFLOW_CLIENT_SECRET, and works when it is set", async () => {
    const { origin } = await secretServer("google")
    const dir = tempDir()
    const args = secretDoubles.google.args(origin)
    ok(
      await devflow(["login", ...args, "--no-qr", "--no-store-secret", "--cache-dir", dir], {
        env: { DEVFLOW_CLIENT_SECRET: SECRET }
      })
    )
    expect(fs.readFileSync(path.join(dir, "tokens.json"), "utf8")).not.toContain(SECRET)
    const refused = await devflow(["token", "--cache-dir", dir], { tokenOutput: true })
    expect(refused.code, refused.stderr).toBe(7)
    expect(refused.stdout).toBe("")
    expect(refused.stderr).toMatch(/client's secret/)
    expect(refused.stderr).toMatch(/DEVFLOW_CLIENT_SECRET/)
    expect(refused.stderr).not.toMatch(STACK)
    const given = await devflow(["token", "--cache-dir", dir], {
      env: { DEVFLOW_CLIENT_SECRET: SECRET },
      tokenOutput: true
    })
    ok(given)
    expect(given.stdout.trim()).toBe("at-google-1")
  })
})

// ---------------------------------------------------------------------------
// AWS IAM Identity Center: RegisterClient once, reused

const START_URL = "https://d-9067642ac7.awsapps.com/start"

const awsDouble = () => {
  let registered = 0
  let issued = 0
  return double({
    "/client/register": () => {
      registered++
      return json({
        clientId: `aws-client-${registered}`,
        clientSecret: `aws-secret-${registered}-canary`,
        clientIdIssuedAt: Math.floor(Date.now() / 1000),
        clientSecretExpiresAt: Math.floor(Date.now() / 1000) + 90 * 86_400
      })
    },
    "/device_authorization": () =>
      json({
        deviceCode: "dc-aws",
        userCode: "PQRS-TUVW",
        verificationUri: "https://device.sso.us-east-1.amazonaws.com/",
        verificationUriComplete: "https://device.sso.us-east-1.amazonaws.com/?user_code=PQRS-TUVW",
        expiresIn: 600,
        interval: 1
      }),
    "/token": (request) => {
      const body = JSON.parse(request.body)
      if (body.clientSecret !== `aws-secret-${registered}-canary`) {
        return json({ error: "InvalidClientException", error_description: "Invalid client" }, { status: 400 })
      }
      const n = issued++
      return json({
        accessToken: `at-aws-${n}`,
        tokenType: "Bearer",
        expiresIn: n === 0 ? 120 : 28_800,
        refreshToken: `rt-aws-${n}`
      })
    }
  })
}

describe("AWS IAM Identity Center: the registration is kept (issue 10.3)", () => {
  it("token after expiry refreshes with the same registration; a second login registers nothing", async () => {
    const { origin, seen } = await awsDouble()
    const dir = tempDir()
    const args = [
      "--provider",
      "aws-sso",
      "--authority",
      origin,
      "--start-url",
      START_URL,
      "--client-id",
      "devflow",
      "--no-qr",
      "--cache-dir",
      dir
    ]
    ok(await devflow(["login", ...args]))
    const token = await devflow(["token", "--cache-dir", dir], { tokenOutput: true })
    ok(token)
    expect(token.stdout.trim()).toBe("at-aws-1")
    const refresh = seen.filter((s) => s.params.grantType === "refresh_token")
    expect(refresh.map((s) => s.params.clientId)).toEqual(["aws-client-1"])
    ok(await devflow(["login", ...args]))
    expect(seen.filter((s) => s.path === "/client/register")).toHaveLength(1)
  })
})

describe("logout and RFC 7009 revocation (issue 10.6)", () => {
  it("entra: signed out here, and it says plainly that Entra cannot revoke (no request)", async () => {
    const { origin, seen } = await entraDouble("User.Read openid profile email", 3600)
    const dir = tempDir()
    ok(
      await devflow([
        "login",
        "--provider",
        "entra",
        "--authority",
        origin,
        "--tenant",
        TENANT,
        "--client-id",
        ENTRA_CLIENT_ID,
        "--no-qr",
        "--cache-dir",
        dir
      ])
    )
    const before = seen.length
    const logout = await devflow(["logout", "--cache-dir", dir])
    ok(logout)
    expect(logout.stderr).toMatch(/Not revoked at the server: Microsoft Entra ID has no token revocation endpoint/)
    expect(seen.length).toBe(before)
    expect((await devflow(["token", "--cache-dir", dir])).code).toBe(7)
  })

  it("google: revoked with the kept secret; a server that cannot be reached still signs out, and says so", async () => {
    let revokeAnswer = 200
    const { origin, seen } = await secretServer("google", { "/revoke": () => json({}, { status: revokeAnswer }) })
    const dir = tempDir()
    const login = () =>
      devflow(["login", ...secretDoubles.google.args(origin), "--no-qr", "--cache-dir", dir], {
        env: { DEVFLOW_CLIENT_SECRET: SECRET }
      })
    ok(await login())
    const logout = await devflow(["logout", "--cache-dir", dir])
    ok(logout)
    expect(logout.stderr).toMatch(/Revoked the refresh token at 127\.0\.0\.1/)
    expect(seen.filter((s) => s.path === "/revoke").map((s) => s.params)).toEqual([
      {
        token: "rt-google-0",
        token_type_hint: "refresh_token",
        client_id: "tv-client.apps.googleusercontent.com",
        client_secret: SECRET
      }
    ])

    ok(await login())
    revokeAnswer = 503
    const failed = await devflow(["logout", "--cache-dir", dir])
    ok(failed)
    expect(failed.stderr).toMatch(
      /Could not revoke the refresh token at 127\.0\.0\.1:\d+ \(.*\); it is gone from this machine/
    )
    expect(failed.stderr).not.toContain(SECRET)
    expect((await devflow(["token", "--cache-dir", dir])).code).toBe(7)
  })
})
