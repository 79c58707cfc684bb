import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Encoding from "effect/Encoding"
import * as Exit from "effect/Exit"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import * as Tracer from "effect/Tracer"
import { failure, runVirtual } from "../test/virtual.js"
import * as DeviceFlow from "./DeviceFlow.js"
import { DeviceSession } from "./DeviceSession.js"
import * as TestKit from "./TestKit.js"

// Protocol edges (issue 10, item 5): each rule the engine enforces at a boundary.

const polls = Effect.flatMap(TestKit.FakeServer, (s) => s.polls)

const acquire = (options: Partial<DeviceFlow.AcquireOptions> = {}) =>
  Effect.flatMap(
    TestKit.config(),
    (config) => runVirtual(DeviceFlow.acquireToken(config, {}, { onCode: () => {}, ...options }))
  )

const gapsSeconds = (sentAt: ReadonlyArray<number>) => sentAt.slice(1).map((t, i) => (t - sentAt[i]!) / 1000)

describe("no request at or after issue time + expires_in (RFC 8628 §3.2)", () => {
  it.effect("an onCode that returns after the code's life: no poll is sent, the flow ends as expired", () =>
    Effect.gen(function*() {
      const exit = yield* acquire({ onCode: () => Effect.sleep("16 minutes") })
      const error = failure(exit)
      assert.isTrue(error._tag === "DeviceCodeExpired" && error.reason === "deadline")
      assert.strictEqual((yield* polls).length, 0)
    }).pipe(Effect.provide(TestKit.layer(TestKit.sequence([TestKit.tokens()])))))

  it.effect("an onCode that returns late but within the code's life: polls until the end, none after it", () =>
    Effect.gen(function*() {
      const exit = yield* acquire({ onCode: () => Effect.sleep("14 minutes") })
      assert.strictEqual(failure(exit)._tag, "DeviceCodeExpired")
      const sent = (yield* polls).map((p) => p.sentAt)
      assert.isAbove(sent.length, 0)
      assert.isTrue(sent.every((t) => t < 900_000), String(sent))
    }).pipe(Effect.provide(TestKit.layer(TestKit.sequence([TestKit.pending()])))))
})

describe("slow_down never shortens the interval (RFC 8628 §3.5)", () => {
  for (const interval of ["1e306", "1e400", "\"Infinity\""]) {
    it.effect(`a slow_down interval of ${interval} s means no poll before the deadline, not the 5 s default`, () =>
      Effect.gen(function*() {
        const error = failure(yield* acquire())
        assert.isTrue(error._tag === "DeviceCodeExpired" && error.reason === "deadline", String(error))
        assert.deepStrictEqual((yield* polls).map((p) => p.sentAt / 1000), [1])
      }).pipe(Effect.provide(TestKit.layer(TestKit.sequence(
        [
          TestKit.text(`{"error":"slow_down","interval":${interval}}`, "application/json", { status: 400 }),
          TestKit.pending()
        ],
        TestKit.deviceCode({ interval: 1, expires_in: 60 })
      )))))
  }

  it.effect("a slow_down interval that is not a positive number still adds 5 s to every later poll: 6, 11, 16 s apart", () =>
    Effect.gen(function*() {
      assert.isTrue(Exit.isSuccess(yield* acquire()))
      assert.deepStrictEqual(gapsSeconds((yield* polls).map((p) => p.sentAt)), [6, 11, 16])
    }).pipe(Effect.provide(TestKit.layer(TestKit.sequence(
      [
        TestKit.oauthError("slow_down", { fields: { interval: 0 } }),
        TestKit.oauthError("slow_down", { fields: { interval: -30 } }),
        TestKit.oauthError("slow_down", { fields: { interval: "NaN" } }),
        TestKit.tokens()
      ],
      TestKit.deviceCode({ interval: 1 })
    )))))
})

