import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import { runVirtual, success } from "../test/virtual.js"
import type { ClientConfigInput } from "./ClientConfig.js"
import * as DeviceFlow from "./DeviceFlow.js"
import * as Dpop from "./Dpop.js"
import { refresh } from "./internal/refresh.js"
import * as TestKit from "./TestKit.js"

/** A sign-in through DeviceFlow against the fake server, in virtual time, with one fixed key. */
const signIn = (
  script: TestKit.Script,
  dpop: ClientConfigInput["dpop"],
  server: TestKit.LayerOptions["dpop"],
  key?: Dpop.KeyPair
) =>
  Effect.gen(function*() {
    const k = key ?? (yield* Dpop.generateKeyPair())
    return yield* Effect.gen(function*() {
      const config = yield* TestKit.config({ dpop })
      const exit = yield* runVirtual(DeviceFlow.acquireToken(config, {}, { onCode: () => Effect.void }))
      const polls = yield* Effect.flatMap(TestKit.FakeServer, (s) => s.polls)
      return { config, exit, polls, key: k }
    }).pipe(Effect.provide(Layer.merge(TestKit.layer(script, { dpop: server }), Dpop.layerKey(k))))
  })

describe("the device flow with DPoP (RFC 9449 §5)", () => {
  it.effect("every poll carries a fresh proof of the one key, and the tokens are recorded as DPoP", () =>
    Effect.gen(function*() {
      const r = yield* signIn(TestKit.scenarios.pendingThenSuccess(3), true, {})
      assert.strictEqual(success(r.exit).tokenType, "DPoP")
      assert.deepStrictEqual(r.polls.map((p) => p.dpop), Array.from({ length: 4 }, () => ({ jkt: r.key.thumbprint })))
      assert.strictEqual(new Set(r.polls.map((p) => p.headers.dpop)).size, 4)
    }))

  it.effect("a nonce demand is retried at once, is not a poll, and leaves the polling times as without DPoP", () =>
    Effect.gen(function*() {
      const plain = yield* signIn(TestKit.scenarios.slowDown(), undefined, undefined)
      const r = yield* signIn(TestKit.scenarios.slowDown(), true, { requireNonce: true })
      assert.strictEqual(success(r.exit).tokenType, "DPoP")
      // RFC 9449 §8: the server's first answer asks for its nonce; the nonce is kept for every later poll
      assert.deepStrictEqual(r.polls.filter((p) => "refused" in (p.dpop ?? {})).length, 1)
      assert.strictEqual(r.polls[1]!.sentAt, r.polls[0]!.endedAt)
      const answered = r.polls.filter((p) => p.dpop !== undefined && "jkt" in p.dpop)
      const times = (polls: ReadonlyArray<TestKit.RecordedRequest>, from: number) => polls.map((p) => p.sentAt - from)
      assert.deepStrictEqual(times(answered, r.polls[0]!.sentAt), times(plain.polls, plain.polls[0]!.sentAt))
    }))

  it.effect("dpop: \"required\" refuses a server that answers Bearer; dpop: true accepts it", () =>
    Effect.gen(function*() {
      const required = yield* signIn(TestKit.scenarios.pendingThenSuccess(0), "required", undefined)
      assert.isTrue(Exit.isFailure(required.exit))
      const error = Exit.isFailure(required.exit) ? String(required.exit.cause) : ""
      assert.include(error, "InvalidResponse")
      assert.include(error, "token_type")
      const accepted = yield* signIn(TestKit.scenarios.pendingThenSuccess(0), true, undefined)
      assert.strictEqual(success(accepted.exit).tokenType, "Bearer")
    }))

  it.effect("invalid_dpop_proof ends the flow as DpopProofRejected with the server's hint, recognised by Dpop.isProofRejected", () =>
    Effect.gen(function*() {
      const r = yield* signIn(
        TestKit.sequence([
          TestKit.oauthError("invalid_dpop_proof", { fields: { error_description: "iat too far in the past" } })
        ]),
        true,
        {}
      )
      assert.isTrue(Exit.isFailure(r.exit))
      if (Exit.isSuccess(r.exit)) return
      const error = r.exit.cause._tag === "Fail" ? r.exit.cause.error : undefined
      assert.isTrue(Dpop.isProofRejected(error))
      assert.strictEqual(error?._tag, "DpopProofRejected")
      assert.strictEqual((error as { errorDescription?: string }).errorDescription, "iat too far in the past")
      assert.include((error as { message: string }).message, "iat too far in the past")
    }))

  it.effect("a refresh answered invalid_dpop_proof fails as DpopProofRejected, the server's hint kept", () =>
    Effect.gen(function*() {
      const key = yield* Dpop.generateKeyPair()
      const script = TestKit.sequence([
        TestKit.oauthError("invalid_dpop_proof", {
          fields: { error_description: "DPoP proof iat is not recent enough" }
        })
      ])
      const exit = yield* Effect.gen(function*() {
        const config = yield* TestKit.config({ dpop: true })
        return yield* Effect.exit(refresh(config, Redacted.make("rt-canary"), [], "30 seconds" as never))
      }).pipe(Effect.provide(Layer.merge(TestKit.layer(script), Dpop.layerKey(key))))
      const error = Exit.isFailure(exit) && exit.cause._tag === "Fail" ? exit.cause.error : undefined
      assert.strictEqual(error?._tag, "DpopProofRejected", String(exit))
      assert.include(error?.message ?? "", "DPoP proof iat is not recent enough")
      assert.notInclude(error?.message ?? "", "rt-canary")
    }))

  it.effect("a refresh is proved with the sign-in's key; with another key the server refuses it", () =>
    Effect.gen(function*() {
      const key = yield* Dpop.generateKeyPair()
      const other = yield* Dpop.generateKeyPair()
      const server = TestKit.layer(TestKit.scenarios.pendingThenSuccess(0), { dpop: {} })
      yield* Effect.gen(function*() {
        const config = yield* TestKit.config({ dpop: true })
        const signedIn = success(yield* runVirtual(DeviceFlow.acquireToken(config, {}, { onCode: () => Effect.void })))
        const token = signedIn.refreshToken._tag === "Some" ? signedIn.refreshToken.value : Redacted.make("")
        const same = yield* refresh(config, token, [], "30 seconds" as never).pipe(
          Effect.provide(Dpop.layerKey(key)),
          Effect.exit
        )
        assert.strictEqual(success(same).tokenType, "DPoP")
        const stolen = yield* refresh(config, token, [], "30 seconds" as never).pipe(
          Effect.provide(Dpop.layerKey(other)),
          Effect.exit
        )
        assert.isTrue(Exit.isFailure(stolen))
        assert.include(String(stolen), "failed jkt verification")
      }).pipe(Effect.provide(Layer.merge(server, Dpop.layerKey(key))))
    }))
})
