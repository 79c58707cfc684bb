import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import { failure, runVirtual } from "../test/virtual.js"
import type * as DeviceAuthorization from "./DeviceAuthorization.js"
import * as DeviceFlow from "./DeviceFlow.js"
import * as DeviceSession from "./DeviceSession.js"
import * as TestKit from "./TestKit.js"

const acquire = (options: Partial<DeviceFlow.AcquireOptions> = {}) =>
  Effect.flatMap(TestKit.config(), (config) => DeviceFlow.acquireToken(config, {}, { onCode: () => {}, ...options }))

/** Run the flow against `script`; return its exit and the polls the server saw. */
const runScript = (script: TestKit.Script, options: Partial<DeviceFlow.AcquireOptions> = {}) =>
  Effect.gen(function*() {
    const exit = yield* runVirtual(acquire(options))
    const requests = yield* Effect.flatMap(TestKit.FakeServer, (s) => s.requests)
    return { exit, polls: requests.filter((r) => r.endpoint === "token"), requests }
  }).pipe(Effect.provide(TestKit.layer(script)))

/** Gap between the end of each answer (the code's, then each poll's) and the next poll, in seconds. */
const gaps = (run: { readonly requests: ReadonlyArray<TestKit.RecordedRequest> }) => {
  let previous: number | undefined
  const out: Array<number> = []
  for (const r of run.requests) {
    if (r.endpoint === "token" && previous !== undefined) out.push((r.sentAt - previous) / 1000)
    previous = r.endedAt
  }
  return out
}

