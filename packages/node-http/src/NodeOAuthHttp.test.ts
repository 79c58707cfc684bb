import * as RequestLimits from "@devflow/core/RequestLimits"
import { HEADROOM_MS, until } from "@devflow/dev-server/wallClock"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Tracer from "effect/Tracer"
import * as DiagnosticsChannel from "node:diagnostics_channel"
import type * as Http from "node:http"
import * as Util from "node:util"
import {
  certificate,
  closedPort,
  httpServer,
  httpsServer,
  makeSignal,
  neverAnswering,
  proxyServer,
  type Signal,
  silentTcpServer
} from "../test/fixtures/servers.js"
import * as HttpOptions from "./HttpOptions.js"
import * as NodeOAuthHttp from "./NodeOAuthHttp.js"

// Never pick up a proxy from the machine running the tests.
const direct: HttpOptions.ProxyOptions = { httpProxy: "", httpsProxy: "", noProxy: "" }

const makeClient = (options?: Partial<HttpOptions.HttpOptions>) =>
  Effect.map(
    Layer.build(NodeOAuthHttp.layer({ proxy: direct, ...options })),
    Context.get(HttpClient.HttpClient)
  )

const readBody = (req: Http.IncomingMessage): Promise<string> =>
  new Promise((resolve, reject) => {
    let body = ""
    req.setEncoding("utf8")
    req.on("data", (chunk: string) => body += chunk)
    req.on("end", () => resolve(body))
    req.on("error", reject)
  })

/** what a busy machine may add to a step (see @devflow/dev-server/wallClock) */
const HEADROOM = Duration.millis(HEADROOM_MS)

/** How many requests undici has created since this was called (its diagnostics channel), for the test's scope. */
const undiciRequestsCreated = Effect.gen(function*() {
  let count = 0
  const onCreate = () => {
    count++
  }
  yield* Effect.acquireRelease(
    Effect.sync(() => DiagnosticsChannel.subscribe("undici:request:create", onCreate)),
    () => Effect.sync(() => DiagnosticsChannel.unsubscribe("undici:request:create", onCreate))
  )
  return () => count
})

const elapsed = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.map(Effect.timed(effect), ([duration, a]) => [Duration.toMillis(duration), a] as const)

const cap = 1024

/**
 * A request to a server that never answers, sent with `options` and the `limits` core sets around it:
 * asserts that it ends after 300 ms with the timeout error, and that its socket is closed.
 */
const timesOutAfter300ms = (options: Partial<HttpOptions.HttpOptions>, limits?: RequestLimits.RequestLimits) =>
  Effect.gen(function*() {
    const origin = yield* neverAnswering
    const client = yield* makeClient(options)
    const [millis, error] = yield* elapsed(
      Effect.flip(limits === undefined ? client.get(origin.url) : getWithin(client, origin.url, limits))
    )
    assert(error._tag === "RequestError")
    assert.strictEqual(error.reason, "Transport")
    assert.strictEqual(error.description, "request timed out after 300ms waiting for the response")
    assert.isTrue(Cause.isTimeoutException(error.cause))
    assert.isAtLeast(millis, 250) // the description names which timer fired: no upper bound needed
    // On a busy machine the deadline can pass before the request reaches a connection: then it is never sent.
    if (origin.seen.fired()) yield* origin.closed.await(HEADROOM, "closing the timed-out request's socket")
  })

/** A GET carrying the limits core attaches to each request it sends. */
const getWithin = (client: HttpClient.HttpClient, url: string, limits: RequestLimits.RequestLimits) =>
  client.execute(RequestLimits.set(HttpClientRequest.get(url), limits))

/**
 * An origin that sends its headers after `headersAfter` ms, then one body byte every 50 ms until the socket
 * closes; `midBody` fires once body bytes have been sent, `closed[i]` when the i-th request's socket closes.
 */
