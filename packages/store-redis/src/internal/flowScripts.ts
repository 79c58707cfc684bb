/**
 * A flow's keys and the Lua scripts that change them. Each script touches the
 * keys of one flow only (one hash slot: the id is the key's hash tag), so it
 * runs as one command on a Redis Cluster too.
 * @internal
 */
import { script } from "./connection.js"
import { SEQ_SPAN } from "./flowRecord.js"

/** The names one store's flows live under. @internal */
export interface FlowKeys {
  /** the flow's record, also the channel its updates are published on */
  readonly flow: (id: string) => string
  /** the lease's name without its fencing token: scripts that read the token from the record add it */
  readonly leaseName: (id: string) => string
  /** the lease of one holder, named by its fencing token */
  readonly lease: (id: string, fence: string) => string
  /** pending flows by when to look at them again (a sorted set) */
  readonly index: string
  readonly cancelChannel: string
  /** the holder of a cancelled flow's lease says here that it stopped polling */
  readonly stoppedChannel: string
}

/** @internal */
export const keysOf = (prefix: string): FlowKeys => {
  const flow = (id: string) => `${prefix}:flow:{${id}}`
  const leaseName = (id: string) => `${flow(id)}:lease`
  return {
    flow,
    leaseName,
    lease: (id, fence) => `${leaseName(id)}:${fence}`,
    index: `${prefix}:flows:pending`,
    cancelChannel: `${prefix}:flows:cancelled`,
    stoppedChannel: `${prefix}:flows:cancel-stopped`
  }
}

/*
 * KEYS[1] = the flow's record; KEYS[2] = its lease, or the lease's name without
 * the fence when the script reads the fence from the record
 */

// ---------------------------------------------------------------------------

export const CREATE = script(
  "flow.create",
  `redis.call("SET", KEYS[1], ARGV[1], "PX", ARGV[2])
redis.call("SET", KEYS[2], ARGV[3], "PX", ARGV[4])
return 1`
)

// The poll's one command (issue 23): SET XX on the lease named by the holder's fencing token is
// the fence check (the key exists only while that lease does), the state write and the renewal.
// The record is touched only when ARGV[5] brings durable state (a taker's first poll, a new interval).
export const PERSIST = script(
  "flow.persist",
  `if not redis.call("SET", KEYS[2], ARGV[1], "XX", "PX", ARGV[2]) then return -1 end
if ARGV[5] ~= "" then
  local rec = cjson.decode(redis.call("GET", KEYS[1]))
  local bar = string.find(ARGV[1], "|", 1, true)
  rec.q = tonumber(string.sub(ARGV[1], 1, bar - 1))
  rec.d = string.sub(ARGV[1], bar + 1)
  if ARGV[5] ~= "-" then rec.s = ARGV[5] end
  redis.call("SET", KEYS[1], cjson.encode(rec), "KEEPTTL")
end
redis.call("PUBLISH", ARGV[3], ARGV[4])
return 1`
)

// The state as a reader sees it: the record, and the live poll state while a lease is held.
export const READ = script(
  "flow.read",
  `local raw = redis.call("GET", KEYS[1])
if not raw then return {} end
local rec = cjson.decode(raw)
if rec.st ~= "pending" then return {raw} end
return {raw, redis.call("GET", KEYS[2] .. ":" .. rec.f)}`
)

// The first final update wins. Tokens (force = 1) are stored even by a holder whose
// lease lapsed while their request was in flight: they are the truth, and the code is spent.
// Returns the lease's holder and remaining time as it ended, for a cancel to wait on.
// ARGV[7] names the attempt: the same attempt sent again (its reply was lost) is told -3, "it was you".
export const FINISH = script(
  "flow.finish",
  `local raw = redis.call("GET", KEYS[1])
if not raw then return {0} end
local rec = cjson.decode(raw)
if rec.st ~= "pending" then
  if rec.fb == ARGV[7] then return {-3} end
  return {-2}
end
local lease = KEYS[2] .. ":" .. rec.f
local ttl = redis.call("PTTL", lease)
local holder = ""
if ttl > 0 then holder = tostring(rec.f) end
if ARGV[6] ~= "1" and holder ~= ARGV[1] then return {-1} end
rec.st = ARGV[2]
rec.u = ARGV[3]
rec.fb = ARGV[7]
rec.q = (rec.f + 1) * ${SEQ_SPAN}
rec.s = nil
rec.d = nil
redis.call("DEL", lease)
redis.call("SET", KEYS[1], cjson.encode(rec), "PX", ARGV[4])
redis.call("PUBLISH", ARGV[5], rec.q .. "|" .. ARGV[3])
return {rec.q, holder, ttl}`
)

// ARGV[2] names this takeover attempt: the same attempt sent again (its reply was lost and
// the command retried) gets the lease it already took, instead of being told it is taken.
export const ACQUIRE = script(
  "flow.acquire",
  `local raw = redis.call("GET", KEYS[1])
if not raw then return {0} end
local rec = cjson.decode(raw)
if rec.st ~= "pending" then return {-2} end
local ttl = redis.call("PTTL", KEYS[2] .. ":" .. rec.f)
if ttl > 0 then
  if rec.a == ARGV[2] then return {rec.f, rec.s, rec.c, rec.d} end
  return {-1, ttl}
end
rec.f = rec.f + 1
rec.a = ARGV[2]
redis.call("SET", KEYS[2] .. ":" .. rec.f, rec.q .. "|" .. rec.d, "PX", ARGV[1])
redis.call("SET", KEYS[1], cjson.encode(rec), "KEEPTTL")
return {rec.f, rec.s, rec.c, rec.d}`
)

// A holder shutting down hands over at once: its live state goes to the record, then the lease goes.
export const HAND_OVER = script(
  "flow.handOver",
  `local state = redis.call("GET", KEYS[2])
if not state then return 0 end
local rec = cjson.decode(redis.call("GET", KEYS[1]))
local bar = string.find(state, "|", 1, true)
rec.q = tonumber(string.sub(state, 1, bar - 1))
rec.d = string.sub(state, bar + 1)
redis.call("SET", KEYS[1], cjson.encode(rec), "KEEPTTL")
return redis.call("DEL", KEYS[2])`
)
