/** @internal */
import * as TokenCache from "@devflow/core/TokenCache"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as FiberRef from "effect/FiberRef"
import * as Option from "effect/Option"
import * as crypto from "node:crypto"
import type { RedisConnection, RedisUnavailable } from "../RedisConnection.js"
import { script } from "./connection.js"
import { attemptId, monotonicNow, RELEASE } from "./lease.js"

/** @internal */
export interface Settings {
  readonly namespace: string
  readonly refreshTokenLifetime: Duration.Duration
  readonly lockLease: Duration.Duration
  readonly refreshLockTimeout: Duration.Duration
  readonly maxConflicts: number
}

// Compare-and-set of the whole cache. A write made under a refresh lock
// carries the lock's fencing token and is refused once the lock is lost.
const CAS = script(
  "tokenCache.cas",
  `if ARGV[4] ~= "" and redis.call("GET", KEYS[2]) ~= ARGV[4] then return -2 end
local v = redis.call("HGET", KEYS[1], "ver") or "0"
if v ~= ARGV[1] then return -1 end
local nv = tonumber(v) + 1
redis.call("HSET", KEYS[1], "ver", nv, "data", ARGV[2])
redis.call("PEXPIRE", KEYS[1], ARGV[3])
return nv`
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

const RENEW = script(
  "tokenCache.renew",
  `if redis.call("GET", KEYS[1]) ~= ARGV[1] then return 0 end
redis.call("PEXPIRE", KEYS[1], ARGV[2])
return 1`
)

interface Held {
  readonly lockKey: string
  readonly fence: string
}

// The refresh lock this fiber holds, if any (inherited by the fibers it forks).
const held = FiberRef.unsafeMake<Option.Option<Held>>(Option.none())

/** @internal */
export const make = (connection: RedisConnection, settings: Settings): Effect.Effect<TokenCache.TokenCache> =>
  Effect.gen(function*() {
    // one hash slot for the whole cache (Redis Cluster): every key shares the tag
    const tag = `{${connection.prefix}:tokens:${settings.namespace}}`
    const cacheKey = `${connection.prefix}:${tag}:cache`
    const fenceKey = `${connection.prefix}:${tag}:fence`
    const lockKeyOf = (key: string) =>
      `${connection.prefix}:${tag}:lock:${crypto.createHash("sha256").update(key).digest("base64url").slice(0, 22)}`
    const location = `${connection.location} ${cacheKey}`
    const place = `tokens:${settings.namespace}`

    const unavailable = (error: RedisUnavailable) =>
      new TokenCache.CacheUnavailable({ location, reason: "io", detail: error.message })

    const readVersioned = Effect.gen(function*() {
      const [ver, data] = yield* connection.run("read token cache", (c) => c.hmget(cacheKey, "ver", "data"))
      if (data === null || data === undefined) return { version: ver ?? "0", content: TokenCache.empty }
      const text = yield* connection.keyring.open(place, data).pipe(
        Effect.mapError((broken) => new TokenCache.CacheCorrupt({ location, reason: broken.reason }))
      )
      return { version: ver ?? "0", content: yield* TokenCache.fromJson(text, location) }
    }).pipe(Effect.catchTag("RedisUnavailable", (e) => Effect.fail(unavailable(e))))

    // Keys live as long as what they hold: a refresh token for its configured lifetime, else the longest access token.
    const ttlOf = (content: TokenCache.CacheContent, now: number): number => {
      if (content.refreshTokens.size > 0) return Duration.toMillis(settings.refreshTokenLifetime)
      let until = now
      for (const entry of content.accessTokens.values()) until = Math.max(until, entry.expiresOn ?? now + 86_400_000)
      return Math.max(60_000, until - now)
    }

    // Writers of this instance take turns, so compare-and-set conflicts only come from other instances.
    const writers = yield* Effect.makeSemaphore(1)

    const modify = <A>(f: (content: TokenCache.CacheContent) => readonly [A, TokenCache.CacheContent]) =>
      Effect.gen(function*() {
        // only a lock of this cache fences its writes (another cache's lock lives in another slot)
        const lock = Option.filter(yield* FiberRef.get(held), (h) => h.lockKey.startsWith(`${connection.prefix}:${tag}:`))
        for (let attempt = 0; attempt < settings.maxConflicts; attempt++) {
          const { content, version } = yield* readVersioned
          const [result, next] = f(content)
          if (next === content) return result
          const now = yield* Clock.currentTimeMillis
          const sealed = connection.keyring.seal(place, TokenCache.toJson(next))
          const answer = yield* connection.script(
            CAS,
            [cacheKey, Option.isSome(lock) ? lock.value.lockKey : cacheKey],
            [version, sealed, ttlOf(next, now), Option.isSome(lock) ? lock.value.fence : ""]
          ).pipe(Effect.mapError(unavailable))
          if (answer === -2) {
            return yield* new TokenCache.CacheUnavailable({
              location,
              reason: "lock_timeout",
              detail: "this instance lost its refresh lock (it expired while Redis was unreachable): the write was refused"
            })
          }
          if (answer !== -1) return result
          // another instance wrote in between: read again, after a short random pause
          yield* Effect.sleep(Duration.millis(Math.floor(Math.random() * 5 * Math.min(attempt + 1, 10))))
        }
        return yield* new TokenCache.CacheUnavailable({
          location,
          reason: "lock_timeout",
          detail: `${settings.maxConflicts} concurrent writes in a row won the race`
        })
      }).pipe(writers.withPermits(1))

    const lockMs = Duration.toMillis(settings.lockLease)

    const acquireLock = (lockKey: string) =>
      Effect.gen(function*() {
        const deadline = (yield* monotonicNow) + Duration.toMillis(settings.refreshLockTimeout)
        const attempt = attemptId()
        for (let wait = 10;; wait = Math.min(wait * 2, 100)) {
          const fence = yield* connection.script(LOCK, [lockKey, fenceKey], [lockMs, attempt]).pipe(Effect.mapError(unavailable))
          if (typeof fence === "string") return fence
          if ((yield* monotonicNow) + wait > deadline) {
            return yield* new TokenCache.CacheUnavailable({
              location,
              reason: "lock_timeout",
              detail: `another instance held the refresh lock for over ${Duration.format(settings.refreshLockTimeout)}`
            })
          }
          yield* Effect.sleep(Duration.millis(wait))
        }
      })

    const withRefreshLock = <A, E, R>(key: string, effect: Effect.Effect<A, E, R>) => {
      const lockKey = lockKeyOf(key)
      return Effect.acquireUseRelease(
        acquireLock(lockKey),
        (fence) =>
          Effect.gen(function*() {
            // keep the lock while the refresh runs; a lost lock fences this holder's writes
            const keeper = yield* Effect.fork(
              connection.script(RENEW, [lockKey], [fence, lockMs]).pipe(
                Effect.ignore,
                Effect.zipRight(Effect.sleep(Duration.millis(lockMs / 3))),
                Effect.forever
              )
            )
            return yield* Effect.locally(effect, held, Option.some({ lockKey, fence })).pipe(
              Effect.ensuring(Fiber.interrupt(keeper))
            )
          }),
        (fence) => Effect.ignore(connection.script(RELEASE, [lockKey], [fence]))
      )
    }

    return TokenCache.make({
      location,
      read: Effect.map(readVersioned, (v) => v.content),
      modify,
      withRefreshLock
    })
  })
