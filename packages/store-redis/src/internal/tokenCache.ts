/** @internal */
import * as CacheContent from "@devflow/core/CacheContent"
import * as Recent from "@devflow/core/Recent"
import * as TokenCache from "@devflow/core/TokenCache"
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberRef from "effect/FiberRef"
import * as Option from "effect/Option"
import * as crypto from "node:crypto"
import type { RedisConnection, RedisUnavailable } from "../RedisConnection.js"
import * as Parts from "./cacheParts.js"
import { script } from "./connection.js"
import { attemptId, monotonicNow, RELEASE, RENEW } from "./lease.js"

/** @internal */
export interface Settings {
  readonly namespace: string
  readonly refreshTokenLifetime: Duration.Duration
  readonly lockLease: Duration.Duration
  readonly refreshLockTimeout: Duration.Duration
  readonly maxConflicts: number
}

// Compare-and-set of the parts a change touches (cacheParts.ts), all or none. Each part's value is
// "<version>|<sealed JSON>"; versions come from one counter, so a part removed and made again never
// repeats a version a slow writer still expects. A write made under a refresh lock carries the
// lock's fencing token and is refused once the lock is lost.
// KEYS: the parts, the lock (or the parts again), the version counter.
// ARGV: the key's life in ms, the fencing token or "", then per part: name, expected version, value ("" removes it).
const WRITE = script(
  "tokenCache.write",
  `if ARGV[2] ~= "" and redis.call("GET", KEYS[2]) ~= ARGV[2] then return -2 end
for i = 3, #ARGV, 3 do
  local current = redis.call("HGET", KEYS[1], ARGV[i])
  local version = "0"
  if current then version = string.match(current, "^(%d+)|") end
  if version ~= ARGV[i + 1] then return -1 end
end
local nv = redis.call("INCR", KEYS[3])
for i = 3, #ARGV, 3 do
  if ARGV[i + 2] == "" then
    redis.call("HDEL", KEYS[1], ARGV[i])
  else
    redis.call("HSET", KEYS[1], ARGV[i], nv .. "|" .. ARGV[i + 2])
  end
end
if redis.call("PTTL", KEYS[1]) < tonumber(ARGV[1]) then redis.call("PEXPIRE", KEYS[1], ARGV[1]) end
return nv`
)

// Everything a read needs in one round trip: the parts, and the whole-cache document that
// versions before 0.2 kept (KEYS[2]), read until it is migrated.
const READ = script(
  "tokenCache.read",
  `return {redis.call("HGETALL", KEYS[1]), redis.call("HGET", KEYS[2], "data") or ""}`
)

// One account's part and every client registration's part, in one round trip (TokenCache.readAccount),
// or 0 while the whole-cache document of versions before 0.2 is there (a whole read migrates it).
// KEYS: the parts, the old document. ARGV: the account's part, how client parts' names begin.
const READ_ACCOUNT = script(
  "tokenCache.readAccount",
  `if redis.call("EXISTS", KEYS[2]) == 1 then return 0 end
local names = {ARGV[1]}
for _, name in ipairs(redis.call("HKEYS", KEYS[1])) do
  if string.sub(name, 1, #ARGV[2]) == ARGV[2] then names[#names + 1] = name end
end
local values = redis.call("HMGET", KEYS[1], unpack(names))
local found = {}
for i, name in ipairs(names) do
  if values[i] then
    found[#found + 1] = name
    found[#found + 1] = values[i]
  end
end
return found`
)

// Moves the whole-cache document into parts (already sealed by the caller): a part already
// written in the new form wins. KEYS: the parts, the old document, the version counter.
const MIGRATE = script(
  "tokenCache.migrate",
  `if redis.call("EXISTS", KEYS[2]) == 0 then return 0 end
local nv = redis.call("INCR", KEYS[3])
for i = 2, #ARGV, 2 do redis.call("HSETNX", KEYS[1], ARGV[i], nv .. "|" .. ARGV[i + 1]) end
if redis.call("PTTL", KEYS[1]) < tonumber(ARGV[1]) then redis.call("PEXPIRE", KEYS[1], ARGV[1]) end
redis.call("DEL", KEYS[2])
return 1`
)