describe("an OAuth error code that arrives with HTTP 5xx is still that code", () => {
  it.effect("slow_down with HTTP 500 raises the interval for this and every later poll", () =>
    Effect.gen(function*() {
      const exit = yield* acquire()
      assert.isTrue(Exit.isSuccess(exit))
      assert.deepStrictEqual(gapsSeconds((yield* polls).map((p) => p.sentAt)), [10, 10])
    }).pipe(
      Effect.provide(
        TestKit.layer(TestKit.sequence([TestKit.slowDown({ status: 500 }), TestKit.pending(), TestKit.tokens()]))
      )
    ))

  it.effect("access_denied with HTTP 500 ends the flow as AccessDenied, keeping error_uri, codes, trace and correlation ids", () =>
    Effect.gen(function*() {
      const error = failure(yield* acquire())
      assert.strictEqual((yield* polls).length, 1)
      if (error._tag !== "AccessDenied") throw new Error(`expected AccessDenied, got ${error._tag}`)
      assert.strictEqual(error.status, 500)
      assert.strictEqual(error.errorUri, "https://auth.devflow.test/errors/denied")
      assert.deepStrictEqual(error.errorCodes, [70000])
      assert.strictEqual(error.traceId, "trace-1")
      assert.strictEqual(error.correlationId, "corr-1")
    }).pipe(Effect.provide(TestKit.layer(TestKit.sequence([
      TestKit.oauthError("access_denied", {
        status: 500,
        fields: {
          error_uri: "https://auth.devflow.test/errors/denied",
          error_codes: [70000],
          trace_id: "trace-1",
          correlation_id: "corr-1"
        }
      })
    ])))))

  it.effect("expired_token with HTTP 503 ends the flow as DeviceCodeExpired(expired_token)", () =>
    Effect.gen(function*() {
      const error = failure(yield* acquire())
      assert.isTrue(error._tag === "DeviceCodeExpired" && error.reason === "expired_token" && error.status === 503)
      assert.strictEqual((yield* polls).length, 1)
    }).pipe(Effect.provide(TestKit.layer(TestKit.sequence([TestKit.expired({ status: 503 })])))))

  it.effect("invalid_grant with HTTP 503 is an OAuthError at once, not retried", () =>
    Effect.gen(function*() {
      const error = failure(yield* acquire())
      assert.isTrue(error._tag === "OAuthError" && error.error === "invalid_grant" && error.status === 503)
      assert.strictEqual((yield* polls).length, 1)
    }).pipe(Effect.provide(TestKit.layer(TestKit.sequence([TestKit.oauthError("invalid_grant", { status: 503 })])))))
})

const session = (fields: Partial<ConstructorParameters<typeof DeviceSession>[0]>, now: number) =>
  new DeviceSession({
    version: 1,
    clientId: TestKit.CLIENT_ID,
    tokenEndpoint: TestKit.TOKEN_ENDPOINT,
    deviceCode: Redacted.make(TestKit.secrets.deviceCode),
    userCode: "WDJB-MJHT",
    verificationUri: `${TestKit.ISSUER}/device`,
    issuedAt: now,
    expiresOn: now + 10_000,
    intervalMs: 5_000,
    nextPollAt: now,
    scopes: ["openid"],
    tokenParams: {},
    ...fields
  }, true) // unchecked, as a store that hands back whatever it holds

const resume = (saved: DeviceSession, options: DeviceFlow.FlowOptions = {}) =>
  Effect.flatMap(TestKit.config(), (config) => runVirtual(DeviceFlow.resume(config, saved, options)))

describe("a resumed DeviceSession", () => {
  it.effect("keeps the 1 s interval floor: a saved interval of 1 ms polls once a second", () =>
    Effect.gen(function*() {
      const now = yield* TestClock.currentTimeMillis
      const error = failure(yield* resume(session({ intervalMs: 1 }, now)))
      assert.strictEqual(error._tag, "DeviceCodeExpired")
      const sent = (yield* polls).map((p) => p.sentAt - now)
      assert.deepStrictEqual(sent, [1_000, 2_000, 3_000, 4_000, 5_000, 6_000, 7_000, 8_000, 9_000])
    }).pipe(Effect.provide(TestKit.layer(TestKit.sequence([TestKit.pending()])))))

  for (const field of ["expiresOn", "nextPollAt", "intervalMs", "issuedAt"] as const) {
    for (const bad of [Number.NaN, Infinity]) {
      it.effect(`with ${field} = ${bad} is a typed InvalidConfiguration, not a poll loop`, () =>
        Effect.gen(function*() {
          const now = yield* TestClock.currentTimeMillis
          const error = failure(yield* resume(session({ [field]: bad }, now)))
          assert.isTrue(error._tag === "InvalidConfiguration" && error.field === `session.${field}`, String(error))
          assert.strictEqual((yield* polls).length, 0)
        }).pipe(Effect.provide(TestKit.layer(TestKit.sequence([TestKit.pending()])))))
    }
  }
})

