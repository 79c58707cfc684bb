import type { ClientConfig } from "@devflow/core/ClientConfig"
import * as Dpop from "@devflow/core/Dpop"
import * as FlowStore from "@devflow/core/FlowStore"
import * as TestKit from "@devflow/core/TestKit"
import type { HttpClient } from "@effect/platform/HttpClient"
import { afterAll, assert, describe, it } from "@effect/vitest"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { Redis } from "ioredis"
import * as DpopCrypto from "../../core/src/internal/dpop.js"
import { processHolder } from "../../core/src/internal/dpopClient.js"
import { flowStoreContract, planScript } from "../../core/test/flowStoreContract.js"
import {
  connect,
  connectionLayer,
  dumpAll,
  flowRecord,
  KEY_1,
  KEY_2,
  keyring,
  takeLease,
  withConnection,
  withLostReply
} from "../test/helpers.js"
import { hasRedis, startRedis } from "../test/redisServer.js"
import { RedisConnection } from "./RedisConnection.js"
import * as RedisFlowStore from "./RedisFlowStore.js"

const server = hasRedis ? await startRedis() : undefined
afterAll(() => server?.close())

let prefixes = 0
const freshPrefix = () => `t${process.pid}-${++prefixes}`

describe.runIf(server !== undefined)("RedisFlowStore", () => {
  const url = server?.url ?? ""

  flowStoreContract(
    "RedisFlowStore",
    (config) =>
      Layer.suspend(() =>
        RedisFlowStore.layer(config, { lease: "2 seconds", resyncEvery: "1 second" }).pipe(
          Layer.provide(connectionLayer(url, { prefix: freshPrefix() }))
        )
      )
  )

  /** Two instances of an app: two connections and two stores on one prefix, one fake server. */
  const twoInstances = Effect.gen(function*() {
    const config = yield* TestKit.config()
    const prefix = freshPrefix()
    const instance = RedisFlowStore.make(config, { lease: "2 seconds", resyncEvery: "1 second" })
    const http = yield* Layer.build(TestKit.layer(planScript()))
    const build = () =>
      Effect.flatMap(
        Layer.build(connectionLayer(url, { prefix })),
        (connection) => instance.pipe(Effect.provide(connection), Effect.provide(http))
      )
    return { a: yield* build(), b: yield* build(), prefix, http }
  })

  /** An instance of an app on `prefix`, living in `scope` (closing it stops the instance). */
  const instanceIn =
    (config: ClientConfig, prefix: string, http: Context.Context<HttpClient | TestKit.FakeServer>) =>
    (scope: Scope.Scope) =>
      Effect.flatMap(
        Layer.buildWithScope(connectionLayer(url, { prefix }), scope),
        (connection) =>
          RedisFlowStore.make(config, { lease: "2 seconds", resyncEvery: "1 second" }).pipe(
            Effect.provide(connection),
            Effect.provide(http),
            Scope.extend(scope)
          )
      )

  it.live(
    "an instance that stops hands its flow over: the taker resumes the stored session, slow_down interval kept",
    () =>
      Effect.gen(function*() {
        const config = yield* TestKit.config()
        const prefix = freshPrefix()
        const http = yield* Layer.build(TestKit.layer(planScript()))
        const server = Context.get(http, TestKit.FakeServer)
        const instance = instanceIn(config, prefix, http)
        const scopeA = yield* Scope.make()
        const a = yield* instance(scopeA)
        const flow = yield* a.start({ extraParams: { plan: "slow" } })
        // the first poll is answered slow_down: 1 s + 5 s
        yield* a.watch(flow.id).pipe(
          Stream.filter((u) => u._tag === "Pending" && u.step === "SlowedDown"),
          Stream.runHead,
          Effect.timeout("10 seconds")
        )
        yield* Scope.close(scopeA, Exit.void)
        const stoppedAt = Date.now()
        const b = yield* instance(yield* Effect.scope)
        const final = yield* FlowStore.awaitResult(b, flow.id).pipe(Effect.timeout("20 seconds"))
        assert.strictEqual(final._tag, "Succeeded")
        const polls = (yield* server.polls).filter((p) =>
          p.params.device_code === flow.userCode.replace("USER-", "DC-") + "-canary"
        )
        assert.isAtLeast(polls.length, 3)
        for (let i = 1; i < polls.length; i++) {
          // RFC 8628 §3.5: after slow_down every poll, the taker's included, waits at least 6 s
          assert.isAtLeast(polls[i]!.sentAt - polls[i - 1]!.endedAt!, 6_000 - 5)
        }
        assert.isAbove(polls.at(-1)!.sentAt, stoppedAt)
      }).pipe(Effect.scoped),
    { timeout: 40_000 }
  )

  it.live(
    "with DPoP, the taker keeps polling with the flow's key, sealed with its session (never in clear in Redis)",
    () =>
      Effect.gen(function*() {
        const config = yield* TestKit.config({ dpop: true })
        const prefix = freshPrefix()
        const http = yield* Layer.build(TestKit.layer(planScript(), { dpop: { required: true } }))
        const server = Context.get(http, TestKit.FakeServer)
        // each instance a process of its own: its own default key holder
        const instance = instanceIn(config, prefix, http)
        const key = yield* Dpop.generateKeyPair()
        const privateJwk = JSON.parse(Redacted.value((yield* DpopCrypto.toStored(key)).secret)) as { d: string }
        const scopeA = yield* Scope.make()
        const a = yield* instance(scopeA)
        const flow = yield* a.start({ extraParams: { plan: "slow" } }).pipe(Effect.provide(Dpop.layerKey(key)))
        yield* a.watch(flow.id).pipe(
          Stream.filter((u) => u._tag === "Pending" && u.step === "SlowedDown"),
          Stream.runHead,
          Effect.timeout("10 seconds")
        )
        const dump = yield* Effect.promise(() => dumpAll(url))
        assert.notInclude(dump, privateJwk.d)
        yield* Scope.close(scopeA, Exit.void)
        const stoppedAt = Date.now()
        const b = yield* instance(yield* Effect.scope).pipe(Effect.provideService(Dpop.CurrentKey, processHolder()))
        const final = yield* FlowStore.awaitResult(b, flow.id).pipe(Effect.timeout("20 seconds"))
        assert.strictEqual(final._tag, "Succeeded")
        const polls = (yield* server.polls).filter((p) =>
          p.params.device_code === flow.userCode.replace("USER-", "DC-") + "-canary"
        )
        assert.isAbove(polls.at(-1)!.sentAt, stoppedAt)
        // RFC 9449 §5: every poll, the taker's included, proves the one key the tokens are bound to
        assert.deepStrictEqual([...new Set(polls.map((p) => JSON.stringify(p.dpop)))], [
          JSON.stringify({ jkt: key.thumbprint })
        ])
      }).pipe(Effect.scoped),
    { timeout: 40_000 }
  )

  it.live("a holder whose lease was taken stops polling and can write nothing", () =>
    Effect.gen(function*() {
      const { a, prefix, http } = yield* twoInstances
      const server = Context.get(http, TestKit.FakeServer)
      const flow = yield* a.start({ extraParams: { plan: "never" } })
      yield* a.watch(flow.id).pipe(Stream.filter((u) => u._tag === "Pending" && u.step === "Pending"), Stream.runHead)
      const redis = new Redis(url)
      yield* Effect.addFinalizer(() => Effect.sync(() => redis.disconnect()))
      // another instance's fencing token now holds the lease (as after an expiry and a takeover)
      yield* Effect.promise(() => takeLease(redis, prefix, flow.id, 999))
      const count = Effect.map(server.polls, (all) =>
        all.filter((p) => p.params.device_code === flow.userCode.replace("USER-", "DC-") + "-canary").length)
      yield* Effect.sleep("1500 millis")
      const after = yield* count
      yield* Effect.sleep("3 seconds")
      assert.strictEqual(yield* count, after)
      const state = yield* a.get(flow.id)
      assert.strictEqual(state._tag, "Pending")
    }).pipe(Effect.scoped), { timeout: 20_000 })

  it.live("an unreachable Redis is a typed FlowStoreUnavailable within the bounded retries", () =>
    Effect.gen(function*() {
      const config = yield* TestKit.config()
      const store = yield* RedisFlowStore.make(config).pipe(
        withConnection("redis://127.0.0.1:1", { commandTimeout: "300 millis", attempts: 2 }),
        Effect.provide(TestKit.layer(planScript()))
      )
      const started = Date.now()
      const error = yield* Effect.flip(store.get("some-id"))
      assert.strictEqual(error._tag, "FlowStoreUnavailable")
      assert.include(error.message, "redis://127.0.0.1:1")
      const startError = yield* Effect.flip(store.start())
      assert.strictEqual(startError._tag, "FlowStoreUnavailable")
      assert.isBelow(Date.now() - started, 5_000)
    }).pipe(Effect.scoped))

  it.live("a flow started on one instance is watched, listed and cancelled from another", () =>
    Effect.gen(function*() {
      const { a, b } = yield* twoInstances
      const approved = yield* a.start({ extraParams: { plan: "approve" } })
      const final = yield* FlowStore.awaitResult(b, approved.id).pipe(Effect.timeout("10 seconds"))
      assert.strictEqual(final._tag, "Succeeded")
      const waiting = yield* a.start({ extraParams: { plan: "never" } })
      assert.deepStrictEqual((yield* b.pending).map((f) => f.id), [waiting.id])
      assert.isTrue(yield* b.cancel(waiting.id))
      assert.deepStrictEqual((yield* Stream.runCollect(a.watch(waiting.id))).pipe((c) => [...c].map((u) => u._tag)), [
        "Cancelled"
      ])
      assert.deepStrictEqual(yield* a.pending, [])
    }).pipe(Effect.scoped))

  const codeOf = (flow: FlowStore.StartedFlow) => flow.userCode.replace("USER-", "DC-") + "-canary"

  it.live(
    "a cancel from another instance: no poll is sent after cancel returns, even when the owner hears of it late",
    () =>
      Effect.gen(function*() {
        const config = yield* TestKit.config()
        const prefix = freshPrefix()
        const http = yield* Layer.build(TestKit.layer(planScript()))
        const server = Context.get(http, TestKit.FakeServer)
        // renewals (every third of the lease) come later than the next poll (1 s)
        const options = { lease: "6 seconds", resyncEvery: "1 second" } as const
        // the owner never hears the cancel channel (a late or lost message)
        const deaf = yield* connect(url, { prefix })
        const a = yield* RedisFlowStore.make(config, options).pipe(
          Effect.provideService(RedisConnection, {
            ...deaf,
            subscribe: (channel, listener) =>
              channel.endsWith(":flows:cancelled") ? Effect.void : deaf.subscribe(channel, listener)
          }),
          Effect.provide(http)
        )
        const b = yield* RedisFlowStore.make(config, options).pipe(
          Effect.provideService(RedisConnection, yield* connect(url, { prefix })),
          Effect.provide(http)
        )
        const cancelled = yield* a.start({ extraParams: { plan: "never" } })
        const control = yield* a.start({ extraParams: { plan: "never" } })
        const pollsOf = (flow: FlowStore.StartedFlow, after: number) =>
          Effect.map(
            server.polls,
            (all) => all.filter((p) => p.params.device_code === codeOf(flow) && p.sentAt > after).length
          )
        // the owner has stored its first poll's answer: its next poll is one interval away
        yield* a.watch(cancelled.id).pipe(
          Stream.filter((u) => u._tag === "Pending" && u.step === "Pending"),
          Stream.runHead
        )
        assert.isTrue(yield* b.cancel(cancelled.id))
        const returnedAt = yield* Clock.currentTimeMillis
        // the owner keeps polling its other flow: two of its polls span more than one interval
        yield* pollsOf(control, returnedAt).pipe(
          Effect.repeat({ until: (n) => n >= 2, schedule: Schedule.spaced("20 millis") })
        )
        assert.strictEqual(yield* pollsOf(cancelled, returnedAt - 1), 0)
      }).pipe(Effect.scoped),
    { timeout: 20_000 }
  )

  /** The live clock, `offsetMs` off (an instance whose clock is wrong). */
  const skewed = (live: Clock.Clock, offsetMs: number): Clock.Clock => ({
    [Clock.ClockTypeId]: Clock.ClockTypeId,
    unsafeCurrentTimeMillis: () => live.unsafeCurrentTimeMillis() + offsetMs,
    unsafeCurrentTimeNanos: () => live.unsafeCurrentTimeNanos() + BigInt(offsetMs) * 1_000_000n,
    currentTimeMillis: Effect.sync(() => live.unsafeCurrentTimeMillis() + offsetMs),
    currentTimeNanos: Effect.sync(() => live.unsafeCurrentTimeNanos() + BigInt(offsetMs) * 1_000_000n),
    sleep: (duration) => live.sleep(duration)
  })

  it.live("the takeover index is kept on Redis' clock: an instance an hour ahead does not hide its flows from takeover", () =>
    Effect.gen(function*() {
      const config = yield* TestKit.config()
      const prefix = freshPrefix()
      const http = yield* Layer.build(TestKit.layer(planScript()))
      const ahead = skewed(yield* Effect.clock, 3_600_000)
      const a = yield* RedisFlowStore.make(config, { lease: "2 seconds" }).pipe(
        Effect.provideService(RedisConnection, yield* connect(url, { prefix })),
        Effect.provide(http),
        Effect.withClock(ahead)
      )
      const flow = yield* Effect.withClock(a.start({ extraParams: { plan: "never" } }), ahead)
      const redis = new Redis(url)
      yield* Effect.addFinalizer(() => Effect.sync(() => redis.disconnect()))
      const score = Number(yield* Effect.promise(() => redis.zscore(`${prefix}:flows:pending`, flow.id)))
      const [seconds, micros] = yield* Effect.promise(() => redis.time())
      const redisNow = Number(seconds) * 1000 + Number(micros) / 1000
      // due for takeover within the lease (as Redis counts time), not an hour later
      assert.isBelow(Math.abs(score - redisNow), 3_000)
    }).pipe(Effect.scoped))

  it.live("flow expiry is a relative TTL: an instance whose clock is an hour behind creates flows that live", () =>
    Effect.gen(function*() {
      const { a, prefix } = yield* twoInstances
      const flow = yield* Effect.withClock(
        a.start({ extraParams: { plan: "never" } }),
        skewed(yield* Effect.clock, -3_600_000)
      )
      const redis = new Redis(url)
      yield* Effect.addFinalizer(() => Effect.sync(() => redis.disconnect()))
      const ttl = yield* Effect.promise(() => redis.pttl(`${prefix}:flow:{${flow.id}}`))
      // the code's 120 s plus the default 10 minutes of retention
      assert.approximately(ttl, 720_000, 5_000)
      assert.strictEqual((yield* a.get(flow.id))._tag, "Pending")
    }).pipe(Effect.scoped))

  it.live(
    "a takeover whose ACQUIRE reply was lost and retried keeps its lease (the retry is recognised, not refused)",
    () =>
      Effect.gen(function*() {
        const config = yield* TestKit.config()
        const prefix = freshPrefix()
        const http = yield* Layer.build(TestKit.layer(planScript()))
        const server = Context.get(http, TestKit.FakeServer)
        const options = { lease: "4 seconds", scanEvery: "200 millis", resyncEvery: "1 second" } as const
        const scopeA = yield* Scope.make()
        const a = yield* RedisFlowStore.make(config, options).pipe(
          Effect.provideService(RedisConnection, yield* connect(url, { prefix }).pipe(Scope.extend(scopeA))),
          Effect.provide(http),
          Scope.extend(scopeA)
        )
        const flow = yield* a.start({ extraParams: { plan: "never" } })
        yield* a.watch(flow.id).pipe(Stream.filter((u) => u._tag === "Pending" && u.step === "Pending"), Stream.runHead)
        // B's first ACQUIRE runs in Redis, but its reply is lost: the command is sent again, as a retry does
        const flaky = withLostReply(yield* connect(url, { prefix }), "flow.acquire")
        const b = yield* RedisFlowStore.make(config, options).pipe(
          Effect.provideService(RedisConnection, flaky.connection),
          Effect.provide(http)
        )
        yield* Scope.close(scopeA, Exit.void)
        const stoppedAt = yield* Clock.currentTimeMillis
        yield* Effect.map(
          server.polls,
          (all) => all.some((p) => p.params.device_code === codeOf(flow) && p.sentAt > stoppedAt)
        ).pipe(
          Effect.repeat({ until: (polled) => polled, schedule: Schedule.spaced("20 millis") })
        )
        const redis = new Redis(url)
        yield* Effect.addFinalizer(() => Effect.sync(() => redis.disconnect()))
        // fence 1 was A's; B's one takeover is fence 2 (a refused retry would have waited out a lease and taken 3)
        assert.strictEqual((yield* Effect.promise(() => flowRecord(redis, prefix, flow.id)))?.f, 2)
        assert.isTrue(flaky.lost())
        assert.strictEqual((yield* b.get(flow.id))._tag, "Pending")
      }).pipe(Effect.scoped),
    { timeout: 20_000 }
  )

  it.live("a cancel whose reply was lost and retried still reports that it cancelled the flow", () =>
    Effect.gen(function*() {
      const { a, prefix, http } = yield* twoInstances
      const config = yield* TestKit.config()
      const flaky = withLostReply(yield* connect(url, { prefix }), "flow.finish")
      const b = yield* RedisFlowStore.make(config, { lease: "2 seconds", resyncEvery: "1 second" }).pipe(
        Effect.provideService(RedisConnection, flaky.connection),
        Effect.provide(http)
      )
      const flow = yield* a.start({ extraParams: { plan: "never" } })
      assert.isTrue(yield* b.cancel(flow.id))
      assert.isTrue(flaky.lost())
      assert.strictEqual((yield* a.get(flow.id))._tag, "Cancelled")
      assert.isFalse(yield* b.cancel(flow.id))
    }).pipe(Effect.scoped))

  it.live("a watch whose subscription fails once is retried like any other command", () =>
    Effect.gen(function*() {
      const { a, prefix, http } = yield* twoInstances
      const config = yield* TestKit.config()
      let refused = 0
      const clients = () => {
        const client = new Redis(url)
        const subscriber = new Redis(url)
        const subscribe = subscriber.subscribe.bind(subscriber)
        // the first subscription to a flow's channel meets a connection being re-established
        subscriber.subscribe = ((channel: string) =>
          channel.includes(":flow:{") && refused++ === 0
            ? Promise.reject(new Error("Connection is closed."))
            : subscribe(channel)) as typeof subscriber.subscribe
        return { client, subscriber }
      }
      const b = yield* RedisFlowStore.make(config, { lease: "2 seconds", resyncEvery: "1 second" }).pipe(
        Effect.provideService(RedisConnection, yield* connect(url, { prefix, connect: clients })),
        Effect.provide(http)
      )
      const flow = yield* a.start({ extraParams: { plan: "approve" } })
      const updates = yield* Stream.runCollect(b.watch(flow.id)).pipe(Effect.timeout("10 seconds"))
      assert.strictEqual([...updates].at(-1)?._tag, "Succeeded")
      assert.strictEqual(refused, 2)
    }).pipe(Effect.scoped))

  it.live(
    "a rolling key rotation (the new key second everywhere, then first) fails no pending flow",
    () =>
      Effect.gen(function*() {
        const config = yield* TestKit.config()
        const prefix = freshPrefix()
        const http = yield* Layer.build(TestKit.layer(planScript()))
        const options = { lease: "1 second", scanEvery: "100 millis", resyncEvery: "1 second" } as const
        const instance = (...keys: ReadonlyArray<readonly [string, string]>) =>
          Effect.gen(function*() {
            const scope = yield* Scope.make()
            const connection = yield* connect(url, { prefix, keyring: keyring(...keys) }).pipe(Scope.extend(scope))
            const store = yield* RedisFlowStore.make(config, options).pipe(
              Effect.provideService(RedisConnection, connection),
              Effect.provide(http),
              Scope.extend(scope)
            )
            return { store, stop: Scope.close(scope, Exit.void) }
          })
        const redis = new Redis(url)
        yield* Effect.addFinalizer(() => Effect.sync(() => redis.disconnect()))
        // the flow's lease taken `fence` times, and its session last sealed with key `keyId`
        const reached = (id: string, fence: number, keyId: string) =>
          Effect.promise(() => flowRecord(redis, prefix, id)).pipe(
            Effect.repeat({
              until: (record) => (record?.f ?? 0) >= fence && record?.s?.split(".")[1] === keyId,
              schedule: Schedule.spaced("20 millis")
            }),
            Effect.timeout("20 seconds")
          )
        const old = yield* instance(["k1", KEY_1])
        const flow = yield* old.store.start({ extraParams: { plan: "never" } })
        // step 1: every instance gets the new key second (an instance restarted with it takes the flow over)
        const step1 = yield* instance(["k1", KEY_1], ["k2", KEY_2])
        yield* old.stop
        yield* reached(flow.id, 2, "k1")
        // step 2: instances switch to the new key one by one; one switched takes the flow over and seals with k2 ...
        const switched = yield* instance(["k2", KEY_2], ["k1", KEY_1])
        yield* step1.stop
        yield* reached(flow.id, 3, "k2")
        // ... and one not yet switched takes it back: it opens k2, and seals with k1 again
        const notYet = yield* instance(["k1", KEY_1], ["k2", KEY_2])
        yield* switched.stop
        yield* reached(flow.id, 4, "k1")
        assert.strictEqual((yield* notYet.store.get(flow.id))._tag, "Pending")
        yield* notYet.stop
        // skipping step 1: an instance that never got the new key cannot resume what a switched one sealed
        const early = yield* instance(["k2", KEY_2], ["k1", KEY_1])
        const stale = yield* instance(["k1", KEY_1])
        const stranded = yield* early.store.start({ extraParams: { plan: "never" } })
        yield* early.stop
        const final = yield* FlowStore.awaitResult(stale.store, stranded.id).pipe(Effect.timeout("20 seconds"))
        assert.strictEqual(final._tag, "Failed")
        yield* stale.stop
      }).pipe(Effect.scoped),
    { timeout: 60_000 }
  )

  it.live("at rest: no device code and no token in clear in Redis", () =>
    Effect.gen(function*() {
      const { a, b } = yield* twoInstances
      const flows = yield* Effect.forEach(["approve", "never", "deny"], (plan) => a.start({ extraParams: { plan } }))
      yield* FlowStore.awaitResult(b, flows[0]!.id).pipe(Effect.timeout("10 seconds"))
      yield* FlowStore.awaitResult(b, flows[2]!.id).pipe(Effect.timeout("10 seconds"))
      const dump = yield* Effect.promise(() => dumpAll(url))
      assert.include(dump, flows[1]!.id)
      assert.include(dump, flows[1]!.userCode)
      for (const canary of ["canary", "CANARY", TestKit.secrets.accessToken, TestKit.secrets.refreshToken]) {
        assert.notInclude(dump, canary)
      }
    }).pipe(Effect.scoped))
})