describe("DeviceFlow timing (RFC 8628 §3.4–3.5)", () => {
  it.effect("waits one interval after the code is issued, then one interval after the end of each answer", () =>
    Effect.gen(function*() {
      const slow = { delay: "1500 millis" } as const
      const run = yield* runScript(
        TestKit.sequence([TestKit.pending(slow), TestKit.pending(slow), TestKit.tokens({}, slow)])
      )
      assert.isTrue(Exit.isSuccess(run.exit))
      assert.deepStrictEqual(run.polls.map((p) => p.sentAt), [5_000, 11_500, 18_000])
      assert.deepStrictEqual(gaps(run), [5, 5, 5])
    }))

  it.effect("uses 5 s when the server sends no interval", () =>
    Effect.gen(function*() {
      const run = yield* runScript(
        TestKit.sequence([TestKit.pending(), TestKit.tokens()], TestKit.deviceCode({ interval: undefined }))
      )
      assert.deepStrictEqual(gaps(run), [5, 5])
    }))

  it.effect("uses the server's interval when it sends one", () =>
    Effect.gen(function*() {
      const run = yield* runScript(
        TestKit.sequence([TestKit.pending(), TestKit.tokens()], TestKit.deviceCode({ interval: 8 }))
      )
      assert.deepStrictEqual(gaps(run), [8, 8])
    }))

  it.effect("slow_down adds 5 s to this and every later poll", () =>
    Effect.gen(function*() {
      const run = yield* runScript(
        TestKit.sequence([
          TestKit.pending(),
          TestKit.slowDown(),
          TestKit.pending(),
          TestKit.slowDown(),
          TestKit.tokens()
        ])
      )
      assert.isTrue(Exit.isSuccess(run.exit))
      assert.deepStrictEqual(gaps(run), [5, 5, 10, 10, 15])
    }))

  it.effect("slow_down with the server's new interval (GitHub) uses the larger of it and interval + 5 s", () =>
    Effect.gen(function*() {
      const larger = yield* runScript(
        TestKit.sequence([TestKit.slowDown({ interval: 20 }), TestKit.pending(), TestKit.tokens()])
      )
      assert.deepStrictEqual(gaps(larger), [5, 20, 20])
      const smaller = yield* runScript(
        TestKit.sequence([TestKit.slowDown({ interval: 6 }), TestKit.pending(), TestKit.tokens()])
      )
      assert.deepStrictEqual(gaps(smaller), [5, 10, 10])
    }))

  it.effect("a bare HTTP 429 counts as slow_down", () =>
    Effect.gen(function*() {
      const run = yield* runScript(
        TestKit.sequence([
          TestKit.text("Too Many Requests", "text/plain", { status: 429 }),
          TestKit.pending(),
          TestKit.tokens()
        ])
      )
      assert.isTrue(Exit.isSuccess(run.exit))
      assert.deepStrictEqual(gaps(run), [5, 10, 10])
    }))

  it.effect("a 429 whose body names a non-protocol error is rate limiting: slow_down, not a final OAuthError", () =>
    Effect.gen(function*() {
      const run = yield* runScript(
        TestKit.sequence([
          TestKit.oauthError("rate_limit_exceeded", {
            status: 429,
            fields: { error_description: "Too many requests" }
          }),
          TestKit.pending(),
          TestKit.tokens()
        ])
      )
      assert.isTrue(Exit.isSuccess(run.exit), String(run.exit))
      assert.deepStrictEqual(gaps(run), [5, 10, 10])
    }))

  it.effect("a 429 naming a protocol error keeps that error's meaning", () =>
    Effect.gen(function*() {
      const run = yield* runScript(
        TestKit.sequence([TestKit.oauthError("invalid_grant", { status: 429 }), TestKit.tokens()])
      )
      assert.strictEqual(failure(run.exit)._tag, "OAuthError")
      assert.strictEqual(run.polls.length, 1)
    }))

  it.effect("429 with Retry-After waits at least that long", () =>
    Effect.gen(function*() {
      const run = yield* runScript(TestKit.scenarios.retryAfter(429, 42))
      assert.isTrue(Exit.isSuccess(run.exit))
      assert.deepStrictEqual(gaps(run), [5, 42, 10])
    }))

  it.effect("503 with Retry-After in seconds waits at least that long and keeps the interval", () =>
    Effect.gen(function*() {
      const run = yield* runScript(TestKit.scenarios.retryAfter(503, 33))
      assert.isTrue(Exit.isSuccess(run.exit))
      assert.deepStrictEqual(gaps(run), [5, 33, 5])
    }))

  it.effect("Retry-After as an HTTP date waits until that date", () =>
    Effect.gen(function*() {
      // The first poll is sent at t = 5 s; the date is 60 s after the epoch.
      const run = yield* runScript(TestKit.sequence([
        TestKit.text("", "text/plain", { status: 503, headers: { "retry-after": new Date(60_000).toUTCString() } }),
        TestKit.tokens()
      ]))
      assert.deepStrictEqual(run.polls.map((p) => p.sentAt), [5_000, 60_000])
    }))

  it.effect("transport failures back off exponentially, capped at 30 s, never below the interval", () =>
    Effect.gen(function*() {
      const run = yield* runScript(TestKit.scenarios.transportFailures(5))
      assert.isTrue(Exit.isSuccess(run.exit))
      assert.deepStrictEqual(gaps(run), [5, 10, 20, 30, 30, 30])
    }))

  it.effect("a usable answer resets the backoff", () =>
    Effect.gen(function*() {
      const run = yield* runScript(TestKit.sequence([
        TestKit.transportFailure(),
        TestKit.transportFailure(),
        TestKit.pending(),
        TestKit.transportFailure(),
        TestKit.tokens()
      ]))
      assert.deepStrictEqual(gaps(run), [5, 10, 20, 5, 10])
    }))

  it.effect("HTTP 5xx without an OAuth body is retried like a transport failure", () =>
    Effect.gen(function*() {
      const run = yield* runScript(TestKit.scenarios.serverErrors(2))
      assert.isTrue(Exit.isSuccess(run.exit))
      assert.deepStrictEqual(gaps(run), [5, 10, 20])
    }))

  it.effect("gives up with the transport error after maxConsecutiveFailures", () =>
    Effect.gen(function*() {
      const run = yield* runScript(TestKit.sequence([TestKit.transportFailure("ECONNREFUSED")]), {
        policy: { maxConsecutiveFailures: 4 }
      })
      const error = failure(run.exit)
      assert.strictEqual(error._tag, "TransportError")
      assert.include(error.message, "ECONNREFUSED")
      assert.strictEqual(run.polls.length, 4)
    }))

  it.effect("a request that gets no answer within requestTimeout is aborted and retried", () =>
    Effect.gen(function*() {
      const run = yield* runScript(TestKit.sequence([TestKit.hang, TestKit.tokens()]), {
        requestTimeout: "10 seconds"
      })
      assert.isTrue(Exit.isSuccess(run.exit))
      assert.deepStrictEqual(run.polls.map((p) => p.outcome), ["interrupted", "answered"])
      assert.deepStrictEqual(run.polls.map((p) => p.sentAt), [5_000, 25_000])
    }))
})

