/**
 * The fault matrix: hostile and broken servers, through the real undici
 * client (NodeOAuthHttp.layer) and the whole device flow (DeviceFlow.events),
 * one loopback fault server per row, twelve rows at a time. For each row: the
 * outcome (tokens after a bounded retry, or a typed DeviceFlowError), the
 * time to it, and that it came neither too early (waits honoured) nor late
 * (no hang past the timeouts), with no defect and no uncaught exception.
 * The table is printed at the end (docs/reliability.md quotes it).
 *
 * Real time throughout, kept small: interval 1 s, HTTP request timeout 1.5 s,
 * backoff cap 2 s, Retry-After of a few seconds. `FAULT_REPEAT=n` repeats
 * every transient token-endpoint fault n times before the server recovers
 * (default 1); the expected times scale with it.
 */
import { ClientConfig, DeviceFlow, DeviceFlowError } from "@devflow/core"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Encoding from "effect/Encoding"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import type * as HttpOptions from "../../src/HttpOptions.js"
import * as NodeOAuthHttp from "../../src/NodeOAuthHttp.js"
import { closedPort, silentTcpServer } from "../fixtures/servers.js"
import {
  closeBeforeAnswer,
  drip,
  type Fault,
  type FaultServer,
  faultServer,
  type Handler,
  hang,
  huge,
  json,
  redirect,
  reply,
  resetMidBody,
  seq
} from "./faultServer.js"

const K = Math.max(1, Math.floor(Number(process.env.FAULT_REPEAT ?? "1")) || 1)

const INTERVAL_S = 1
const HTTP_TIMEOUT_S = 1.5
const BACKOFF_CAP_S = 2
const RETRY_AFTER_S = 3 // above the backoff cap, so that honouring it shows
// allowed lateness: sixty flows at once on a loaded CI machine, next to the other test files
const SLACK_S = 2.5
// rows run in parallel, this many at once (each has its own servers and HTTP client)
const CONCURRENCY = 12
const MIB = 1_048_576
/** a row still running after this long is a hang */
const HANG_AFTER_MS = 60_000 + K * 30_000

const direct: HttpOptions.ProxyOptions = { httpProxy: "", httpsProxy: "", noProxy: "" }
const ClientLive = NodeOAuthHttp.layer({ proxy: direct, requestTimeout: `${HTTP_TIMEOUT_S * 1000} millis` })

const flowOptions: DeviceFlow.FlowOptions = {
  // above the HTTP layer's timeout: the node-http guarantees are what the matrix tests
  requestTimeout: "10 seconds",
  policy: { maxBackoffMs: BACKOFF_CAP_S * 1000, maxConsecutiveFailures: K + 2 }
}

const DEVICE = "/device/auth"
const TOKEN = "/token"

// ---------------------------------------------------------------------------
// well-formed answers

const jwt = (claims: Readonly<Record<string, unknown>>) =>
  `${Encoding.encodeBase64Url(JSON.stringify({ alg: "none" }))}.${
    Encoding.encodeBase64Url(JSON.stringify(claims))
  }.c2ln`

const deviceBody = (origin: string, fields: Readonly<Record<string, unknown>> = {}) => ({
  device_code: "DEVICE-CODE-FAULTS",
  user_code: "BCDF-GHJK",
  verification_uri: `${origin}/device`,
  expires_in: 60,
  interval: INTERVAL_S,
  ...fields
})

const tokenBody = (origin: string, fields: Readonly<Record<string, unknown>> = {}) => ({
  access_token: "ACCESS-TOKEN-FAULTS",
  token_type: "Bearer",
  expires_in: 3600,
  refresh_token: "REFRESH-TOKEN-FAULTS",
  id_token: jwt({ iss: origin, sub: "user-1", aud: "devflow-faults" }),
  ...fields
})

const code = (fields: Readonly<Record<string, unknown>> = {}): Handler => ({ origin }) =>
  json(deviceBody(origin, fields))
const tokens = (fields: Readonly<Record<string, unknown>> = {}): Handler => ({ origin }) =>
  json(tokenBody(origin, fields))
const pending = json({ error: "authorization_pending" }, { status: 400 })

/** `fault` K times, then tokens */
const thenTokens = (fault: Fault | Handler): Handler => seq(...Array.from({ length: K }, () => fault), tokens())