describe("every Policy field and the request timeout are validated", () => {
  const cases: ReadonlyArray<readonly [string, DeviceFlow.FlowOptions, string]> = [
    ["maxBackoffMs NaN", { policy: { maxBackoffMs: Number.NaN } }, "policy.maxBackoffMs"],
    ["maxBackoffMs negative", { policy: { maxBackoffMs: -1 } }, "policy.maxBackoffMs"],
    ["maxBackoffMs missing", { policy: { maxBackoffMs: undefined as unknown as number } }, "policy.maxBackoffMs"],
    ["maxBackoffMs infinite", { policy: { maxBackoffMs: Infinity } }, "policy.maxBackoffMs"],
    ["maxConsecutiveFailures NaN", { policy: { maxConsecutiveFailures: Number.NaN } }, "policy.maxConsecutiveFailures"],
    ["maxConsecutiveFailures 0", { policy: { maxConsecutiveFailures: 0 } }, "policy.maxConsecutiveFailures"],
    ["maxConsecutiveFailures negative", { policy: { maxConsecutiveFailures: -3 } }, "policy.maxConsecutiveFailures"],
    ["maxConsecutiveFailures 2.5", { policy: { maxConsecutiveFailures: 2.5 } }, "policy.maxConsecutiveFailures"],
    [
      "maxConsecutiveFailures missing",
      { policy: { maxConsecutiveFailures: undefined as unknown as number } },
      "policy.maxConsecutiveFailures"
    ],
    ["requestTimeout NaN ms", { requestTimeout: Number.NaN }, "requestTimeout"],
    ["requestTimeout negative", { requestTimeout: -5 }, "requestTimeout"],
    ["requestTimeout infinite", { requestTimeout: "Infinity" as never }, "requestTimeout"]
  ]
  for (const [what, options, field] of cases) {
    it.effect(`${what}: InvalidConfiguration(${field}) before any request, for a new flow and a resumed one`, () =>
      Effect.gen(function*() {
        const started = failure(yield* acquire(options))
        assert.isTrue(started._tag === "InvalidConfiguration" && started.field === field, String(started))
        const now = yield* TestClock.currentTimeMillis
        const resumed = failure(yield* resume(session({}, now), options))
        assert.isTrue(resumed._tag === "InvalidConfiguration" && resumed.field === field, String(resumed))
        assert.strictEqual((yield* Effect.flatMap(TestKit.FakeServer, (s) => s.requests)).length, 0)
      }).pipe(Effect.provide(TestKit.layer(TestKit.sequence([TestKit.tokens()])))))
  }
})

// Secrets whose spellings differ: raw, form-encoded (application/x-www-form-urlencoded) and inside Basic.
const DEVICE_CODE = "dc/S3CRET+code ==7f3a"
const CLIENT_SECRET = "cs/S3CRET+secret ==51be"
const formEncoded = (s: string) => encodeURIComponent(s).replace(/%20/g, "+")
const basic = Encoding.encodeBase64(`${formEncoded(TestKit.CLIENT_ID)}:${formEncoded(CLIENT_SECRET)}`)
const spellings = [
  DEVICE_CODE,
  formEncoded(DEVICE_CODE),
  encodeURIComponent(DEVICE_CODE),
  CLIENT_SECRET,
  formEncoded(CLIENT_SECRET),
  basic
]
const echo = `POST device_code=${formEncoded(DEVICE_CODE)} (${DEVICE_CODE}) client_secret=${
  formEncoded(CLIENT_SECRET)
} (${CLIENT_SECRET}) Authorization: Basic ${basic}`

describe("secrets are scrubbed where the error is built, in every spelling (raw, form-encoded, Basic)", () => {
  const withSecretBasic = (replies: ReadonlyArray<TestKit.Reply>) =>
    Effect.provide(TestKit.layer(TestKit.sequence(replies, TestKit.deviceCode({ device_code: DEVICE_CODE }))))
  const run = Effect.gen(function*() {
    const config = yield* TestKit.config({
      clientSecret: Redacted.make(CLIENT_SECRET),
      clientAuthMethod: "client_secret_basic"
    })
    const events: Array<DeviceFlow.DeviceFlowEvent> = []
    const exit = yield* runVirtual(DeviceFlow.acquireToken(config, {}, {
      onCode: () => {},
      onEvent: (event) => Effect.sync(() => void events.push(event)),
      policy: { maxConsecutiveFailures: 3 }
    }))
    return { error: failure(exit), exit, events }
  })
  const assertClean = (text: string, what: string) => {
    for (const secret of spellings) assert.notInclude(text, secret, `${what} carries ${secret}`)
  }

  it.effect("a transport error: the Retrying events, the final error, its message and its cause", () =>
    Effect.gen(function*() {
      const { error, events, exit } = yield* run
      assert.strictEqual(error._tag, "TransportError")
      assertClean(error.message, "the message")
      assertClean(JSON.stringify(error), "the error")
      assertClean(Cause.pretty(exit._tag === "Failure" ? exit.cause : Cause.empty), "the cause")
      const reasons = events.flatMap((e) => (e._tag === "Retrying" ? [e.reason] : []))
      assert.strictEqual(reasons.length, 2)
      for (const reason of reasons) assertClean(reason, "a Retrying event")
      assert.include(error.message, "<redacted>")
    }).pipe(withSecretBasic([TestKit.transportFailure(echo)])))

  it.effect("a server error echoing them: the events and the final OAuthError", () =>
    Effect.gen(function*() {
      const { error, events } = yield* run
      assert.strictEqual(error._tag, "OAuthError")
      assertClean(JSON.stringify(error), "the error")
      assertClean(error.message, "the message")
      for (const e of events) if (e._tag === "Retrying") assertClean(e.reason, "a Retrying event")
    }).pipe(
      withSecretBasic([
        TestKit.oauthError("server_error", {
          status: 503,
          fields: { error_description: echo, error_uri: `https://x.test/?${echo}` }
        })
      ])
    ))
})