describe("DeviceFlow deadline", () => {
  it.effect("never polls at or after issue time + expires_in, and fails with DeviceCodeExpired(deadline)", () =>
    Effect.gen(function*() {
      const run = yield* runScript(TestKit.scenarios.neverApproved(62))
      const error = failure(run.exit)
      assert.strictEqual(error._tag, "DeviceCodeExpired")
      if (error._tag !== "DeviceCodeExpired") return
      assert.strictEqual(error.reason, "deadline")
      assert.strictEqual(error.expiredAt, 62_000)
      assert.strictEqual(run.polls.length, 12)
      assert.isTrue(run.polls.every((p) => p.sentAt < 62_000))
    }))

  it.effect("stops as soon as the next poll could not happen in time, not later", () =>
    Effect.gen(function*() {
      const started = yield* Effect.fork(Effect.provide(acquire(), TestKit.layer(TestKit.scenarios.neverApproved(62))))
      yield* TestClock.adjust("60 seconds")
      const exit = yield* Fiber.poll(started)
      assert.isTrue(Option.isSome(exit) && Exit.isFailure(exit.value))
    }))

  it.effect("the server's expired_token is a DeviceCodeExpired(expired_token), distinct from the client's deadline", () =>
    Effect.gen(function*() {
      const run = yield* runScript(TestKit.scenarios.serverExpiry(20))
      const error = failure(run.exit)
      assert.strictEqual(error._tag, "DeviceCodeExpired")
      if (error._tag !== "DeviceCodeExpired") return
      assert.strictEqual(error.reason, "expired_token")
      assert.deepStrictEqual(run.polls.map((p) => p.sentAt), [5_000, 10_000, 15_000, 20_000])
    }))

  it.effect("a code that expires before the first poll fails without polling", () =>
    Effect.gen(function*() {
      const run = yield* runScript(TestKit.sequence([TestKit.pending()], TestKit.deviceCode({ expires_in: 3 })))
      assert.strictEqual(failure(run.exit)._tag, "DeviceCodeExpired")
      assert.strictEqual(run.polls.length, 0)
    }))
})

