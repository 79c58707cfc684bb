/**
 * The shipped CLI with a real OS keychain: a private Secret Service (GNOME
 * Keyring on its own D-Bus session bus) and the dev server's oidc-provider,
 * with a confidential client so that a client secret is kept too. Access
 * tokens live 60 s, below the CLI's 5-minute skew: every `devflow token`
 * refreshes, reading the refresh token back from the keychain.
 */
import { type DevServer, startDevServer } from "@devflow/dev-server"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as SecretService from "../../cache-file/test/secretService.js"
import { Devflow, devflow, tempDir } from "./helpers.js"

const enabled = SecretService.available()
const CLIENT_SECRET = "CS-keychain-e2e-canary-7c1d"

let service: SecretService.SecretService
let server: DevServer
const dirs: Array<string> = []

beforeAll(async () => {
  if (!enabled) return
  service = await SecretService.start()
  server = await startDevServer({
    pollIntervalSeconds: 1,
    accessTokenTtlSeconds: 60,
    clients: [{ client_id: "kc-app", client_secret: CLIENT_SECRET, token_endpoint_auth_method: "client_secret_post" }]
  })
}, 60_000)
afterAll(async () => {
  await server?.close()
  await service?.stop()
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true })
})

const withKeychain = () => ({ DBUS_SESSION_BUS_ADDRESS: service.address })

const newDir = () => {
  const dir = tempDir("devflow-keychain-e2e-")
  dirs.push(dir)
  return dir
}

const login = async (dir: string, env: Readonly<Record<string, string>>, user: string) => {
  const run = new Devflow([
    "login",
    "--provider",
    "generic",
    "--issuer",
    server.issuer,
    "--client-id",
    "kc-app",
    "--scope",
    "openid",
    "--scope",
    "offline_access",
    "--scope",
    "profile",
    "--json",
    "--no-qr",
    "--cache-dir",
    dir
  ], { env: { ...env, DEVFLOW_CLIENT_SECRET: CLIENT_SECRET } })
  await server.approve(await run.userCode(), { accountId: user })
  return run.exit
}

/** Every file under `dir`, with its text. */
const filesUnder = (dir: string): ReadonlyArray<{ readonly name: string; readonly text: string }> =>
  fs.readdirSync(dir, { recursive: true, encoding: "utf8" }).flatMap((name) => {
    const file = path.join(dir, name)
    return fs.statSync(file).isFile() ? [{ name, text: fs.readFileSync(file, "utf8") }] : []
  })

const secretsIn = (dir: string, secrets: ReadonlyArray<string>) =>
  filesUnder(dir).flatMap(({ name, text }) =>
    secrets.filter((s) => text.includes(s)).map((s) => `${s.slice(0, 6)}… in ${name}`)
  )

