/**
 * The behaviour every TokenCache implementation must have, written once and
 * run against each of them (`layerMemory` here, the file cache in
 * `@devflow/cache-file`).
 *
 * The layer is built afresh for every test, so it must start empty. Tests
 * run on the live clock: persistent caches wait for locks in real time.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import type * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Ref from "effect/Ref"
import * as Account from "../src/Account.js"
import * as CacheContent from "../src/CacheContent.js"
import * as Dpop from "../src/Dpop.js"
import * as DpopCrypto from "../src/internal/dpop.js"
import * as TokenCache from "../src/TokenCache.js"

const AUTHORITY = "https://login.devflow.test/tenant-1/oauth2/v2.0/token"
const OTHER_AUTHORITY = "https://other.devflow.test/token"
const CLIENT = "client-a"
const OTHER_CLIENT = "client-b"

/** An OIDC account with a distinct subject. */
export const accountFor = (sub: string, authority = AUTHORITY): Account.Account =>
  Account.fromClaims(authority, {
    iss: "https://login.devflow.test/tenant-1/v2.0",
    sub,
    preferred_username: `${sub}@devflow.test`
  })!

const secret = (label: string) => Redacted.make(`SECRET-${label}-canary`)

/** What a sign-in stores for `account`. */
export const signIn = (
  account: Account.Account,
  options: {
    readonly clientId?: string
    readonly scopes?: ReadonlyArray<string>
    readonly label?: string
    readonly expiresOn?: number | undefined
    readonly refreshToken?: boolean
    readonly now?: number
  } = {}
): CacheContent.SaveInput => {
  const label = options.label ?? account.id
  return {
    authority: account.authority,
    clientId: options.clientId ?? CLIENT,
    account,
    accessToken: {
      secret: secret(`at-${label}`),
      tokenType: "Bearer",
      scopes: options.scopes ?? ["api.read", "offline_access", "openid"],
      expiresOn: "expiresOn" in options ? options.expiresOn : 1_700_000_000_000
    },
    refreshToken: options.refreshToken === false ? undefined : secret(`rt-${label}`),
    idToken: secret(`id-${label}`),
    now: options.now ?? 1_600_000_000_000
  }
}

const value = Redacted.value

export interface ContractOptions {
  /** wraps each test, its cache's layer included (e.g. to run it again on a revived fixture) */
  readonly around?: <E>(test: Effect.Effect<void, E>) => Effect.Effect<void, E>
}

