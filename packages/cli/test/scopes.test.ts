/**
 * `devflow login --issuer … --client-id …` without `--scope`, against the real
 * dev server (oidc-provider), which lets a person approve a request for no
 * scope and then answers `access_denied`.
 */
import { type DevServer, startDevServer } from "@devflow/dev-server"
import * as fs from "node:fs"
import { createServer, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Devflow, STACK, tempDir } from "./helpers.js"

let server: DevServer
let plain: Server
let plainIssuer: string
const dirs: Array<string> = []

/**
 * The dev server behind RFC 8414 metadata that says nothing about scopes and
 * no OpenID Connect Discovery document: an issuer devflow can infer nothing from.
 */
const startPlainOAuthServer = (upstream: DevServer) =>
  new Promise<Server>((resolve) => {
    const proxy = createServer((req, res) => {
      const origin = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`
      if (req.url === "/.well-known/oauth-authorization-server") {
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({
          issuer: origin,
          device_authorization_endpoint: `${origin}/device/auth`,
          token_endpoint: `${origin}/token`
        }))
        return
      }
      if (req.url !== "/device/auth" && req.url !== "/token") return void res.writeHead(404).end()
      const chunks: Array<Buffer> = []
      req.on("data", (c: Buffer) => chunks.push(c)).on("end", async () => {
        const answer = await fetch(`${upstream.issuer}${req.url}`, {
          method: "POST",
          headers: { "content-type": req.headers["content-type"] ?? "", accept: "application/json" },
          body: Buffer.concat(chunks)
        })
        res.writeHead(answer.status, { "content-type": answer.headers.get("content-type") ?? "application/json" })
          .end(await answer.text())
      })
    })
    proxy.listen(0, "127.0.0.1", () => resolve(proxy))
  })

beforeAll(async () => {
  server = await startDevServer({ pollIntervalSeconds: 1 })
  plain = await startPlainOAuthServer(server)
  plainIssuer = `http://127.0.0.1:${(plain.address() as AddressInfo).port}`
})
afterAll(async () => {
  await new Promise((resolve) => plain?.close(resolve))
  await server?.close()
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true })
})

const login = (issuer: string, ...extra: ReadonlyArray<string>) => {
  const dir = tempDir()
  dirs.push(dir)
  return new Devflow([
    "login",
    "--issuer",
    issuer,
    "--client-id",
    "devflow-demo",
    "--no-qr",
    "--cache-dir",
    dir,
    ...extra
  ])
}

describe.concurrent("login with a generic issuer and no --scope", () => {
  it("an OpenID Provider is asked for openid (and offline_access, which it lists), says so in one line, and the sign-in succeeds", async () => {
    const run = login(server.issuer, "--json")
    await server.approve(await run.userCode())
    const done = await run.exit
    expect(done.code, done.stderr).toBe(0)
    const note = "No --scope given: asking for openid offline_access, which the issuer's metadata offers."
    expect(done.stderr.split("\n").filter((line) => line === note)).toHaveLength(1)
    // said before the code is shown
    expect(done.stderr.indexOf(note)).toBeLessThan(done.stderr.indexOf("enter the code"))
    const result = done.stdout.trim().split("\n").map((line) => JSON.parse(line)).find((e) => e.event === "result")
    expect(result.scopes).toEqual(expect.arrayContaining(["openid", "offline_access"]))
  })

  it("an explicit --scope is sent as given, with no note", async () => {
    const run = login(server.issuer, "--scope", "openid")
    await server.approve(await run.userCode())
    const done = await run.exit
    expect(done.code, done.stderr).toBe(0)
    expect(done.stderr).not.toMatch(/No --scope given/)
  })

  it("an issuer whose metadata suggests no scope: warned before the flow; the access_denied that follows names the empty scope", async () => {
    const run = login(plainIssuer)
    const code = await run.userCode()
    expect(run.stderr.slice(0, run.stderr.indexOf("enter the code"))).toContain(
      "No --scope given and the issuer's metadata suggests none: most servers need --scope (e.g. --scope openid)."
    )
    // oidc-provider aborts the approval of a request for no scope (the person sees an error page
    // after signing in) and answers the next poll with access_denied
    await expect(server.approve(code)).rejects.toThrow(/AbortedError/)
    const done = await run.exit
    expect(done.code).toBe(3)
    expect(done.stderr).toMatch(/^devflow: Sign-in was declined: access_denied/m)
    expect(done.stderr).toMatch(/^ {2}hint: No scope was asked for \(no --scope, .*run the command again with --scope/m)
    expect(done.stderr).not.toMatch(STACK)
  })
})
