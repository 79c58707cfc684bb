/**
 * `devflow login --dpop` against the dev server's oidc-provider with DPoP
 * (RFC 9449): the tokens are bound to a key kept with them, every later
 * process refreshes with it (access tokens live 60 s, below the CLI's
 * 5-minute skew: every `devflow token` refreshes), and
 * `token --format header --url` prints the two header lines a request needs.
 */
import { type DevServer, startDevServer } from "@devflow/dev-server"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as SecretService from "../../cache-file/test/secretService.js"
import { Devflow, devflow, tempDir } from "./helpers.js"

let server: DevServer
let nonceServer: DevServer
const dirs: Array<string> = []

beforeAll(async () => {
  server = await startDevServer({ pollIntervalSeconds: 1, accessTokenTtlSeconds: 60, dpop: {} })
  nonceServer = await startDevServer({
    pollIntervalSeconds: 1,
    accessTokenTtlSeconds: 60,
    dpop: { requireNonce: true }
  })
}, 60_000)
afterAll(async () => {
  await server?.close()
  await nonceServer?.close()
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true })
})

const newDir = () => {
  const dir = tempDir("devflow-dpop-e2e-")
  dirs.push(dir)
  return dir
}

const login = async (at: DevServer, dir: string, env: Readonly<Record<string, string>> = {}) => {
  const run = new Devflow([
    "login",
    "--dpop",
    "--provider",
    "generic",
    "--issuer",
    at.issuer,
    "--client-id",
    "devflow-demo",
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
  ], { env })
  await at.approve(await run.userCode(), { accountId: "alice" })
  return run.exit
}

/** The files under `dir` (but `except`) whose text contains `secret`. */
const filesHolding = (dir: string, secret: string, except?: string): ReadonlyArray<string> =>
  fs.readdirSync(dir, { recursive: true, encoding: "utf8" }).filter((name) => {
    const file = path.join(dir, name)
    return name !== except && fs.statSync(file).isFile() && fs.readFileSync(file, "utf8").includes(secret)
  })

const stored = (dir: string) => JSON.parse(fs.readFileSync(path.join(dir, "tokens.json"), "utf8"))

const userinfo = (at: DevServer, headers: Record<string, string>) =>
  fetch(`${at.issuer}/me`, { headers }).then((r) => r.status)

/** `Authorization: …` and `DPoP: …` lines as fetch headers. */
const headersOf = (text: string): Record<string, string> =>
  Object.fromEntries(
    text.trim().split("\n").map((line) => {
      const colon = line.indexOf(": ")
      return [line.slice(0, colon), line.slice(colon + 2)]
    })
  )