// The lock holds "<fence>|<attempt>": the same attempt sent again (its reply was lost and the
// command retried) gets the lock it already took, instead of waiting for it to expire.
const LOCK = script(
  "tokenCache.lock",
  `local held = redis.call("GET", KEYS[1])
if held then
  if string.sub(held, -(#ARGV[2] + 1)) == "|" .. ARGV[2] then return held end
  return 0
end
local v = redis.call("INCR", KEYS[2]) .. "|" .. ARGV[2]
redis.call("SET", KEYS[1], v, "PX", ARGV[1])
return v`
)

// Polled every 10 → 100 ms until subscribed to releases; then every 250 ms → 1 s, a fallback only
// (a holder that died releases nothing, a message may be lost while the subscriber reconnects).
const nextLockPoll = (wait: number, subscribed: boolean): number =>
  subscribed ? Math.min(Math.max(wait * 2, 250), 1_000) : Math.min(wait * 2, 100)

interface Held {
  readonly lockKey: string
  readonly fence: string
}

// The refresh lock this fiber holds, if any (inherited by the fibers it forks).
const held = FiberRef.unsafeMake<Option.Option<Held>>(Option.none())

/** @internal */
export const make = (
  connection: RedisConnection,
  settings: Settings
): Effect.Effect<TokenCache.TokenCache & { readonly reseal: Effect.Effect<number, TokenCache.TokenCacheError> }> =>
  Effect.gen(function*() {
    // one hash slot for the whole cache (Redis Cluster): every key shares the tag
    const tag = `{${connection.prefix}:tokens:${settings.namespace}}`
    const partsKey = `${connection.prefix}:${tag}:parts`
    const versionKey = `${connection.prefix}:${tag}:version`
    // the whole cache in one document (before 0.2): read and migrated into parts
    const legacyKey = `${connection.prefix}:${tag}:cache`
    const fenceKey = `${connection.prefix}:${tag}:fence`
    const lockKeyOf = (key: string) =>
      `${connection.prefix}:${tag}:lock:${crypto.createHash("sha256").update(key).digest("base64url").slice(0, 22)}`
    const location = `${connection.location} ${partsKey}`
    const place = `tokens:${settings.namespace}`
    // a part opens only under its own name: a value moved to another part does not
    const placeOf = (part: string) => `${place}:${part}`

    const unavailable = (error: RedisUnavailable) =>
      new TokenCache.CacheUnavailable({ location, reason: "connection", detail: error.message })

    const open = (where: string, sealed: string) =>
      Effect.flatMap(
        connection.keyring.open(where, sealed).pipe(
          Effect.mapError((broken) => new TokenCache.CacheCorrupt({ location, reason: broken.reason }))
        ),
        (text) => CacheContent.fromJson(text, location)
      )

    // Keys live as long as what they hold: a refresh token for its configured lifetime, else the longest access token.
    const ttlOf = (content: CacheContent.CacheContent, now: number): number => {
      if (content.refreshTokens.size > 0) return Duration.toMillis(settings.refreshTokenLifetime)
      let until = now
      for (const entry of content.accessTokens.values()) until = Math.max(until, entry.expiresOn ?? now + 86_400_000)
      return Math.max(60_000, until - now)
    }

    const migrate = (sealed: string) =>
      Effect.gen(function*() {
        const content = yield* open(place, sealed)
        const args: Array<string | number> = [ttlOf(content, yield* Clock.currentTimeMillis)]
        for (const [part, json] of Parts.split(content)) args.push(part, connection.keyring.seal(placeOf(part), json))
        yield* connection.script(MIGRATE, [partsKey, legacyKey, versionKey], args).pipe(Effect.mapError(unavailable))
      })

    const readRaw = Effect.map(
      connection.script(READ, [partsKey, legacyKey], []).pipe(Effect.mapError(unavailable)),
      (answer) => answer as [Array<string>, string]
    )

    // Parts opened before, by their stored value ("<version>|<sealed>"): a part unchanged since is
    // not opened and decoded again, and an unchanged cache is not joined again (a read is then one
    // round trip and no decoding, up to Parts.REMEMBERED_PARTS accounts).
    type Opened = { readonly json: string; readonly content: CacheContent.CacheContent }
    // Bounded: a service meets ever more accounts over its life. A listing of a namespace with more
    // accounts than that opens the others again (a silent call needs only its own part).
    // Each holds the part's JSON and decoded content, a few KB.
    const opened = Recent.make<string, { readonly value: string; readonly opened: Opened }>(Parts.REMEMBERED_PARTS)
    const openPart = (part: string, value: string, sealed: string) =>
      connection.keyring.open(placeOf(part), sealed).pipe(
        Effect.mapError((broken) => new TokenCache.CacheCorrupt({ location, reason: broken.reason })),
        Effect.flatMap((json) => Effect.map(CacheContent.fromJson(json, location), (content) => ({ json, content }))),
        Effect.tap((result) => Effect.sync(() => opened.set(part, { value, opened: result })))
      )

    // A silent call or a listing reads without writing: the grouping (an encoding of every entry and
    // a digest per part name) waits for a write, and is made once for a view however often it is asked.
    const groupedLater = (content: CacheContent.CacheContent) => {
      let parts: ReturnType<typeof Parts.group> | undefined
      return () => parts ??= Parts.group(content)
    }

    interface View {
      readonly versions: Map<string, string>
      readonly stored: Map<string, string>
      readonly stale: Set<string>
      readonly content: CacheContent.CacheContent
      /** the content by part: only a write needs it, so it is grouped then, once per view */
      readonly parts: () => ReturnType<typeof Parts.group>
      /** the parts this view holds, when it holds only some (an account's) */
      readonly holds?: (part: string) => boolean
    }

    // The parts of a reply (name, value, name, value…) opened: those already known without an effect.
    const openAll = (flat: ReadonlyArray<string>) => {
      const versions = new Map<string, string>()
      const stale = new Set<string>()
      const contents = new Map<string, Opened>()
      const missing: Array<readonly [string, string, string]> = []
      for (let i = 0; i < flat.length; i += 2) {
        const [part, value] = [flat[i]!, flat[i + 1]!]
        const bar = value.indexOf("|")
        const sealed = value.slice(bar + 1)
        versions.set(part, value.slice(0, bar))
        if (connection.keyring.isStale(sealed)) stale.add(part)
        const known = opened.get(part)
        if (known?.value === value) contents.set(part, known.opened)
        else missing.push([part, value, sealed])
      }
      const result = { versions, stale, contents }
      if (missing.length === 0) return Effect.succeed(result)
      return Effect.as(
        Effect.forEach(
          missing,
          ([part, value, sealed]) => Effect.map(openPart(part, value, sealed), (done) => void contents.set(part, done)),
          { discard: true }
        ),
        result
      )
    }

    const viewOf = (
      { contents, stale, versions }: Effect.Effect.Success<ReturnType<typeof openAll>>,
      content: CacheContent.CacheContent,
      parts: () => ReturnType<typeof Parts.group>
    ): View => ({
      versions,
      stale,
      content,
      parts,
      stored: new Map([...contents].map(([part, { json }]) => [part, json]))
    })

    let joined:
      | {
        readonly signature: string
        readonly content: CacheContent.CacheContent
        readonly parts: () => ReturnType<typeof Parts.group>
      }
      | undefined

    // Every part, with its version and stored JSON, and the content they make up.
    const readParts: Effect.Effect<View, TokenCache.TokenCacheError> = Effect.gen(function*() {
      const [first, legacy] = yield* readRaw
      const flat = legacy === ""
        ? first
        : yield* Effect.zipRight(migrate(legacy), Effect.map(readRaw, ([parts]) => parts))
      const found = yield* openAll(flat)
      for (const part of opened.keys()) if (!found.versions.has(part)) opened.delete(part)
      const names = [...found.versions.keys()].sort()
      const signature = names.map((part) => `${part}:${found.versions.get(part)}`).join(",")
      if (joined?.signature !== signature) {
        const content = Parts.join(names.map((part) => found.contents.get(part)!.content))
        joined = { signature, content, parts: groupedLater(content) }
      }
      return viewOf(found, joined.content, joined.parts)
    })

    // One account's part and the client registrations: what a silent call reads, whatever the
    // number of other accounts (issue 23). The whole cache while it is still in the old document.
    const readAccountParts = (authority: string, accountId: string): Effect.Effect<View, TokenCache.TokenCacheError> =>
      Effect.suspend(() => {
        const own = Parts.accountPart(authority, accountId)
        return connection.script(READ_ACCOUNT, [partsKey, legacyKey], [own, Parts.CLIENT_PART_PREFIX]).pipe(
          Effect.mapError(unavailable),
          Effect.flatMap((answer) => {
            if (!Array.isArray(answer)) return readParts
            const flat = answer as Array<string>
            return Effect.map(openAll(flat), (found) => {
              if (!found.versions.has(own)) opened.delete(own)
              const content = Parts.join([...found.contents.values()].map((part) => part.content))
              return {
                ...viewOf(found, content, groupedLater(content)),
                holds: (part: string) => part === own || Parts.isClientPart(part)
              }
            })
          })
        )
      })

    const modify = <A>(f: (content: CacheContent.CacheContent) => readonly [A, CacheContent.CacheContent]) =>
      modifyView(readParts, f)

    const modifyView = <A>(
      readView: Effect.Effect<View, TokenCache.TokenCacheError>,
      f: (content: CacheContent.CacheContent) => readonly [A, CacheContent.CacheContent]
    ): Effect.Effect<A, TokenCache.TokenCacheError> =>
      Effect.gen(function*() {
        // only a lock of this cache fences its writes (another cache's lock lives in another slot)
        const lock = Option.filter(
          yield* FiberRef.get(held),
          (h) => h.lockKey.startsWith(`${connection.prefix}:${tag}:`)
        )
        for (let attempt = 0; attempt < settings.maxConflicts; attempt++) {
          const { content, holds, parts, stale, stored, versions } = yield* readView
          const [result, next] = f(content)
          if (next === content) return result
          const after = Parts.group(next)
          const touched = Parts.touched(parts(), after)
          // a change beyond the parts read (another account's) is made on the whole cache, read again
          if (holds !== undefined && !touched.every(holds)) return yield* modify(f)
          const changed = new Map<string, string>()
          for (const part of touched) {
            const entries = after.get(part)
            const json = entries === undefined ? "" : Parts.toJson(entries)
            if (json !== (stored.get(part) ?? "")) changed.set(part, json)
          }
          // a write seals again every part an older key sealed (key rotation: docs/scaling.md)
          for (const part of stale) {
            if (!changed.has(part) && after.has(part)) changed.set(part, Parts.toJson(after.get(part)!))
          }
          if (changed.size === 0) return result
          const now = yield* Clock.currentTimeMillis
          const args: Array<string | number> = [ttlOf(next, now), Option.isSome(lock) ? lock.value.fence : ""]
          for (const [part, json] of changed) {
            args.push(part, versions.get(part) ?? "0", json === "" ? "" : connection.keyring.seal(placeOf(part), json))
          }
          const answer = yield* connection.script(
            WRITE,
            [partsKey, Option.isSome(lock) ? lock.value.lockKey : partsKey, versionKey],
            args
          ).pipe(Effect.mapError(unavailable))
          if (answer === -2) {
            return yield* new TokenCache.CacheUnavailable({
              location,
              reason: "connection",
              detail:
                "this instance lost its refresh lock (it expired while Redis was unreachable): the write was refused"
            })
          }
          if (answer !== -1) return result
          // another writer changed one of these parts in between: read again, after a short random pause
          yield* Effect.sleep(Duration.millis(Math.floor(Math.random() * 5 * Math.min(attempt + 1, 10))))
        }
        return yield* new TokenCache.CacheUnavailable({
          location,
          reason: "lock_timeout",
          detail: `${settings.maxConflicts} concurrent writes in a row won the race`
        })
      })

    const lockMs = Duration.toMillis(settings.lockLease)

    // A release is published here (lease.ts RELEASE), so that a waiter tries again at once rather
    // than at its next poll; the poll stays, slower, for a lock that lapsed (its holder died) and
    // for a message lost while the subscriber reconnected.
    const releases = `${connection.prefix}:${tag}:released`

    // The lock's fencing token, or what `settled` found (another holder stored what was wanted). Waits
    // and `settled` run under `restore` (interruptible); a LOCK command does not, so that a lock taken
    // is always handed back to be released.
    const acquireLock = <A, E, R>(
      lockKey: string,
      settled: Effect.Effect<Option.Option<A>, E, R> | undefined,
      restore: <X, Y, Z>(effect: Effect.Effect<X, Y, Z>) => Effect.Effect<X, Y, Z>
    ): Effect.Effect<
      { readonly _tag: "Locked"; readonly fence: string } | { readonly _tag: "Settled"; readonly value: A },
      E | TokenCache.TokenCacheError,
      R
    > =>
      Effect.gen(function*() {
        const deadline = (yield* monotonicNow) + Duration.toMillis(settings.refreshLockTimeout)
        const attempt = attemptId()
        let released = yield* Deferred.make<void>()
        let subscribed = false
        for (let wait = 10;; wait = nextLockPoll(wait, subscribed)) {
          const fence = yield* connection.script(LOCK, [lockKey, fenceKey], [lockMs, attempt]).pipe(
            Effect.mapError(unavailable)
          )
          if (typeof fence === "string") return { _tag: "Locked", fence } as const
          if (!subscribed) {
            subscribed = yield* connection.subscribe(releases, (message) => {
              if (message === lockKey) Deferred.unsafeDone(released, Exit.void)
            }).pipe(Effect.as(true), Effect.orElseSucceed(() => false))
            // released between the attempt and the subscription: found by trying again at once
            if (subscribed) continue
          }
          if ((yield* monotonicNow) + wait > deadline) {
            return yield* new TokenCache.CacheUnavailable({
              location,
              reason: "lock_timeout",
              detail: `another instance held the refresh lock for over ${Duration.format(settings.refreshLockTimeout)}`
            })
          }
          yield* restore(Effect.raceFirst(Effect.sleep(Duration.millis(wait)), Deferred.await(released)))
          if (yield* Deferred.isDone(released)) {
            released = yield* Deferred.make<void>()
            // the holder released the lock: what it stored may be all this caller wanted
            if (settled !== undefined) {
              const value = yield* restore(settled)
              if (Option.isSome(value)) return { _tag: "Settled", value: value.value } as const
            }
          }
        }
      }).pipe(Effect.scoped)

    const withRefreshLock = <A, E, R>(
      key: string,
      effect: Effect.Effect<A, E, R>,
      settled?: Effect.Effect<Option.Option<A>, E, R>
    ): Effect.Effect<A, E | TokenCache.TokenCacheError, R> => {
      const lockKey = lockKeyOf(key)
      return Effect.uninterruptibleMask((restore) =>
        Effect.flatMap(acquireLock(lockKey, settled, restore), (got) => {
          if (got._tag === "Settled") return Effect.succeed(got.value)
          const { fence } = got
          return Effect.gen(function*() {
            // keep the lock while the refresh runs (LOCK set its first lease); a lost lock fences this holder's writes
            // (forked interruptible: a fiber forked here would inherit the mask and never stop)
            const keeper = yield* Effect.fork(Effect.interruptible(
              Effect.sleep(Duration.millis(lockMs / 3)).pipe(
                Effect.zipRight(Effect.ignore(connection.script(RENEW, [lockKey], [fence, lockMs]))),
                Effect.forever
              )
            ))
            return yield* restore(Effect.locally(effect, held, Option.some({ lockKey, fence }))).pipe(
              Effect.ensuring(Fiber.interrupt(keeper))
            )
          }).pipe(Effect.ensuring(Effect.ignore(connection.script(RELEASE, [lockKey], [fence, releases]))))
        })
      )
    }

    // Every write seals again the stale parts it read, and a copy of the content is a write of no
    // change: so this re-seals every part of the namespace that an older key sealed, in one read.
    const reseal = Effect.suspend(() => {
      let found = 0
      const counted = Effect.tap(readParts, ({ stale }) => Effect.sync(() => void (found = stale.size)))
      return modifyView(counted, (content) => [found, found === 0 ? content : { ...content }] as const)
    })

    const cache = TokenCache.make({
      location,
      read: Effect.map(readParts, (v) => v.content),
      modify,
      readAccount: (authority, accountId) => Effect.map(readAccountParts(authority, accountId), (v) => v.content),
      modifyAccount: (authority, accountId, f) => modifyView(readAccountParts(authority, accountId), f),
      withRefreshLock
    })
    return { ...cache, reseal }
  })