describe("DeviceFlow errors", () => {
  it.effect("access_denied ends the flow with AccessDenied carrying the server's fields", () =>
    Effect.gen(function*() {
      const run = yield* runScript(TestKit.scenarios.denied())
      const error = failure(run.exit)
      assert.strictEqual(error._tag, "AccessDenied")
      if (error._tag !== "AccessDenied") return
      assert.strictEqual(error.error, "access_denied")
      assert.strictEqual(error.errorDescription, "The user denied the request")
      assert.strictEqual(error.status, 400)
      assert.strictEqual(error.endpoint, TestKit.TOKEN_ENDPOINT)
      assert.strictEqual(run.polls.length, 2)
    }))

  for (const code of ["invalid_grant", "invalid_client", "unauthorized_client", "incorrect_device_code"]) {
    it.effect(`${code} ends the flow with an OAuthError keeping what the server said`, () =>
      Effect.gen(function*() {
        const run = yield* runScript(TestKit.sequence([
          TestKit.oauthError(code, {
            status: 401,
            fields: {
              error_description: "AADSTS70000: details",
              error_uri: "https://errors.example/x",
              error_codes: [70000],
              trace_id: "t-1",
              correlation_id: "c-1"
            }
          })
        ]))
        const error = failure(run.exit)
        assert.strictEqual(error._tag, "OAuthError")
        if (error._tag !== "OAuthError") return
        assert.deepStrictEqual(
          [
            error.error,
            error.errorDescription,
            error.errorUri,
            error.errorCodes,
            error.traceId,
            error.correlationId,
            error.status
          ],
          [code, "AADSTS70000: details", "https://errors.example/x", [70000], "t-1", "c-1", 401]
        )
      }))
  }

  it.effect("a server that echoes the device code in its error text does not leak it", () =>
    Effect.gen(function*() {
      const run = yield* runScript(TestKit.sequence([
        TestKit.oauthError("invalid_grant", { fields: { error_description: `bad code ${TestKit.secrets.deviceCode}` } })
      ]))
      const error = failure(run.exit)
      assert.notInclude(error.message, TestKit.secrets.deviceCode)
      assert.notInclude(JSON.stringify(error), TestKit.secrets.deviceCode)
    }))

  it.effect("an error at the device authorization endpoint, even with HTTP 200, is an OAuthError with its remediation", () =>
    Effect.gen(function*() {
      const run = yield* runScript(TestKit.sequence(
        [TestKit.tokens()],
        TestKit.oauthError("invalid_request", {
          status: 200,
          fields: {
            error_description: "AADSTS90133: Device Code flow is not supported under /common or /consumers endpoint."
          }
        })
      ))
      const error = failure(run.exit)
      assert.strictEqual(error._tag, "OAuthError")
      assert.include(error.message, "use a tenanted authority")
      assert.strictEqual(run.polls.length, 0)
    }))

  it.effect("a malformed success answer is an InvalidResponse naming the field", () =>
    Effect.gen(function*() {
      const { exit } = yield* runScript(TestKit.sequence([TestKit.json({ token_type: "Bearer" })]))
      const error = failure(exit)
      assert.strictEqual(error._tag, "InvalidResponse")
      if (error._tag !== "InvalidResponse") return
      assert.strictEqual(error.field, "access_token")
    }))

  it.effect("the device authorization request is retried twice on transport failure, then fails", () =>
    Effect.gen(function*() {
      const exit = yield* runVirtual(acquire())
      const requests = yield* Effect.flatMap(TestKit.FakeServer, (s) => s.requests)
      assert.strictEqual(failure(exit)._tag, "TransportError")
      assert.deepStrictEqual(requests.map((r) => r.sentAt), [0, 1_000, 3_000])
    }).pipe(
      Effect.provide(TestKit.layer({
        deviceAuthorization: () => TestKit.transportFailure(),
        token: () => TestKit.tokens()
      }))
    ))

  it.effect("the device authorization request waits for the server's Retry-After before trying again", () => {
    const busy = (seconds: number) =>
      TestKit.text("", "text/plain", { status: 429, headers: { "retry-after": String(seconds) } })
    const answers = [busy(7), busy(3)]
    return Effect.gen(function*() {
      const exit = yield* runVirtual(acquire())
      const requests = yield* Effect.flatMap(TestKit.FakeServer, (s) => s.requests)
      assert.isTrue(Exit.isSuccess(exit))
      // Retry-After 7 s (over the 1 s backoff), then Retry-After 3 s (over the 2 s backoff)
      assert.deepStrictEqual(requests.filter((r) => r.endpoint === "deviceAuthorization").map((r) => r.sentAt), [
        0,
        7_000,
        10_000
      ])
    }).pipe(Effect.provide(TestKit.layer({
      deviceAuthorization: ({ attempt }) => answers[attempt] ?? TestKit.deviceCode(),
      token: () => TestKit.tokens()
    })))
  })

  it.effect("the device authorization request follows the polls' rule on what is retryable: server_error is asked again, access_denied is not", () => {
    const answers = [
      TestKit.oauthError("server_error", { status: 500 }),
      TestKit.oauthError("temporarily_unavailable", { status: 400 })
    ]
    return Effect.gen(function*() {
      const exit = yield* runVirtual(acquire())
      const requests = yield* Effect.flatMap(TestKit.FakeServer, (s) => s.requests)
      assert.isTrue(Exit.isSuccess(exit))
      assert.deepStrictEqual(requests.filter((r) => r.endpoint === "deviceAuthorization").map((r) => r.sentAt), [
        0,
        1_000,
        3_000
      ])
      const [denied, sent] = yield* Effect.zip(
        runVirtual(acquire()),
        Effect.flatMap(TestKit.FakeServer, (s) => s.requests)
      ).pipe(
        Effect.provide(
          TestKit.layer({
            deviceAuthorization: () => TestKit.oauthError("access_denied", { status: 500 }),
            token: () => TestKit.tokens()
          })
        )
      )
      const error = failure(denied)
      assert.isTrue(error._tag === "OAuthError" && error.error === "access_denied")
      assert.strictEqual(sent.length, 1)
    }).pipe(Effect.provide(TestKit.layer({
      deviceAuthorization: ({ attempt }) => answers[attempt] ?? TestKit.deviceCode(),
      token: () => TestKit.tokens()
    })))
  })

  it.effect("a Retry-After over a minute at the device authorization endpoint fails at once", () =>
    Effect.gen(function*() {
      const exit = yield* runVirtual(acquire())
      const requests = yield* Effect.flatMap(TestKit.FakeServer, (s) => s.requests)
      const error = failure(exit)
      assert.strictEqual(error._tag, "TransportError")
      assert.isTrue(error._tag === "TransportError" && error.status === 503 && error.retryAfterMs === 3_600_000)
      assert.strictEqual(requests.length, 1)
    }).pipe(Effect.provide(TestKit.layer({
      deviceAuthorization: () => TestKit.text("", "text/plain", { status: 503, headers: { "retry-after": "3600" } }),
      token: () => TestKit.tokens()
    }))))
})

