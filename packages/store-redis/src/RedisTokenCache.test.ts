import * as CacheContent from "@devflow/core/CacheContent"
import * as Dpop from "@devflow/core/Dpop"
import * as Silent from "@devflow/core/Silent"
import * as TestKit from "@devflow/core/TestKit"
import * as TestKitCache from "@devflow/core/TestKitCache"
import * as TokenCache from "@devflow/core/TokenCache"
import * as HttpClient from "@effect/platform/HttpClient"
import { afterAll, assert, describe, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Ref from "effect/Ref"
import { Redis } from "ioredis"
import * as DpopCrypto from "../../core/src/internal/dpop.js"
import { accountFor, signIn, tokenCacheContract } from "../../core/test/tokenCacheContract.js"
import {
  connect,
  connectionLayer,
  dumpAll,
  KEY_1,
  KEY_2,
  keyring,
  withConnection,
  withLostReply
} from "../test/helpers.js"
import { hasRedis, startRedis } from "../test/redisServer.js"
import { RedisConnection } from "./RedisConnection.js"
import * as RedisTokenCache from "./RedisTokenCache.js"

const server = hasRedis ? await startRedis() : undefined
afterAll(() => server?.close())

let namespaces = 0
const fresh = (options: RedisTokenCache.Options = {}) =>
  RedisTokenCache.layer({ namespace: `test-${process.pid}-${++namespaces}`, ...options })

describe.runIf(server !== undefined)("RedisTokenCache", () => {
  const url = server?.url ?? ""
  const AUTHORITY = accountFor("x").authority

  tokenCacheContract(
    "RedisTokenCache",
    Layer.suspend(() => fresh().pipe(Layer.provide(connectionLayer(url))))
  )

  it.live("two instances (two connections) share accounts, and their refreshes are single-flight", () =>
    Effect.gen(function*() {
      const ns = { namespace: `shared-${process.pid}` }
      const a = yield* RedisTokenCache.make(ns).pipe(withConnection(url))
      const b = yield* RedisTokenCache.make(ns).pipe(withConnection(url))
      yield* a.save(signIn(accountFor("alice")))
      assert.deepStrictEqual((yield* b.getAccounts(AUTHORITY)).map((x) => x.subject), ["alice"])
      const inside = yield* Ref.make(0)
      const most = yield* Ref.make(0)
      const holder = (cache: TokenCache.TokenCache) =>
        cache.withRefreshLock(
          "alice",
          Effect.gen(function*() {
            const now = yield* Ref.updateAndGet(inside, (n) => n + 1)
            yield* Ref.update(most, (m) => Math.max(m, now))
            yield* Effect.sleep("5 millis")
            yield* Ref.update(inside, (n) => n - 1)
          })
        )
      yield* Effect.all([a, b, a, b, a, b].map(holder), { concurrency: "unbounded", discard: true })
      assert.strictEqual(yield* Ref.get(most), 1)
    }).pipe(Effect.scoped))

  it.live("a waiter is woken by the release and takes what the holder stored: it never takes the lock", () =>
    Effect.gen(function*() {
      const ns = { namespace: `settled-${process.pid}` }
      const a = yield* RedisTokenCache.make(ns).pipe(withConnection(url))
      const b = yield* RedisTokenCache.make(ns).pipe(withConnection(url))
      const entered = yield* Deferred.make<void>()
      const release = yield* Deferred.make<void>()
      const stored = yield* Ref.make(false)
      const holder = yield* Effect.fork(a.withRefreshLock(
        "carol",
        Effect.gen(function*() {
          yield* Deferred.succeed(entered, undefined)
          yield* Deferred.await(release)
          yield* Ref.set(stored, true)
          return "refreshed"
        })
      ))
      yield* Deferred.await(entered)
      const ranUnderLock = yield* Ref.make(false)
      const waiter = yield* Effect.fork(b.withRefreshLock(
        "carol",
        Effect.as(Ref.set(ranUnderLock, true), "refreshed again"),
        Effect.map(Ref.get(stored), (done) => done ? Option.some("from the cache") : Option.none())
      ))
      yield* Effect.sleep("50 millis")
      yield* Deferred.succeed(release, undefined)
      assert.strictEqual(yield* Fiber.join(holder), "refreshed")
      assert.strictEqual(yield* Fiber.join(waiter), "from the cache")
      assert.isFalse(yield* Ref.get(ranUnderLock))
    }).pipe(Effect.scoped))

  it.live("a caller waiting for the refresh lock is interrupted at once, not when the wait times out", () =>
    Effect.gen(function*() {
      const ns = { namespace: `interrupt-${process.pid}`, refreshLockTimeout: "60 seconds" } as const
      const a = yield* RedisTokenCache.make(ns).pipe(withConnection(url))
      const b = yield* RedisTokenCache.make(ns).pipe(withConnection(url))
      const entered = yield* Deferred.make<void>()
      const holder = yield* Effect.fork(
        a.withRefreshLock("dave", Effect.zipRight(Deferred.succeed(entered, undefined), Effect.never))
      )
      yield* Deferred.await(entered)
      const waiter = yield* Effect.fork(b.withRefreshLock("dave", Effect.succeed("never")))
      yield* Effect.sleep("100 millis")
      // a bound with headroom: the wait it replaces is the 60 s lock timeout
      const stopped = yield* Fiber.interrupt(waiter).pipe(Effect.timeout("10 seconds"), Effect.option)
      assert.isTrue(Option.isSome(stopped), "the waiter did not stop within 10 s")
      yield* Fiber.interrupt(holder)
      // and the lock is free for the next caller
      assert.strictEqual(yield* b.withRefreshLock("dave", Effect.succeed("free")), "free")
    }).pipe(Effect.scoped))

  it.live("a holder whose refresh lock expired can never write", () =>
    Effect.gen(function*() {
      const namespace = `fenced-${process.pid}`
      const cache = yield* RedisTokenCache.make({ namespace, lockLease: "200 millis" }).pipe(
        withConnection(url)
      )
      const redis = new Redis(url)
      yield* Effect.addFinalizer(() => Effect.sync(() => redis.disconnect()))
      const error = yield* Effect.flip(cache.withRefreshLock(
        "bob",
        Effect.gen(function*() {
          // another instance's view: the lock is gone (expired during an outage) and someone else holds it
          const locks = yield* Effect.promise(() => redis.keys(`devflow:{devflow:tokens:${namespace}}:lock:*`))
          assert.strictEqual(locks.length, 1)
          yield* Effect.promise(() => redis.set(locks[0]!, "999999"))
          yield* cache.save(signIn(accountFor("bob")))
        })
      ))
      assert.strictEqual(error._tag, "CacheUnavailable")
      assert.strictEqual(error._tag === "CacheUnavailable" && error.reason, "connection")
      assert.include(error.message, "lost its refresh lock")
      assert.deepStrictEqual(yield* cache.getAccounts(AUTHORITY), [])
    }).pipe(Effect.scoped))

  it.live("the refresh lock lapses mid-refresh and another instance takes it: the caller gets the tokens, the rotated refresh token is merged", () =>
    Effect.gen(function*() {
      const namespace = `lapse-${process.pid}`
      const cache = yield* RedisTokenCache.make({ namespace, lockLease: "300 millis" }).pipe(withConnection(url))
      const redis = new Redis(url)
      yield* Effect.addFinalizer(() => Effect.sync(() => redis.disconnect()))
      const server = TestKitCache.refreshServer({ rotate: true })
      const inFlight = yield* Deferred.make<void>()
      const answer = yield* Deferred.make<void>()
      // the token endpoint answers only once the test let the lease lapse
      const http = Layer.effect(
        HttpClient.HttpClient,
        Effect.map(
          HttpClient.HttpClient,
          (client) =>
            HttpClient.mapRequestEffect(
              client,
              (request) =>
                Effect.zipRight(Deferred.succeed(inFlight, undefined), Effect.as(Deferred.await(answer), request))
            )
        )
      ).pipe(Layer.provideMerge(TestKit.layer(server.script)))
      const run = <A, E>(
        effect: Effect.Effect<A, E, TokenCache.TokenCache | HttpClient.HttpClient | TestKit.FakeServer>
      ) => effect.pipe(Effect.provideService(TokenCache.TokenCache, cache), Effect.provide(http))
      const silent = (forceRefresh: boolean) =>
        Effect.flatMap(
          TestKit.config(),
          (config) =>
            Silent.acquireSilent({ config, account: TestKitCache.account, scopes: ["api.read"], forceRefresh })
        )
      yield* run(TestKitCache.seed({ withoutAccessToken: true }))
      const refreshing = yield* Effect.fork(run(silent(false)))
      yield* Deferred.await(inFlight)
      const [lock] = yield* Effect.promise(() => redis.keys(`devflow:{devflow:tokens:${namespace}}:lock:*`))
      assert.isDefined(lock)
      // the lease lapses (a pause longer than it) and another instance takes the lock: in one
      // command, so that the holder's renewal cannot slip in between
      yield* Effect.promise(() => redis.set(lock!, "999999", "PX", 60_000))
      yield* Deferred.succeed(answer, undefined)
      const result = yield* Fiber.join(refreshing)
      assert.strictEqual(Redacted.value(result.accessToken), TestKitCache.accessToken(1))
      const stored = CacheContent.findRefreshToken(
        yield* cache.read,
        TestKitCache.AUTHORITY,
        TestKit.CLIENT_ID,
        TestKitCache.account.id
      )
      assert.strictEqual(Redacted.value(stored!.secret), TestKitCache.refreshToken(1))
      // the other instance lets go: the next refresh sends the rotated token, which the server accepts
      yield* Effect.promise(() => redis.del(lock!))
      const later = yield* run(silent(true))
      assert.strictEqual(Redacted.value(later.accessToken), TestKitCache.accessToken(2))
    }).pipe(Effect.scoped))

  it.live("a refresh lock whose LOCK reply was lost and retried is held at once (the retry is recognised, not refused)", () =>
    Effect.gen(function*() {
      const namespace = `lost-reply-${process.pid}`
      const flaky = withLostReply(yield* connect(url), "tokenCache.lock")
      const cache = yield* RedisTokenCache.make({ namespace, lockLease: "5 seconds", refreshLockTimeout: "2 seconds" })
        .pipe(
          Effect.provideService(RedisConnection, flaky.connection)
        )
      yield* cache.withRefreshLock("frank", cache.save(signIn(accountFor("frank"))))
      assert.isTrue(flaky.lost())
      assert.strictEqual((yield* cache.getAccounts(AUTHORITY)).length, 1)
    }).pipe(Effect.scoped))

  it.live("at rest nothing is in clear; the key expires with the refresh token's lifetime", () =>
    Effect.gen(function*() {
      const namespace = `at-rest-${process.pid}`
      const cache = yield* RedisTokenCache.make({ namespace, refreshTokenLifetime: "30 days" }).pipe(
        withConnection(url)
      )
      // a DPoP key is sealed with the tokens it binds
      const dpopKey = yield* Effect.flatMap(Dpop.generateKeyPair(), DpopCrypto.toStored)
      yield* cache.save({ ...signIn(accountFor("carol")), dpopKey })
      const dump = yield* Effect.promise(() => dumpAll(url))
      assert.include(dump, `tokens:${namespace}`)
      assert.notInclude(dump, "canary")
      assert.notInclude(dump, (JSON.parse(Redacted.value(dpopKey.secret)) as { d: string }).d)
      assert.notInclude(dump, "carol@devflow.test")
      const redis = new Redis(url)
      const ttl = yield* Effect.promise(() => redis.pttl(`devflow:{devflow:tokens:${namespace}}:parts`))
      redis.disconnect()
      assert.approximately(ttl, 30 * 86_400_000, 60_000)
    }).pipe(Effect.scoped))

  /** `connection`, counting the runs of each script by name. */
  const counting = (connection: RedisConnection) => {
    const runs = new Map<string, number>()
    const counted: RedisConnection = {
      ...connection,
      script: (script, keys, args) => {
        runs.set(script.name, (runs.get(script.name) ?? 0) + 1)
        return connection.script(script, keys, args)
      }
    }
    return { connection: counted, runs: (name: string) => runs.get(name) ?? 0 }
  }

  it.live("each account is its own part: writers of different accounts, on two instances at once, never conflict", () =>
    Effect.gen(function*() {
      const ns = { namespace: `parts-${process.pid}` }
      const a = counting(yield* connect(url))
      const b = counting(yield* connect(url))
      const cacheA = yield* RedisTokenCache.make(ns).pipe(Effect.provideService(RedisConnection, a.connection))
      const cacheB = yield* RedisTokenCache.make(ns).pipe(Effect.provideService(RedisConnection, b.connection))
      const names = Array.from({ length: 20 }, (_, i) => `user-${i}`)
      yield* Effect.forEach(names, (name, i) => (i % 2 === 0 ? cacheA : cacheB).save(signIn(accountFor(name))), {
        concurrency: "unbounded",
        discard: true
      })
      // one compare-and-set per save: none was refused and retried
      assert.strictEqual(a.runs("tokenCache.write") + b.runs("tokenCache.write"), names.length)
      assert.strictEqual((yield* cacheB.getAccounts(AUTHORITY)).length, names.length)
      // a write of one account leaves every other account's stored value as it was
      const redis = new Redis(url)
      yield* Effect.addFinalizer(() => Effect.sync(() => redis.disconnect()))
      const parts = () => Effect.promise(() => redis.hgetall(`devflow:{devflow:tokens:${ns.namespace}}:parts`))
      const before = yield* parts()
      yield* cacheA.save(signIn(accountFor("user-3"), { label: "again" }))
      const after = yield* parts()
      const changed = Object.keys(after).filter((part) => after[part] !== before[part])
      assert.strictEqual(changed.length, 1)
    }).pipe(Effect.scoped))

  it.live("a silent call reads only its account's part: another account's damaged part does not touch it", () =>
    Effect.gen(function*() {
      const ns = { namespace: `own-part-${process.pid}` }
      const cache = yield* RedisTokenCache.make(ns).pipe(withConnection(url))
      const [ivy, jack] = [accountFor("ivy"), accountFor("jack")]
      yield* cache.save(signIn(ivy))
      yield* cache.save(signIn(jack))
      const redis = new Redis(url)
      yield* Effect.addFinalizer(() => Effect.sync(() => redis.disconnect()))
      const key = `devflow:{devflow:tokens:${ns.namespace}}:parts`
      const before = yield* Effect.promise(() => redis.hgetall(key))
      // damage every part but ivy's: found by trying which one ivy's read still opens
      for (const part of Object.keys(before)) {
        yield* Effect.promise(() =>
          redis.hset(key, part, `${before[part]!.split("|")[0]}|v2.k1.damaged.damaged.damaged`)
        )
        const ok = yield* Effect.either(cache.readAccount(AUTHORITY, ivy.id))
        if (ok._tag === "Left") yield* Effect.promise(() => redis.hset(key, part, before[part]!))
      }
      const own = yield* cache.readAccount(AUTHORITY, ivy.id)
      assert.isDefined(CacheContent.findAccount(own, AUTHORITY, ivy.id))
      assert.isUndefined(CacheContent.findAccount(own, AUTHORITY, jack.id))
      // the whole cache does not open, and says so
      const whole = yield* Effect.flip(cache.read)
      assert.strictEqual(whole._tag, "CacheCorrupt")
    }).pipe(Effect.scoped))

  it.live("the whole-cache document of earlier versions is read: the first read moves it into parts, then deletes it", () =>
    Effect.gen(function*() {
      const namespace = `legacy-${process.pid}`
      const connection = yield* connect(url)
      const old = yield* TokenCache.makeMemory()
      yield* old.save(signIn(accountFor("gina")))
      yield* old.save(signIn(accountFor("hugo")))
      // as versions before 0.2 stored it: one hash, a version and the whole content sealed
      const redis = new Redis(url)
      yield* Effect.addFinalizer(() => Effect.sync(() => redis.disconnect()))
      const legacyKey = `devflow:{devflow:tokens:${namespace}}:cache`
      const sealed = connection.keyring.seal(`tokens:${namespace}`, CacheContent.toJson(yield* old.read))
      yield* Effect.promise(() => redis.hset(legacyKey, "ver", "7", "data", sealed))
      const cache = yield* RedisTokenCache.make({ namespace }).pipe(Effect.provideService(RedisConnection, connection))
      const accounts = yield* cache.getAccounts(AUTHORITY)
      assert.deepStrictEqual(accounts.map((x) => x.subject).sort(), ["gina", "hugo"])
      assert.strictEqual(yield* Effect.promise(() => redis.exists(legacyKey)), 0)
      const stored = CacheContent.findRefreshToken(yield* cache.read, AUTHORITY, "client-a", accounts[0]!.id)
      assert.include(Redacted.value(stored!.secret), "rt-")
      // and it is a cache like any other afterwards
      assert.isTrue(yield* cache.removeAccount(AUTHORITY, accounts[0]!.id))
      assert.strictEqual((yield* cache.getAccounts(AUTHORITY)).length, 1)
    }).pipe(Effect.scoped))

  it.live("a sign-in and a sign-out touch their own account only: another account's part that no key opens fails neither", () =>
    Effect.gen(function*() {
      const namespace = `own-${process.pid}`
      const withKeys = (...keys: ReadonlyArray<readonly [string, string]>) =>
        RedisTokenCache.make({ namespace }).pipe(withConnection(url, { keyring: keyring(...keys) }))
      // dave's part sealed with a key the second instance does not have
      yield* (yield* withKeys(["k1", KEY_1])).save(signIn(accountFor("dave")))
      const other = yield* withKeys(["k2", KEY_2])
      yield* other.save(signIn(accountFor("erin")))
      const own = yield* other.readAccount(AUTHORITY, accountFor("erin").id)
      assert.strictEqual(CacheContent.findAccount(own, AUTHORITY, accountFor("erin").id)?.subject, "erin")
      assert.isTrue(yield* other.removeAccount(AUTHORITY, accountFor("erin").id))
      // what needs every account still reads every one, and says which it could not open
      assert.strictEqual((yield* Effect.flip(other.getAccounts(AUTHORITY)))._tag, "CacheCorrupt")
      const first = yield* withKeys(["k1", KEY_1])
      assert.deepStrictEqual((yield* first.getAccounts(AUTHORITY)).map((a) => a.subject), ["dave"])
    }).pipe(Effect.scoped))

  it.live("keys rotate: a new current key reads the old values and seals new ones; an unknown key id is CacheCorrupt", () =>
    Effect.gen(function*() {
      const namespace = `rotate-${process.pid}`
      const withKeys = (...keys: ReadonlyArray<readonly [string, string]>) =>
        RedisTokenCache.make({ namespace }).pipe(withConnection(url, { keyring: keyring(...keys) }))
      const old = yield* withKeys(["k1", KEY_1])
      yield* old.save(signIn(accountFor("dave")))
      const rotated = yield* withKeys(["k2", KEY_2], ["k1", KEY_1])
      assert.strictEqual((yield* rotated.getAccounts(AUTHORITY)).length, 1)
      yield* rotated.save(signIn(accountFor("erin")))
      const ours = () => dumpAll(url, `*:${namespace}}*`)
      const dump = yield* Effect.promise(ours)
      assert.include(dump, "v2.k2.")
      // a sign-in seals its own account only: dave's stays sealed with k1 until `reseal`
      assert.include(dump, "v2.k1.")
      const onlyNew = yield* withKeys(["k2", KEY_2])
      assert.strictEqual((yield* Effect.flip(onlyNew.read))._tag, "CacheCorrupt")
      const reseal = RedisTokenCache.reseal({ namespace }).pipe(
        withConnection(url, { keyring: keyring(["k2", KEY_2], ["k1", KEY_1]) })
      )
      assert.strictEqual(yield* reseal, 1)
      assert.notInclude(yield* Effect.promise(ours), "v2.k1.")
      assert.strictEqual(yield* reseal, 0)
      assert.strictEqual((yield* onlyNew.getAccounts(AUTHORITY)).length, 2)
      const stranger = yield* withKeys(["k3", KEY_1])
      const error = yield* Effect.flip(stranger.read)
      assert.strictEqual(error._tag, "CacheCorrupt")
      // each account is sealed apart: whichever the read opens first names its key
      assert.match(error.message, /key id "k[12]"/)
    }).pipe(Effect.scoped))

  it.live("an unreachable Redis is CacheUnavailable within the bounded retries, not a hang", () =>
    Effect.gen(function*() {
      const cache = yield* RedisTokenCache.make().pipe(
        withConnection("redis://127.0.0.1:1", { commandTimeout: "300 millis", attempts: 2 })
      )
      const started = Date.now()
      const error = yield* Effect.flip(cache.read)
      assert.strictEqual(error._tag, "CacheUnavailable")
      assert.strictEqual(error._tag === "CacheUnavailable" && error.reason, "connection")
      assert.include(error.message, "redis://127.0.0.1:1")
      assert.isBelow(Date.now() - started, 3_000)
      // the maintenance call too: a typed error, not a hang
      const resealed = yield* Effect.flip(
        RedisTokenCache.reseal().pipe(
          withConnection("redis://127.0.0.1:1", { commandTimeout: "300 millis", attempts: 2 })
        )
      )
      assert.strictEqual(resealed._tag, "CacheUnavailable")
    }).pipe(Effect.scoped))
})