const httpDate = (inSeconds: number): Handler => () =>
  reply("<html><body>Service Unavailable</body></html>", "text/html", {
    status: 500,
    headers: { "retry-after": new Date(Date.now() + inSeconds * 1000).toUTCString() }
  })

const formOf = (body: Readonly<Record<string, unknown>>) =>
  new URLSearchParams(Object.entries(body).map(([k, v]): [string, string] => [k, String(v)])).toString()

const html = "<!DOCTYPE html><html><head><title>Sign in</title></head><body>Please sign in</body></html>"
const truncated = (body: unknown) => JSON.stringify(body).slice(0, 40)

// ---------------------------------------------------------------------------
// the matrix

type Expect =
  | "tokens"
  | { readonly tag: DeviceFlowError.DeviceFlowError["_tag"]; readonly field?: string; readonly status?: number }

interface Row {
  readonly fault: string
  readonly where: "device endpoint" | "token endpoint" | "both"
  /** answers per path; the second server (`other`) is for cross-host redirects */
  readonly script: (other: string) => Readonly<Record<string, Handler>>
  /** where the endpoints point instead of the fault server */
  readonly deviceAt?: "closed port" | "silent tcp"
  readonly tokenAt?: "closed port"
  readonly expect: Expect
  /** the expected time to the outcome, in seconds (the earliest allowed) */
  readonly seconds: number
  /** allowed lateness, seconds (default SLACK_S) */
  readonly slack?: number
  /** what the row shows, in a few words */
  readonly note: string
  /** a known bug: the row's test is expected to fail (`it.fails`) until it is fixed */
  readonly bug?: string
}

// time of K transient failures at the token endpoint, each followed by the capped backoff
const transient = (extraPerFailure = 0) => INTERVAL_S + K * (BACKOFF_CAP_S + extraPerFailure)
// K bare 429s: each adds 5 s to the interval (RFC 8628 §3.5 slow_down), a Retry-After only counts when longer
const rateLimited = (retryAfter = 0) => {
  let total = INTERVAL_S
  for (let j = 1; j <= K; j++) total += Math.max(INTERVAL_S + 5 * j, retryAfter)
  return total
}

