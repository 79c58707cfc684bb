/**
 * Messages that name the fix: each as a person meets it, against the real
 * dev server (oidc-provider) where a server is involved.
 */
import { type DevServer, startDevServer } from "@devflow/dev-server"
import { json, startFaultServer } from "@devflow/dev-server/faults"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { asRun, cachedSecrets, Devflow, devflow, type Run, STACK, tempDir } from "./helpers.js"

let server: DevServer
const caches: Array<string> = []
const cacheDir = () => {
  const dir = tempDir()
  caches.push(dir)
  return dir
}
beforeAll(async () => {
  // 60 s tokens: inside the 5-minute early-refresh margin, so every `devflow token` refreshes
  server = await startDevServer({ pollIntervalSeconds: 1, accessTokenTtlSeconds: 60 })
})
afterAll(async () => {
  await server.close()
  for (const dir of caches) fs.rmSync(dir, { recursive: true, force: true })
})

const loginArgs = (target: DevServer, cache: string, scopes = ["openid", "offline_access", "profile"]) => [
  "login",
  "--issuer",
  target.issuer,
  "--client-id",
  "devflow-demo",
  ...scopes.flatMap((s) => ["--scope", s]),
  "--no-qr",
  "--cache-dir",
  cache
]

/** Run `args`, approving the code as `user` as soon as it shows. */
const approved = async (target: DevServer, args: ReadonlyArray<string>, user = "alice"): Promise<Run> => {
  const run = new Devflow(args)
  await target.approve(await run.userCode(), { accountId: user })
  return run.exit
}

const noStack = (run: Run) => expect(run.stderr + run.stdout).not.toMatch(STACK)