describe("DeviceFlow interruption", () => {
  it.effect("interrupting during the sleep stops at once and sends nothing more", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.fork(acquire())
      yield* TestClock.adjust("7 seconds") // first poll at 5 s answered pending; sleeping until 10 s
      yield* Fiber.interrupt(fiber)
      const before = (yield* Effect.flatMap(TestKit.FakeServer, (s) => s.polls)).length
      yield* TestClock.adjust("10 minutes")
      const polls = yield* Effect.flatMap(TestKit.FakeServer, (s) => s.polls)
      assert.strictEqual(before, 1)
      assert.strictEqual(polls.length, 1)
      assert.isTrue(Exit.isInterrupted(yield* Fiber.await(fiber)))
    }).pipe(Effect.provide(TestKit.layer(TestKit.scenarios.pendingThenSuccess(10)))))

  it.effect("interrupting during an in-flight request aborts the request and sends nothing more", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.fork(acquire())
      yield* TestClock.adjust("6 seconds") // the first poll was sent at 5 s and is still waiting for its answer
      const inFlight = yield* Effect.flatMap(TestKit.FakeServer, (s) => s.polls)
      assert.deepStrictEqual(inFlight.map((p) => p.outcome), ["in-flight"])
      yield* Fiber.interrupt(fiber)
      const after = yield* Effect.flatMap(TestKit.FakeServer, (s) => s.polls)
      assert.deepStrictEqual(after.map((p) => [p.outcome, p.endedAt]), [["interrupted", 6_000]])
      yield* TestClock.adjust("10 minutes")
      assert.strictEqual((yield* Effect.flatMap(TestKit.FakeServer, (s) => s.polls)).length, 1)
    }).pipe(Effect.provide(TestKit.layer(TestKit.sequence([TestKit.pending({ delay: "1 minute" })])))))

  it.effect("a caller's timeout interrupts the flow like Ctrl-C", () =>
    Effect.gen(function*() {
      const exit = yield* runVirtual(Effect.timeout(acquire(), "12 seconds"))
      assert.isTrue(
        Exit.isFailure(exit) && Cause.isFailType(exit.cause) && exit.cause.error._tag === "TimeoutException"
      )
      const polls = yield* Effect.flatMap(TestKit.FakeServer, (s) => s.polls)
      assert.deepStrictEqual(polls.map((p) => p.sentAt), [5_000, 10_000])
    }).pipe(Effect.provide(TestKit.layer(TestKit.scenarios.pendingThenSuccess(100)))))
})

