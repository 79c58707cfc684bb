import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { runVirtual, success } from "../test/virtual.js"
import * as CacheContent from "./CacheContent.js"
import * as DeviceFlow from "./DeviceFlow.js"
import type { DeviceSession } from "./DeviceSession.js"
import * as Dpop from "./Dpop.js"
import { processHolder } from "./internal/dpopClient.js"
import * as PublicClient from "./PublicClient.js"
import * as TestKit from "./TestKit.js"
import * as TestKitCache from "./TestKitCache.js"
import * as TokenCache from "./TokenCache.js"

const scopes = ["openid", "offline_access", "api.read"]

// A later process: the default key holder of a process that never signed in (a new key, no nonces).
const inNewProcess = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.provideService(effect, Dpop.CurrentKey, processHolder())

const app = (dpop: boolean = true) =>
  Effect.flatMap(TestKit.config({ dpop }), (config) => PublicClient.make({ config }))

const jkts = (polls: ReadonlyArray<TestKit.RecordedRequest>) =>
  polls.map((p) => (p.dpop !== undefined && "jkt" in p.dpop ? p.dpop.jkt : undefined))

describe("DPoP keys kept with the tokens they bind (RFC 9449 §5)", () => {
  it.effect("a sign-in keeps its own key with its tokens; a refresh in a new process proves with it; sign-out removes it", () => {
    const server = TestKitCache.refreshServer()
    return Effect.gen(function*() {
      const client = yield* app()
      const signedIn = success(yield* runVirtual(client.acquireTokenWithDeviceCode({ scopes }, { onCode: () => {} })))
      assert.strictEqual(signedIn.tokenType, "DPoP")
      const kept = CacheContent.findDpopKey(
        yield* Effect.flatMap(TokenCache.TokenCache, (c) => c.read),
        client.authority,
        client.config.clientId,
        signedIn.account.id
      )
      assert.isDefined(kept)
      // the key of this sign-in, not the process's: it dies with these tokens
      assert.notStrictEqual(kept!.jkt, (yield* (yield* Dpop.CurrentKey).key).thumbprint)
      const polls = yield* Effect.flatMap(TestKit.FakeServer, (s) => s.polls)
      assert.deepStrictEqual([...new Set(jkts(polls))], [kept!.jkt])

      const later = yield* inNewProcess(
        Effect.flatMap(app(), (c) => c.acquireTokenSilent(scopes, signedIn.account, { forceRefresh: true }))
      )
      assert.strictEqual(later.source, "refresh")
      assert.strictEqual(later.tokenType, "DPoP")
      const after = yield* Effect.flatMap(TestKit.FakeServer, (s) => s.polls)
      assert.strictEqual(jkts(after).at(-1), kept!.jkt)

      // for the account's resource requests, in any process
      const forRequests = yield* inNewProcess(Effect.flatMap(app(), (c) => c.dpopKey(signedIn.account)))
      assert.strictEqual(Option.getOrUndefined(forRequests)?.thumbprint, kept!.jkt)

      yield* client.removeAccount(signedIn.account)
      assert.strictEqual((yield* Effect.flatMap(TokenCache.TokenCache, (c) => c.read)).dpopKeys.size, 0)
      assert.isTrue(Option.isNone(yield* client.dpopKey(signedIn.account)))
    }).pipe(Effect.provide(Layer.merge(TokenCache.layerMemory, TestKit.layer(server.script, { dpop: {} }))))
  })

  it.effect("without a kept key, a new process's refresh is refused as bound to another key (the gap this closes)", () => {
    const server = TestKitCache.refreshServer()
    return Effect.gen(function*() {
      const client = yield* app()
      const signedIn = success(yield* runVirtual(client.acquireTokenWithDeviceCode({ scopes }, { onCode: () => {} })))
      const cache = yield* TokenCache.TokenCache
      yield* cache.update((c) => ({ ...c, dpopKeys: new Map() }))
      const later = yield* inNewProcess(
        Effect.exit(
          Effect.flatMap(app(), (c) => c.acquireTokenSilent(scopes, signedIn.account, { forceRefresh: true }))
        )
      )
      assert.isTrue(Exit.isFailure(later) && String(later.cause).includes("invalid_grant"), String(later))
    }).pipe(Effect.provide(Layer.merge(TokenCache.layerMemory, TestKit.layer(server.script, { dpop: {} }))))
  })

  it.effect("a Bearer sign-in keeps no key, and drops one an earlier DPoP sign-in kept", () => {
    const server = TestKitCache.refreshServer()
    return Effect.gen(function*() {
      const bound = success(
        yield* runVirtual(Effect.flatMap(app(), (c) => c.acquireTokenWithDeviceCode({ scopes }, { onCode: () => {} })))
      )
      const cache = yield* TokenCache.TokenCache
      assert.strictEqual((yield* cache.read).dpopKeys.size, 1)
      // the same server, answering Bearer to a sign-in without proofs
      const bearer = success(
        yield* runVirtual(
          Effect.flatMap(app(false), (c) => c.acquireTokenWithDeviceCode({ scopes }, { onCode: () => {} }))
        )
      )
      assert.strictEqual(bearer.tokenType, "Bearer")
      assert.strictEqual(bearer.account.id, bound.account.id)
      assert.strictEqual((yield* cache.read).dpopKeys.size, 0)
    }).pipe(Effect.provide(Layer.merge(TokenCache.layerMemory, TestKit.layer(server.script, { dpop: {} }))))
  })

  it.effect("a saved session carries its key: a new process resuming it polls with the same key", () =>
    Effect.gen(function*() {
      const config = yield* TestKit.config({ dpop: true })
      const key = yield* Dpop.generateKeyPair()
      let saved: DeviceSession | undefined
      // the first process stops after the code is issued (say, it was restarted)
      yield* runVirtual(
        DeviceFlow.acquireToken(config, {}, {
          onCode: () => {},
          onEvent: (e) =>
            e._tag === "CodeIssued"
              ? Effect.zipRight(Effect.sync(() => (saved = e.session)), Effect.interrupt)
              : Effect.void
        })
      ).pipe(Effect.provide(Dpop.layerKey(key)))
      assert.strictEqual(saved?.dpopKey?.jkt, key.thumbprint)
      assert.notInclude(JSON.stringify(saved), "\"d\"")
      const resumed = yield* inNewProcess(runVirtual(DeviceFlow.resume(config, saved!)))
      assert.strictEqual(success(resumed).tokenType, "DPoP")
      const polls = yield* Effect.flatMap(TestKit.FakeServer, (s) => s.polls)
      assert.deepStrictEqual([...new Set(jkts(polls))], [key.thumbprint])
      // a damaged key is refused before any poll
      const damaged = yield* inNewProcess(
        Effect.exit(
          DeviceFlow.resume(config, { ...saved!, dpopKey: { ...saved!.dpopKey!, jkt: "another" } } as DeviceSession)
        )
      )
      assert.isTrue(Exit.isFailure(damaged) && String(damaged.cause).includes("session.dpopKey"))
    }).pipe(Effect.provide(TestKit.layer(TestKit.scenarios.pendingThenSuccess(2), { dpop: { required: true } }))))
})