describe("messages that name the fix", () => {
  it("devflow providers shows the tenant as required for entra and entra-v1", async () => {
    const run = await devflow(["providers", "--json"])
    const presets = run.stdout.trim().split("\n").map((l) =>
      JSON.parse(l) as { id: string; requires: ReadonlyArray<string> }
    )
    expect(presets.find((p) => p.id === "entra")?.requires).toEqual(["--client-id", "--tenant or --authority"])
    expect(presets.find((p) => p.id === "entra-v1")?.requires).toEqual([
      "--client-id",
      "--tenant or --authority",
      "--audience"
    ])
    const text = await devflow(["providers"])
    expect(text.stdout).toMatch(/^entra — .*\n {2}needs: +--client-id, --tenant or --authority$/m)
  })

  it("login --provider entra without client id and tenant names both", async () => {
    const run = await devflow(["login", "--provider", "entra", "--cache-dir", cacheDir()])
    expect(run.code).toBe(2)
    expect(run.stderr).toMatch(
      /^devflow: The entra preset needs --client-id \(DEVFLOW_CLIENT_ID\) and --tenant \(DEVFLOW_TENANT\)/
    )
    // with the client id, the missing tenant is explained (AADSTS50059)
    const tenant = await devflow(["login", "--provider", "entra", "--client-id", "x", "--cache-dir", cacheDir()])
    expect(tenant.code).toBe(2)
    expect(tenant.stderr).toMatch(
      /^devflow: --tenant \(DEVFLOW_TENANT\) .*is required by the entra preset: .*AADSTS50059/
    )
  })

  it("an http issuer says to use https:// (instead of repeating the flag)", async () => {
    const run = await devflow([
      "login",
      "--issuer",
      "http://id.example.com",
      "--client-id",
      "x",
      "--cache-dir",
      cacheDir()
    ])
    expect(run.code).toBe(2)
    expect(run.stderr).toMatch(/^devflow: --issuer \(DEVFLOW_ISSUER\) must use https/)
    expect(run.stderr).toMatch(
      /^ {2}hint: Use an https:\/\/ address; http:\/\/ is accepted only for 127\.0\.0\.1, localhost and \[::1\]\.$/m
    )
    expect(run.stderr).not.toMatch(/Set --issuer/)
  })

  it("--cache-dir naming a file says it is a file (not EEXIST), for every command that uses the cache", async () => {
    const file = path.join(cacheDir(), "not-a-dir")
    fs.writeFileSync(file, "")
    const runs = await Promise.all([
      devflow(["login", "--issuer", server.issuer, "--client-id", "x", "--cache-dir", file]),
      devflow(["token", "--cache-dir", file]),
      devflow(["accounts", "--cache-dir", file]),
      devflow(["logout", "--cache-dir", file]),
      devflow(["token", "--cache-dir", path.join(file, "below")])
    ])
    for (const run of runs.slice(0, 4)) {
      expect(run.code, run.stderr).toBe(2)
      expect(run.stderr).toContain(`--cache-dir (DEVFLOW_CACHE_DIR) ${file} is a file, not a directory`)
      expect(run.stderr).not.toMatch(/EEXIST|ENOTDIR/)
    }
    expect(runs[4]!.stderr).toContain(`cannot be created: ${file} is a file`)
  })

  it("devflow token before any sign-in and after logout: both exit 7 with the `devflow login` hint", async () => {
    const cache = cacheDir()
    const before = await devflow(["token", "--cache-dir", cache])
    expect(before.code, before.stderr).toBe(7)
    expect(before.stderr).toMatch(/^devflow: Not signed in/)
    expect(before.stderr).toContain(`hint: Run \`${asRun()} login`)
    const json = await devflow(["token", "--json", "--cache-dir", cache])
    expect(JSON.parse(json.stdout)).toMatchObject({ event: "error", error: "InteractionRequired", exit_code: 7 })

    expect((await approved(server, loginArgs(server, cache))).code).toBe(0)
    expect((await devflow(["logout", "--cache-dir", cache])).code).toBe(0)
    const after = await devflow(["token", "--cache-dir", cache])
    expect(after.code, after.stderr).toBe(7)
    expect(after.stderr).toContain(`hint: Run \`${asRun()} login`)
    noStack(after)
  }, 60_000)

  it("token --login announces the sign-in as a prompt, not as an error line", async () => {
    const cache = cacheDir()
    const run = await approved(server, [
      "token",
      "--login",
      "--issuer",
      server.issuer,
      "--client-id",
      "devflow-demo",
      "--scope",
      "openid",
      "--no-qr",
      "--cache-dir",
      cache
    ])
    expect(run.code, run.stderr).toBe(0)
    expect(run.stderr).toMatch(/^Sign-in needed: /m)
    expect(run.stderr).not.toMatch(/^devflow: /m)
    expect(run.stdout.trim()).toMatch(/^\S+$/) // the token
  }, 60_000)

  it("token --scope X never returns a token lacking X: exit 7 saying to sign in with it", async () => {
    const cache = cacheDir()
    expect((await approved(server, loginArgs(server, cache, ["openid", "offline_access"]))).code).toBe(0)
    const run = await devflow(["token", "--scope", "email", "--format", "json", "--cache-dir", cache], {
      tokenOutput: true
    })
    expect(run.code, run.stderr).toBe(7)
    expect(run.stdout).toBe("")
    expect(run.stderr).toMatch(/email/)
    expect(run.stderr).toMatch(/sign in again/)
    // the scopes it has still work
    const plain = await devflow(["token", "--format", "json", "--cache-dir", cache], { tokenOutput: true })
    expect(plain.code, plain.stderr).toBe(0)
  }, 60_000)
})