const trickling = (headersAfter: number) =>
  Effect.suspend(() => {
    const closed: Array<Signal> = []
    const midBody = makeSignal()
    return Effect.map(
      httpServer((req, res) => {
        const socketClosed = makeSignal()
        closed.push(socketClosed)
        let tick: ReturnType<typeof setInterval> | undefined
        const start = setTimeout(() => {
          res.writeHead(200, { "content-type": "application/json" })
          res.write("{")
          tick = setInterval(() => {
            res.write(" ")
            midBody.fire()
          }, 50)
        }, headersAfter)
        req.socket.on("close", () => {
          clearTimeout(start)
          clearInterval(tick)
          socketClosed.fire()
        })
      }),
      (origin) => ({ ...origin, closed, midBody })
    )
  })

describe("NodeOAuthHttp", () => {
  describe("requests", () => {
    it.scopedLive("sends the devflow User-Agent on every request, unless the request sets its own", () =>
      Effect.gen(function*() {
        const agents: Array<string | undefined> = []
        const origin = yield* httpServer((req, res) => {
          agents.push(req.headers["user-agent"])
          res.end()
        })
        const client = yield* makeClient()
        yield* client.get(`${origin.url}/a`)
        yield* client.post(`${origin.url}/b`)
        yield* client.get(`${origin.url}/c`, { headers: { "user-agent": "custom/1" } })
        assert.deepStrictEqual(agents, [HttpOptions.defaultUserAgent, HttpOptions.defaultUserAgent, "custom/1"])
        assert.strictEqual(HttpOptions.defaultUserAgent, "devflow/0.1.0 (+https://github.com/devflow)")
      }))

    it.scopedLive("round-trips a JSON POST", () =>
      Effect.gen(function*() {
        const origin = yield* httpServer(async (req, res) => {
          const body = await readBody(req)
          res.setHeader("content-type", "application/json")
          res.end(
            JSON.stringify({ method: req.method, contentType: req.headers["content-type"], echo: JSON.parse(body) })
          )
        })
        const client = yield* makeClient()
        const response = yield* HttpClientRequest.post(`${origin.url}/json`).pipe(
          HttpClientRequest.bodyUnsafeJson({ grant_type: "device_code", n: 1 }),
          client.execute
        )
        assert.strictEqual(response.status, 200)
        assert.deepStrictEqual(yield* response.json, {
          method: "POST",
          contentType: "application/json",
          echo: { grant_type: "device_code", n: 1 }
        })
      }))

    it.scopedLive("round-trips a form POST", () =>
      Effect.gen(function*() {
        const origin = yield* httpServer(async (req, res) => {
          const body = await readBody(req)
          res.end(`${req.headers["content-type"]}|${body}`)
        })
        const client = yield* makeClient()
        const response = yield* HttpClientRequest.post(`${origin.url}/token`).pipe(
          HttpClientRequest.bodyUrlParams({ client_id: "cli", scope: "a b" }),
          client.execute
        )
        assert.strictEqual(yield* response.text, "application/x-www-form-urlencoded|client_id=cli&scope=a+b")
      }))

    it.scopedLive("sends a streamed request body", () =>
      Effect.gen(function*() {
        const origin = yield* httpServer(async (req, res) =>
          res.end(`${req.headers["transfer-encoding"]}|${await readBody(req)}`)
        )
        const client = yield* makeClient()
        const response = yield* HttpClientRequest.post(`${origin.url}/stream`).pipe(
          HttpClientRequest.bodyStream(Stream.make("device_code=", "x&client_id=cli").pipe(Stream.encodeText)),
          client.execute
        )
        assert.strictEqual(yield* response.text, "chunked|device_code=x&client_id=cli")
      }))

    it.scopedLive("returns a 302 to another host as it is, without following it", () =>
      Effect.gen(function*() {
        let followed = 0
        const elsewhere = yield* httpServer((_req, res) => {
          followed++
          res.end("should not be reached")
        })
        const location = `http://localhost:${elsewhere.port}/token`
        const origin = yield* httpServer((_req, res) => {
          res.writeHead(302, { location })
          res.end()
        })
        const client = yield* makeClient()
        const response = yield* HttpClientRequest.post(`${origin.url}/token`).pipe(
          HttpClientRequest.bodyUrlParams({ device_code: "x" }),
          client.execute
        )
        assert.strictEqual(response.status, 302)
        assert.strictEqual(response.headers.location, location)
        assert.strictEqual(yield* response.text, "")
        assert.strictEqual(followed, 0)
      }))
  })

  describe("connection pool (issue 11)", () => {
    // The server holds each answer 50 ms so that the requests overlap; it counts the sockets and the most in use at once.
    const countingServer = Effect.gen(function*() {
      const sockets = new Set<unknown>()
      let inFlight = 0
      let peak = 0
      const origin = yield* httpServer((req, res) => {
        sockets.add(req.socket)
        peak = Math.max(peak, ++inFlight)
        setTimeout(() => {
          inFlight--
          res.end("{}")
        }, 50)
      })
      return { origin, sockets: () => sockets.size, peak: () => peak }
    })

    it.scopedLive("caps the connections per origin: 40 concurrent requests share maxConnectionsPerOrigin sockets", () =>
      Effect.gen(function*() {
        const server = yield* countingServer
        const client = yield* makeClient({ maxConnectionsPerOrigin: 4 })
        const statuses = yield* Effect.forEach(
          Array.from({ length: 40 }, (_, i) => i),
          (i) => Effect.map(Effect.scoped(client.get(`${server.origin.url}/${i}`)), (r) => r.status),
          { concurrency: "unbounded" }
        )
        assert.isTrue(statuses.every((s) => s === 200))
        assert.isAtMost(server.sockets(), 4)
        assert.strictEqual(server.peak(), 4)
      }))

    it.scopedLive("keeps connections alive: sequential requests reuse their socket", () =>
      Effect.gen(function*() {
        const server = yield* countingServer
        const client = yield* makeClient()
        for (let i = 0; i < 10; i++) {
          yield* Effect.scoped(Effect.flatMap(client.get(`${server.origin.url}/${i}`), (r) => r.text))
        }
        assert.isAtMost(server.sockets(), 2)
      }))

    it.scoped("the cap defaults to 128 and must be a positive integer (else a defect at layer construction)", () =>
      Effect.gen(function*() {
        assert.strictEqual(HttpOptions.defaults.maxConnectionsPerOrigin, 128)
        for (const bad of [0, -1, 1.5, Number.NaN]) {
          const exit = yield* Effect.exit(makeClient({ maxConnectionsPerOrigin: bad }))
          assert.isTrue(Exit.isFailure(exit) && Cause.isDie(exit.cause), String(bad))
        }
      }))
  })

  describe("response body cap", () => {
    it.scopedLive("fails fast when Content-Length is over the cap, without reading the body", () =>
      Effect.gen(function*() {
        const closed = makeSignal()
        const origin = yield* httpServer((req, res) => {
          req.socket.on("close", closed.fire)
          res.writeHead(200, { "content-length": String(cap * 10) })
          res.write(Buffer.alloc(16)) // and never the rest
        })
        const client = yield* makeClient({ maxResponseBytes: cap, requestTimeout: Duration.infinity })
        const response = yield* client.get(origin.url)
        const error = yield* Effect.flip(response.text)
        assert(error._tag === "ResponseError")
        assert.strictEqual(error.reason, "Decode")
        assert.strictEqual(error.description, `response body exceeded ${cap} bytes (Content-Length: ${cap * 10})`)
        assert.isTrue(Cause.isExceededCapacityException(error.cause))
        // the connection is aborted rather than drained (the body never ends, so reaching here is "fast")
        yield* closed.await(HEADROOM, "closing the refused response's connection")
      }))

    it.scopedLive("fails a chunked body as soon as it grows past the cap", () =>
      Effect.gen(function*() {
        const closed = makeSignal()
        const origin = yield* httpServer((req, res) => {
          req.socket.on("close", closed.fire)
          res.writeHead(200, { "content-type": "application/json" })
          for (let i = 0; i < 4; i++) res.write(Buffer.alloc(cap / 2, 0x20)) // 2 × the cap, never ended
        })
        const client = yield* makeClient({ maxResponseBytes: cap, requestTimeout: Duration.infinity })
        const response = yield* client.get(origin.url)
        assert.isUndefined(response.headers["content-length"])
        // the body never ends: failing at all means failing at the cap, not at the 5 s timeout
        const error = yield* Effect.flip(response.json)
        assert.strictEqual(error.reason, "Decode")
        assert.strictEqual(error.description, `response body exceeded ${cap} bytes`)
        yield* closed.await(HEADROOM, "closing the oversized response's connection")
      }))

    it.scopedLive("applies the cap to the response stream too", () =>
      Effect.gen(function*() {
        const origin = yield* httpServer((_req, res) => {
          res.write(Buffer.alloc(cap))
          res.end(Buffer.alloc(1))
        })
        const client = yield* makeClient({ maxResponseBytes: cap })
        const response = yield* client.get(origin.url)
        const error = yield* Effect.flip(Stream.runDrain(response.stream))
        assert.strictEqual(error.description, `response body exceeded ${cap} bytes`)
      }))

    it.scopedLive("accepts a body of exactly the cap, with and without Content-Length", () =>
      Effect.gen(function*() {
        const origin = yield* httpServer((req, res) => {
          const body = Buffer.alloc(cap, "a")
          if (req.url === "/chunked") {
            res.write(body.subarray(0, 100))
            res.end(body.subarray(100))
          } else {
            res.end(body)
          }
        })
        const client = yield* makeClient({ maxResponseBytes: cap })
        const sized = yield* client.get(`${origin.url}/sized`)
        assert.strictEqual(sized.headers["content-length"], String(cap))
        assert.strictEqual((yield* sized.text).length, cap)
        const chunked = yield* client.get(`${origin.url}/chunked`)
        assert.isUndefined(chunked.headers["content-length"])
        assert.strictEqual((yield* chunked.arrayBuffer).byteLength, cap)
        const streamed = yield* client.get(`${origin.url}/chunked`)
        const chunks = yield* Stream.runCollect(streamed.stream)
        assert.strictEqual(Chunk.reduce(chunks, 0, (n, bytes) => n + bytes.byteLength), cap)
      }))

    it.scopedLive("lets the body be read more than once (text, then json)", () =>
      Effect.gen(function*() {
        const origin = yield* httpServer((_req, res) => res.end("{\"a\":1}"))
        const client = yield* makeClient()
        const response = yield* client.get(origin.url)
        assert.strictEqual(yield* response.text, "{\"a\":1}")
        assert.deepStrictEqual(yield* response.json, { a: 1 })
      }))
  })

  describe("timeouts and cancellation", () => {
    it.scopedLive("fails a request that gets no response within requestTimeout, and closes its socket", () =>
      timesOutAfter300ms({ requestTimeout: "300 millis" }))

    it.scopedLive("counts the body against requestTimeout", () =>
      Effect.gen(function*() {
        const closed = makeSignal()
        const origin = yield* httpServer((req, res) => {
          req.socket.on("close", closed.fire)
          res.writeHead(200, { "content-type": "application/json" })
          res.write("{\"access_token\":") // and then nothing
        })
        const client = yield* makeClient({ requestTimeout: "300 millis" })
        const response = yield* client.get(origin.url)
        const error = yield* Effect.flip(response.json)
        assert.strictEqual(error._tag, "ResponseError")
        assert.strictEqual(error.description, "request timed out after 300ms while reading the response body")
        assert.isTrue(Cause.isTimeoutException(error.cause))
        yield* closed.await(HEADROOM, "closing the stalled body's socket")
      }))

    it.scopedLive("enforces connectTimeout at the dispatcher (a TLS handshake that never completes)", () =>
      Effect.gen(function*() {
        const silent = yield* silentTcpServer
        const client = yield* makeClient({ connectTimeout: "200 millis", requestTimeout: "5 seconds" })
        const error = yield* Effect.flip(client.get(`https://${silent.url}/`))
        assert(error._tag === "RequestError")
        assert.strictEqual(error.reason, "Transport")
        // the connect timer, not the 5 s request timeout
        assert.match(error.description ?? "", /Connect Timeout Error.*timeout: 200ms/)
      }))

    it.scopedLive("interrupting a request closes its socket", () =>
      Effect.gen(function*() {
        const origin = yield* neverAnswering
        const client = yield* makeClient({ requestTimeout: Duration.infinity })
        const fiber = yield* Effect.fork(client.get(origin.url))
        yield* origin.seen.await("2 seconds", "the request reaching the server")
        const exit = yield* Fiber.interrupt(fiber)
        assert.isTrue(Exit.isInterrupted(exit))
        yield* origin.closed.await("2 seconds", "closing the interrupted request's socket")
      }))

    it.scopedLive("releasing the layer destroys the dispatcher and its kept-alive connections", () =>
      Effect.gen(function*() {
        const closed = makeSignal()
        const origin = yield* httpServer((req, res) => {
          req.socket.on("close", closed.fire)
          res.end("ok")
        })
        const scope = yield* Scope.make()
        const context = yield* Layer.buildWithScope(NodeOAuthHttp.layer({ proxy: direct }), scope)
        const response = yield* Context.get(context, HttpClient.HttpClient).get(origin.url)
        assert.strictEqual(yield* response.text, "ok")
        yield* Scope.close(scope, Exit.void)
        yield* closed.await("2 seconds", "closing the kept-alive connection")
      }))
  })

  describe("limits: the tighter of HttpOptions and the RequestLimits attached to the request (issue 11)", () => {
    it.scopedLive("marks itself as enforcing RequestLimits, so core adds no timer or stream of its own", () =>
      Effect.gen(function*() {
        const client = yield* makeClient()
        assert.isTrue(RequestLimits.isEnforcedBy(client))
      }))

    it.scopedLive("the timeoutMs attached to the request shorter than requestTimeout: the request ends at timeoutMs", () =>
      timesOutAfter300ms({ requestTimeout: "5 seconds" }, { timeoutMs: 300, maxBodyBytes: cap }))

    it.scopedLive("requestTimeout shorter than the timeoutMs attached to the request: the request ends at requestTimeout", () =>
      timesOutAfter300ms({ requestTimeout: "300 millis" }, { timeoutMs: 5_000, maxBodyBytes: cap }))

    it.scopedLive("the smaller byte limit wins, whichever of the two it is, by Content-Length and while reading", () =>
      Effect.gen(function*() {
        const origin = yield* httpServer((req, res) => {
          const body = Buffer.alloc(600, 0x20)
          if (req.url === "/chunked") {
            res.write(body.subarray(0, 300))
            res.end(body.subarray(300))
          } else {
            res.end(body)
          }
        })
        const limits = [
          { options: { maxResponseBytes: 1_000 }, current: { timeoutMs: 5_000, maxBodyBytes: 500 } },
          { options: { maxResponseBytes: 500 }, current: { timeoutMs: 5_000, maxBodyBytes: 1_000 } }
        ]
        for (const { current, options } of limits) {
          const client = yield* makeClient(options)
          const sized = yield* getWithin(client, `${origin.url}/sized`, current)
          const refused = yield* Effect.flip(sized.text)
          assert.strictEqual(refused.description, "response body exceeded 500 bytes (Content-Length: 600)")
          assert.isTrue(Cause.isExceededCapacityException(refused.cause))
          const chunked = yield* getWithin(client, `${origin.url}/chunked`, current)
          const cut = yield* Effect.flip(chunked.arrayBuffer)
          assert.strictEqual(cut.description, "response body exceeded 500 bytes")
        }
        // the same 600 bytes within both limits
        const roomy = yield* makeClient({ maxResponseBytes: 1_000 })
        const whole = yield* getWithin(roomy, `${origin.url}/chunked`, { timeoutMs: 5_000, maxBodyBytes: 600 })
        assert.strictEqual((yield* whole.arrayBuffer).byteLength, 600)
      }))

    it.scopedLive("one timer covers headers and body: a body trickling past the deadline fails at the deadline", () =>
      Effect.gen(function*() {
        // headers at 2 s of a 4 s deadline: a fresh timer for the body could not end it before 6 s
        const origin = yield* trickling(2_000)
        const client = yield* makeClient({ requestTimeout: "4 seconds" })
        const [millis, error] = yield* elapsed(Effect.flatMap(client.get(origin.url), (r) => Effect.flip(r.json)))
        assert.strictEqual(error._tag, "ResponseError")
        assert.strictEqual(error.description, "request timed out after 4s while reading the response body")
        assert.isTrue(Cause.isTimeoutException(error.cause))
        assert.isAtLeast(millis, 3_950)
        assert.isBelow(millis, 6_000)
        yield* origin.closed[0]!.await(HEADROOM, "closing the late body's socket")
      }))

    // How fast a stop is (B6: within 10 ms) is measured by `pnpm bench`; these say that it does not wait.
    it.scopedLive("interrupting a request mid-body stops it without waiting for the body, and closes its socket", () =>
      Effect.gen(function*() {
        const origin = yield* trickling(0)
        const client = yield* makeClient({ requestTimeout: Duration.infinity })
        const fiber = yield* Effect.fork(Effect.flatMap(client.get(origin.url), (r) => r.text))
        yield* origin.midBody.await(HEADROOM, "the body being sent")
        // the body never ends and nothing times out: the interruption alone ends the request
        const exit = yield* Fiber.interrupt(fiber)
        assert.isTrue(Exit.isInterrupted(exit))
        assert.strictEqual(origin.closed.length, 1)
        yield* origin.closed[0]!.await(HEADROOM, "closing the interrupted body's socket")
      }))
    it.scopedLive("a request interrupted while it waits for a free connection is never sent", () =>
      Effect.gen(function*() {
        const paths: Array<string | undefined> = []
        let release = () => {}
        const released = new Promise<void>((resolve) => release = resolve)
        const origin = yield* httpServer((req, res) => {
          paths.push(req.url)
          if (req.url === "/first") void released.then(() => res.end("{}"))
          else res.end("{}")
        })
        const created = yield* undiciRequestsCreated
        const client = yield* makeClient({ maxConnectionsPerOrigin: 1 })
        const first = yield* Effect.fork(Effect.flatMap(client.get(`${origin.url}/first`), (r) => r.text))
        yield* Effect.promise(() => until(() => paths.length === 1, "the first request holding the only connection"))
        const queued = yield* Effect.fork(client.get(`${origin.url}/queued`))
        yield* Effect.promise(() => until(() => created() === 2, "the second request queued in undici"))
        // the only connection is still held: interrupting cannot have waited for it
        const exit = yield* Fiber.interrupt(queued)
        assert.isTrue(Exit.isInterrupted(exit))
        release()
        assert.strictEqual(yield* Fiber.join(first), "{}")
        // the connection is free again, and the next request goes through it
        assert.strictEqual(yield* Effect.flatMap(client.get(`${origin.url}/next`), (r) => r.text), "{}")
        assert.deepStrictEqual(paths, ["/first", "/next"])
      }))
  })

  describe("the response", () => {
    it.scopedLive("a body-less answer (204, HEAD) is an empty body, whatever its Content-Length", () =>
      Effect.gen(function*() {
        const origin = yield* httpServer((req, res) => {
          if (req.method === "HEAD") res.writeHead(200, { "content-length": String(cap * 10) })
          else res.writeHead(204)
          res.end()
        })
        const client = yield* makeClient({ maxResponseBytes: cap })
        const noContent = yield* client.get(origin.url)
        assert.strictEqual(noContent.status, 204)
        assert.strictEqual(yield* noContent.text, "")
        assert.isNull(yield* noContent.json)
        const head = yield* client.head(origin.url)
        assert.strictEqual(head.headers["content-length"], String(cap * 10))
        assert.strictEqual((yield* head.arrayBuffer).byteLength, 0)
        assert.strictEqual(Chunk.size(yield* Stream.runCollect(head.stream)), 0)
      }))

    it.scopedLive("headers, cookies, url-encoded and form bodies come from the answer as read", () =>
      Effect.gen(function*() {
        const origin = yield* httpServer((_req, res) => {
          res.setHeader("set-cookie", ["a=1; Path=/", "b=2; Path=/"])
          res.setHeader("x-Mixed-Case", "yes")
          res.setHeader("content-type", "application/x-www-form-urlencoded")
          res.end("error=authorization_pending&interval=5")
        })
        const client = yield* makeClient()
        const response = yield* client.get(origin.url)
        assert.strictEqual(response.headers["x-mixed-case"], "yes")
        assert.deepStrictEqual(Object.keys(response.cookies.cookies).sort(), ["a", "b"])
        assert.deepStrictEqual(yield* response.urlParamsBody, [["error", "authorization_pending"], ["interval", "5"]])
        const form = yield* response.formData
        assert.strictEqual(form.get("interval"), "5")
      }))

    it.scopedLive("never shows its body when inspected or logged: answers carry tokens", () =>
      Effect.gen(function*() {
        const secret = "ACCESS-TOKEN-CANARY-7f3a"
        const origin = yield* httpServer((_req, res) => {
          res.setHeader("content-type", "application/json")
          res.end(JSON.stringify({ access_token: secret, token_type: "Bearer" }))
        })
        const client = yield* makeClient()
        const response = yield* client.get(origin.url)
        assert.deepStrictEqual(yield* response.json, { access_token: secret, token_type: "Bearer" })
        for (const shown of [JSON.stringify(response.toJSON()), Util.inspect(response, { depth: 10 })]) {
          assert.notInclude(shown, secret)
          assert.include(shown, "200")
        }
      }))

    it.scopedLive("with a tracer installed, each request is a client span with its method, URL and status", () =>
      Effect.gen(function*() {
        const origin = yield* httpServer((_req, res) => res.end("{}"))
        const client = yield* makeClient()
        const spans: Array<Tracer.Span> = []
        const base = yield* Effect.tracer
        const recording = Tracer.make({
          span: (...args) => {
            const span = base.span(...args)
            spans.push(span)
            return span
          },
          context: base.context
        })
        const response = yield* client.post(`${origin.url}/token`).pipe(Effect.withTracer(recording))
        assert.strictEqual(response.status, 200)
        const span = spans.find((s) => s.kind === "client")
        assert(span !== undefined, "a client span")
        assert.strictEqual(span.name, "http.client POST")
        assert.strictEqual(span.attributes.get("http.request.method"), "POST")
        assert.strictEqual(span.attributes.get("url.full"), `${origin.url}/token`)
        assert.strictEqual(span.attributes.get("http.response.status_code"), 200)
        assert.strictEqual(span.status._tag, "Ended")
        // traced, the request still keeps the limits devflow attached (platform's client copies it)
        const small = yield* Effect.flip(
          Effect.flatMap(
            getWithin(client, `${origin.url}/token`, { timeoutMs: 5_000, maxBodyBytes: 1 }).pipe(
              Effect.withTracer(recording)
            ),
            (r) => r.text
          )
        )
        assert.strictEqual(small.description, "response body exceeded 1 bytes (Content-Length: 2)")
      }))
  })

  describe("transport errors", () => {
    it.scopedLive("connection refused is a RequestError with reason Transport", () =>
      Effect.gen(function*() {
        const port = yield* closedPort
        const client = yield* makeClient()
        const error = yield* Effect.flip(client.get(`http://127.0.0.1:${port}/token`))
        assert(error._tag === "RequestError")
        assert.strictEqual(error.reason, "Transport")
        assert.include(error.description ?? "", "ECONNREFUSED")
        assert.include(error.message, `GET http://127.0.0.1:${port}/token`)
      }))

    it.scopedLive("rejects an untrusted certificate, and trusts it when given as `ca`", () =>
      Effect.gen(function*() {
        const origin = yield* httpsServer((_req, res) => res.end("tls ok"))
        const untrusting = yield* makeClient()
        const error = yield* Effect.flip(untrusting.get(origin.url))
        assert(error._tag === "RequestError")
        assert.strictEqual(error.reason, "Transport")
        assert.include(error.description ?? "", "self-signed certificate")
        const trusting = yield* makeClient({ ca: [certificate] })
        const response = yield* trusting.get(origin.url)
        assert.strictEqual(yield* response.text, "tls ok")
      }))
  })

  describe("proxies", () => {
    it.scopedLive("sends requests through the configured HTTP proxy", () =>
      Effect.gen(function*() {
        const proxy = yield* proxyServer
        const origin = yield* httpServer((req, res) => res.end(`hello ${req.url}`))
        const client = yield* makeClient({ proxy: { httpProxy: proxy.url, noProxy: "" } })
        const response = yield* client.get(`${origin.url}/via-proxy`)
        assert.strictEqual(yield* response.text, "hello /via-proxy")
        assert.deepStrictEqual(proxy.requests, [`CONNECT 127.0.0.1:${origin.port}`])
      }))

    it.scopedLive("tunnels HTTPS through the proxy, verifying the origin with `ca`", () =>
      Effect.gen(function*() {
        const proxy = yield* proxyServer
        const origin = yield* httpsServer((_req, res) => res.end("tunnelled"))
        const client = yield* makeClient({ proxy: { httpsProxy: proxy.url, noProxy: "" }, ca: [certificate] })
        const response = yield* client.get(origin.url)
        assert.strictEqual(yield* response.text, "tunnelled")
        assert.deepStrictEqual(proxy.requests, [`CONNECT 127.0.0.1:${origin.port}`])
      }))

    it.scopedLive("bypasses the proxy for hosts in noProxy", () =>
      Effect.gen(function*() {
        const proxy = yield* proxyServer
        const origin = yield* httpServer((_req, res) => res.end("direct"))
        const client = yield* makeClient({ proxy: { httpProxy: proxy.url, noProxy: "localhost, 127.0.0.1" } })
        const response = yield* client.get(origin.url)
        assert.strictEqual(yield* response.text, "direct")
        assert.deepStrictEqual(proxy.requests, [])
      }))

    it.scopedLive("reads HTTP_PROXY from the environment by default", () =>
      Effect.gen(function*() {
        const proxy = yield* proxyServer
        const origin = yield* httpServer((_req, res) => res.end("from env"))
        const saved = { HTTP_PROXY: process.env.HTTP_PROXY, http_proxy: process.env.http_proxy }
        yield* Effect.acquireRelease(
          Effect.sync(() => {
            delete process.env.http_proxy
            process.env.HTTP_PROXY = proxy.url
          }),
          () =>
            Effect.sync(() => {
              for (const [name, value] of Object.entries(saved)) {
                if (value === undefined) delete process.env[name]
                else process.env[name] = value
              }
            })
        )
        const client = yield* makeClient({ proxy: { noProxy: "" } })
        const response = yield* client.get(origin.url)
        assert.strictEqual(yield* response.text, "from env")
        assert.deepStrictEqual(proxy.requests, [`CONNECT 127.0.0.1:${origin.port}`])
      }))
  })
})
