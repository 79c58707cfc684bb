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
  `${Buffer.from(JSON.stringify({ alg: "none" })).toString("base64url")}.${Buffer.from(JSON.stringify(claims)).toString("base64url")}.c2ln`

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
      id_token: jwt({ iss: `https://login.microsoftonline.com/${TENANT}/v2.0`, sub: "entra-user", tid: "t", oid: "o" })
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
        message: `To sign in, use a web browser to open the page ${origin}/devicelogin and enter the code BCDFGHJKL to authenticate.`
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
        "11111111-2222-3333-4444-555555555555",
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
        const qualified = await devflow(["token", "--scope", GRAPH_USER_READ, "--cache-dir", dir], { env, tokenOutput: true })
        ok(qualified)
        expect(qualified.stdout.trim()).toBe("at-entra-1")
      }
      expect(seen.slice(after).map((s) => s.path)).toEqual([])
      expect(seen.filter((s) => s.params.grant_type === "refresh_token")).toHaveLength(1)
      const cache = JSON.parse(fs.readFileSync(path.join(dir, "tokens.json"), "utf8"))
      expect(cache.accessTokens.map((e: { scopes: Array<string> }) => e.scopes)).toEqual([["User.Read", "email", "openid", "profile"]])
    })
  }
})