const rows: ReadonlyArray<Row> = [
  // --- 5xx, 429, Retry-After -------------------------------------------------
  ...[500, 502, 503].map((status): Row => ({
    fault: `HTTP ${status} (HTML body), no Retry-After`,
    where: "token endpoint",
    script: () => ({ [DEVICE]: code(), [TOKEN]: thenTokens(reply(html, "text/html", { status })) }),
    expect: "tokens",
    seconds: transient(),
    note: "retried after the capped backoff"
  })),
  {
    fault: "HTTP 500 with OAuth `server_error` JSON",
    where: "token endpoint",
    script: () => ({ [DEVICE]: code(), [TOKEN]: thenTokens(json({ error: "server_error" }, { status: 500 })) }),
    expect: "tokens",
    seconds: transient(),
    note: "an OAuth error with a 5xx is retried"
  },
  {
    fault: `HTTP 503, Retry-After: ${RETRY_AFTER_S} (seconds)`,
    where: "token endpoint",
    script: () => ({
      [DEVICE]: code(),
      [TOKEN]: thenTokens(
        reply("busy", "text/plain", { status: 503, headers: { "retry-after": String(RETRY_AFTER_S) } })
      )
    }),
    expect: "tokens",
    seconds: INTERVAL_S + K * RETRY_AFTER_S,
    note: "Retry-After honoured (longer than the backoff)"
  },
  {
    fault: "HTTP 500, Retry-After: HTTP date 4 s ahead",
    where: "token endpoint",
    script: () => ({ [DEVICE]: code(), [TOKEN]: thenTokens(httpDate(4)) }),
    expect: "tokens",
    // the date has whole seconds: the wait is between 3 and 4 s
    seconds: INTERVAL_S + K * 3,
    slack: SLACK_S + K,
    note: "HTTP-date Retry-After honoured"
  },
  {
    fault: "HTTP 429, no Retry-After",
    where: "token endpoint",
    script: () => ({
      [DEVICE]: code(),
      [TOKEN]: thenTokens(reply("Too Many Requests", "text/plain", { status: 429 }))
    }),
    expect: "tokens",
    seconds: rateLimited(),
    note: "a bare 429 is slow_down: interval +5 s"
  },
  {
    fault: "HTTP 429, Retry-After: 8 (seconds)",
    where: "token endpoint",
    script: () => ({
      [DEVICE]: code(),
      [TOKEN]: thenTokens(reply("", "text/plain", { status: 429, headers: { "retry-after": "8" } }))
    }),
    expect: "tokens",
    seconds: rateLimited(8),
    note: "Retry-After honoured when above the new interval"
  },
  {
    fault: "HTTP 429, Retry-After: HTTP date 9 s ahead",
    where: "token endpoint",
    script: () => ({
      [DEVICE]: code(),
      [TOKEN]: thenTokens(() =>
        reply("", "text/plain", { status: 429, headers: { "retry-after": new Date(Date.now() + 9_000).toUTCString() } })
      )
    }),
    expect: "tokens",
    seconds: rateLimited(8),
    slack: SLACK_S + K,
    note: "HTTP-date Retry-After honoured"
  },
  {
    fault: "HTTP 503 once",
    where: "device endpoint",
    script: () => ({ [DEVICE]: seq(reply("busy", "text/plain", { status: 503 }), code()), [TOKEN]: tokens() }),
    expect: "tokens",
    seconds: 1 + INTERVAL_S,
    note: "the code request is sent again (1 s later)"
  },
  {
    fault: `HTTP 429, Retry-After: ${RETRY_AFTER_S}, once`,
    where: "device endpoint",
    script: () => ({
      [DEVICE]: seq(
        reply("", "text/plain", { status: 429, headers: { "retry-after": String(RETRY_AFTER_S) } }),
        code()
      ),
      [TOKEN]: tokens()
    }),
    expect: "tokens",
    seconds: RETRY_AFTER_S + INTERVAL_S,
    note: "the code request waits for Retry-After (fixed: it was sent again after 1 s)"
  },
  {
    fault: "HTTP 503, Retry-After: 3600",
    where: "device endpoint",
    script: () => ({ [DEVICE]: seq(reply("", "text/plain", { status: 503, headers: { "retry-after": "3600" } })) }),
    expect: { tag: "TransportError", status: 503 },
    seconds: 0,
    note: "over a minute: fails at once instead of waiting an hour"
  },
  {
    fault: "HTTP 503 always",
    where: "device endpoint",
    script: () => ({ [DEVICE]: seq(reply("busy", "text/plain", { status: 503 })) }),
    expect: { tag: "TransportError", status: 503 },
    seconds: 3,
    note: "three tries (1 s, 2 s apart), then TransportError"
  },
  // --- the connection --------------------------------------------------------
  {
    fault: "connection reset mid-body",
    where: "token endpoint",
    script: () => ({
      [DEVICE]: code(),
      [TOKEN]: thenTokens(({ origin }) => resetMidBody(JSON.stringify(tokenBody(origin))))
    }),
    expect: "tokens",
    seconds: transient(),
    note: "a transport failure: backoff, retry"
  },
  {
    fault: "connection reset mid-body once",
    where: "device endpoint",
    script: () => ({
      [DEVICE]: seq(({ origin }) => resetMidBody(JSON.stringify(deviceBody(origin))), code()),
      [TOKEN]: tokens()
    }),
    expect: "tokens",
    seconds: 1 + INTERVAL_S,
    note: "the code request is sent again"
  },
  {
    fault: "connection closed before any answer",
    where: "token endpoint",
    script: () => ({ [DEVICE]: code(), [TOKEN]: thenTokens(closeBeforeAnswer) }),
    expect: "tokens",
    seconds: transient(),
    note: "socket hang up: backoff, retry"
  },
  {
    fault: "connection refused",
    where: "device endpoint",
    script: () => ({}),
    deviceAt: "closed port",
    expect: { tag: "TransportError" },
    seconds: 3,
    note: "three tries, then TransportError (ECONNREFUSED)"
  },
  {
    fault: "connection refused while polling (server gone)",
    where: "token endpoint",
    script: () => ({ [DEVICE]: code() }),
    tokenAt: "closed port",
    expect: { tag: "TransportError" },
    seconds: INTERVAL_S + (K + 1) * BACKOFF_CAP_S,
    note: `gives up after ${K + 2} failures in a row`
  },
  {
    fault: "accepts, never answers",
    where: "token endpoint",
    script: () => ({ [DEVICE]: code(), [TOKEN]: thenTokens(hang) }),
    expect: "tokens",
    seconds: transient(HTTP_TIMEOUT_S),
    note: "request timeout 1.5 s, backoff, retry"
  },
  {
    fault: "accepts, never answers",
    where: "device endpoint",
    script: () => ({ [DEVICE]: seq(hang) }),
    expect: { tag: "TransportError" },
    seconds: 3 * HTTP_TIMEOUT_S + 3,
    note: "three timed-out tries, then TransportError"
  },
  {
    fault: "TCP accept, not a byte of HTTP",
    where: "device endpoint",
    script: () => ({}),
    deviceAt: "silent tcp",
    expect: { tag: "TransportError" },
    seconds: 3 * HTTP_TIMEOUT_S + 3,
    note: "three timed-out tries, then TransportError"
  },
  {
    fault: "slow drip: 40 bytes / 100 ms, done in ~0.5 s",
    where: "token endpoint",
    script: () => ({
      [DEVICE]: code(),
      [TOKEN]: ({ origin }) => drip(JSON.stringify(tokenBody(origin)).padEnd(200), { bytes: 40, everyMs: 100 })
    }),
    expect: "tokens",
    seconds: INTERVAL_S + 0.4,
    note: "a slow but finished body is read"
  },
  {
    fault: "slow drip: 1 byte / 200 ms (past the timeout)",
    where: "token endpoint",
    script: () => ({
      [DEVICE]: code(),
      [TOKEN]: thenTokens(({ origin }) => drip(JSON.stringify(tokenBody(origin)), { bytes: 1, everyMs: 200 }))
    }),
    expect: "tokens",
    seconds: transient(HTTP_TIMEOUT_S),
    note: "the body counts against the request timeout"
  },
  // --- bodies ---------------------------------------------------------------
  {
    fault: "truncated JSON (HTTP 200)",
    where: "token endpoint",
    script: () => ({ [DEVICE]: code(), [TOKEN]: ({ origin }) => json(truncated(tokenBody(origin))) }),
    expect: { tag: "InvalidResponse", status: 200 },
    seconds: INTERVAL_S,
    note: "not valid JSON: the flow stops"
  },
  {
    fault: "truncated JSON (HTTP 200)",
    where: "device endpoint",
    script: () => ({ [DEVICE]: ({ origin }) => json(truncated(deviceBody(origin))) }),
    expect: { tag: "InvalidResponse", status: 200 },
    seconds: 0,
    note: "not valid JSON"
  },
  {
    fault: "truncated JSON with HTTP 502 (a proxy cut it)",
    where: "token endpoint",
    script: () => ({
      [DEVICE]: code(),
      [TOKEN]: thenTokens(({ origin }) => json(truncated(tokenBody(origin)), { status: 502 }))
    }),
    expect: "tokens",
    seconds: transient(),
    note: "the status decides: retried"
  },
  {
    fault: "10 MiB body with Content-Length",
    where: "token endpoint",
    script: () => ({ [DEVICE]: code(), [TOKEN]: () => huge(10 * MIB, { contentLength: true }) }),
    expect: { tag: "InvalidResponse", status: 200 },
    seconds: INTERVAL_S,
    note: "refused from the header, body never read"
  },
  {
    fault: "10 MiB body, chunked (no Content-Length)",
    where: "token endpoint",
    script: () => ({ [DEVICE]: code(), [TOKEN]: () => huge(10 * MIB, { contentLength: false }) }),
    expect: { tag: "InvalidResponse", status: 200 },
    seconds: INTERVAL_S,
    note: "refused at the 1 MiB cap while streaming"
  },
  {
    fault: "10 MiB body, chunked",
    where: "device endpoint",
    script: () => ({ [DEVICE]: () => huge(10 * MIB, { contentLength: false }) }),
    expect: { tag: "InvalidResponse", status: 200 },
    seconds: 0,
    note: "refused at the 1 MiB cap"
  },
  {
    fault: "HTML page with HTTP 200",
    where: "token endpoint",
    script: () => ({ [DEVICE]: code(), [TOKEN]: () => reply(html, "text/html") }),
    expect: { tag: "InvalidResponse", status: 200 },
    seconds: INTERVAL_S,
    note: "HTML is never an OAuth answer"
  },
  {
    fault: "HTML page with HTTP 200",
    where: "device endpoint",
    script: () => ({ [DEVICE]: () => reply(html, "text/html") }),
    expect: { tag: "InvalidResponse", status: 200 },
    seconds: 0,
    note: "HTML is never an OAuth answer"
  },
  {
    fault: "empty body with HTTP 200",
    where: "token endpoint",
    script: () => ({ [DEVICE]: code(), [TOKEN]: () => reply("", "application/json") }),
    expect: { tag: "InvalidResponse", status: 200 },
    seconds: INTERVAL_S,
    note: "empty body"
  },
  {
    fault: "JSON array with HTTP 200",
    where: "device endpoint",
    script: () => ({ [DEVICE]: ({ origin }) => json([deviceBody(origin)]) }),
    expect: { tag: "InvalidResponse", status: 200 },
    seconds: 0,
    note: "not an object"
  },
  // --- content types ---------------------------------------------------------
  {
    fault: "JSON labelled text/plain",
    where: "both",
    script: () => ({
      [DEVICE]: ({ origin }) => reply(JSON.stringify(deviceBody(origin)), "text/plain"),
      [TOKEN]: ({ origin }) => reply(JSON.stringify(tokenBody(origin)), "text/plain")
    }),
    expect: "tokens",
    seconds: INTERVAL_S,
    note: "mislabelled JSON is read"
  },
  {
    fault: "JSON without a content type",
    where: "both",
    script: () => ({
      [DEVICE]: ({ origin }) => reply(JSON.stringify(deviceBody(origin)), undefined),
      [TOKEN]: ({ origin }) => reply(JSON.stringify(tokenBody(origin)), undefined)
    }),
    expect: "tokens",
    seconds: INTERVAL_S,
    note: "unlabelled JSON is read"
  },
  {
    fault: "form-encoded answers (GitHub without Accept)",
    where: "both",
    script: () => ({
      [DEVICE]: ({ origin }) => reply(formOf(deviceBody(origin)), "application/x-www-form-urlencoded"),
      [TOKEN]: () =>
        reply("access_token=ACCESS-TOKEN-FAULTS&token_type=bearer&scope=repo", "application/x-www-form-urlencoded")
    }),
    expect: "tokens",
    seconds: INTERVAL_S,
    note: "form bodies are read"
  },
  {
    fault: "form-encoded body labelled application/json",
    where: "token endpoint",
    script: () => ({ [DEVICE]: code(), [TOKEN]: () => reply("access_token=x&token_type=bearer", "application/json") }),
    expect: { tag: "InvalidResponse", status: 200 },
    seconds: INTERVAL_S,
    note: "claims JSON, is not"
  },
  {
    fault: "JSON labelled text/html",
    where: "token endpoint",
    script: () => ({
      [DEVICE]: code(),
      [TOKEN]: ({ origin }) => reply(JSON.stringify(tokenBody(origin)), "text/html")
    }),
    expect: { tag: "InvalidResponse", status: 200 },
    seconds: INTERVAL_S,
    note: "an HTML label is refused, whatever the body"
  },
  // --- fields ------------------------------------------------------------------
  {
    fault: "device_code missing",
    where: "device endpoint",
    script: () => ({ [DEVICE]: code({ device_code: undefined }) }),
    expect: { tag: "InvalidResponse", field: "device_code" },
    seconds: 0,
    note: "names the field"
  },
  {
    fault: "user_code a number",
    where: "device endpoint",
    script: () => ({ [DEVICE]: code({ user_code: 12345678 }) }),
    expect: { tag: "InvalidResponse", field: "user_code" },
    seconds: 0,
    note: "names the field"
  },
  {
    fault: "verification_uri `javascript:`",
    where: "device endpoint",
    script: () => ({ [DEVICE]: code({ verification_uri: "javascript:alert(1)" }) }),
    expect: { tag: "InvalidResponse", field: "verification_uri" },
    seconds: 0,
    note: "only http(s) pages are shown"
  },
  {
    fault: "access_token missing",
    where: "token endpoint",
    script: () => ({ [DEVICE]: code(), [TOKEN]: tokens({ access_token: undefined }) }),
    expect: { tag: "InvalidResponse", field: "access_token" },
    seconds: INTERVAL_S,
    note: "names the field"
  },
  {
    fault: "access_token a number",
    where: "token endpoint",
    script: () => ({ [DEVICE]: code(), [TOKEN]: tokens({ access_token: 42 }) }),
    expect: { tag: "InvalidResponse", field: "access_token" },
    seconds: INTERVAL_S,
    note: "names the field, withholds the value"
  },
  {
    fault: "token_type missing",
    where: "token endpoint",
    script: () => ({ [DEVICE]: code(), [TOKEN]: tokens({ token_type: undefined }) }),
    expect: { tag: "InvalidResponse", field: "token_type" },
    seconds: INTERVAL_S,
    note: "names the field"
  },
  {
    fault: "token expires_in \"soon\"",
    where: "token endpoint",
    script: () => ({ [DEVICE]: code(), [TOKEN]: tokens({ expires_in: "soon" }) }),
    expect: { tag: "InvalidResponse", field: "expires_in" },
    seconds: INTERVAL_S,
    note: "names the field"
  },
  ...([["0", 0], ["negative", -5], ["10^9", 1e9], ["\"abc\"", "abc"]] as const).map(([label, value]): Row => ({
    fault: `interval ${label}`,
    where: "device endpoint",
    script: () => ({ [DEVICE]: code({ interval: value }) }),
    expect: { tag: "InvalidResponse", field: "interval" },
    seconds: 0,
    note: "refused before polling"
  })),
  {
    fault: "interval 120 s > expires_in 60 s",
    where: "device endpoint",
    script: () => ({ [DEVICE]: code({ interval: 120 }) }),
    expect: { tag: "DeviceCodeExpired" },
    seconds: 0,
    note: "no poll could happen in time: expired at once"
  },
  ...([["0", 0], ["negative", -60], ["huge (10^12)", 1e12]] as const).map(([label, value]): Row => ({
    fault: `expires_in ${label}`,
    where: "device endpoint",
    script: () => ({ [DEVICE]: code({ expires_in: value }) }),
    expect: { tag: "InvalidResponse", field: "expires_in" },
    seconds: 0,
    note: "refused before polling"
  })),
  {
    fault: "expires_in 10 years (the largest accepted)",
    where: "device endpoint",
    script: () => ({ [DEVICE]: code({ expires_in: 315_360_000 }), [TOKEN]: tokens() }),
    expect: "tokens",
    seconds: INTERVAL_S,
    note: "accepted"
  },
  {
    fault: "expires_in 2 s, never approved",
    where: "both",
    script: () => ({ [DEVICE]: code({ expires_in: 2 }), [TOKEN]: seq(pending) }),
    expect: { tag: "DeviceCodeExpired" },
    seconds: INTERVAL_S,
    note: "no poll after the deadline"
  },
  // --- redirects ---------------------------------------------------------------
  {
    fault: "307 to the same host",
    where: "device endpoint",
    script: () => ({ [DEVICE]: ({ origin }) => redirect(307, `${origin}/other/device`) }),
    expect: { tag: "InvalidResponse", status: 307 },
    seconds: 0,
    note: "redirects are not followed"
  },
  {
    fault: "302 to another host",
    where: "device endpoint",
    script: (other) => ({ [DEVICE]: () => redirect(302, `${other}${DEVICE}`) }),
    expect: { tag: "InvalidResponse", status: 302 },
    seconds: 0,
    note: "the other host gets nothing"
  },
  {
    fault: "308 to the same host",
    where: "token endpoint",
    script: () => ({ [DEVICE]: code(), [TOKEN]: ({ origin }) => redirect(308, `${origin}/other/token`) }),
    expect: { tag: "InvalidResponse", status: 308 },
    seconds: INTERVAL_S,
    note: "the device code is never re-sent"
  },
  {
    fault: "302 to another host",
    where: "token endpoint",
    script: (other) => ({ [DEVICE]: code(), [TOKEN]: () => redirect(302, `${other}${TOKEN}`) }),
    expect: { tag: "InvalidResponse", status: 302 },
    seconds: INTERVAL_S,
    note: "the other host gets nothing"
  },
  // --- id_token ----------------------------------------------------------------
  {
    fault: "id_token not a JWT",
    where: "token endpoint",
    script: () => ({ [DEVICE]: code(), [TOKEN]: tokens({ id_token: "not-a-jwt" }) }),
    expect: { tag: "InvalidResponse", field: "id_token" },
    seconds: INTERVAL_S,
    note: "names the field"
  },
  {
    fault: "id_token with a non-JSON payload",
    where: "token endpoint",
    script: () => ({ [DEVICE]: code(), [TOKEN]: tokens({ id_token: "eyJhbGciOiJub25lIn0.bm90IGpzb24.c2ln" }) }),
    expect: { tag: "InvalidResponse", field: "id_token" },
    seconds: INTERVAL_S,
    note: "names the field"
  },
  // --- OAuth answers -------------------------------------------------------------
  {
    fault: "unknown OAuth error with HTTP 200",
    where: "token endpoint",
    script: () => ({
      [DEVICE]: code(),
      [TOKEN]: () => json({ error: "quota_exceeded", error_description: "try tomorrow" })
    }),
    expect: { tag: "OAuthError", status: 200 },
    seconds: INTERVAL_S,
    note: "the server's code is kept"
  }
]

