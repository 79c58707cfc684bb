/**
 * `--secret-store` says where refresh tokens and client secrets live, and
 * docs/caching.md says a switch is carried out by the next command — also by
 * `devflow token` when a cached access token would let it answer from the
 * file alone. Here no keychain answers (the tests' D-Bus address leads
 * nowhere), against the real dev server (oidc-provider).
 */
import { type DevServer, startDevServer } from "@devflow/dev-server"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Devflow, devflow, STACK, tempDir } from "./helpers.js"

let server: DevServer
let dir: string

beforeAll(async () => {
  server = await startDevServer({ pollIntervalSeconds: 1 })
  dir = tempDir()
})
afterAll(async () => {
  await server?.close()
  if (dir !== undefined) fs.rmSync(dir, { recursive: true, force: true })
})

describe("switching to --secret-store keychain where no keychain answers", () => {
  it("token with a valid cached access token: exit 1 saying so (the keychain or nothing), and the refresh token stays", async () => {
    const login = new Devflow([
      "login",
      "--issuer",
      server.issuer,
      "--client-id",
      "devflow-demo",
      "--scope",
      "openid",
      "--scope",
      "offline_access",
      "--no-qr",
      "--cache-dir",
      dir
    ])
    await server.approve(await login.userCode())
    expect((await login.exit).code).toBe(0)
    const file = path.join(dir, "tokens.json")
    const before = JSON.parse(fs.readFileSync(file, "utf8"))
    expect(before.refreshTokens).toHaveLength(1)

    const keychain = await devflow(["token", "--secret-store", "keychain", "--cache-dir", dir], { tokenOutput: true })
    expect(keychain.code, keychain.stderr).toBe(1)
    expect(keychain.stdout).toBe("")
    expect(keychain.stderr).toMatch(/OS keychain/)
    expect(keychain.stderr).toMatch(/--secret-store file/)
    expect(keychain.stderr).not.toMatch(STACK)
    // nothing lost: the refresh token is still in the file, and the store it was saved under still answers
    expect(JSON.parse(fs.readFileSync(file, "utf8")).refreshTokens).toEqual(before.refreshTokens)
    const auto = await devflow(["token", "--cache-dir", dir], { tokenOutput: true })
    expect(auto.code, auto.stderr).toBe(0)
    // the same through the environment
    const env = await devflow(["token", "--cache-dir", dir], {
      env: { DEVFLOW_SECRET_STORE: "keychain" },
      tokenOutput: true
    })
    expect(env.code).toBe(1)
  })
})