describe("DeviceFlow results and events", () => {
  it.effect("onCode receives everything the user and the caller need (MSAL's DeviceCodeResult)", () =>
    Effect.gen(function*() {
      const prompt = yield* TestKit.recordingPrompt
      const exit = yield* runVirtual(acquire({ onCode: prompt.onCode }))
      assert.isTrue(Exit.isSuccess(exit))
      const shown = yield* prompt.shown
      assert.strictEqual(shown.length, 1)
      const code = shown[0]!
      assert.strictEqual(code.userCode, "WDJB-MJHT")
      assert.strictEqual(code.verificationUri, `${TestKit.ISSUER}/device`)
      assert.strictEqual(code.verificationUriComplete, `${TestKit.ISSUER}/device?user_code=WDJB-MJHT`)
      assert.strictEqual(DateTime.toEpochMillis(code.expiresOn) - DateTime.toEpochMillis(code.issuedAt), 900_000)
      assert.strictEqual(Duration.toSeconds(code.interval), 5)
      assert.include(code.message, "WDJB-MJHT")
      assert.include(code.message, `${TestKit.ISSUER}/device`)
      assert.strictEqual(code.clientId, TestKit.CLIENT_ID)
      assert.deepStrictEqual(code.scopes, ["openid", "profile", "offline_access"])
      assert.strictEqual(Redacted.value(code.deviceCode), TestKit.secrets.deviceCode)
      assert.notInclude(JSON.stringify(code), TestKit.secrets.deviceCode)
    }).pipe(Effect.provide(TestKit.layer(TestKit.scenarios.pendingThenSuccess(1)))))

  it.effect("the result carries the tokens (redacted), absolute expiry, granted scopes and id token claims", () =>
    Effect.gen(function*() {
      const exit = yield* runVirtual(acquire())
      assert.isTrue(Exit.isSuccess(exit))
      if (!Exit.isSuccess(exit)) return
      const result = exit.value
      assert.strictEqual(Redacted.value(result.accessToken), TestKit.secrets.accessToken)
      assert.strictEqual(result.tokenType, "Bearer")
      // expires_in counts from when the successful poll was sent (t = 10 s)
      assert.deepStrictEqual(Option.map(result.expiresOn, DateTime.toEpochMillis), Option.some(10_000 + 3_600_000))
      assert.deepStrictEqual(result.scopes, ["openid", "profile", "offline_access"])
      assert.strictEqual(
        Option.map(result.refreshToken, Redacted.value).pipe(Option.getOrThrow),
        TestKit.secrets.refreshToken
      )
      assert.strictEqual(Option.getOrThrow(result.idTokenClaims).sub, TestKit.secrets.idTokenSubject)
      assert.notInclude(JSON.stringify(result), TestKit.secrets.accessToken)
      assert.notInclude(JSON.stringify(result), TestKit.secrets.refreshToken)
    }).pipe(Effect.provide(TestKit.layer(TestKit.scenarios.pendingThenSuccess(1)))))

  const refused: ReadonlyArray<readonly [string, DeviceAuthorization.DeviceCodeRequest, string]> = [
    [
      "a client_secret in extraTokenParams",
      { extraTokenParams: { client_secret: "x" } },
      "extraTokenParams.client_secret"
    ],
    ["a device_code in extraTokenParams", { extraTokenParams: { device_code: "x" } }, "extraTokenParams.device_code"],
    [
      "a grant_type in extraTokenParams",
      { extraTokenParams: { grant_type: "password" } },
      "extraTokenParams.grant_type"
    ],
    ["a client_id in extraParams", { extraParams: { client_id: "other" } }, "extraParams.client_id"],
    ["a control character in an extraParams name", { extraParams: { "a\r\nb": "x" } }, "extraParams"],
    ["a value that is not a string", { extraTokenParams: { n: 1 as unknown as string } }, "extraTokenParams.n"]
  ]
  for (const [what, request, field] of refused) {
    it.effect(`per-request parameters are checked as ClientConfig's are: ${what} is InvalidConfiguration(${field}), nothing sent`, () =>
      Effect.gen(function*() {
        const config = yield* TestKit.config()
        const error = failure(yield* runVirtual(DeviceFlow.acquireToken(config, request, { onCode: () => {} })))
        assert.isTrue(error._tag === "InvalidConfiguration" && error.field === field, String(error))
        assert.strictEqual((yield* Effect.flatMap(TestKit.FakeServer, (s) => s.requests)).length, 0)
      }).pipe(Effect.provide(TestKit.layer(TestKit.scenarios.pendingThenSuccess(0)))))
  }

  it.effect("the token request is RFC 8628 §3.4: form-encoded, grant_type, device_code, client_id, extra params, Accept JSON", () =>
    Effect.gen(function*() {
      const config = yield* TestKit.config({ tokenParams: { resource: "api://x" } })
      const exit = yield* runVirtual(
        DeviceFlow.acquireToken(config, {
          scopes: ["api"],
          extraParams: { audience: "a" },
          extraTokenParams: { foo: "bar" }
        }, {
          onCode: () => {}
        })
      )
      assert.isTrue(Exit.isSuccess(exit))
      const [device, poll] = yield* Effect.flatMap(TestKit.FakeServer, (s) => s.requests)
      assert.deepStrictEqual(device!.params, { audience: "a", scope: "api", client_id: TestKit.CLIENT_ID })
      assert.deepStrictEqual(poll!.params, {
        resource: "api://x",
        foo: "bar",
        grant_type: "urn:ietf:params:oauth:grant-type:device_code",
        device_code: TestKit.secrets.deviceCode,
        client_id: TestKit.CLIENT_ID
      })
      assert.strictEqual(poll!.method, "POST")
      assert.strictEqual(poll!.headers["accept"], "application/json")
      assert.strictEqual(poll!.headers["content-type"], "application/x-www-form-urlencoded")
    }).pipe(Effect.provide(TestKit.layer(TestKit.scenarios.pendingThenSuccess(0)))))

  it.effect("a client secret goes in the body (client_secret_post) or the Basic header (client_secret_basic)", () =>
    Effect.gen(function*() {
      const post = yield* TestKit.config({ clientSecret: Redacted.make("s3cr3t") })
      yield* runVirtual(DeviceFlow.acquireToken(post, {}, { onCode: () => {} }))
      const basic = yield* TestKit.config({
        clientSecret: Redacted.make("s3cr3t"),
        clientAuthMethod: "client_secret_basic"
      })
      yield* runVirtual(DeviceFlow.acquireToken(basic, {}, { onCode: () => {} }))
      const requests = yield* Effect.flatMap(TestKit.FakeServer, (s) => s.requests)
      assert.strictEqual(requests[1]!.params.client_secret, "s3cr3t")
      assert.strictEqual(requests[3]!.params.client_secret, undefined)
      assert.strictEqual(requests[3]!.params.client_id, undefined)
      assert.strictEqual(requests[3]!.headers["authorization"], `Basic ${btoa(`${TestKit.CLIENT_ID}:s3cr3t`)}`)
    }).pipe(Effect.provide(TestKit.layer(TestKit.scenarios.pendingThenSuccess(0)))))

  it.effect("events: CodeIssued, then one event per poll, Succeeded last", () =>
    Effect.gen(function*() {
      const config = yield* TestKit.config()
      const exit = yield* runVirtual(Stream.runCollect(DeviceFlow.events(config)))
      assert.isTrue(Exit.isSuccess(exit))
      if (!Exit.isSuccess(exit)) return
      const events = Chunk.toReadonlyArray(exit.value)
      assert.deepStrictEqual(events.map((e) => e._tag), [
        "CodeIssued",
        "Pending",
        "SlowedDown",
        "Retrying",
        "Succeeded"
      ])
      const [, pending, slowed, retrying] = events
      assert.strictEqual(pending?._tag === "Pending" && DateTime.toEpochMillis(pending.nextPollAt), 10_000)
      assert.strictEqual(slowed?._tag === "SlowedDown" && Duration.toSeconds(slowed.interval), 10)
      assert.strictEqual(retrying?._tag === "Retrying" && retrying.consecutiveFailures, 1)
    }).pipe(Effect.provide(TestKit.layer(TestKit.sequence([
      TestKit.pending(),
      TestKit.slowDown(),
      TestKit.transportFailure(),
      TestKit.tokens()
    ])))))
})

