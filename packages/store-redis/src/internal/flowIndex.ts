/**
 * The pending index: a sorted set of flows by when to look at them again,
 * which every instance scans for flows to take over.
 * @internal
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import type { RedisConnection, RedisUnavailable } from "../RedisConnection.js"
import type { FlowKeys } from "./flowScripts.js"

/** @internal */
export interface FlowIndex {
  /** measure this instance's offset from Redis' clock again */
  readonly measureOffset: Effect.Effect<void, RedisUnavailable>
  /** now, as Redis counts it */
  readonly redisNow: Effect.Effect<number>
  /** look at the flow again at `at` (this instance's wall clock; 0: at once) */
  readonly hint: (id: string, at: number) => Effect.Effect<void>
  /** look at these flows again at `at` (Redis' clock), in one command */
  readonly hintAll: (ids: ReadonlyArray<string>, at: number) => Effect.Effect<void>
  readonly remove: (id: string) => Effect.Effect<void>
}

/** @internal */
export const makeIndex = (connection: RedisConnection, keys: FlowKeys): FlowIndex => {
  // The index is read by every instance, so it counts time as Redis does: this instance's
  // wall clock plus its measured offset from Redis' (an instance an hour ahead would otherwise
  // hide its flows from takeover for an hour after a crash).
  let redisOffset = 0
  return {
    measureOffset: Effect.gen(function*() {
      const before = yield* Clock.currentTimeMillis
      const [seconds, micros] = yield* connection.run("time", (c) => c.time())
      const after = yield* Clock.currentTimeMillis
      redisOffset = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000) - Math.round((before + after) / 2)
    }),
    redisNow: Effect.map(Clock.currentTimeMillis, (now) => now + redisOffset),
    hint: (id, at) =>
      connection.run("index flow", (c) => c.zadd(keys.index, at === 0 ? 0 : at + redisOffset, id)).pipe(Effect.ignore),
    hintAll: (ids, at) =>
      connection.run("index flows", (c) => c.zadd(keys.index, ...ids.flatMap((id) => [at, id]))).pipe(Effect.ignore),
    remove: (id) => connection.run("unindex flow", (c) => c.zrem(keys.index, id)).pipe(Effect.ignore)
  }
}
