/**
 * A TLS front for the oidc-provider dev server (plain http on loopback):
 * msal-node accepts only https authorities. It forwards every request
 * unchanged, except two translations msal-node needs against any RFC 8628
 * server, both counted: its device code endpoint is the token endpoint with
 * "/token" replaced by "/devicecode" (Entra's layout; it ignores
 * `device_authorization_endpoint`), and it sends `grant_type=device_code`
 * instead of the RFC 8628 URN.
 */
import * as http from "node:http"
import * as https from "node:https"
import type { AddressInfo } from "node:net"

export interface TlsProxy {
  readonly origin: string
  readonly translated: { devicecodePath: number; grantType: number }
  close(): Promise<void>
}

export const startTlsProxy = async (
  target: string,
  tls: { readonly cert: string; readonly key: string },
  deviceAuthorizationPath: string
): Promise<TlsProxy> => {
  const upstream = new URL(target)
  const translated = { devicecodePath: 0, grantType: 0 }
  const agent = new http.Agent({ keepAlive: true })
  const server = https.createServer({ cert: tls.cert, key: tls.key }, (req, res) => {
    const chunks: Array<Buffer> = []
    req.on("data", (c: Buffer) => chunks.push(c))
    req.on("end", () => {
      let path = req.url ?? "/"
      let body = Buffer.concat(chunks)
      if (path.endsWith("/devicecode")) {
        translated.devicecodePath++
        path = deviceAuthorizationPath
      }
      const text = body.toString("utf8")
      if (/(^|&)grant_type=device_code(&|$)/.test(text)) {
        translated.grantType++
        body = Buffer.from(
          text.replace(
            /(^|&)grant_type=device_code(&|$)/,
            "$1grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code$2"
          )
        )
      }
      const headers = { ...req.headers, host: upstream.host, "content-length": String(body.length) }
      const forward = http.request({
        host: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path,
        headers,
        agent
      }, (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers)
        up.pipe(res)
      })
      forward.on("error", () => res.destroy())
      res.on("close", () => forward.destroy())
      forward.end(body)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()))
  const origin = `https://127.0.0.1:${(server.address() as AddressInfo).port}`
  return {
    origin,
    translated,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
        agent.destroy()
      })
  }
}