// ---------------------------------------------------------------------------

interface Result {
  readonly outcome: string
  readonly tag: string
  readonly field: string | undefined
  readonly status: number | undefined
  readonly message: string | undefined
  readonly millis: number
  readonly events: ReadonlyArray<string>
  readonly deviceRequests: number
  readonly tokenRequests: number
  readonly otherHostRequests: number
  readonly defect: string | undefined
  readonly hang: boolean
}

const runRow = (row: Row): Effect.Effect<Result> =>
  Effect.gen(function*() {
    const other = yield* faultServer({})
    const server: FaultServer = yield* faultServer(row.script(other.origin))
    // A released port can be taken at once by another row's server on 127.0.0.1; nothing here listens on 127.0.0.2.
    const refused = Effect.map(closedPort, (port) => `http://127.0.0.2:${port}`)
    const deviceOrigin = row.deviceAt === "closed port"
      ? yield* refused
      : row.deviceAt === "silent tcp"
      ? `http://${(yield* silentTcpServer).url}`
      : server.origin
    const tokenOrigin = row.tokenAt === "closed port" ? yield* refused : server.origin
    const config = yield* ClientConfig.make({
      clientId: "devflow-faults",
      endpoints: { deviceAuthorization: `${deviceOrigin}${DEVICE}`, token: `${tokenOrigin}${TOKEN}` },
      scopes: ["openid"]
    }).pipe(Effect.orDie)
    const events: Array<string> = []
    const started = Date.now()
    const exit = yield* DeviceFlow.events(config, {}, flowOptions).pipe(
      Stream.runForEach((event) => Effect.sync(() => events.push(event._tag))),
      Effect.provide(ClientLive),
      Effect.timeout(HANG_AFTER_MS),
      Effect.exit
    )
    const millis = Date.now() - started
    const base = {
      millis,
      events,
      deviceRequests: server.hitsTo(DEVICE),
      tokenRequests: server.hitsTo(TOKEN),
      otherHostRequests: other.hits.length,
      message: undefined,
      field: undefined,
      status: undefined,
      defect: undefined,
      hang: false
    }
    if (Exit.isSuccess(exit)) {
      return { ...base, tag: "tokens", outcome: events.at(-1) === "Succeeded" ? "tokens" : "ended without tokens" }
    }
    const failure = Cause.failureOption(exit.cause)
    if (Option.isSome(failure) && failure.value._tag === "TimeoutException") {
      return { ...base, tag: "HANG", outcome: "HANG", hang: true }
    }
    if (Option.isNone(failure) || !DeviceFlowError.isDeviceFlowError(failure.value)) {
      return { ...base, tag: "DEFECT", outcome: "DEFECT", defect: Cause.pretty(exit.cause) }
    }
    const error = failure.value
    const field = "field" in error ? error.field : undefined
    const status = "status" in error ? error.status : undefined
    return {
      ...base,
      tag: error._tag,
      field,
      status,
      message: error.message,
      outcome: `${error._tag}${field === undefined ? "" : ` (${field})`}${
        status === undefined ? "" : ` HTTP ${status}`
      }`
    }
  }).pipe(Effect.scoped)

