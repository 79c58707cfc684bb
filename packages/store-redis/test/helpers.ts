/** Wiring shared by the Redis suites: a keyring, a connection layer, and a dump of everything Redis holds. */
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import { Redis } from "ioredis"
import * as Keyring from "../src/Keyring.js"
import * as RedisConnection from "../src/RedisConnection.js"

export const KEY_1 = Keyring.generateKey()
export const KEY_2 = Keyring.generateKey()

export const keyring = (...keys: ReadonlyArray<readonly [string, string]>) =>
  Effect.runSync(
    Keyring.make(
      (keys.length === 0 ? [["k1", KEY_1] as const] : keys).map(([id, k]) => [id, Redacted.make(k)] as const)
    )
  )

export const connectionLayer = (
  url: string,
  options: Partial<RedisConnection.Options> = {}
): Layer.Layer<RedisConnection.RedisConnection> =>
  RedisConnection.layer({ url, keyring: keyring(), commandTimeout: "1 second", attempts: 3, ...options })

/** Every key and every value in Redis as text (strings, hashes, sorted sets, sets, lists). */
export const dumpAll = async (url: string, match = "*"): Promise<string> => {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 })
  await redis.connect()
  try {
    const out: Array<string> = []
    let cursor = "0"
    do {
      const [next, keys] = await redis.scan(cursor, "MATCH", match, "COUNT", 1000)
      cursor = next
      for (const key of keys) {
        out.push(key)
        const type = await redis.type(key)
        if (type === "string") out.push((await redis.get(key)) ?? "")
        else if (type === "hash") out.push(JSON.stringify(await redis.hgetall(key)))
        else if (type === "zset") out.push(JSON.stringify(await redis.zrange(key, 0, -1)))
        else if (type === "set") out.push(JSON.stringify(await redis.smembers(key)))
        else if (type === "list") out.push(JSON.stringify(await redis.lrange(key, 0, -1)))
        else out.push(`<${type}>`)
      }
    } while (cursor !== "0")
    return out.join("\n")
  } finally {
    redis.disconnect()
  }
}

/** A connection living as long as the caller's scope. */
export const connect = (url: string, options: Partial<RedisConnection.Options> = {}) =>
  RedisConnection.make({ url, keyring: keyring(), commandTimeout: "1 second", attempts: 3, ...options })

/** Provide a scoped connection to `effect`. */
export const withConnection =
  (url: string, options: Partial<RedisConnection.Options> = {}) => <A, E, R>(effect: Effect.Effect<A, E, R>) =>
    Effect.provideServiceEffect(effect, RedisConnection.RedisConnection, connect(url, options))

/** Redis' own counters: commands processed, memory used, flows in the pending index. */
export const redisInfo = async (url: string, prefix = "devflow") => {
  const redis = new Redis(url, { maxRetriesPerRequest: 1 })
  try {
    const text = await redis.info()
    const field = (name: string) => Number(new RegExp(`^${name}:(\\d+)`, "m").exec(text)?.[1] ?? NaN)
    const seconds = (name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, "m").exec(text)?.[1] ?? NaN)
    return {
      commands: field("total_commands_processed"),
      memory: field("used_memory"),
      /** CPU seconds the Redis server has used (user + system, its whole life) */
      cpuSeconds: seconds("used_cpu_user") + seconds("used_cpu_sys"),
      /** bytes read from and written to clients (its whole life) */
      netIn: field("total_net_input_bytes"),
      netOut: field("total_net_output_bytes"),
      pending: await redis.zcard(`${prefix}:flows:pending`)
    }
  } finally {
    redis.disconnect()
  }
}

/**
 * `connection`, except that the first run of the script named `name` has its
 * reply lost: Redis runs it, then the command is sent again, as a retry after
 * a timeout does. `lost()` says whether that happened.
 */
export const withLostReply = (connection: RedisConnection.RedisConnection, name: string) => {
  let lost = false
  const wrapped: RedisConnection.RedisConnection = {
    ...connection,
    script: (script, keys, args) =>
      script.name === name && !lost
        ? Effect.zipRight(
          Effect.sync(() => (lost = true)),
          Effect.zipRight(connection.script(script, keys, args), connection.script(script, keys, args))
        )
        : connection.script(script, keys, args)
  }
  return { connection: wrapped, lost: () => lost }
}

/** A flow's stored record (see src/internal/flowRecord.ts), parsed; `undefined` when there is none. */
export const flowRecord = async (redis: Redis, prefix: string, id: string) => {
  const raw = await redis.get(`${prefix}:flow:{${id}}`)
  return raw === null ? undefined : JSON.parse(raw) as { f: number; q: number; d?: string; s?: string; st: string }
}

/** Another instance takes the flow's lease, fencing token `fence`, as after an expiry and a takeover: in one transaction. */
export const takeLease = async (redis: Redis, prefix: string, id: string, fence: number) => {
  const record = (await flowRecord(redis, prefix, id))!
  await redis.multi()
    .del(`${prefix}:flow:{${id}}:lease:${record.f}`)
    .set(`${prefix}:flow:{${id}}`, JSON.stringify({ ...record, f: fence }), "KEEPTTL")
    // what a takeover's lease holds: the stored poll state, numbered from the new token on
    .set(`${prefix}:flow:{${id}}:lease:${fence}`, `${fence * 1_000_000}|${record.d}`, "PX", 60_000)
    .exec()
}

/** The `p`-th percentile of `values` (NaN for none). */
export const percentile = (values: ReadonlyArray<number>, p: number) => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!
}

/**
 * Ask `read` until `done` holds of its answer (every 50 ms), or fail after `timeoutMs`, saying what the
 * last answer was (through `show`) so that a timeout under load can be told apart from a wrong outcome.
 */
export const until = async <A>(
  what: string,
  read: () => Promise<A>,
  done: (a: A) => boolean,
  timeoutMs = 60_000,
  show: (a: A) => string = (a) => JSON.stringify(a).slice(0, 4_000)
): Promise<A> => {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await read()
    if (done(value)) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last seen: ${show(value)}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}
