import { assert, describe, it } from "@effect/vitest"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import { runVirtual, success } from "../test/virtual.js"
import type { ClientConfigInput } from "./ClientConfig.js"
import * as DeviceAuthorization from "./DeviceAuthorization.js"
import * as DeviceTokenRequest from "./DeviceTokenRequest.js"
import * as Dpop from "./Dpop.js"
import * as TestKit from "./TestKit.js"

const SENT_AT = DateTime.unsafeMake(1_700_000_000_000)

const POLL: DeviceTokenRequest.Poll = {
  tokenEndpoint: TestKit.TOKEN_ENDPOINT,
  deviceCode: Redacted.make(TestKit.secrets.deviceCode),
  tokenParams: { resource: "https://api.devflow.test" },
  scopes: ["openid", "profile"]
}

/** One poll through the pair against a token endpoint answering `reply`: what the server saw and what `process` made of it. */
const pollOnce = (reply: TestKit.Reply, input: Partial<ClientConfigInput> = {}) =>
  Effect.gen(function*() {
    const config = yield* TestKit.config(input)
    const exit = yield* runVirtual(DeviceTokenRequest.request(config, POLL))
    const answer = success(exit)
    const polls = yield* Effect.flatMap(TestKit.FakeServer, (s) => s.polls)
    return { polls, result: DeviceTokenRequest.process(config, POLL, SENT_AT, answer) }
  }).pipe(Effect.provide(TestKit.layer(TestKit.sequence([reply]))))

const left = <A, E>(result: Either.Either<A, E>): E => {
  if (Either.isRight(result)) assert.fail("expected an error, got a result")
  return (result as Either.Left<E, A>).left
}

describe("DeviceTokenRequest.request: one poll (RFC 8628 §3.4)", () => {
  it.effect("POSTs the device_code grant, the device code, the client's id and the token parameters", () =>
    Effect.gen(function*() {
      const { polls } = yield* pollOnce(TestKit.pending())
      assert.strictEqual(polls.length, 1)
      assert.strictEqual(polls[0]!.method, "POST")
      assert.deepStrictEqual(polls[0]!.params, {
        resource: "https://api.devflow.test",
        grant_type: DeviceAuthorization.GRANT_TYPE,
        device_code: TestKit.secrets.deviceCode,
        client_id: TestKit.CLIENT_ID
      })
    }))

  it.effect("the token parameters cannot replace the grant or the device code", () =>
    Effect.gen(function*() {
      const config = yield* TestKit.config()
      yield* runVirtual(
        DeviceTokenRequest.request(config, { ...POLL, tokenParams: { grant_type: "password", device_code: "other" } })
      )
      const [poll] = yield* Effect.flatMap(TestKit.FakeServer, (s) => s.polls)
      assert.strictEqual(poll!.params.grant_type, DeviceAuthorization.GRANT_TYPE)
      assert.strictEqual(poll!.params.device_code, TestKit.secrets.deviceCode)
    }).pipe(Effect.provide(TestKit.layer(TestKit.sequence([TestKit.pending()])))))

  it.effect("with DPoP, a server's nonce demand is retried inside the one request: one answer, two proofs of one key", () =>
    Effect.gen(function*() {
      const key = yield* Dpop.generateKeyPair()
      const { polls, result } = yield* Effect.gen(function*() {
        const config = yield* TestKit.config({ dpop: true })
        const answer = success(yield* runVirtual(DeviceTokenRequest.request(config, POLL)))
        return {
          polls: yield* Effect.flatMap(TestKit.FakeServer, (s) => s.polls),
          result: DeviceTokenRequest.process(config, POLL, SENT_AT, answer)
        }
      }).pipe(
        Effect.provide(
          Layer.merge(
            TestKit.layer(TestKit.sequence([TestKit.tokens()]), { dpop: { requireNonce: true } }),
            Dpop.layerKey(key)
          )
        )
      )
      // RFC 9449 §8: the first proof lacks the nonce and is refused; the retry carries it
      assert.strictEqual(polls.length, 2)
      assert.isTrue(polls[0]!.dpop !== undefined && "refused" in polls[0]!.dpop)
      assert.deepStrictEqual(polls[1]!.dpop, { jkt: key.thumbprint })
      assert.notStrictEqual(polls[0]!.headers.dpop, polls[1]!.headers.dpop)
      assert.isTrue(Either.isRight(result))
      if (Either.isRight(result)) assert.strictEqual(result.right.tokenType, "DPoP")
    }))
})

describe("DeviceTokenRequest.process: the answer of one poll (RFC 8628 §3.5)", () => {
  it.effect("a success is the tokens, their expiry counted from when the request was sent", () =>
    Effect.gen(function*() {
      const { result } = yield* pollOnce(TestKit.tokens({ expires_in: 600, scope: undefined }))
      assert.isTrue(Either.isRight(result))
      if (Either.isLeft(result)) return
      assert.strictEqual(Redacted.value(result.right.accessToken), TestKit.secrets.accessToken)
      assert.deepStrictEqual(
        Option.map(result.right.expiresOn, DateTime.toEpochMillis),
        Option.some(DateTime.toEpochMillis(SENT_AT) + 600_000)
      )
      // RFC 6749 §5.1: no scope in the answer means the requested ones were granted
      assert.deepStrictEqual(result.right.scopes, ["openid", "profile"])
    }))

  it.effect("authorization_pending and slow_down are OAuthErrors: what they mean for the next poll is PollSchedule's", () =>
    Effect.gen(function*() {
      for (const reply of [TestKit.pending(), TestKit.slowDown({ interval: 10 })]) {
        const error = left((yield* pollOnce(reply)).result)
        assert.strictEqual(error._tag, "OAuthError")
        if (error._tag === "OAuthError") assert.include(["authorization_pending", "slow_down"], error.error)
      }
    }))

  it.effect("HTTP 503 without an OAuth error is a TransportError carrying Retry-After in ms", () =>
    Effect.gen(function*() {
      const error = left(
        (yield* pollOnce(TestKit.text("busy", "text/plain", { status: 503, headers: { "retry-after": "30" } }))).result
      )
      assert.strictEqual(error._tag, "TransportError")
      if (error._tag === "TransportError") {
        assert.strictEqual(error.status, 503)
        assert.strictEqual(error.retryAfterMs, 30_000)
      }
    }))

  it.effect("a success without an access token is an InvalidResponse naming the field", () =>
    Effect.gen(function*() {
      const error = left((yield* pollOnce(TestKit.tokens({ access_token: undefined }))).result)
      assert.strictEqual(error._tag, "InvalidResponse")
      if (error._tag === "InvalidResponse") assert.strictEqual(error.field, "access_token")
    }))
})