describe("server text in Retrying events", () => {
  it.effect("is cleaned as in error messages: one line, no control characters, no secrets", () =>
    Effect.gen(function*() {
      const config = yield* TestKit.config()
      const exit = yield* runVirtual(Stream.runCollect(DeviceFlow.events(config)))
      assert.isTrue(Exit.isSuccess(exit))
      const reasons = Exit.isSuccess(exit)
        ? Chunk.toReadonlyArray(exit.value).flatMap((e) => (e._tag === "Retrying" ? [e.reason] : []))
        : []
      assert.strictEqual(reasons.length, 2)
      for (const reason of reasons) {
        // eslint-disable-next-line no-control-regex
        assert.notMatch(reason, /[\u0000-\u001f\u007f]/)
        assert.notInclude(reason, TestKit.secrets.deviceCode)
        assert.isAtMost(reason.length, 300)
      }
      assert.include(reasons[0], "FAKE LOG LINE device_code=<redacted>")
      assert.include(reasons[1], "gateway_down")
    }).pipe(Effect.provide(TestKit.layer(TestKit.sequence([
      TestKit.transportFailure(
        `reset\n\u001b[31mFAKE LOG LINE device_code=${TestKit.secrets.deviceCode} ${"x".repeat(500)}`
      ),
      TestKit.oauthError(`gateway_down\r\n${TestKit.secrets.deviceCode}`, { status: 502 }),
      TestKit.tokens()
    ])))))
})

describe("a Retry-After longer than the code's remaining life", () => {
  it.effect("ends the flow saying so, instead of \"not completed in time\"", () =>
    Effect.gen(function*() {
      const error = failure(yield* acquire())
      if (error._tag !== "DeviceCodeExpired") throw new Error(`expected DeviceCodeExpired, got ${error._tag}`)
      assert.strictEqual(error.reason, "deadline")
      assert.strictEqual(error.retryAfterMs, 120_000)
      assert.match(error.message, /asked to wait 120 s before the next poll \(Retry-After\)/)
      assert.strictEqual((yield* polls).length, 1)
    }).pipe(Effect.provide(TestKit.layer(TestKit.sequence([
      TestKit.text("", "text/plain", { status: 503, headers: { "retry-after": "120" } }),
      TestKit.tokens()
    ], TestKit.deviceCode({ expires_in: 60 }))))))

  it.effect("a code that simply runs out keeps the usual message", () =>
    Effect.gen(function*() {
      const error = failure(yield* acquire())
      assert.isTrue(error._tag === "DeviceCodeExpired" && error.retryAfterMs === undefined)
      assert.match(error.message, /not completed in time/)
    }).pipe(
      Effect.provide(TestKit.layer(TestKit.sequence([TestKit.pending()], TestKit.deviceCode({ expires_in: 12 }))))
    ))
})

describe("tracing (issue 11: spans only when a tracer is installed)", () => {
  it.effect("with a tracer of the caller's, every request of the flow has its span", () =>
    Effect.gen(function*() {
      const names: Array<string> = []
      const base = yield* Effect.tracer
      const recording = Tracer.make({
        span: (...args) => {
          names.push(args[0])
          return base.span(...args)
        },
        context: base.context
      })
      const exit = yield* acquire().pipe(Effect.withTracer(recording))
      assert.isTrue(Exit.isSuccess(exit))
      const requests = (yield* Effect.flatMap(TestKit.FakeServer, (s) => s.requests)).length
      assert.strictEqual(names.filter((n) => n.startsWith("http.client")).length, requests)
    }).pipe(Effect.provide(TestKit.layer(TestKit.sequence([TestKit.pending(), TestKit.tokens()])))))
})