describe("devflow with DPoP (RFC 9449) against oidc-provider", () => {
  it(
    "login --dpop binds the tokens to a key kept with them (0600 file); a new process refreshes with it; header prints both lines; logout removes the key",
    {
      timeout: 120_000
    },
    async () => {
      const dir = newDir()
      const env = { DEVFLOW_SECRET_STORE: "file" }
      const signedIn = await login(server, dir, env)
      expect(signedIn.code, signedIn.stderr).toBe(0)
      expect(JSON.parse(signedIn.stdout.trim().split("\n").at(-1)!)).toMatchObject({
        event: "result",
        token_type: "DPoP"
      })
      const keys = stored(dir).dpopKeys
      expect(keys).toHaveLength(1)
      expect(Object.keys(JSON.parse(keys[0].secret))).toContain("d")
      // the key appears nowhere but in the cache file: not on stdout or stderr, not in the profile
      const d = JSON.parse(keys[0].secret).d as string
      expect(signedIn.stdout + signedIn.stderr).not.toContain(d)
      expect(filesHolding(dir, d, "tokens.json")).toEqual([])
      expect((fs.statSync(path.join(dir, "tokens.json")).mode & 0o777).toString(8)).toBe("600")
      const profiles = fs.readFileSync(path.join(dir, "profiles.json"), "utf8")
      expect(JSON.parse(profiles).profiles.default.client.dpop).toBe(true)

      // a new process: the access token is inside the skew, so it refreshes, proving with the kept key
      const json = await devflow(["token", "--format", "json", "--cache-dir", dir], { env, tokenOutput: true })
      expect(json.code, json.stderr).toBe(0)
      const view = JSON.parse(json.stdout)
      expect(view).toMatchObject({ source: "refresh", token_type: "DPoP" })
      expect(json.stdout + json.stderr).not.toContain(d)

      // the two lines a request needs; the resource server checks the proof, its ath and the key (cnf.jkt)
      const url = `${server.issuer}/me`
      const header = await devflow(
        ["token", "--format", "header", "--method", "GET", "--url", url, "--cache-dir", dir],
        {
          env,
          tokenOutput: true
        }
      )
      expect(header.code, header.stderr).toBe(0)
      expect(header.stdout).toMatch(/^Authorization: DPoP \S+\nDPoP: [\w-]+\.[\w-]+\.[\w-]+\n$/)
      const headers = headersOf(header.stdout)
      expect(await userinfo(server, headers)).toBe(200)
      // without its proof, or as a Bearer token, the token is refused
      const token = headers.Authorization!.slice("DPoP ".length)
      expect(await userinfo(server, { Authorization: `Bearer ${token}` })).toBe(401)
      // oidc-provider: 400 invalid_request for DPoP without a proof
      expect(await userinfo(server, { Authorization: `DPoP ${token}` })).toBe(400)

      // a DPoP token's header without the request it is for
      const noUrl = await devflow(["token", "--format", "header", "--cache-dir", dir], { env, tokenOutput: true })
      expect(noUrl.code).toBe(2)
      expect(noUrl.stdout).toBe("")
      expect(noUrl.stderr).toMatch(/proof made for each request, and no --url was given/)

      // exec cannot put a per-request proof in a header file
      const headerFile = path.join(dir, "auth.h")
      const exec = await devflow([
        "exec",
        "--header-file",
        headerFile,
        "--cache-dir",
        dir,
        "--",
        process.execPath,
        "-e",
        "0"
      ], { env })
      expect(exec.code).toBe(2)
      expect(exec.stderr).toMatch(/each request needs a proof of its own/)
      expect(fs.existsSync(headerFile)).toBe(false)

      const logout = await devflow(["logout", "--cache-dir", dir], { env })
      expect(logout.code, logout.stderr).toBe(0)
      expect(stored(dir).dpopKeys).toEqual([])
    }
  )

  it(
    "with nonces demanded (RFC 9449 §8), a new process's refresh takes the server's nonce and proves with the kept key",
    {
      timeout: 120_000
    },
    async () => {
      const dir = newDir()
      const env = { DEVFLOW_SECRET_STORE: "file" }
      const signedIn = await login(nonceServer, dir, env)
      expect(signedIn.code, signedIn.stderr).toBe(0)
      for (let i = 0; i < 2; i++) {
        const token = await devflow(["token", "--format", "json", "--cache-dir", dir], { env, tokenOutput: true })
        expect(token.code, token.stderr).toBe(0)
        expect(JSON.parse(token.stdout)).toMatchObject({ source: "refresh", token_type: "DPoP" })
      }
    }
  )
})

const keychain = SecretService.available()

describe.skipIf(!keychain)("devflow with DPoP and the OS keychain (GNOME Keyring over D-Bus)", () => {
  let service: SecretService.SecretService
  beforeAll(async () => {
    service = await SecretService.start()
  }, 60_000)
  afterAll(async () => {
    await service?.stop()
  })

  it(
    "the private key goes to the keychain with the refresh token; a new process refreshes with it; logout removes the item",
    {
      timeout: 120_000
    },
    async () => {
      const dir = newDir()
      const env = { DBUS_SESSION_BUS_ADDRESS: service.address, DEVFLOW_SECRET_STORE: "keychain" }
      const signedIn = await login(server, dir, env)
      expect(signedIn.code, signedIn.stderr).toBe(0)
      const items = await service.items()
      expect(items.map((i) => i.account.split("/")[0]).sort()).toEqual(["dpop-key", "refresh-token"])
      const d = JSON.parse(items.find((i) => i.account.startsWith("dpop-key/"))!.secret).d as string
      expect(filesHolding(dir, d)).toEqual([])
      expect(signedIn.stdout + signedIn.stderr).not.toContain(d)
      expect(stored(dir).dpopKeys[0].secret).toMatch(/^devflow-keychain:dpop-key\//)

      const token = await devflow(["token", "--format", "json", "--verbose", "--cache-dir", dir], {
        env,
        tokenOutput: true
      })
      expect(token.code, token.stderr).toBe(0)
      expect(JSON.parse(token.stdout)).toMatchObject({ source: "refresh", token_type: "DPoP" })
      expect(token.stdout + token.stderr).not.toContain(d)
      expect(filesHolding(dir, d)).toEqual([])

      const logout = await devflow(["logout", "--cache-dir", dir], { env })
      expect(logout.code, logout.stderr).toBe(0)
      expect(await service.items()).toEqual([])
    }
  )
})
