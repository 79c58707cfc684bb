/** @internal */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import { type Cluster, Redis, type RedisOptions } from "ioredis"
import * as crypto from "node:crypto"
import type * as Keyring from "../Keyring.js"
import type { RedisConnection, Script } from "../RedisConnection.js"

/** Defined here, re-exported by RedisConnection.ts (no import cycle between the two). @internal */
export class RedisUnavailable extends Schema.TaggedError<RedisUnavailable>("@devflow/store-redis/RedisUnavailable")(
  "RedisUnavailable",
  {
    location: Schema.String,
    operation: Schema.String,
    detail: Schema.String
  }
) {
  override get message(): string {
    return `Redis at ${this.location} is unavailable (${this.operation}): ${this.detail}`
  }
}

/** @internal */
export const script = (name: string, lua: string): Script => ({
  name,
  lua,
  sha: crypto.createHash("sha1").update(lua).digest("hex")
})

/** @internal */
export interface Settings {
  readonly url?: string | undefined
  readonly redisOptions?: RedisOptions | undefined
  readonly connect?: (() => { readonly client: Redis | Cluster; readonly subscriber: Redis | Cluster }) | undefined
  readonly prefix?: string | undefined
  readonly keyring: Keyring.Keyring
  readonly commandTimeout: number
  readonly attempts: number
}

// Credentials never reach a message.
const locationOf = (url: string | undefined): string => {
  if (url === undefined) return "redis://127.0.0.1:6379"
  try {
    const u = new URL(url)
    return `${u.protocol}//${u.host}${u.pathname === "/" ? "" : u.pathname}`
  } catch {
    return "redis (unparsable URL)"
  }
}

const reason = (error: unknown): string => {
  const text = error instanceof Error ? error.message : String(error)
  // Redis' own error texts never carry values; cut them short anyway
  return text.slice(0, 200)
}

/** @internal */
export const make = (settings: Settings): Effect.Effect<RedisConnection, never, Scope.Scope> =>
  Effect.gen(function*() {
    const location = locationOf(settings.url)
    const clientOptions = {
      // a command fails fast while disconnected; our own bounded retry decides
      maxRetriesPerRequest: 1,
      enableAutoPipelining: true,
      // reconnect in the background forever, backing off to once a second
      retryStrategy: (times: number) => Math.min(50 * 2 ** Math.min(times, 5), 1_000),
      connectTimeout: settings.commandTimeout,
      ...settings.redisOptions
    }
    const { client, subscriber } = yield* Effect.acquireRelease(
      Effect.sync(() => {
        const made = settings.connect?.() ?? {
          client: settings.url === undefined ? new Redis(clientOptions) : new Redis(settings.url, clientOptions),
          subscriber: settings.url === undefined
            ? new Redis({ ...clientOptions, enableAutoPipelining: false })
            : new Redis(settings.url, { ...clientOptions, enableAutoPipelining: false })
        }
        // Without a listener an 'error' event is printed as unhandled; failures reach callers as RedisUnavailable
        made.client.on("error", () => {})
        made.subscriber.on("error", () => {})
        return made
      }),
      ({ client, subscriber }) =>
        Effect.promise(() => Promise.allSettled([client.quit(), subscriber.quit()])).pipe(
          // a finalizer runs uninterruptibly: without this, a Redis that never answers QUIT holds the scope forever
          Effect.interruptible,
          Effect.timeout("2 seconds"),
          Effect.ignore,
          Effect.ensuring(Effect.sync(() => {
            client.disconnect()
            subscriber.disconnect()
          }))
        )
    )

    const stats = { commands: 0, scripts: 0, publishes: 0 }
    // the first retry waits 100 ms, each next one twice as long; `attempts` tries in all
    const firstRetry = Duration.millis(100)
    const laterRetries = Schedule.exponential(Duration.times(firstRetry, 2), 2).pipe(
      Schedule.intersect(Schedule.recurs(Math.max(0, settings.attempts - 2)))
    )
    const timeout = Duration.millis(settings.commandTimeout)

    // One try with its time limit: a plain timer, not Effect.timeoutFail, whose racing fiber cost
    // three times the command itself (every poll and every cache read runs through here).
    const once = <A>(operation: string, call: () => Promise<A>) =>
      Effect.async<A, RedisUnavailable>((resume) => {
        let settled = false
        const timer = setTimeout(() => {
          settled = true
          resume(
            Effect.fail(
              new RedisUnavailable({ location, operation, detail: `no answer within ${Duration.format(timeout)}` })
            )
          )
        }, settings.commandTimeout)
        const end = (outcome: Effect.Effect<A, RedisUnavailable>) => {
          if (settled) return
          settled = true
          clearTimeout(timer)
          resume(outcome)
        }
        call().then(
          (value) => end(Effect.succeed(value)),
          (error) => end(Effect.fail(new RedisUnavailable({ location, operation, detail: reason(error) })))
        )
        return Effect.sync(() => {
          settled = true
          clearTimeout(timer)
        })
      })

    // Every command, subscriptions included: a time limit per try, bounded tries with backoff (the
    // retry schedule is built only once a try failed).
    const bounded = <A>(operation: string, call: () => Promise<A>) =>
      settings.attempts <= 1
        ? once(operation, call)
        : Effect.catchAll(
          once(operation, call),
          () => Effect.zipRight(Effect.sleep(firstRetry), Effect.retry(once(operation, call), laterRetries))
        )

    const run = <A>(operation: string, f: (client: Redis | Cluster) => Promise<A>) =>
      bounded(operation, () => {
        stats.commands++
        return f(client)
      })

    const runScript = (s: Script, keys: ReadonlyArray<string>, args: ReadonlyArray<string | number>) =>
      run(s.name, async (c) => {
        stats.scripts++
        try {
          return await c.evalsha(s.sha, keys.length, ...keys, ...args)
        } catch (error) {
          // first use, or Redis restarted without its script cache
          if (error instanceof Error && error.message.startsWith("NOSCRIPT")) {
            return c.eval(s.lua, keys.length, ...keys, ...args)
          }
          throw error
        }
      })

    const listeners = new Map<string, Set<(message: string) => void>>()
    subscriber.on("message", (channel: string, message: string) => {
      for (const listener of listeners.get(channel) ?? []) listener(message)
    })

    const subscribe = (channel: string, listener: (message: string) => void) =>
      Effect.acquireRelease(
        Effect.suspend(() => {
          let set = listeners.get(channel)
          const first = set === undefined
          if (set === undefined) listeners.set(channel, set = new Set())
          set.add(listener)
          return first
            ? Effect.tapError(
              Effect.asVoid(
                // SUBSCRIBE is idempotent: retried like every other command
                bounded("subscribe", () => subscriber.subscribe(channel))
              ),
              () => Effect.sync(() => release(channel, listener))
            )
            : Effect.void
        }),
        () => Effect.sync(() => release(channel, listener))
      )

    const release = (channel: string, listener: (message: string) => void) => {
      const set = listeners.get(channel)
      if (set === undefined || !set.delete(listener) || set.size > 0) return
      listeners.delete(channel)
      // best effort: a dead subscription only costs a few ignored messages
      subscriber.unsubscribe(channel).catch(() => {})
    }

    const prefix = settings.prefix ?? "devflow"
    return {
      location,
      prefix,
      // sealed values are bound to this prefix: copied under another app's prefix, they do not open
      keyring: settings.keyring.forPrefix(prefix),
      client,
      run,
      script: runScript,
      subscribe,
      stats
    } satisfies RedisConnection
  })