const expectedOutcome = (expect: Expect): string =>
  expect === "tokens"
    ? "tokens"
    : `${expect.tag}${expect.field === undefined ? "" : ` (${expect.field})`}${
      expect.status === undefined ? "" : ` HTTP ${expect.status}`
    }`

const compact = (events: ReadonlyArray<string>): string => {
  const out: Array<string> = []
  for (const event of events) {
    const last = out.at(-1)
    const m = last === undefined ? null : /^(\w+)(?: ×(\d+))?$/.exec(last)
    if (m !== null && m[1] === event) out[out.length - 1] = `${event} ×${Number(m[2] ?? 1) + 1}`
    else out.push(event)
  }
  return out.join(" → ")
}

const uncaught: Array<unknown> = []
const onUncaught = (error: unknown) => void uncaught.push(error)
let results: Promise<ReadonlyArray<Result>>
let wall = 0

beforeAll(() => {
  process.on("uncaughtException", onUncaught)
  process.on("unhandledRejection", onUncaught)
  const t0 = Date.now()
  // One flow first, alone, so that module loading and JIT warm-up do not count against the first rows.
  const warmUp = runRow({
    fault: "none (warm-up)",
    where: "both",
    script: () => ({ [DEVICE]: code(), [TOKEN]: tokens() }),
    expect: "tokens",
    seconds: INTERVAL_S,
    note: ""
  })
  results = Effect.runPromise(
    Effect.zipRight(warmUp, Effect.forEach(rows, runRow, { concurrency: CONCURRENCY }))
  ).then((all) => {
    wall = Date.now() - t0
    return all
  })
  // the rows' failures surface in their own tests
  results.catch(() => {})
})