export const tokenCacheContract = (
  name: string,
  layer: Layer.Layer<TokenCache.TokenCache, unknown>,
  options: ContractOptions = {}
) =>
  describe(`TokenCache contract: ${name}`, () => {
    const around = options.around ?? ((test) => test)
    const test = (title: string, body: Effect.Effect<void, unknown, TokenCache.TokenCache>) =>
      it.live(title, () => around(Effect.provide(body, layer)))

    test(
      "a new cache is empty, in the current format",
      Effect.gen(function*() {
        const cache = yield* TokenCache.TokenCache
        const content = yield* cache.read
        assert.strictEqual(content.version, CacheContent.CURRENT_VERSION)
        assert.strictEqual(CacheContent.size(content), 0)
        assert.deepStrictEqual(yield* cache.getAccounts(AUTHORITY), [])
        assert.isString(cache.location)
      })
    )

    test(
      "save stores the account and its access, refresh and id tokens; secrets stay Redacted",
      Effect.gen(function*() {
        const cache = yield* TokenCache.TokenCache
        const alice = accountFor("alice")
        yield* cache.save(signIn(alice))
        const content = yield* cache.read
        assert.deepStrictEqual(CacheContent.findAccount(content, AUTHORITY, alice.id), alice)
        const at = CacheContent.findAccessToken(content, AUTHORITY, CLIENT, alice.id, ["api.read"])
        assert.isDefined(at)
        assert.isTrue(Redacted.isRedacted(at!.secret))
        assert.strictEqual(value(at!.secret), "SECRET-at-" + alice.id + "-canary")
        assert.deepStrictEqual(at!.scopes, ["api.read", "offline_access", "openid"])
        assert.strictEqual(at!.tokenType, "Bearer")
        assert.strictEqual(at!.expiresOn, 1_700_000_000_000)
        assert.strictEqual(at!.cachedAt, 1_600_000_000_000)
        const rt = CacheContent.findRefreshToken(content, AUTHORITY, CLIENT, alice.id)
        assert.strictEqual(value(rt!.secret), "SECRET-rt-" + alice.id + "-canary")
        const id = CacheContent.findIdToken(content, AUTHORITY, CLIENT, alice.id)
        assert.strictEqual(value(id!.secret), "SECRET-id-" + alice.id + "-canary")
        // what a careless log line would print
        const printed = JSON.stringify([...content.accessTokens.values(), ...content.refreshTokens.values()])
        assert.notInclude(printed, "canary")
      })
    )

    test(
      "an access token without expiry, and every field of an account, are kept as they were",
      Effect.gen(function*() {
        const cache = yield* TokenCache.TokenCache
        const full = new Account.Account({
          id: "user:42",
          kind: "supplied",
          authority: AUTHORITY,
          username: "octocat",
          name: "The Octocat",
          tenantId: "t",
          issuer: "i",
          subject: "s"
        })
        yield* cache.save(signIn(full, { expiresOn: undefined, scopes: ["repo", "gist"] }))
        const content = yield* cache.read
        assert.deepStrictEqual(CacheContent.findAccount(content, AUTHORITY, "user:42"), full)
        const at = CacheContent.findAccessToken(content, AUTHORITY, CLIENT, "user:42", ["gist"])
        assert.isUndefined(at!.expiresOn)
        assert.deepStrictEqual(at!.scopes, ["gist", "repo"])
      })
    )

    test(
      "modify returns f's result and stores f's content; unchanged content stays as it was",
      Effect.gen(function*() {
        const cache = yield* TokenCache.TokenCache
        const out = yield* cache.modify((c) =>
          ["result", CacheContent.withTokens(c, signIn(accountFor("bob")))] as const
        )
        assert.strictEqual(out, "result")
        const before = yield* cache.read
        const same = yield* cache.modify((c) => [CacheContent.size(c), c] as const)
        assert.strictEqual(same, CacheContent.size(before))
        const after = yield* cache.read
        assert.strictEqual(CacheContent.size(after), CacheContent.size(before))
        assert.deepStrictEqual(CacheContent.listAccounts(after, AUTHORITY), [accountFor("bob")])
      })
    )

    test(
      "a new access token replaces the account's tokens with overlapping scopes and keeps the rest",
      Effect.gen(function*() {
        const cache = yield* TokenCache.TokenCache
        const alice = accountFor("alice")
        yield* cache.save(signIn(alice, { scopes: ["a", "b", "openid"], label: "ab" }))
        yield* cache.save(signIn(alice, { scopes: ["c"], label: "c" }))
        yield* cache.save(signIn(alice, { scopes: ["b", "d", "openid"], label: "bd" }))
        const content = yield* cache.read
        const scopeSets = [...content.accessTokens.values()].map((e) => e.scopes.join(" ")).sort()
        assert.deepStrictEqual(scopeSets, ["b d openid", "c"])
        assert.isUndefined(CacheContent.findAccessToken(content, AUTHORITY, CLIENT, alice.id, ["a"]))
        assert.strictEqual(
          value(CacheContent.findAccessToken(content, AUTHORITY, CLIENT, alice.id, ["d"])!.secret),
          "SECRET-at-bd-canary"
        )
        assert.strictEqual(
          value(CacheContent.findAccessToken(content, AUTHORITY, CLIENT, alice.id, ["c"])!.secret),
          "SECRET-at-c-canary"
        )
      })
    )

    test(
      "a new refresh token replaces the old one; a result without one keeps it",
      Effect.gen(function*() {
        const cache = yield* TokenCache.TokenCache
        const alice = accountFor("alice")
        yield* cache.save(signIn(alice, { label: "first" }))
        yield* cache.save(signIn(alice, { label: "second", refreshToken: false }))
        let rt = CacheContent.findRefreshToken(yield* cache.read, AUTHORITY, CLIENT, alice.id)
        assert.strictEqual(value(rt!.secret), "SECRET-rt-first-canary")
        yield* cache.save(signIn(alice, { label: "third" }))
        rt = CacheContent.findRefreshToken(yield* cache.read, AUTHORITY, CLIENT, alice.id)
        assert.strictEqual(value(rt!.secret), "SECRET-rt-third-canary")
        assert.strictEqual((yield* cache.read).refreshTokens.size, 1)
      })
    )

    test(
      "getAccounts lists an authority's accounts holding tokens of the client, by id",
      Effect.gen(function*() {
        const cache = yield* TokenCache.TokenCache
        yield* cache.save(signIn(accountFor("carol")))
        yield* cache.save(signIn(accountFor("alice")))
        yield* cache.save(signIn(accountFor("bob"), { clientId: OTHER_CLIENT }))
        yield* cache.save(signIn(accountFor("dave", OTHER_AUTHORITY)))
        const ids = (accounts: ReadonlyArray<Account.Account>) => accounts.map((a) => a.subject)
        assert.deepStrictEqual(ids(yield* cache.getAccounts(AUTHORITY, CLIENT)), ["alice", "carol"])
        assert.deepStrictEqual(ids(yield* cache.getAccounts(AUTHORITY, OTHER_CLIENT)), ["bob"])
        assert.deepStrictEqual(ids(yield* cache.getAccounts(AUTHORITY)), ["alice", "bob", "carol"])
        assert.deepStrictEqual(ids(yield* cache.getAccounts(OTHER_AUTHORITY, CLIENT)), ["dave"])
      })
    )

    test(
      "removeAccount forgets the account and every token it holds, and nothing else",
      Effect.gen(function*() {
        const cache = yield* TokenCache.TokenCache
        const alice = accountFor("alice")
        const bob = accountFor("bob")
        yield* cache.save(signIn(alice))
        yield* cache.save(signIn(alice, { clientId: OTHER_CLIENT, label: "alice-b" }))
        yield* cache.save(signIn(bob))
        assert.isTrue(yield* cache.removeAccount(AUTHORITY, alice.id))
        const content = yield* cache.read
        assert.isUndefined(CacheContent.findAccount(content, AUTHORITY, alice.id))
        const owners = [
          ...content.accessTokens.values(),
          ...content.refreshTokens.values(),
          ...content.idTokens.values()
        ].map((e) => e.accountId)
        assert.deepStrictEqual([...new Set(owners)], [bob.id])
        assert.strictEqual(CacheContent.size(content), 4)
        assert.isFalse(yield* cache.removeAccount(AUTHORITY, alice.id))
      })
    )

    test(
      "a DPoP key is kept with the tokens it binds: a refresh keeps it, an unbound sign-in drops it, removeAccount removes it",
      Effect.gen(function*() {
        const cache = yield* TokenCache.TokenCache
        const alice = accountFor("alice")
        const bob = accountFor("bob")
        const key = yield* Dpop.generateKeyPair()
        const stored = yield* DpopCrypto.toStored(key)
        yield* cache.save({ ...signIn(alice), dpopKey: stored })
        yield* cache.save({ ...signIn(bob), dpopKey: stored })
        const kept = CacheContent.findDpopKey(yield* cache.read, AUTHORITY, CLIENT, alice.id)
        assert.isTrue(kept !== undefined && Redacted.isRedacted(kept.secret))
        assert.strictEqual(kept?.jkt, key.thumbprint)
        // what is read back (from a file, a keychain, Redis) signs as the same key
        const restored = yield* Effect.flatten(Dpop.restore(kept!))
        assert.strictEqual(restored.thumbprint, key.thumbprint)
        yield* cache.save(signIn(alice, { label: "alice-refreshed" }))
        assert.isDefined(CacheContent.findDpopKey(yield* cache.read, AUTHORITY, CLIENT, alice.id))
        yield* cache.save({ ...signIn(bob, { label: "bob-bearer" }), dpopKey: null })
        assert.isUndefined(CacheContent.findDpopKey(yield* cache.read, AUTHORITY, CLIENT, bob.id))
        assert.isTrue(yield* cache.removeAccount(AUTHORITY, alice.id))
        assert.strictEqual((yield* cache.read).dpopKeys.size, 0)
      })
    )

    test(
      "clear forgets everything",
      Effect.gen(function*() {
        const cache = yield* TokenCache.TokenCache
        yield* cache.save(signIn(accountFor("alice")))
        yield* cache.clear
        assert.strictEqual(CacheContent.size(yield* cache.read), 0)
      })
    )

    test(
      "concurrent modifies lose none of each other's changes",
      Effect.gen(function*() {
        const cache = yield* TokenCache.TokenCache
        const n = 40
        yield* Effect.forEach(
          Array.from({ length: n }, (_, i) => i),
          (i) => cache.save(signIn(accountFor(`user-${i}`))),
          { concurrency: "unbounded", discard: true }
        )
        const content = yield* cache.read
        assert.strictEqual(content.accounts.size, n)
        assert.strictEqual(content.accessTokens.size, n)
        assert.strictEqual(content.refreshTokens.size, n)
      })
    )

    test(
      "readAccount holds the account's record and tokens and every client registration, as read holds them",
      Effect.gen(function*() {
        const cache = yield* TokenCache.TokenCache
        const [alice, bob] = [accountFor("alice"), accountFor("bob")]
        const registration = {
          tokenEndpoint: `${AUTHORITY}/token`,
          secret: secret("client"),
          authMethod: "client_secret_post" as const
        }
        yield* cache.save({ ...signIn(alice), client: registration })
        yield* cache.save(signIn(bob))
        const whole = yield* cache.read
        const own = yield* cache.readAccount(AUTHORITY, alice.id)
        assert.deepStrictEqual(
          CacheContent.findAccount(own, AUTHORITY, alice.id),
          CacheContent.findAccount(whole, AUTHORITY, alice.id)
        )
        for (const section of ["accessTokens", "refreshTokens", "idTokens"] as const) {
          const mine = [...whole[section].values()].filter((e) => e.accountId === alice.id)
          assert.deepStrictEqual([...own[section].values()].filter((e) => e.accountId === alice.id), mine)
        }
        assert.deepStrictEqual([...own.clients.values()], [...whole.clients.values()])
        assert.strictEqual(value(own.clients.values().next().value!.secret), value(registration.secret))
        // an account not in the cache reads as no record (and the registrations still)
        const nobody = yield* cache.readAccount(AUTHORITY, accountFor("nobody").id)
        assert.isUndefined(CacheContent.findAccount(nobody, AUTHORITY, accountFor("nobody").id))
        assert.strictEqual(nobody.clients.size, 1)
      })
    )

    test(
      "removeAccount keeps a client secret the user gave while another account uses it, and forgets it with the last",
      Effect.gen(function*() {
        const cache = yield* TokenCache.TokenCache
        const [alice, bob, carol] = [accountFor("alice"), accountFor("bob"), accountFor("carol")]
        // a secret the user gave (no registration) for CLIENT; carol signs in with another client
        const given = {
          tokenEndpoint: `${AUTHORITY}/token`,
          secret: secret("given"),
          authMethod: "client_secret_post" as const
        }
        yield* cache.save({ ...signIn(alice), client: given })
        yield* cache.save(signIn(bob))
        yield* cache.save(signIn(carol, { clientId: OTHER_CLIENT }))
        const secretOf = Effect.map(
          cache.read,
          (content) => CacheContent.findClient(content, given.tokenEndpoint, CLIENT)?.secret
        )
        assert.isTrue(yield* cache.removeAccount(AUTHORITY, alice.id))
        assert.strictEqual(value((yield* secretOf)!), "SECRET-given-canary")
        assert.isFalse(yield* cache.removeAccount(AUTHORITY, alice.id))
        assert.isTrue(yield* cache.removeAccount(AUTHORITY, bob.id))
        assert.isUndefined(yield* secretOf)
        assert.deepStrictEqual((yield* cache.getAccounts(AUTHORITY)).map((a) => a.id), [carol.id])
      })
    )

    test(
      "modifyAccount stores its change to that account and keeps every other; a change beyond it is stored too",
      Effect.gen(function*() {
        const cache = yield* TokenCache.TokenCache
        const [alice, bob, carol] = [accountFor("alice"), accountFor("bob"), accountFor("carol")]
        yield* cache.save(signIn(alice))
        yield* cache.save(signIn(bob))
        const result = yield* cache.modifyAccount(
          AUTHORITY,
          alice.id,
          (content) => ["mine", CacheContent.withTokens(content, signIn(alice, { label: "alice-2" }))] as const
        )
        assert.strictEqual(result, "mine")
        const after = yield* cache.read
        const token = (who: Account.Account) =>
          [...after.accessTokens.values()].filter((e) => e.accountId === who.id).map((e) => value(e.secret))
        assert.deepStrictEqual(token(alice), ["SECRET-at-alice-2-canary"])
        assert.deepStrictEqual(token(bob), [`SECRET-at-${bob.id}-canary`])
        // f given alice's view also signs carol in: made on the whole cache, nothing lost
        yield* cache.modifyAccount(
          AUTHORITY,
          alice.id,
          (content) => [undefined, CacheContent.withTokens(content, signIn(carol))] as const
        )
        assert.deepStrictEqual(
          (yield* cache.getAccounts(AUTHORITY, CLIENT)).map((a) => a.id).sort(),
          [alice.id, bob.id, carol.id].sort()
        )
      })
    )

    test(
      "withRefreshLock admits one holder per key at a time",
      Effect.gen(function*() {
        const cache = yield* TokenCache.TokenCache
        const inside = yield* Ref.make(0)
        const most = yield* Ref.make(0)
        const holder = cache.withRefreshLock(
          "key",
          Effect.gen(function*() {
            const now = yield* Ref.updateAndGet(inside, (n) => n + 1)
            yield* Ref.update(most, (m) => Math.max(m, now))
            yield* Effect.sleep("2 millis")
            yield* Ref.update(inside, (n) => n - 1)
          })
        )
        yield* Effect.all(Array.from({ length: 8 }, () => holder), { concurrency: "unbounded", discard: true })
        assert.strictEqual(yield* Ref.get(most), 1)
      })
    )

    test(
      "withRefreshLock does not make other keys wait",
      Effect.gen(function*() {
        const cache = yield* TokenCache.TokenCache
        const entered = yield* Deferred.make<void>()
        const release = yield* Deferred.make<void>()
        const first = yield* Effect.fork(
          cache.withRefreshLock("one", Effect.zipRight(Deferred.succeed(entered, undefined), Deferred.await(release)))
        )
        yield* Deferred.await(entered)
        const other = yield* cache.withRefreshLock("two", Effect.succeed("done")).pipe(Effect.timeout("5 seconds"))
        assert.strictEqual(other, "done")
        yield* Deferred.succeed(release, undefined)
        yield* Fiber.join(first)
      })
    )

    test(
      "withRefreshLock is released when its effect fails or is interrupted",
      Effect.gen(function*() {
        const cache = yield* TokenCache.TokenCache
        const failed = yield* Effect.exit(cache.withRefreshLock("key", Effect.fail("boom")))
        assert.isTrue(Exit.isFailure(failed))
        const entered = yield* Deferred.make<void>()
        const stuck = yield* Effect.fork(
          cache.withRefreshLock("key", Effect.zipRight(Deferred.succeed(entered, undefined), Effect.never))
        )
        yield* Deferred.await(entered)
        yield* Fiber.interrupt(stuck)
        const after = yield* cache.withRefreshLock("key", Effect.succeed("free")).pipe(Effect.timeout("5 seconds"))
        assert.strictEqual(after, "free")
      })
    )

    test(
      "a holder of the refresh lock can read and modify the cache",
      Effect.gen(function*() {
        const cache = yield* TokenCache.TokenCache
        const alice = accountFor("alice")
        yield* cache.withRefreshLock("key", Effect.zipRight(cache.save(signIn(alice)), cache.read))
        assert.strictEqual((yield* cache.getAccounts(AUTHORITY)).length, 1)
      })
    )
  })