describe("a failed refresh says what was tried, for whom, where and why", () => {
  it("server unreachable, cached token still valid: the token, and a warning on stderr", async () => {
    const own = await startDevServer({ pollIntervalSeconds: 1, accessTokenTtlSeconds: 60 })
    const cache = cacheDir()
    expect((await approved(own, loginArgs(own, cache), "bob")).code).toBe(0)
    const [accessToken] = cachedSecrets(cache)
    await own.close()
    const run = await devflow(["token", "--cache-dir", cache], { tokenOutput: true })
    expect(run.code, run.stderr).toBe(0)
    expect(run.stdout).toBe(`${accessToken}\n`)
    expect(run.stderr).toMatch(
      new RegExp(
        `^devflow: warning: Could not refresh the access token of bob at ${own.issuer}/token: the server could not be reached .*; using the cached access token, valid until (?:\\d{4}-\\d\\d-\\d\\d )?\\d\\d:\\d\\d:\\d\\d`,
        "m"
      )
    )
  }, 60_000)

  it("server unreachable, cached token expired: exit 5 naming the account, the server and the reason", async () => {
    const own = await startDevServer({ pollIntervalSeconds: 1, accessTokenTtlSeconds: 1 })
    const cache = cacheDir()
    expect((await approved(own, loginArgs(own, cache), "carol")).code).toBe(0)
    await own.close()
    await new Promise((resolve) => setTimeout(resolve, 1_100))
    const run = await devflow(["token", "--cache-dir", cache], { tokenOutput: true })
    expect(run.code, run.stderr).toBe(5)
    expect(run.stdout).toBe("")
    expect(run.stderr).toMatch(
      new RegExp(
        `^devflow: Could not refresh the access token of carol at ${own.issuer}/token: the server could not be reached`
      )
    )
    noStack(run)
  }, 60_000)
})

describe("a used-up code", () => {
  it("the server says so (expired_token long before expires_in): devflow says so at once, exit 4", async () => {
    const fault = await startFaultServer({
      "/.well-known/openid-configuration": ({ origin }) =>
        json({
          issuer: origin,
          device_authorization_endpoint: `${origin}/device/auth`,
          token_endpoint: `${origin}/token`
        }),
      "/device/auth": ({ origin }) =>
        json({
          device_code: "dc-used-up",
          user_code: "BCDF-GHJK",
          verification_uri: `${origin}/device`,
          expires_in: 600,
          interval: 1
        }),
      "/token": ({ n }) => json({ error: n === 0 ? "authorization_pending" : "expired_token" }, { status: 400 })
    })
    try {
      const run = await devflow([
        "login",
        "--issuer",
        fault.origin,
        "--client-id",
        "x",
        "--no-qr",
        "--cache-dir",
        cacheDir()
      ])
      expect(run.code, run.stderr).toBe(4)
      expect(run.ms).toBeLessThan(10_000)
      expect(run.stderr).toMatch(/^devflow: The authorization server reports the code expired/m)
      expect(run.stderr).toMatch(/hint: The server no longer accepts this code .*run the command again for a new code/)
    } finally {
      await fault.close()
    }
  })
})

describe("JSON for programs", () => {
  const keysOf = (value: unknown, prefix = ""): ReadonlyArray<string> =>
    typeof value !== "object" || value === null || Array.isArray(value)
      ? []
      : Object.entries(value).flatMap(([k, v]) => [`${prefix}${k}`, ...keysOf(v, `${prefix}${k}.`)])
  const SNAKE = /^[a-z]+(_[a-z]+)*$/

  it("demo, login --json and token --format json use the same snake_case names, times in UTC", async () => {
    const cache = cacheDir()
    const [demo, login] = await Promise.all([
      devflow(["demo", "--auto-approve", "--interval", "1", "--json", "--no-qr"]),
      approved(server, [...loginArgs(server, cache), "--json"])
    ])
    const token = await devflow(["token", "--format", "json", "--cache-dir", cache], { tokenOutput: true })
    const results = [demo, login].map((run) => JSON.parse(run.stdout.trim().split("\n").at(-1)!) as Record<string, any>)
    results.push(JSON.parse(token.stdout))
    for (const result of results) {
      for (const key of keysOf(result)) expect(key.split(".").at(-1), key).toMatch(SNAKE)
      expect(Object.keys(result.account)).toEqual(expect.arrayContaining(["id", "username", "name"]))
      expect(result.token_type).toBe("Bearer")
      expect(result.scopes).toEqual(expect.arrayContaining(["openid"]))
      expect(result.expires_on).toMatch(/Z$/)
    }
  }, 60_000)
})
