import { assert, describe, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import { failure, runVirtual } from "../test/virtual.js"
import * as DeviceFlow from "./DeviceFlow.js"
import * as TestKit from "./TestKit.js"

/** Every scenario, end to end through DeviceFlow, in virtual time. */
const run = (script: TestKit.Script) =>
  Effect.gen(function*() {
    const config = yield* TestKit.config()
    const prompt = yield* TestKit.recordingPrompt
    const exit = yield* runVirtual(DeviceFlow.acquireToken(config, {}, { onCode: prompt.onCode }))
    const requests = yield* Effect.flatMap(TestKit.FakeServer, (s) => s.requests)
    return {
      exit,
      code: (yield* prompt.shown)[0],
      polls: requests.filter((r) => r.endpoint === "token"),
      requests
    }
  }).pipe(Effect.provide(TestKit.layer(script)))

const succeeded = <A, E>(exit: Exit.Exit<A, E>): A => {
  if (Exit.isFailure(exit)) throw new Error(`expected success, got ${String(exit)}`)
  return exit.value
}

describe("TestKit scenarios through DeviceFlow", () => {
  it.effect("pending ×N then success", () =>
    Effect.gen(function*() {
      const r = yield* run(TestKit.scenarios.pendingThenSuccess(4))
      succeeded(r.exit)
      assert.strictEqual(r.polls.length, 5)
    }))

  it.effect("slow_down without a new interval", () =>
    Effect.gen(function*() {
      const r = yield* run(TestKit.scenarios.slowDown())
      succeeded(r.exit)
      assert.deepStrictEqual(r.polls.map((p) => p.sentAt), [5_000, 10_000, 20_000, 30_000])
    }))

  it.effect("slow_down with a new interval", () =>
    Effect.gen(function*() {
      const r = yield* run(TestKit.scenarios.slowDown({ interval: 25 }))
      succeeded(r.exit)
      assert.deepStrictEqual(r.polls.map((p) => p.sentAt), [5_000, 10_000, 35_000, 60_000])
    }))

  it.effect("GitHub: errors as HTTP 200, slow_down with the new interval, no expiry or refresh token", () =>
    Effect.gen(function*() {
      const r = yield* run(TestKit.scenarios.githubHttp200())
      const result = succeeded(r.exit)
      assert.deepStrictEqual(r.polls.map((p) => p.sentAt), [5_000, 10_000, 20_000, 30_000])
      assert.strictEqual(result.tokenType, "bearer")
      assert.deepStrictEqual(result.scopes, ["repo,gist"])
      assert.isTrue(Option.isNone(result.expiresOn))
      assert.isTrue(Option.isNone(result.refreshToken))
      assert.strictEqual(r.code?.verificationUriComplete, undefined)
    }))

  it.effect("GitHub without Accept JSON: form-encoded code, error and token bodies", () =>
    Effect.gen(function*() {
      const r = yield* run(TestKit.scenarios.githubForm())
      const result = succeeded(r.exit)
      assert.strictEqual(r.code?.userCode, "WDJB-MJHT")
      assert.strictEqual(Duration.toSeconds(r.code!.interval), 5)
      assert.strictEqual(Redacted.value(result.accessToken), TestKit.secrets.accessToken)
      assert.strictEqual(r.polls.length, 2)
    }))

  it.effect("Google: pending as 428, slow_down as 403, verification_url", () =>
    Effect.gen(function*() {
      const r = yield* run(TestKit.scenarios.google())
      succeeded(r.exit)
      assert.strictEqual(r.code?.verificationUri, "https://www.google.com/device")
      assert.deepStrictEqual(r.polls.map((p) => p.status), [428, 403, 428, 200])
      assert.deepStrictEqual(r.polls.map((p) => p.sentAt), [5_000, 10_000, 20_000, 30_000])
    }))

  it.effect("Auth0: pending as 403, slow_down as 429", () =>
    Effect.gen(function*() {
      const r = yield* run(TestKit.scenarios.auth0())
      succeeded(r.exit)
      assert.deepStrictEqual(r.polls.map((p) => p.status), [403, 429, 403, 200])
      assert.deepStrictEqual(r.polls.map((p) => p.sentAt), [5_000, 10_000, 20_000, 30_000])
    }))

  it.effect("Entra v1: numbers as strings, verification_url, the server's message passed through", () =>
    Effect.gen(function*() {
      const r = yield* run(TestKit.scenarios.entraV1())
      const result = succeeded(r.exit)
      assert.strictEqual(r.code?.verificationUri, "https://microsoft.com/devicelogin")
      assert.include(r.code?.message ?? "", "https://microsoft.com/devicelogin and enter the code WDJB-MJHT")
      assert.strictEqual(Duration.toSeconds(r.code!.interval), 5)
      assert.isTrue(Option.isSome(result.expiresOn))
    }))

  it.effect("429 with Retry-After", () =>
    Effect.gen(function*() {
      const r = yield* run(TestKit.scenarios.retryAfter(429, 30))
      succeeded(r.exit)
      assert.deepStrictEqual(r.polls.map((p) => p.sentAt), [5_000, 35_000, 45_000])
    }))

  it.effect("503 with Retry-After", () =>
    Effect.gen(function*() {
      const r = yield* run(TestKit.scenarios.retryAfter(503, 30))
      succeeded(r.exit)
      assert.deepStrictEqual(r.polls.map((p) => p.sentAt), [5_000, 35_000, 40_000])
    }))

  it.effect("5xx without an OAuth body", () =>
    Effect.gen(function*() {
      const r = yield* run(TestKit.scenarios.serverErrors(3, 500))
      succeeded(r.exit)
      assert.deepStrictEqual(r.polls.map((p) => p.status), [500, 500, 500, 200])
    }))

  it.effect("transport failure", () =>
    Effect.gen(function*() {
      const r = yield* run(TestKit.scenarios.transportFailures(2))
      succeeded(r.exit)
      assert.deepStrictEqual(r.polls.map((p) => p.outcome), ["failed", "failed", "answered"])
    }))

  it.effect("denial", () =>
    Effect.gen(function*() {
      const r = yield* run(TestKit.scenarios.denied())
      assert.strictEqual(failure(r.exit)._tag, "AccessDenied")
    }))

  it.effect("server-side expiry", () =>
    Effect.gen(function*() {
      const r = yield* run(TestKit.scenarios.serverExpiry(30))
      const error = failure(r.exit)
      assert.isTrue(error._tag === "DeviceCodeExpired" && error.reason === "expired_token")
    }))

  it.effect("never approved: the client's deadline", () =>
    Effect.gen(function*() {
      const r = yield* run(TestKit.scenarios.neverApproved(30))
      const error = failure(r.exit)
      assert.isTrue(error._tag === "DeviceCodeExpired" && error.reason === "deadline")
      assert.strictEqual(r.polls.length, 5)
    }))
})

describe("TestKit records", () => {
  it.effect("every request with its send and end time, params, headers and outcome", () =>
    Effect.gen(function*() {
      const r = yield* run(TestKit.sequence([TestKit.pending({ delay: "2 seconds" }), TestKit.tokens()]))
      succeeded(r.exit)
      assert.deepStrictEqual(
        r.requests.map((q) => [q.endpoint, q.method, q.sentAt, q.endedAt, q.outcome, q.status]),
        [
          ["deviceAuthorization", "POST", 0, 0, "answered", 200],
          ["token", "POST", 5_000, 7_000, "answered", 400],
          ["token", "POST", 12_000, 12_000, "answered", 200]
        ]
      )
      assert.strictEqual(r.requests[1]!.params.grant_type, "urn:ietf:params:oauth:grant-type:device_code")
    }))

  it.effect("a reply with a no-body status (204, 205, 304) is answered without its body, never a defect", () =>
    Effect.gen(function*() {
      for (const status of [204, 205, 304]) {
        const r = yield* run(TestKit.sequence([TestKit.text("ignored", "text/plain", { status })]))
        const error = failure(r.exit)
        assert.strictEqual(error._tag, "InvalidResponse")
        assert.strictEqual(r.polls[0]!.status, status)
      }
    }))

  it.effect("idToken builds a JWT whose claims DeviceFlow reads back", () =>
    Effect.gen(function*() {
      const r = yield* run(
        TestKit.sequence([
          TestKit.tokens({
            id_token: TestKit.idToken({ iss: "https://i", sub: "s", aud: TestKit.CLIENT_ID, tid: "t" })
          })
        ])
      )
      const result = succeeded(r.exit)
      assert.deepStrictEqual(Option.getOrThrow(result.idTokenClaims), {
        iss: "https://i",
        sub: "s",
        aud: TestKit.CLIENT_ID,
        tid: "t"
      })
    }))
})