afterAll(async () => {
  process.off("uncaughtException", onUncaught)
  process.off("unhandledRejection", onUncaught)
  const all = await results.catch(() => [] as ReadonlyArray<Result>)
  if (all.length === 0) return
  const lines = [
    `| # | fault | where | outcome | requests (device/token) | events | time to outcome | expected |`,
    `|---|---|---|---|---|---|---|---|`,
    ...rows.map((row, i) => {
      const r = all[i]!
      const expected = `${row.seconds.toFixed(1)}–${(row.seconds + (row.slack ?? SLACK_S)).toFixed(1)} s`
      return `| ${i + 1} | ${row.fault} | ${row.where} | ${r.outcome} | ${r.deviceRequests}/${r.tokenRequests} | ${
        compact(r.events) || "—"
      } | ${(r.millis / 1000).toFixed(2)} s | ${expected} |`
    })
  ]
  const hangs = all.filter((r) => r.hang).length
  const defects = all.filter((r) => r.defect !== undefined).length
  console.info(
    `[faults] ${rows.length} faults through NodeOAuthHttp + DeviceFlow (FAULT_REPEAT=${K}), ${CONCURRENCY} at a time, in ${
      (wall / 1000).toFixed(1)
    } s; hangs: ${hangs}; defects: ${defects}; uncaught exceptions: ${uncaught.length}\n${lines.join("\n")}`
  )
})