describe("DeviceSession: resuming in another process", () => {
  it.effect("a session saved after a poll resumes polling the same code, never early, until approval", () =>
    Effect.gen(function*() {
      const config = yield* TestKit.config()
      // Process 1: runs until the first slow_down, saves the session, stops.
      const saved = yield* Effect.gen(function*() {
        const exit = yield* runVirtual(
          DeviceFlow.events(config).pipe(Stream.takeUntil((e) => e._tag === "SlowedDown"), Stream.runLast)
        )
        const last = Exit.isSuccess(exit) ? Option.getOrThrow(exit.value) : undefined
        assert.strictEqual(last?._tag, "SlowedDown")
        return last?._tag === "SlowedDown" ? DeviceSession.toJson(last.session) : ""
      }).pipe(
        Effect.provide(TestKit.layer(TestKit.sequence([TestKit.pending(), TestKit.slowDown(), TestKit.tokens()])))
      )
      assert.include(saved, TestKit.secrets.deviceCode) // the saved form must carry the code to be resumable
      yield* TestClock.adjust("2 seconds")

      // Process 2: a fresh server record, the same code.
      const session = yield* DeviceSession.fromJson(saved)
      assert.strictEqual(session.intervalMs, 10_000)
      const resumedAt = yield* TestClock.currentTimeMillis
      const exit = yield* runVirtual(DeviceFlow.resume(config, session))
      assert.isTrue(Exit.isSuccess(exit), String(exit))
      const polls = yield* Effect.flatMap(TestKit.FakeServer, (s) => s.polls)
      assert.strictEqual(polls[0]!.params.device_code, TestKit.secrets.deviceCode)
      assert.isTrue(polls[0]!.sentAt >= resumedAt + 10_000)
    }).pipe(Effect.provide(TestKit.layer(TestKit.scenarios.pendingThenSuccess(1)))))

  it.effect("unobservedPoll: a holder that may have polled unseen — the interval is raised 5 s, as after a slow_down, and kept", () =>
    Effect.gen(function*() {
      const config = yield* TestKit.config()
      const code = yield* Effect.flatMap(
        runVirtual(DeviceFlow.events(config).pipe(Stream.take(1), Stream.runHead)),
        (
          exit
        ) => (Exit.isSuccess(exit) && Option.isSome(exit.value) && exit.value.value._tag === "CodeIssued"
          ? Effect.succeed(exit.value.value.session)
          : Effect.dieMessage("no code"))
      )
      const resumedAt = yield* TestClock.currentTimeMillis
      const exit = yield* runVirtual(DeviceFlow.resume(config, code, { unobservedPoll: true }))
      assert.isTrue(Exit.isSuccess(exit), String(exit))
      const polls = yield* Effect.flatMap(TestKit.FakeServer, (s) => s.polls)
      // the code's interval is 5 s: resumed as 10 s, the first poll a full (raised) interval later, the next 10 s on
      assert.isTrue(polls.length >= 2)
      assert.isTrue(polls[0]!.sentAt >= resumedAt + 10_000, `first poll after ${polls[0]!.sentAt - resumedAt} ms`)
      assert.isTrue(polls[1]!.sentAt - polls[0]!.sentAt >= 10_000)
    }).pipe(Effect.provide(TestKit.layer(TestKit.scenarios.pendingThenSuccess(2)))))

  it.effect("a saved session is server text too: a user code or address with a control is refused on reading it back", () =>
    Effect.gen(function*() {
      const saved = {
        version: 1,
        clientId: "c",
        tokenEndpoint: "https://x/token",
        deviceCode: "dc",
        userCode: "WDJB-MJHT",
        verificationUri: "HTTPS://X/device",
        issuedAt: 0,
        expiresOn: 60_000,
        intervalMs: 5_000,
        nextPollAt: 5_000,
        scopes: [],
        tokenParams: {}
      }
      // the address is carried as its href, like a freshly decoded one
      assert.strictEqual((yield* DeviceSession.fromJson(JSON.stringify(saved))).verificationUri, "https://x/device")
      for (
        const [field, value] of [
          ["userCode", "WDJB-MJHT\x1b]52;c;ZXZpbA==\x07"],
          ["verificationUri", "\x1b[2K\r  To sign in, open https://evil.example/device"],
          ["verificationUriComplete", "https://x/device?user_code=\u009b2K"]
        ] as const
      ) {
        const error = yield* Effect.flip(DeviceSession.fromJson(JSON.stringify({ ...saved, [field]: value })))
        assert.strictEqual(error.field, `session.${field}`)
        assert.notInclude(error.message, "evil")
      }
    }))

  it.effect("resuming an expired session fails with DeviceCodeExpired(deadline) without a request", () =>
    Effect.gen(function*() {
      const config = yield* TestKit.config()
      const session = new DeviceSession.DeviceSession({
        version: 1,
        clientId: config.clientId,
        tokenEndpoint: config.endpoints.token,
        deviceCode: Redacted.make("dc"),
        userCode: "U",
        verificationUri: "https://x/device",
        issuedAt: 0,
        expiresOn: 60_000,
        intervalMs: 5_000,
        nextPollAt: 5_000,
        scopes: [],
        tokenParams: {}
      })
      yield* TestClock.adjust("58 seconds")
      const exit = yield* runVirtual(DeviceFlow.resume(config, session))
      assert.strictEqual(failure(exit)._tag, "DeviceCodeExpired")
      assert.strictEqual((yield* Effect.flatMap(TestKit.FakeServer, (s) => s.polls)).length, 0)
    }).pipe(Effect.provide(TestKit.layer(TestKit.scenarios.pendingThenSuccess(0)))))

  it.effect("a session for another client or server is refused", () =>
    Effect.gen(function*() {
      const config = yield* TestKit.config()
      const other = yield* TestKit.config({ clientId: "other" })
      const session = new DeviceSession.DeviceSession({
        version: 1,
        clientId: other.clientId,
        tokenEndpoint: config.endpoints.token,
        deviceCode: Redacted.make("dc"),
        userCode: "U",
        verificationUri: "https://x/device",
        issuedAt: 0,
        expiresOn: 600_000,
        intervalMs: 5_000,
        nextPollAt: 5_000,
        scopes: [],
        tokenParams: {}
      })
      const exit = yield* runVirtual(DeviceFlow.resume(config, session))
      assert.strictEqual(failure(exit)._tag, "InvalidConfiguration")
    }).pipe(Effect.provide(TestKit.layer(TestKit.scenarios.pendingThenSuccess(0)))))

  it.effect("a corrupt saved session is a typed InvalidConfiguration", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(DeviceSession.fromJson("{\"version\":1"))
      assert.strictEqual(failure(exit)._tag, "InvalidConfiguration")
    }))
})

