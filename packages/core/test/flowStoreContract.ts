/**
 * The behaviour every FlowStore implementation must have, written once and
 * run against each of them (`layerMemory` here, Redis in
 * `@devflow/store-redis`).
 *
 * Each test gets a fresh store wired to TestKit's fake authorization server
 * with an interval of 1 s, on the live clock (a shared store leases flows in
 * real time). The server answers each device code by the plan its flow was
 * started with (`extraParams.plan`).
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import { assert, describe, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import type * as ClientConfig from "../src/ClientConfig.js"
import * as FlowStore from "../src/FlowStore.js"
import * as TestKit from "../src/TestKit.js"

/** How the fake server answers one flow's polls, in order (the last repeats). */
export const plans = {
  approve: [TestKit.pending(), TestKit.tokens()],
  deny: [TestKit.pending(), TestKit.denied()],
  slow: [TestKit.slowDown(), TestKit.pending(), TestKit.tokens()],
  never: [TestKit.pending()]
} as const

export type Plan = keyof typeof plans

/** A server issuing one device code per request (`DC-<n>`), answering each by its flow's plan. */
export const planScript = (): TestKit.Script => {
  const planOf = new Map<string, Plan>()
  const polls = new Map<string, number>()
  return {
    deviceAuthorization: ({ attempt, params }) => {
      const deviceCode = `DC-${attempt}-canary`
      planOf.set(deviceCode, (params.plan ?? "approve") as Plan)
      return TestKit.deviceCode({
        device_code: deviceCode,
        user_code: `USER-${attempt}`,
        verification_uri_complete: `${TestKit.ISSUER}/device?user_code=USER-${attempt}`,
        interval: 1,
        expires_in: 120
      })
    },
    token: ({ params }) => {
      const code = params.device_code ?? ""
      const plan = plans[planOf.get(code) ?? "never"]
      const n = polls.get(code) ?? 0
      polls.set(code, n + 1)
      return plan[Math.min(n, plan.length - 1)]!
    }
  }
}

const start = (plan: Plan) => Effect.flatMap(FlowStore.FlowStore, (store) => store.start({ extraParams: { plan } }))

const watchAll = (id: string) =>
  Effect.flatMap(
    FlowStore.FlowStore,
    (store) => Stream.runCollect(store.watch(id)).pipe(Effect.map(Chunk.toReadonlyArray), Effect.timeout("20 seconds"))
  )

const pollsOf = (userCode: string) =>
  Effect.map(
    Effect.flatMap(TestKit.FakeServer, (server) => server.polls),
    (polls) => polls.filter((p) => p.params.device_code === userCode.replace("USER-", "DC-") + "-canary").length
  )