describe("fault matrix through the real HTTP client and the device flow", () => {
  rows.forEach((row, i) => {
    // BUG: rows with `bug` set describe the right behaviour and fail until it is fixed
    const test = row.bug === undefined ? it : it.fails
    test(`${i + 1}. ${row.fault} (${row.where}) → ${expectedOutcome(row.expect)} in ${row.seconds.toFixed(1)} s`, {
      timeout: HANG_AFTER_MS + 30_000
    }, async () => {
      const r = (await results)[i]!
      assert.isFalse(r.hang, "hang")
      assert.isUndefined(r.defect, r.defect)
      if (row.expect === "tokens") {
        assert.strictEqual(r.outcome, "tokens", r.message)
      } else {
        assert.strictEqual(r.tag, row.expect.tag, r.message)
        if (row.expect.field !== undefined) assert.strictEqual(r.field, row.expect.field, r.message)
        if (row.expect.status !== undefined) assert.strictEqual(r.status, row.expect.status, r.message)
        // one line, short, no stack
        assert.notInclude(r.message!, "\n")
        assert.isBelow(r.message!.length, 400, r.message)
        assert.notMatch(r.message!, /\.(ts|js|mjs|cjs):\d+/)
      }
      // never early (waits honoured), never late (no hang past the timeouts)
      assert.isAtLeast(r.millis, row.seconds * 1000 - 100, `${r.millis} ms`)
      assert.isAtMost(r.millis, (row.seconds + (row.slack ?? SLACK_S)) * 1000, `${r.millis} ms`)
      // a redirect is never followed, to the same host or another
      assert.strictEqual(r.otherHostRequests, 0)
      if (row.fault.startsWith("30")) {
        assert.strictEqual(r.deviceRequests + r.tokenRequests, row.where === "device endpoint" ? 1 : 2)
      }
    })
  })

  it(
    "no uncaught exception or unhandled rejection while the matrix ran",
    { timeout: HANG_AFTER_MS + 30_000 },
    async () => {
      await results
      assert.deepStrictEqual(uncaught.map(String), [])
    }
  )
})
