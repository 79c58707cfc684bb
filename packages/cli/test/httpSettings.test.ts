import * as HttpSettings from "@devflow/node-http/HttpSettings"
import * as http from "node:http"
import type { AddressInfo, Socket } from "node:net"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { devflow, STACK, tempDir } from "./helpers.js"

// A server that accepts requests and never answers, and a "proxy" that records what it is asked for.
let silent: http.Server
let proxy: http.Server
const proxied: Array<string> = []
const listen = (server: http.Server) =>
  new Promise<string>((resolve) =>
    server.listen(0, "127.0.0.1", () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`))
  )
let silentUrl: string
let proxyUrl: string
beforeAll(async () => {
  silent = http.createServer(() => {})
  proxy = http.createServer((req, res) => {
    proxied.push(`${req.method} ${req.url}`)
    res.writeHead(502).end()
  })
  // undici tunnels plain http through the proxy too
  proxy.on("connect", (req: http.IncomingMessage, socket: Socket) => {
    proxied.push(`CONNECT ${req.url}`)
    socket.end("HTTP/1.1 502 Bad Gateway\r\n\r\n")
  })
  silentUrl = await listen(silent)
  proxyUrl = await listen(proxy)
})
afterAll(() => {
  silent.closeAllConnections()
  silent.close()
  proxy.close()
})

describe("the CLI honours @devflow/node-http's environment settings", () => {
  it("DEVFLOW_HTTP_REQUEST_TIMEOUT: a server that never answers fails the sign-in with exit 5 after that long", async () => {
    const run = await devflow(["login", "--issuer", silentUrl, "--client-id", "x", "--cache-dir", tempDir()], {
      env: { DEVFLOW_HTTP_REQUEST_TIMEOUT: "300", NO_PROXY: "*" }
    })
    expect(run.code, run.stderr).toBe(5)
    expect(run.stderr).toContain("request timed out after 300ms")
    // without the variable the default (30 s) would apply
    expect(run.ms).toBeLessThan(10_000)
  })

  it("a malformed setting is a usage error naming the variable", async () => {
    const run = await devflow(["login", "--issuer", silentUrl, "--client-id", "x", "--cache-dir", tempDir()], {
      env: { DEVFLOW_HTTP_CONNECT_TIMEOUT: "soon" }
    })
    expect(run.code).toBe(2)
    expect(run.stderr).toMatch(
      /^devflow: The HTTP settings in the environment cannot be used: DEVFLOW_HTTP_CONNECT_TIMEOUT: .*"soon"/m
    )
    expect(run.stderr).not.toMatch(STACK)
  })

  it("every DEVFLOW_HTTP_* variable of node-http's table is checked: a malformed one is refused, named, on every command", async () => {
    const malformed: Record<HttpSettings.HttpSetting["kind"], string> = {
      duration: "0",
      positiveInteger: "1.5",
      text: " "
    }
    for (const setting of HttpSettings.settings) {
      const run = await devflow(["login", "--issuer", silentUrl, "--client-id", "x", "--cache-dir", tempDir()], {
        env: { [setting.env]: malformed[setting.kind] }
      })
      expect(run.code, `${setting.env}: ${run.stderr}`).toBe(2)
      expect(run.stderr).toContain(`cannot be used: ${setting.env}: `)
    }
    // devflow token declines its fast path for the same setting (test/fastPath.test.ts), so the full CLI says it
    const token = await devflow(["token", "--cache-dir", tempDir()], { env: { DEVFLOW_HTTP_MAX_CONNECTIONS: "many" } })
    expect(token.code, token.stderr).toBe(2)
    expect(token.stderr).toContain("DEVFLOW_HTTP_MAX_CONNECTIONS")
  })

  it("HTTP_PROXY: requests go through the proxy", async () => {
    const run = await devflow(["login", "--issuer", silentUrl, "--client-id", "x", "--cache-dir", tempDir()], {
      env: { HTTP_PROXY: proxyUrl, http_proxy: undefined, NO_PROXY: undefined, no_proxy: undefined }
    })
    expect(run.code, run.stderr).not.toBe(0)
    expect(proxied).toContain(`CONNECT ${silentUrl.slice("http://".length)}`)
    expect(run.stderr).not.toMatch(STACK)
  })
})
