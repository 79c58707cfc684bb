/**
 * End to end: @devflow/core over the real undici client (@devflow/node-http)
 * against a real OpenID provider (oidc-provider, @devflow/dev-server) on
 * 127.0.0.1, always through discovery. Real time throughout: intervals are
 * 1 s, and the flow tests each have their own server, so they run concurrently.
 */
import { ClientConfig, DeviceFlow, DeviceFlowError, ServerMetadata, TokenResponse } from "@devflow/core"
import { DEVICE_CODE_GRANT, type DevServer, type DevServerOptions, startDevServer } from "@devflow/dev-server"
import { approveInBrowser, DEFAULT_CHROMIUM } from "@devflow/dev-server/browser"
import { HEADROOM_MS, until } from "@devflow/dev-server/wallClock"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { assert, describe, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as DateTime from "effect/DateTime"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as DiagnosticsChannel from "node:diagnostics_channel"
import { existsSync } from "node:fs"
import type * as Http from "node:http"
import type * as Net from "node:net"
import type * as HttpOptions from "../src/HttpOptions.js"
import * as NodeOAuthHttp from "../src/NodeOAuthHttp.js"

const hasChromium = existsSync(DEFAULT_CHROMIUM)
// CI installs Chromium and sets this, so a missing browser fails there instead of skipping.
if (process.env.DEVFLOW_REQUIRE_BROWSER === "1" && !hasChromium) {
  throw new Error(`DEVFLOW_REQUIRE_BROWSER=1 but ${DEFAULT_CHROMIUM} is missing: install Debian's chromium package`)
}

// Never pick up a proxy from the machine running the tests.
const direct: HttpOptions.ProxyOptions = { httpProxy: "", httpsProxy: "", noProxy: "" }
const ClientLive = NodeOAuthHttp.layer({ proxy: direct })

const SCOPES = ["openid", "profile", "email", "offline_access"]

// ---------------------------------------------------------------------------
// What the server saw: every request that reached it, from Node's own
// diagnostics channel (no change to the server), and whether each
// connection our client opened was closed.

interface Seen {
  readonly method: string
  readonly path: string
  readonly userAgent: string
  readonly at: number
  readonly socket: Net.Socket
  /** whether the server finished writing its answer */
  readonly answered: () => boolean
}

interface ServerLog {
  /** requests sent by devflow's client (its User-Agent), in arrival order */
  readonly client: () => ReadonlyArray<Seen>
  readonly polls: () => ReadonlyArray<Seen>
  /** resolves once `n` token requests from the client arrived */
  readonly awaitPolls: (n: number, within: Duration.DurationInput) => Effect.Effect<void, Error>
  /** called synchronously, as the server receives it, with the number of each client poll */
  readonly onClientPoll: (f: (n: number) => void) => void
  /** connections the client opened that are still open */
  readonly openClientSockets: () => number
  /** resolves once every connection the client opened has closed */
  readonly awaitClientSocketsClosed: (within: Duration.DurationInput) => Effect.Effect<void, Error>
}

const watch = (server: DevServer): Effect.Effect<ServerLog, never, Scope.Scope> =>
  Effect.gen(function*() {
    const seen: Array<Seen> = []
    const open = new Set<Net.Socket>()
    const tokenPath = new URL(server.tokenEndpoint).pathname
    const isClient = (s: Seen) => s.userAgent.startsWith("devflow/")
    const client = () => seen.filter(isClient)
    const polls = () => client().filter((s) => s.method === "POST" && s.path === tokenPath)
    const pollListeners: Array<(n: number) => void> = []
    const onRequest = (message: unknown) => {
      const { request, response, server: http, socket } = message as {
        readonly request: Http.IncomingMessage
        readonly response: Http.ServerResponse
        readonly server: Http.Server
        readonly socket: Net.Socket
      }
      const address = http.address()
      if (address === null || typeof address === "string" || address.port !== server.port) return
      const entry: Seen = {
        method: request.method ?? "",
        path: (request.url ?? "").split("?")[0]!,
        userAgent: request.headers["user-agent"] ?? "",
        at: Date.now(),
        socket,
        answered: () => response.writableFinished
      }
      seen.push(entry)
      if (isClient(entry) && !socket.destroyed && !open.has(socket)) {
        open.add(socket)
        socket.once("close", () => open.delete(socket))
      }
      if (isClient(entry) && entry.method === "POST" && entry.path === tokenPath) {
        const n = polls().length
        for (const f of pollListeners) f(n)
      }
    }
    yield* Effect.acquireRelease(
      Effect.sync(() => DiagnosticsChannel.subscribe("http.server.request.start", onRequest)),
      () => Effect.sync(() => DiagnosticsChannel.unsubscribe("http.server.request.start", onRequest))
    )
    const until = (done: () => boolean, within: Duration.DurationInput, what: string) =>
      Effect.gen(function*() {
        while (!done()) yield* Effect.sleep("10 millis")
      }).pipe(
        Effect.timeoutFail({
          duration: within,
          onTimeout: () => new Error(`${what} did not happen within ${Duration.format(Duration.decode(within))}`)
        })
      )
    return {
      client,
      polls,
      onClientPoll: (f) => void pollListeners.push(f),
      openClientSockets: () => open.size,
      awaitPolls: (n, within) => until(() => polls().length >= n, within, `${n} polls`),
      awaitClientSocketsClosed: (within) => until(() => open.size === 0, within, "closing every client connection")
    }
  })

// ---------------------------------------------------------------------------

const devServer = (options: DevServerOptions = {}) =>
  Effect.acquireRelease(
    Effect.promise(() => startDevServer({ pollIntervalSeconds: 1, ...options })),
    (server) => Effect.promise(() => server.close())
  )

/** Discovery → ClientConfig, the way an application starts from an issuer. */
const configFor = (server: DevServer) =>
  Effect.gen(function*() {
    const metadata = yield* ServerMetadata.discover(server.issuer)
    assert.strictEqual(metadata.deviceAuthorizationEndpoint, server.deviceAuthorizationEndpoint)
    assert.strictEqual(metadata.tokenEndpoint, server.tokenEndpoint)
    return yield* ClientConfig.make({
      clientId: server.clientId,
      endpoints: { deviceAuthorization: metadata.deviceAuthorizationEndpoint, token: metadata.tokenEndpoint },
      scopes: SCOPES
    })
  })

const approve = (server: DevServer, userCode: string, options: { accountId?: string; deny?: boolean } = {}) =>
  Effect.promise(() => server.approve(userCode, options))

const elapsed = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.map(Effect.timed(effect), ([duration, a]) => [Duration.toMillis(duration), a] as const)

const collect = <E, R>(stream: Stream.Stream<DeviceFlow.DeviceFlowEvent, E, R>) =>
  Effect.map(Stream.runCollect(stream), Chunk.toReadonlyArray)

const tags = (events: ReadonlyArray<DeviceFlow.DeviceFlowEvent>) => events.map((e) => e._tag)

const succeeded = (events: ReadonlyArray<DeviceFlow.DeviceFlowEvent>) => {
  const last = events.at(-1)
  assert(last?._tag === "Succeeded", `expected Succeeded last, got ${tags(events).join(", ")}`)
  return last.result
}

/** A typed DeviceFlowError with a one-line message. */
const typed = <E>(error: E, tag: string) => {
  assert.isTrue(DeviceFlowError.isDeviceFlowError(error), String(error))
  const e = error as DeviceFlowError.DeviceFlowError
  assert.strictEqual(e._tag, tag, e.message)
  assert.notInclude(e.message, "\n")
  return e
}

const HEADROOM = Duration.millis(HEADROOM_MS)

const count = (kind: string) => process.getActiveResourcesInfo().filter((r) => r === kind).length

// ---------------------------------------------------------------------------

/**
 * Interrupt a flow when its second poll reaches the server (`"in-flight"`) or
 * 300 ms after that poll was answered, during the wait for the next one
 * (`"sleeping"`); then check nothing more is sent, the client's connections
 * close when it is released (well before keep-alive would close them), and the
 * process is left with no extra sockets.
 */
const interruptMidFlow = (when: "in-flight" | "sleeping") =>
  Effect.gen(function*() {
    const sockets0 = count("TCPSocketWrap")
    const servers0 = count("TCPServerWrap")
    const server = yield* Effect.promise(() => startDevServer({ pollIntervalSeconds: 1 }))
    yield* Effect.addFinalizer(() => Effect.promise(() => server.close()))
    const log = yield* watch(server)

    const clientScope = yield* Scope.make()
    yield* Effect.addFinalizer(() => Scope.close(clientScope, Exit.void))
    const client = yield* Layer.buildWithScope(ClientLive, clientScope)
    const pending = yield* Deferred.make<void>()
    const fiber = yield* Effect.fork(
      Effect.flatMap(configFor(server), (config) =>
        DeviceFlow.events(config).pipe(
          Stream.tap((event) =>
            event._tag === "Pending" && event.attempt === 2 ? Deferred.succeed(pending, undefined) : Effect.void
          ),
          Stream.runDrain
        )).pipe(Effect.provide(client))
    )
    let interrupted: Exit.Exit<void, unknown> | undefined
    if (when === "in-flight") {
      // interrupt from the server's side, the instant the second poll arrives: before it is answered
      const done = yield* Deferred.make<readonly [number, Exit.Exit<void, unknown>]>()
      log.onClientPoll((n) => {
        if (n !== 2) return
        const start = Date.now()
        Effect.runFork(
          Fiber.interrupt(fiber).pipe(
            Effect.flatMap((exit) => Deferred.succeed(done, [Date.now() - start, exit] as const))
          )
        )
      })
      // how fast the stop is, is B6's figure in `pnpm bench`; here the unanswered poll is the witness
      const [, exit] = yield* Deferred.await(done).pipe(Effect.timeout(HEADROOM))
      interrupted = exit
      // the poll was never answered: the aborted request closed its connection
      const poll = log.polls()[1]!
      assert.isFalse(poll.answered(), "the server answered before the interruption reached the request (a timing race)")
      yield* Effect.promise(() =>
        until(() => poll.socket.closed, "the interruption closing the in-flight poll's connection")
      )
    } else {
      yield* Deferred.await(pending)
      yield* Effect.sleep("300 millis")
      // the connection is idle in undici's keep-alive pool
      assert.isAtLeast(log.openClientSockets(), 1)
      // the next poll is an interval away: no request is what shows the wait was cut short (checked below)
      interrupted = yield* Fiber.interrupt(fiber)
    }
    assert.isTrue(Exit.isInterrupted(interrupted), String(interrupted))

    // no further request during more than one interval
    const before = log.client().length
    yield* Effect.sleep("1200 millis")
    assert.strictEqual(log.client().length, before)
    assert.deepStrictEqual(log.client().map((s) => `${s.method} ${s.path}`), [
      "GET /.well-known/openid-configuration",
      "POST /device/auth",
      "POST /token",
      "POST /token"
    ])

    // releasing the client closes its connections at once, and the server sees them close
    yield* Scope.close(clientScope, Exit.void)
    yield* log.awaitClientSocketsClosed(HEADROOM)
    yield* Effect.promise(() => server.close())
    yield* Effect.promise(() =>
      until(
        () => count("TCPSocketWrap") <= sockets0 && count("TCPServerWrap") <= servers0,
        "every socket of the test closing"
      )
    ).pipe(Effect.ignore) // the assertions below name what is left

    assert.isAtMost(count("TCPSocketWrap"), sockets0, JSON.stringify(process.getActiveResourcesInfo()))
    assert.isAtMost(count("TCPServerWrap"), servers0, JSON.stringify(process.getActiveResourcesInfo()))
  })

// First and alone: these count the process's sockets.
describe("e2e: interruption", () => {
  it.scopedLive("interrupted while a poll is in flight: stops at once, sends nothing more, no open sockets", () =>
    interruptMidFlow("in-flight"))

  it.scopedLive("interrupted while waiting for the next poll: stops at once, sends nothing more, no open sockets", () =>
    interruptMidFlow("sleeping"))
})

describe.concurrent("e2e: the device flow against oidc-provider, through discovery", () => {
  it.scopedLive("success: pending, approval over HTTP, tokens with id token claims and a refresh token", () =>
    Effect.gen(function*() {
      const server = yield* devServer()
      const log = yield* watch(server)
      const config = yield* configFor(server)
      const events = yield* (collect(
        DeviceFlow.events(config).pipe(
          // the user approves once the code is issued and the client is already polling
          Stream.tap((event) =>
            event._tag === "Pending" && event.attempt === 1
              ? approve(server, event.session.userCode, { accountId: "Ada Lovelace" })
              : Effect.void
          )
        )
      ))
      // the engine polls on its own schedule while a listener works: an approval slower than one
      // interval (a busy machine) sees one more pending answer, never a different outcome
      assert.match(tags(events).join(" "), /^CodeIssued( Pending)+ Succeeded$/)

      const issued = events[0]!
      assert(issued._tag === "CodeIssued")
      const code = issued.code
      assert.match(code.userCode, /^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/)
      assert.strictEqual(code.verificationUri, `${server.issuer}/device`)
      assert.strictEqual(
        code.verificationUriComplete,
        `${server.issuer}/device?user_code=${encodeURIComponent(code.userCode)}`
      )
      assert.strictEqual(Duration.toMillis(code.interval), 1_000)
      assert.strictEqual(DateTime.distance(code.issuedAt, code.expiresOn), 600_000)

      const result = succeeded(events)
      assert.strictEqual(result.tokenType, "Bearer")
      assert.deepStrictEqual([...result.scopes].sort(), [...SCOPES].sort())
      assert.isTrue(Option.isSome(result.refreshToken))
      assert.isTrue(Option.isSome(result.idToken))
      assert.isTrue(Option.isSome(result.expiresOn))
      assert.notInclude(String(result.accessToken), Redacted.value(result.accessToken))
      const claims = Option.getOrThrow(result.idTokenClaims)
      assert.strictEqual(claims.iss, server.issuer)
      assert.strictEqual(claims.aud, server.clientId)
      assert.strictEqual(claims.sub, "Ada Lovelace")
      assert.strictEqual(claims.name, "Ada Lovelace")
      assert.strictEqual(claims.email, "ada-lovelace@devflow.test")

      // the access token works at the server
      const userinfo = yield* HttpClient.get(`${server.issuer}/me`, {
        headers: { authorization: `Bearer ${Redacted.value(result.accessToken)}` }
      }).pipe(Effect.flatMap((r) => r.json), Effect.scoped)
      assert.deepInclude(userinfo as object, { sub: "Ada Lovelace" })

      // a poll per pending answer and the one that brought the tokens, each at least one interval after
      // the last (measured from the end of the answer, so never early), on the server's 1 s interval
      // rather than the 5 s default
      const pendings = events.filter((e) => e._tag === "Pending")
      for (const pending of pendings) assert.strictEqual(pending.session.intervalMs, 1_000)
      const polls = log.polls()
      assert.strictEqual(polls.length, pendings.length + 1)
      for (let i = 1; i < polls.length; i++) assert.isAtLeast(polls[i]!.at - polls[i - 1]!.at, 1_000)
    }).pipe(Effect.provide(ClientLive)))

  it.scopedLive("an issuer with a path (/realms/demo) is discovered and signs in", () =>
    Effect.gen(function*() {
      const server = yield* devServer({ issuerPath: "/realms/demo" })
      assert.strictEqual(server.issuer, `http://127.0.0.1:${server.port}/realms/demo`)
      const metadata = yield* ServerMetadata.discover(server.issuer)
      assert.strictEqual(metadata.issuer, server.issuer)
      const config = yield* configFor(server)
      const result = yield* DeviceFlow.acquireToken(config, { scopes: ["openid"] }, {
        onCode: (code) => approve(server, code.userCode, { accountId: "keycloak-like" })
      })
      assert.strictEqual(Option.getOrThrow(result.idTokenClaims).iss, server.issuer)
      assert.strictEqual(Option.getOrThrow(result.idTokenClaims).sub, "keycloak-like")
      // no offline_access, no refresh token
      assert.isTrue(Option.isNone(result.refreshToken))
    }).pipe(Effect.provide(ClientLive)))

  it.scopedLive("denial: the user declines consent → AccessDenied", () =>
    Effect.gen(function*() {
      const server = yield* devServer()
      const log = yield* watch(server)
      const config = yield* configFor(server)
      const error = yield* (Effect.flip(collect(
        DeviceFlow.events(config).pipe(
          Stream.tap((event) =>
            event._tag === "Pending" && event.attempt === 1
              ? approve(server, event.session.userCode, { accountId: "mallory", deny: true })
              : Effect.void
          )
        )
      )))
      const denied = typed(error, "AccessDenied")
      assert(denied._tag === "AccessDenied")
      assert.strictEqual(denied.error, "access_denied")
      assert.strictEqual(denied.status, 400)
      assert.strictEqual(denied.endpoint, server.tokenEndpoint)
      // one pending answer, then the denial (more pending answers when the approval took longer than an interval)
      assert.isAtLeast(log.polls().length, 2)
    }).pipe(Effect.provide(ClientLive)))

  it.scopedLive("expiry: a 2 s code that nobody approves → DeviceCodeExpired, with no poll after the deadline", () =>
    Effect.gen(function*() {
      const server = yield* devServer({ deviceCodeTtlSeconds: 2 })
      const log = yield* watch(server)
      const config = yield* configFor(server)
      let expiresOn = 0
      const [millis, error] = yield* elapsed(Effect.flip(DeviceFlow.acquireToken(config, {}, {
        onCode: (code) => {
          expiresOn = DateTime.toEpochMillis(code.expiresOn)
          assert.strictEqual(DateTime.distance(code.issuedAt, code.expiresOn), 2_000)
        }
      })))
      const expired = typed(error, "DeviceCodeExpired")
      assert(expired._tag === "DeviceCodeExpired")
      // the server (expired_token) or the client's own deadline, whichever comes first
      assert.include(["expired_token", "deadline"], expired.reason)
      // A poll sent after the deadline would come a whole interval (1 s) after it; one sent just before it may
      // reach the server a little late on a busy machine.
      for (const poll of log.polls()) assert.isBelow(poll.at, expiresOn + 900)
      assert.isAtLeast(log.polls().length, 1)
      assert.isAtLeast(millis, 1_000)
    }).pipe(Effect.provide(ClientLive)))

  it.scopedLive(
    "polling faster than allowed: the server answers slow_down, the client adds 5 s and succeeds",
    () =>
      Effect.gen(function*() {
        const server = yield* devServer()
        const log = yield* watch(server)
        const config = yield* configFor(server)
        // A second poller on the same device code (another process resumed the same session)
        // polls half an interval before the client: together they poll faster than allowed.
        const second = yield* Deferred.make<{ readonly status: number; readonly body: unknown }>()
        const secondPoll = (deviceCode: Redacted.Redacted<string>) =>
          HttpClientRequest.post(server.tokenEndpoint).pipe(
            HttpClientRequest.setHeader("user-agent", "second-poller"),
            HttpClientRequest.bodyUrlParams({
              client_id: server.clientId,
              grant_type: DEVICE_CODE_GRANT,
              device_code: Redacted.value(deviceCode)
            }),
            HttpClient.execute,
            Effect.flatMap((r) => Effect.map(r.json, (body) => ({ status: r.status, body }))),
            Effect.scoped,
            Effect.orDie,
            Effect.delay("500 millis"),
            Effect.intoDeferred(second)
          )
        const events = yield* collect(
          DeviceFlow.events(config).pipe(
            Stream.tap((event): Effect.Effect<unknown, never, Scope.Scope | HttpClient.HttpClient> => {
              switch (event._tag) {
                case "CodeIssued":
                  return Effect.forkScoped(secondPoll(event.code.deviceCode))
                case "SlowedDown":
                  return approve(server, event.session.userCode)
                default:
                  return Effect.void
              }
            })
          )
        )
        assert.deepStrictEqual(tags(events), ["CodeIssued", "SlowedDown", "Succeeded"])
        const slowed = events[1]!
        assert(slowed._tag === "SlowedDown")
        // RFC 8628 §3.5: +5 s for this and every later poll
        assert.strictEqual(Duration.toMillis(slowed.interval), 6_000)
        assert.strictEqual(slowed.session.intervalMs, 6_000)
        succeeded(events)

        const raw = yield* Deferred.await(second)
        assert.strictEqual(raw.status, 400)
        assert.deepInclude(raw.body as object, { error: "authorization_pending" })
        const polls = log.polls()
        assert.strictEqual(polls.length, 2)
        assert.isAtLeast(polls[1]!.at - polls[0]!.at, 6_000)
      }).pipe(Effect.provide(ClientLive)),
    20_000
  )

  it.scopedLive("a refresh-token grant works against the server, and the old refresh token is spent", () =>
    Effect.gen(function*() {
      const server = yield* devServer()
      const config = yield* configFor(server)
      const first = yield* DeviceFlow.acquireToken(config, {}, {
        onCode: (code) => approve(server, code.userCode, { accountId: "Grace" })
      })
      const refreshToken = Option.getOrThrow(first.refreshToken)

      // RFC 6749 §6, as a plain form POST through the node-http client
      const refresh = (token: Redacted.Redacted<string>) =>
        Effect.gen(function*() {
          const sentAt = yield* DateTime.now
          const response = yield* HttpClientRequest.post(config.endpoints.token).pipe(
            HttpClientRequest.acceptJson,
            HttpClientRequest.bodyUrlParams({
              client_id: config.clientId,
              grant_type: "refresh_token",
              refresh_token: Redacted.value(token)
            }),
            HttpClient.execute
          )
          const body = (yield* response.json) as Record<string, unknown>
          return { status: response.status, body, sentAt }
        }).pipe(Effect.scoped)

      const answer = yield* refresh(refreshToken)
      assert.strictEqual(answer.status, 200)
      const second = yield* TokenResponse.process(
        { endpoint: config.endpoints.token, status: answer.status },
        answer.body,
        SCOPES,
        answer.sentAt
      )
      assert.notStrictEqual(Redacted.value(second.accessToken), Redacted.value(first.accessToken))
      // a public client's refresh token is rotated on use
      const rotated = Option.getOrThrow(second.refreshToken)
      assert.notStrictEqual(Redacted.value(rotated), Redacted.value(refreshToken))
      assert.strictEqual(Option.getOrThrow(second.idTokenClaims).sub, "Grace")

      const reused = yield* refresh(refreshToken)
      assert.strictEqual(reused.status, 400)
      assert.strictEqual(reused.body.error, "invalid_grant")
    }).pipe(Effect.provide(ClientLive)))

  it.scopedLive.skipIf(!hasChromium)(
    "approval in a real browser (headless Chromium) while the client polls",
    () =>
      Effect.gen(function*() {
        const server = yield* devServer()
        const config = yield* configFor(server)
        const browser = yield* Deferred.make<void>()
        const result = yield* (DeviceFlow.acquireToken(config, {}, {
          onCode: (code) =>
            // the person opens the link while the client keeps polling
            Effect.promise(() => approveInBrowser(code.verificationUriComplete ?? code.verificationUri, "Grace Hopper"))
              .pipe(
                Effect.intoDeferred(browser),
                Effect.forkScoped,
                Effect.asVoid
              )
        }))
        yield* Deferred.await(browser)
        const claims = Option.getOrThrow(result.idTokenClaims)
        assert.strictEqual(claims.sub, "Grace Hopper")
        assert.strictEqual(claims.iss, server.issuer)
        assert.isTrue(Option.isSome(result.refreshToken))
      }).pipe(Effect.provide(ClientLive)),
    30_000
  )
})