export const flowStoreContract = (
  name: string,
  make: (config: ClientConfig.ClientConfig) => Layer.Layer<FlowStore.FlowStore, unknown, HttpClient.HttpClient>,
  script: () => TestKit.Script = planScript
) =>
  describe(`FlowStore contract: ${name}`, () => {
    const test = (
      title: string,
      body: Effect.Effect<void, unknown, FlowStore.FlowStore | TestKit.FakeServer>,
      scenario: () => TestKit.Script = script
    ) =>
      it.live(title, () =>
        Effect.gen(function*() {
          const config = yield* TestKit.config()
          const layer = make(config).pipe(Layer.provideMerge(TestKit.layer(scenario())))
          yield* Effect.scoped(Effect.provide(body, layer))
        }))

    test(
      "start issues a code; a watcher sees the code, every poll, then the tokens",
      Effect.gen(function*() {
        const flow = yield* start("approve")
        assert.match(flow.id, /^[A-Za-z0-9_-]{22}$/)
        assert.match(flow.userCode, /^USER-\d+$/)
        assert.strictEqual(flow.verificationUri, `${TestKit.ISSUER}/device`)
        assert.include(flow.message, flow.userCode)
        assert.isAbove(flow.expiresOn, Date.now())
        const updates = yield* watchAll(flow.id)
        assert.deepStrictEqual(updates.map((u) => u._tag === "Pending" ? u.step : u._tag), [
          "CodeIssued",
          "Pending",
          "Succeeded"
        ])
        const last = updates.at(-1)!
        assert.strictEqual(last._tag, "Succeeded")
        if (last._tag !== "Succeeded") return
        assert.strictEqual(last.id, flow.id)
        assert.isTrue(Redacted.isRedacted(last.result.accessToken))
        assert.strictEqual(Redacted.value(last.result.accessToken), TestKit.secrets.accessToken)
        assert.strictEqual(yield* pollsOf(flow.userCode), 2)
      })
    )

    test(
      "a watcher that comes after the end gets the stored result, and so does get",
      Effect.gen(function*() {
        const store = yield* FlowStore.FlowStore
        const flow = yield* start("approve")
        const final = yield* FlowStore.awaitResult(store, flow.id)
        assert.strictEqual(final._tag, "Succeeded")
        const late = yield* watchAll(flow.id)
        assert.deepStrictEqual(late.map((u) => u._tag), ["Succeeded"])
        const got = yield* store.get(flow.id)
        assert.strictEqual(got._tag, "Succeeded")
        if (got._tag === "Succeeded") {
          assert.strictEqual(Redacted.value(Option.getOrThrow(got.result.refreshToken)), TestKit.secrets.refreshToken)
        }
      })
    )

    test(
      "a denial reaches every watcher as AccessDenied",
      Effect.gen(function*() {
        const flow = yield* start("deny")
        const [a, b] = yield* Effect.all([watchAll(flow.id), watchAll(flow.id)], { concurrency: 2 })
        for (const updates of [a, b]) {
          const last = updates.at(-1)!
          assert.strictEqual(last._tag, "Failed")
          if (last._tag === "Failed") assert.strictEqual(last.error._tag, "AccessDenied")
        }
      })
    )

    test(
      "slow_down (RFC 8628 §3.5) reaches watchers with the interval grown by 5 s",
      Effect.gen(function*() {
        const store = yield* FlowStore.FlowStore
        const flow = yield* start("slow")
        const slowed = yield* store.watch(flow.id).pipe(
          Stream.filter((u) => u._tag === "Pending" && u.step === "SlowedDown"),
          Stream.runHead,
          Effect.timeout("10 seconds")
        )
        assert.strictEqual(slowed._tag, "Some")
        if (slowed._tag === "Some" && slowed.value._tag === "Pending") {
          assert.strictEqual(slowed.value.intervalMs, 6_000)
        }
        assert.isTrue(yield* store.cancel(flow.id))
      })
    )

    test(
      "cancel ends the flow for every watcher and no poll is sent after it",
      Effect.gen(function*() {
        const store = yield* FlowStore.FlowStore
        const flow = yield* start("never")
        yield* store.watch(flow.id).pipe(
          Stream.filter((u) => u._tag === "Pending" && u.step === "Pending"),
          Stream.runHead,
          Effect.timeout("10 seconds")
        )
        assert.isTrue(yield* store.cancel(flow.id))
        const polls = yield* pollsOf(flow.userCode)
        assert.deepStrictEqual((yield* watchAll(flow.id)).map((u) => u._tag), ["Cancelled"])
        assert.isFalse(yield* store.cancel(flow.id))
        yield* Effect.sleep("2500 millis")
        assert.strictEqual(yield* pollsOf(flow.userCode), polls)
        assert.strictEqual((yield* store.get(flow.id))._tag, "Cancelled")
      })
    )

    test(
      "pending lists the running flows and not the finished ones",
      Effect.gen(function*() {
        const store = yield* FlowStore.FlowStore
        const running = yield* start("never")
        const done = yield* start("deny")
        yield* FlowStore.awaitResult(store, done.id)
        const pending = yield* store.pending
        assert.deepStrictEqual(pending.map((p) => p.id), [running.id])
        assert.strictEqual(pending[0]!.userCode, running.userCode)
        yield* store.cancel(running.id)
        assert.deepStrictEqual(yield* store.pending, [])
      })
    )

    test(
      "an unknown id is FlowNotFound for get, watch and cancel",
      Effect.gen(function*() {
        const store = yield* FlowStore.FlowStore
        const attempts: ReadonlyArray<Effect.Effect<unknown, FlowStore.FlowStoreError>> = [
          store.get("nope"),
          Stream.runCollect(store.watch("nope")),
          store.cancel("nope")
        ]
        for (const attempt of attempts) {
          const error = yield* Effect.flip(attempt)
          assert.strictEqual(error._tag, "FlowNotFound")
          assert.include(error.message, "nope")
        }
      })
    )

    test(
      "a refused device authorization request fails start with the server's typed error",
      Effect.gen(function*() {
        const store = yield* FlowStore.FlowStore
        const error = yield* Effect.flip(store.start())
        assert.strictEqual(error._tag, "OAuthError")
        assert.deepStrictEqual(yield* store.pending, [])
      }),
      () => ({
        deviceAuthorization: () => TestKit.oauthError("invalid_client", { status: 401 }),
        token: () => TestKit.hang
      })
    )

    test(
      "flows run independently, each to its own outcome",
      Effect.gen(function*() {
        const store = yield* FlowStore.FlowStore
        const chosen: ReadonlyArray<Plan> = ["approve", "deny", "approve", "deny", "approve", "approve"]
        const flows = yield* Effect.forEach(chosen, start, { concurrency: "unbounded" })
        assert.strictEqual(new Set(flows.map((f) => f.id)).size, chosen.length)
        const finals = yield* Effect.forEach(flows, (f) => FlowStore.awaitResult(store, f.id), {
          concurrency: "unbounded"
        })
        assert.deepStrictEqual(finals.map((f) => f._tag), chosen.map((p) => p === "approve" ? "Succeeded" : "Failed"))
      })
    )
  })