describe.skipIf(!enabled)("devflow with the OS keychain (GNOME Keyring over D-Bus, oidc-provider)", () => {
  it(
    "login keeps the refresh token and the client secret out of every file; token refreshes from a new process; logout leaves no item",
    {
      timeout: 120_000
    },
    async () => {
      const dir = newDir()
      const env = withKeychain()
      const signedIn = await login(dir, env, "alice")
      expect(signedIn.code, signedIn.stderr).toBe(0)
      expect(signedIn.stderr).not.toMatch(/warning/)

      const items = await service.items()
      const secrets = items.map((i) => i.secret)
      expect(secrets).toContain(CLIENT_SECRET)
      expect(items.map((i) => i.account).sort().map((a) => a.split("/")[0])).toEqual(["client-secret", "refresh-token"])
      expect(secretsIn(dir, secrets)).toEqual([])
      const stored = JSON.parse(fs.readFileSync(path.join(dir, "tokens.json"), "utf8"))
      expect(stored.refreshTokens[0].secret).toMatch(/^devflow-keychain:refresh-token\//)
      expect(stored.clients[0].secret).toMatch(/^devflow-keychain:client-secret\//)

      // a new process: the access token is about to expire, so it refreshes with the keychain's refresh token
      const token = await devflow(["token", "--format", "json", "--cache-dir", dir], { env, tokenOutput: true })
      expect(token.code, token.stderr).toBe(0)
      expect(JSON.parse(token.stdout)).toMatchObject({ source: "refresh" })
      const userinfo = await fetch(`${server.issuer}/me`, {
        headers: { authorization: `Bearer ${JSON.parse(token.stdout).access_token}` }
      })
      expect(userinfo.status).toBe(200)
      // the rotated refresh token replaced the old one in its item; still nothing in the files
      const rotated = await service.items()
      expect(rotated.length).toBe(2)
      expect(secretsIn(dir, [...secrets, ...rotated.map((i) => i.secret)])).toEqual([])

      const accounts = await devflow(["accounts", "--json", "--cache-dir", dir], { env })
      expect(JSON.parse(accounts.stdout)).toMatchObject({ username: "alice", refresh_token: true })

      const logout = await devflow(["logout", "--cache-dir", dir], { env })
      expect(logout.code, logout.stderr).toBe(0)
      expect(await service.items()).toEqual([])
      expect(fs.readFileSync(path.join(dir, "tokens.json"), "utf8")).not.toMatch(/devflow-keychain:/)
    }
  )

  it("an item removed from the keychain behind devflow's back: token says sign in again (exit 7), never a crash", {
    timeout: 120_000
  }, async () => {
    const dir = newDir()
    const env = withKeychain()
    expect((await login(dir, env, "carol")).code).toBe(0)
    await service.removeAll()
    const token = await devflow(["token", "--cache-dir", dir], { env, tokenOutput: true })
    expect(token.code, token.stderr).toBe(7)
    expect(token.stderr).toMatch(/missing from the OS keychain .*sign in again/)
    expect(token.stderr).not.toMatch(/\n\s+at /)
    // signing in again repairs it
    expect((await login(dir, env, "carol")).code).toBe(0)
    expect((await devflow(["token", "--cache-dir", dir], { env, tokenOutput: true })).code).toBe(0)
    expect((await devflow(["logout", "--cache-dir", dir], { env })).code).toBe(0)
    expect(await service.items()).toEqual([])
  })

  it(
    "signed in where no keychain answers (auto: the file, with a warning), moved into the keychain by the next command that has one",
    {
      timeout: 120_000
    },
    async () => {
      const dir = newDir()
      // the test setup's D-Bus address leads nowhere: a headless machine
      const signedIn = await login(dir, {}, "bob")
      expect(signedIn.code, signedIn.stderr).toBe(0)
      const warnings = signedIn.stderr.split("\n").filter((l) => l.startsWith("devflow: warn:"))
      expect(warnings.length).toBe(1)
      expect(warnings[0]).toMatch(/kept in clear in .*tokens\.json/)
      expect(warnings[0]).toMatch(/--secret-store file \(DEVFLOW_SECRET_STORE=file\)/)
      expect(fs.readFileSync(path.join(dir, "tokens.json"), "utf8")).toContain(CLIENT_SECRET)

      // a later command with a keychain at hand moves the secrets, without a new sign-in
      const token = await devflow(["token", "--cache-dir", dir], { env: withKeychain(), tokenOutput: true })
      expect(token.code, token.stderr).toBe(0)
      const secrets = (await service.items()).map((i) => i.secret)
      expect(secrets).toContain(CLIENT_SECRET)
      expect(secretsIn(dir, secrets)).toEqual([])

      // the same cache where the keychain cannot be reached: the refresh token is out of reach, so sign in again (exit 7)
      const away = await devflow(["token", "--cache-dir", dir], { tokenOutput: true })
      expect(away.code, away.stderr).toBe(7)
      expect(away.stderr).toMatch(/OS keychain, which cannot be reached/)

      const logout = await devflow(["logout", "--cache-dir", dir], { env: withKeychain() })
      expect(logout.code, logout.stderr).toBe(0)
      expect(await service.items()).toEqual([])
    }
  )

  it("--secret-store keychain where none answers: exit 1, saying what to do", async () => {
    const run = await devflow(["accounts", "--secret-store", "keychain", "--cache-dir", newDir()])
    expect(run.code).toBe(1)
    expect(run.stderr).toMatch(/OS keychain/)
    expect(run.stderr).toMatch(/--secret-store file/)
  })
})

/**
 * `KEYCHAIN_BENCH=1`: `devflow token` start-up for a cache whose secrets are in
 * the file and one whose secrets are in the keychain, as multiples of
 * `node -e 0`, in interleaved rounds (`KEYCHAIN_BENCH_ROUNDS`, default 21):
 * the fast path (a valid cached access token) and the full CLI
 * (`DEVFLOW_FAST_PATH=0`: Effect, the cache layer, and for the keychain cache
 * the native binding and a D-Bus round trip per secret).
 */
describe.runIf(enabled && process.env.KEYCHAIN_BENCH === "1")("devflow token start-up per secret store", () => {
  it("prints the medians", { timeout: 600_000 }, async () => {
    const fresh = await startDevServer({ pollIntervalSeconds: 1 })
    try {
      const signIn = async (dir: string, store: string) => {
        const run = new Devflow([
          "login",
          "--provider",
          "generic",
          "--issuer",
          fresh.issuer,
          "--client-id",
          "devflow-demo",
          "--scope",
          "openid",
          "--scope",
          "offline_access",
          "--json",
          "--no-qr",
          "--cache-dir",
          dir,
          "--secret-store",
          store
        ], { env: withKeychain() })
        await fresh.approve(await run.userCode(), { accountId: "bench" })
        const done = await run.exit
        expect(done.code, done.stderr).toBe(0)
      }
      const fileDir = newDir()
      const keychainDir = newDir()
      await signIn(fileDir, "file")
      await signIn(keychainDir, "keychain")
      expect(fs.readFileSync(path.join(keychainDir, "tokens.json"), "utf8")).toMatch(/devflow-keychain:/)
      const time = async (args: ReadonlyArray<string>, env: Readonly<Record<string, string>>) => {
        const started = process.hrtime.bigint()
        const run = await devflow(args, { env, tokenOutput: true })
        expect(run.code, run.stderr).toBe(0)
        return Number(process.hrtime.bigint() - started) / 1e6
      }
      const nodeFloor = () =>
        new Promise<number>((resolve) => {
          const started = process.hrtime.bigint()
          spawn(process.execPath, ["-e", "0"]).on(
            "close",
            () => resolve(Number(process.hrtime.bigint() - started) / 1e6)
          )
        })
      const cases: ReadonlyArray<readonly [string, () => Promise<number>]> = [
        ["node -e 0", nodeFloor],
        ["token, secrets in file (fast path)", () => time(["token", "--cache-dir", fileDir], withKeychain())],
        ["token, secrets in keychain (fast path)", () => time(["token", "--cache-dir", keychainDir], withKeychain())],
        [
          "token, secrets in file (full CLI)",
          () => time(["token", "--cache-dir", fileDir], { ...withKeychain(), DEVFLOW_FAST_PATH: "0" })
        ],
        [
          "token, secrets in keychain (full CLI)",
          () => time(["token", "--cache-dir", keychainDir], { ...withKeychain(), DEVFLOW_FAST_PATH: "0" })
        ]
      ]
      const samples = new Map(cases.map(([name]) => [name, [] as Array<number>]))
      const rounds = Number(process.env.KEYCHAIN_BENCH_ROUNDS ?? 21)
      for (let round = 0; round < rounds; round++) {
        for (const [name, run] of cases) samples.get(name)!.push(await run())
      }
      const median = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
      const floor = median(samples.get("node -e 0")!)
      for (const [name, xs] of samples) {
        console.log(
          `[keychain bench] ${name}: median ${median(xs).toFixed(0)} ms = ${
            (median(xs) / floor).toFixed(2)
          }× node -e 0 (${rounds} interleaved rounds)`
        )
      }
    } finally {
      await fresh.close()
    }
  })
})