describe("DeviceFlow: servers that are down but answer in OAuth words", () => {
  it.effect("server_error, temporarily_unavailable and a gateway's own word with HTTP 5xx are retried with backoff", () =>
    Effect.gen(function*() {
      const config = yield* TestKit.config()
      const exit = yield* runVirtual(DeviceFlow.acquireToken(config, {}, { onCode: () => {} }))
      assert.isTrue(Exit.isSuccess(exit))
      const polls = yield* Effect.flatMap(TestKit.FakeServer, (s) => s.polls)
      assert.deepStrictEqual(polls.map((p) => p.sentAt), [5_000, 15_000, 35_000, 65_000])
    }).pipe(Effect.provide(TestKit.layer(TestKit.sequence([
      TestKit.oauthError("server_error", { status: 500 }),
      TestKit.oauthError("temporarily_unavailable", { status: 400 }),
      TestKit.oauthError("upstream_unavailable", { status: 503 }),
      TestKit.tokens()
    ])))))

  it.effect("and when the failure budget is spent, the server's own error is kept", () =>
    Effect.gen(function*() {
      const config = yield* TestKit.config()
      const exit = yield* runVirtual(
        DeviceFlow.acquireToken(config, {}, { onCode: () => {}, policy: { maxConsecutiveFailures: 2 } })
      )
      const error = failure(exit)
      assert.isTrue(error._tag === "OAuthError" && error.error === "temporarily_unavailable")
    }).pipe(
      Effect.provide(TestKit.layer(TestKit.sequence([TestKit.oauthError("temporarily_unavailable", { status: 503 })])))
    ))
})

describe("DeviceFlow.acquireToken onEvent", () => {
  it.effect("sees every event in order, CodeIssued after onCode", () =>
    Effect.gen(function*() {
      const config = yield* TestKit.config()
      const seen: Array<string> = []
      const exit = yield* runVirtual(DeviceFlow.acquireToken(config, {}, {
        onCode: () => {
          seen.push("onCode")
        },
        onEvent: (event) => Effect.sync(() => seen.push(event._tag))
      }))
      assert.isTrue(Exit.isSuccess(exit))
      assert.deepStrictEqual(seen, ["onCode", "CodeIssued", "Pending", "SlowedDown", "Succeeded"])
    }).pipe(Effect.provide(TestKit.layer(TestKit.sequence([TestKit.pending(), TestKit.slowDown(), TestKit.tokens()])))))
})
