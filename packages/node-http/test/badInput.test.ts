/**
 * Bad input, end to end through the real undici client: small node:http(s)
 * servers on 127.0.0.1 that answer the way broken, hostile or absent servers
 * do. Each case must end in a typed DeviceFlowError with a one-line message,
 * within a bounded time.
 */
import { ClientConfig, DeviceFlow, DeviceFlowError, ServerMetadata } from "@devflow/core"
import { HEADROOM_MS, until } from "@devflow/dev-server/wallClock"
import { assert, describe, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import * as DiagnosticsChannel from "node:diagnostics_channel"
import type * as Http from "node:http"
import type * as Net from "node:net"
import type * as HttpOptions from "../src/HttpOptions.js"
import * as NodeOAuthHttp from "../src/NodeOAuthHttp.js"
import { certificate, closedPort, httpServer, httpsServer, neverAnswering } from "./fixtures/servers.js"

// Never pick up a proxy from the machine running the tests.
const direct: HttpOptions.ProxyOptions = { httpProxy: "", httpsProxy: "", noProxy: "" }
const ClientLive = NodeOAuthHttp.layer({ proxy: direct })

const elapsed = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.map(Effect.timed(effect), ([duration, a]) => [Duration.toMillis(duration), a] as const)

/** The effect's failure, asserted to be the DeviceFlowError `tag` with a one-line message. */
const failsWith = <T extends DeviceFlowError.DeviceFlowError["_tag"], A, E, R>(
  tag: T,
  effect: Effect.Effect<A, E, R>
) =>
  Effect.map(elapsed(Effect.flip(effect)), ([millis, error]) => {
    assert.isTrue(DeviceFlowError.isDeviceFlowError(error), String(error))
    const e = error as Extract<DeviceFlowError.DeviceFlowError, { readonly _tag: T }>
    assert.strictEqual(e._tag, tag, e.message)
    assert.notInclude(e.message, "\n")
    assert.isBelow(e.message.length, 400, e.message)
    return [millis, e] as const
  })

const send = (res: Http.ServerResponse, status: number, body: unknown, contentType = "application/json") => {
  res.writeHead(status, { "content-type": contentType })
  res.end(typeof body === "string" ? body : JSON.stringify(body))
}

type Route = (req: Http.IncomingMessage, res: Http.ServerResponse, origin: string) => void

/** An origin that answers `routes` by path (404 elsewhere) and records every request. */
const serve = (routes: Readonly<Record<string, Route>>, listen = httpServer) =>
  Effect.gen(function*() {
    const hits: Array<string> = []
    let url = ""
    const origin = yield* listen((req, res) => {
      const path = (req.url ?? "").split("?")[0]!
      hits.push(`${req.method} ${path}`)
      req.resume()
      const route = routes[path]
      if (route === undefined) send(res, 404, "Not Found", "text/plain")
      else req.on("end", () => route(req, res, url))
    })
    url = origin.url
    return { ...origin, hits }
  })

const metadata = (issuer: string, fields: Readonly<Record<string, unknown>> = {}) => ({
  issuer,
  device_authorization_endpoint: `${issuer}/device/auth`,
  token_endpoint: `${issuer}/token`,
  ...fields
})

const WELL_KNOWN = "/.well-known/openid-configuration"

const deviceCode = (origin: string) => ({
  device_code: "DEVICE-CODE-CANARY",
  user_code: "BCDF-GHJK",
  verification_uri: `${origin}/device`,
  expires_in: 30,
  interval: 1
})

const configAt = (origin: string) =>
  ClientConfig.make({
    clientId: "devflow-cli",
    endpoints: { deviceAuthorization: `${origin}/device/auth`, token: `${origin}/token` },
    scopes: ["openid"]
  })

const acquire = (origin: string, options: DeviceFlow.FlowOptions = {}) =>
  Effect.flatMap(configAt(origin), (config) => DeviceFlow.acquireToken(config, {}, { onCode: () => {}, ...options }))

/** Requests undici created, from its diagnostics channel: proves a refusal came before any request. */
const undiciRequests = Effect.gen(function*() {
  const origins: Array<string> = []
  const onCreate = (message: unknown) => {
    const { request } = message as { readonly request: { readonly origin: string | URL; readonly path: string } }
    origins.push(`${String(request.origin)}${request.path}`)
  }
  yield* Effect.acquireRelease(
    Effect.sync(() => DiagnosticsChannel.subscribe("undici:request:create", onCreate)),
    () => Effect.sync(() => DiagnosticsChannel.unsubscribe("undici:request:create", onCreate))
  )
  return { to: (host: string) => origins.filter((o) => new URL(o).host === host) }
})

// "At once" and "not retried" are shown by what reached the wire (the server's hits, undici's requests), and a
// hang by the test's timeout; how long each takes is for `pnpm bench`. Lower bounds on time are protocol rules.
describe.concurrent("bad input through the real HTTP client", () => {
  it.scopedLive("a wrong issuer: metadata naming another server → InvalidResponse on issuer, nothing else asked", () =>
    Effect.gen(function*() {
      const server = yield* serve({ [WELL_KNOWN]: (_req, res) => send(res, 200, metadata("https://idp.example")) })
      const [, error] = yield* failsWith("InvalidResponse", ServerMetadata.discover(server.url))
      assert.strictEqual(error.field, "issuer")
      assert.include(error.message, "https://idp.example")
      assert.deepStrictEqual(server.hits, [`GET ${WELL_KNOWN}`])
    }).pipe(Effect.provide(ClientLive)))

  it.scopedLive("an http URL to a non-loopback host → InvalidConfiguration before any request", () =>
    Effect.gen(function*() {
      const undici = yield* undiciRequests
      const [, issuer] = yield* failsWith("InvalidConfiguration", ServerMetadata.discover("http://auth.example.com"))
      assert.strictEqual(issuer.field, "issuer")
      assert.include(issuer.reason, "must use https")
      const [, endpoint] = yield* failsWith(
        "InvalidConfiguration",
        Effect.flatMap(
          ClientConfig.make({
            clientId: "devflow-cli",
            endpoints: { deviceAuthorization: "http://auth.example.com/device", token: "http://auth.example.com/token" }
          }),
          (config) => DeviceFlow.acquireToken(config, {}, { onCode: () => {} })
        )
      )
      assert.strictEqual(endpoint.field, "endpoints.deviceAuthorization")
      assert.deepStrictEqual(undici.to("auth.example.com"), [])
    }).pipe(Effect.provide(ClientLive)))

  it.scopedLive("metadata pointing the token endpoint at http on a remote host → InvalidResponse, that host never contacted", () =>
    Effect.gen(function*() {
      const undici = yield* undiciRequests
      const server = yield* serve({
        [WELL_KNOWN]: (_req, res, origin) =>
          send(res, 200, metadata(origin, { token_endpoint: "http://evil.example/token" }))
      })
      const [, error] = yield* failsWith("InvalidResponse", ServerMetadata.discover(server.url))
      assert.strictEqual(error.field, "token_endpoint")
      assert.include(error.reason, "https")
      assert.deepStrictEqual(undici.to("evil.example"), [])
    }).pipe(Effect.provide(ClientLive)))

  it.scopedLive("an unreachable server (connection refused) → TransportError at once for discovery", () =>
    Effect.gen(function*() {
      const undici = yield* undiciRequests
      const port = yield* closedPort
      const [, error] = yield* failsWith("TransportError", ServerMetadata.discover(`http://127.0.0.1:${port}`))
      assert.include(error.message, "ECONNREFUSED")
      assert.include(error.message, `127.0.0.1:${port}`)
      assert.strictEqual(undici.to(`127.0.0.1:${port}`).length, 1) // not retried
    }).pipe(Effect.provide(ClientLive)))

  it.scopedLive("an unreachable server → TransportError for the flow after its three tries (1 s, 2 s apart)", () =>
    Effect.gen(function*() {
      const undici = yield* undiciRequests
      const port = yield* closedPort
      const [millis, error] = yield* failsWith("TransportError", acquire(`http://127.0.0.1:${port}`))
      assert.include(error.message, "ECONNREFUSED")
      assert.strictEqual(undici.to(`127.0.0.1:${port}`).length, 3)
      assert.isAtLeast(millis, 2_900)
    }).pipe(Effect.provide(ClientLive)))

  it.scopedLive("TLS failure (self-signed certificate) → TransportError naming the certificate problem", () =>
    Effect.gen(function*() {
      const server = yield* serve(
        { [WELL_KNOWN]: (_req, res, origin) => send(res, 200, metadata(origin)) },
        httpsServer
      )
      const [, error] = yield* failsWith("TransportError", ServerMetadata.discover(server.url))
      assert.match(error.message, /self[- ]signed certificate/i)
      // the TLS handshake failed, so no request was ever made
      assert.deepStrictEqual(server.hits, [])
      // trusting the certificate (the `ca` option) makes the same server work
      const found = yield* ServerMetadata.discover(server.url).pipe(
        Effect.provide(NodeOAuthHttp.layer({ proxy: direct, ca: [certificate] }))
      )
      assert.strictEqual(found.tokenEndpoint, `${server.url}/token`)
    }).pipe(Effect.provide(ClientLive)))

  it.scopedLive("an HTML page instead of metadata → InvalidResponse saying it is HTML", () =>
    Effect.gen(function*() {
      const server = yield* serve({
        [WELL_KNOWN]: (_req, res) => send(res, 200, "<!DOCTYPE html><html><body>Sign in</body></html>", "text/html")
      })
      const [, error] = yield* failsWith("InvalidResponse", ServerMetadata.discover(server.url))
      assert.include(error.message, "HTML")
    }).pipe(Effect.provide(ClientLive)))

  it.scopedLive("an HTML error page (HTTP 403, a firewall) from the device endpoint → InvalidResponse, not retried", () =>
    Effect.gen(function*() {
      const server = yield* serve({
        "/device/auth": (_req, res) =>
          send(res, 403, "<html><h1>403 Forbidden</h1><p>Request blocked.</p></html>", "text/html")
      })
      const [, error] = yield* failsWith("InvalidResponse", acquire(server.url))
      assert.strictEqual(error.status, 403)
      assert.include(error.reason, "HTML")
      assert.deepStrictEqual(server.hits, ["POST /device/auth"])
    }).pipe(Effect.provide(ClientLive)))

  it.scopedLive("an HTML page (HTTP 200) from the token endpoint while polling → InvalidResponse ends the flow", () =>
    Effect.gen(function*() {
      const server = yield* serve({
        "/device/auth": (_req, res, origin) => send(res, 200, deviceCode(origin)),
        "/token": (_req, res) => send(res, 200, "<!doctype html><title>Maintenance</title>", "text/html")
      })
      const [, error] = yield* failsWith("InvalidResponse", acquire(server.url))
      assert.strictEqual(error.endpoint, `${server.url}/token`)
      assert.deepStrictEqual(server.hits, ["POST /device/auth", "POST /token"])
    }).pipe(Effect.provide(ClientLive)))

  it.scopedLive("an HTML 503 page from the device endpoint → TransportError with the status, after three tries", () =>
    Effect.gen(function*() {
      const server = yield* serve({
        "/device/auth": (_req, res) => send(res, 503, "<html><h1>503 Service Unavailable</h1></html>", "text/html")
      })
      const [, error] = yield* failsWith("TransportError", acquire(server.url))
      assert.strictEqual(error.status, 503)
      assert.strictEqual(server.hits.length, 3)
    }).pipe(Effect.provide(ClientLive)))

  it.scopedLive("truncated JSON → InvalidResponse (device endpoint, token endpoint, metadata)", () =>
    Effect.gen(function*() {
      const truncated = "{\"device_code\":\"DEVICE-CODE-CANARY\",\"user_code\":\"BCDF-"
      const server = yield* serve({
        [WELL_KNOWN]: (_req, res, origin) => send(res, 200, JSON.stringify(metadata(origin)).slice(0, 40)),
        "/device/auth": (_req, res) => send(res, 200, truncated)
      })
      const [, device] = yield* failsWith("InvalidResponse", acquire(server.url))
      assert.include(device.message, "not valid JSON")
      // the device code in the partial body never reaches the message
      assert.notInclude(device.message, "DEVICE-CODE-CANARY")
      const [, discovery] = yield* failsWith("InvalidResponse", ServerMetadata.discover(server.url))
      assert.include(discovery.message, "not valid JSON")

      const polling = yield* serve({
        "/device/auth": (_req, res, origin) => send(res, 200, deviceCode(origin)),
        "/token": (_req, res) => send(res, 200, "{\"access_token\":\"ACCESS-TOKEN-CAN")
      })
      const [, token] = yield* failsWith("InvalidResponse", acquire(polling.url))
      assert.strictEqual(token.endpoint, `${polling.url}/token`)
      assert.notInclude(token.message, "ACCESS-TOKEN-CAN")
    }).pipe(Effect.provide(ClientLive)))

  it.scopedLive("a body cut off mid-way (connection closed before Content-Length) → a typed error, at once", () =>
    Effect.gen(function*() {
      const server = yield* serve({
        [WELL_KNOWN]: (_req, res) => {
          res.writeHead(200, { "content-type": "application/json", "content-length": "500" })
          res.write("{\"issuer\":\"http://127.0.0.1")
          setTimeout(() => res.socket?.destroy(), 20)
        }
      })
      const [, error] = yield* failsWith("TransportError", ServerMetadata.discover(server.url))
      assert.include(error.message, "while reading the answer")
    }).pipe(Effect.provide(ClientLive)))

  it.scopedLive("a redirect to another host → InvalidResponse, and the other host receives nothing", () =>
    Effect.gen(function*() {
      const other = yield* serve({
        [WELL_KNOWN]: (_req, res, origin) => send(res, 200, metadata(origin)),
        "/device/auth": (_req, res, origin) => send(res, 200, deviceCode(origin)),
        "/token": (_req, res) => send(res, 200, { access_token: "x", token_type: "Bearer" })
      })
      const elsewhere = `http://localhost:${other.port}`
      const redirect = (status: number, path: string): Route => (_req, res) => {
        res.writeHead(status, { location: `${elsewhere}${path}` })
        res.end()
      }
      const server = yield* serve({
        [WELL_KNOWN]: redirect(302, WELL_KNOWN),
        "/device/auth": redirect(307, "/device/auth")
      })
      const [, discovery] = yield* failsWith("InvalidResponse", ServerMetadata.discover(server.url))
      assert.strictEqual(discovery.status, 302)
      assert.include(discovery.reason, `${elsewhere}${WELL_KNOWN}`)
      const [, device] = yield* failsWith("InvalidResponse", acquire(server.url))
      assert.strictEqual(device.status, 307)
      assert.include(device.reason, `${elsewhere}/device/auth`)

      // and while polling: a token endpoint that redirects (308) ends the flow
      const polling = yield* serve({
        "/device/auth": (_req, res, origin) => send(res, 200, deviceCode(origin)),
        "/token": redirect(308, "/token")
      })
      const [, token] = yield* failsWith("InvalidResponse", acquire(polling.url))
      assert.strictEqual(token.status, 308)
      assert.deepStrictEqual(other.hits, [])
    }).pipe(Effect.provide(ClientLive)))

  it.scopedLive("a server that never answers → TransportError at the client's request timeout; the connection is closed", () =>
    Effect.gen(function*() {
      const server = yield* neverAnswering
      const [millis, error] = yield* failsWith(
        "TransportError",
        ServerMetadata.discover(server.url).pipe(
          Effect.provide(NodeOAuthHttp.layer({ proxy: direct, requestTimeout: "1 second" }))
        )
      )
      assert.include(error.message, "timed out")
      assert.isAtLeast(millis, 950)
      // On a busy machine the deadline can pass before the request reaches a connection: then it is never sent.
      if (server.seen.fired()) {
        yield* server.closed.await(Duration.millis(HEADROOM_MS), "closing the abandoned connection")
      }
    }))

  it.scopedLive("a token endpoint that never answers → each poll bounded by the flow's requestTimeout, then TransportError", () =>
    Effect.gen(function*() {
      const sockets: Array<Net.Socket> = []
      const server = yield* serve({
        "/device/auth": (_req, res, origin) => send(res, 200, deviceCode(origin)),
        "/token": (req) => {
          sockets.push(req.socket)
        }
      })
      const events: Array<string> = []
      const [millis, error] = yield* failsWith(
        "TransportError",
        Effect.flatMap(configAt(server.url), (config) =>
          DeviceFlow.events(config, {}, {
            requestTimeout: "500 millis",
            policy: { maxConsecutiveFailures: 2, maxBackoffMs: 1_000 }
          }).pipe(
            Stream.tap((event) => Effect.sync(() => events.push(event._tag))),
            Stream.runCollect,
            Effect.map(Chunk.size)
          ))
      )
      // the one deadline per request is the HTTP client's, set to the flow's requestTimeout (RequestLimits)
      assert.include(error.message, "request timed out after 500ms waiting for the response")
      assert.deepStrictEqual(events, ["CodeIssued", "Retrying"])
      assert.deepStrictEqual(server.hits, ["POST /device/auth", "POST /token", "POST /token"])
      // poll at 1 s, timeout at 1.5 s, backoff 1 s, poll at 2.5 s, timeout at 3 s
      assert.isAtLeast(millis, 2_900)
      // every abandoned poll's connection was closed by the client
      assert.strictEqual(sockets.length, 2)
      yield* Effect.promise(() => until(() => sockets.every((s) => s.closed), "the abandoned polls' sockets closing"))
      assert.deepStrictEqual(sockets.map((s) => s.closed), [true, true])
    }).pipe(Effect.provide(ClientLive)))
})
