/** @internal */
import type { ClientConfig } from "@devflow/core/ClientConfig"
import type { DeviceCodeRequest } from "@devflow/core/DeviceAuthorization"
import * as DeviceFlow from "@devflow/core/DeviceFlow"
import { type DeviceFlowError, InvalidConfiguration } from "@devflow/core/DeviceFlowError"
import * as DeviceSession from "@devflow/core/DeviceSession"
import * as FlowStore from "@devflow/core/FlowStore"
import * as HttpClient from "@effect/platform/HttpClient"
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Ref from "effect/Ref"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type { RedisConnection, RedisUnavailable } from "../RedisConnection.js"
import { script } from "./connection.js"
import * as Record from "./flowRecord.js"
import { SEQ_SPAN } from "./flowRecord.js"
import { attemptId, monotonicNow } from "./lease.js"

/** @internal */
export interface Settings {
  readonly lease: Duration.Duration
  readonly scanEvery: Duration.Duration
  readonly resyncEvery: Duration.Duration
  readonly retention: Duration.Duration
  readonly takeoverGrace: Duration.Duration
  readonly flow: DeviceFlow.FlowOptions
}

// ---------------------------------------------------------------------------
// scripts: each touches the keys of one flow only (one hash slot, see flowRecord.ts)
// KEYS[1] = the flow's record; KEYS[2] = its lease, or the lease's name without
// the fence when the script reads the fence from the record
// ---------------------------------------------------------------------------

const CREATE = script(
  "flow.create",
  `redis.call("SET", KEYS[1], ARGV[1], "PX", ARGV[2])
redis.call("SET", KEYS[2], ARGV[3], "PX", ARGV[4])
return 1`
)

// The poll's one command (issue 23): SET XX on the lease named by the holder's fencing token is
// the fence check (the key exists only while that lease does), the state write and the renewal.
// The record is touched only when ARGV[5] brings durable state (a taker's first poll, a new interval).
const PERSIST = script(
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
const READ = script(
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
const FINISH = script(
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
const ACQUIRE = script(
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
const HAND_OVER = script(
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

// ---------------------------------------------------------------------------

const encodeUpdate = Schema.encodeSync(FlowStore.FlowUpdate)
const decodeUpdate = Schema.decodeUnknownEither(Schema.parseJson(FlowStore.FlowUpdate))

type Outcome = "done" | "lost" | "ended"

interface Lease {
  readonly fence: string
  /** the sequence number of this holder's last update */
  readonly seq: Ref.Ref<number>
  /** the poll state last written to the record (a new interval must reach it) */
  readonly storedState: Ref.Ref<string>
  /** the sealed secret part of the session, until this holder's first poll writes it (a taker's key) */
  readonly reseal: Ref.Ref<string>
  /** monotonic ms until which the lease is surely still this instance's */
  readonly validUntil: Ref.Ref<number>
  /** wall-clock ms of the next poll (the session's, which other instances read) */
  readonly nextPollAt: Ref.Ref<number>
  readonly leased: Deferred.Deferred<void>
  /** the gate refused a poll: the lease may have lapsed */
  readonly lost: Deferred.Deferred<void>
}

const makeLease = (
  fence: string,
  validUntil: number,
  nextPollAt: number,
  leased: boolean,
  stored: { readonly pollState: string; readonly reseal: string }
) =>
  Effect.gen(function*() {
    const lease: Lease = {
      fence,
      seq: yield* Ref.make(Record.firstSeq(Number(fence))),
      storedState: yield* Ref.make(stored.pollState),
      reseal: yield* Ref.make(stored.reseal),
      validUntil: yield* Ref.make(validUntil),
      nextPollAt: yield* Ref.make(nextPollAt),
      leased: yield* Deferred.make<void>(),
      lost: yield* Deferred.make<void>()
    }
    if (leased) yield* Deferred.succeed(lease.leased, undefined)
    return lease
  })

/** @internal */
export const make = (
  connection: RedisConnection,
  config: ClientConfig,
  settings: Settings
): Effect.Effect<FlowStore.FlowStore, never, HttpClient.HttpClient | Scope.Scope> =>
  Effect.gen(function*() {
    const client = yield* HttpClient.HttpClient
    const scope = yield* Effect.scope
    const p = connection.prefix
    const flowKey = (id: string) => `${p}:flow:{${id}}`
    // the lease's name without its fencing token: scripts that read the token from the record add it
    const leaseName = (id: string) => `${p}:flow:{${id}}:lease`
    const leaseKey = (id: string, fence: string) => `${leaseName(id)}:${fence}`
    const channel = flowKey
    const indexKey = `${p}:flows:pending`
    const cancelChannel = `${p}:flows:cancelled`
    // the holder of a cancelled flow's lease says here that it stopped polling
    const stoppedChannel = `${p}:flows:cancel-stopped`
    const leaseMs = Duration.toMillis(settings.lease)
    // a holder stops polling this long before its lease can expire in Redis
    const margin = Math.max(250, Math.floor(leaseMs / 4))
    const retentionMs = Duration.toMillis(settings.retention)
    const owned = new Map<string, { readonly fiber: Fiber.RuntimeFiber<void>; readonly lease: Lease }>()
    const stopWaiters = new Map<string, Deferred.Deferred<void>>()

    const unavailable = (error: RedisUnavailable) =>
      new FlowStore.FlowStoreUnavailable({ store: connection.location, reason: "connection", detail: error.message })
    const corrupt = (id: string, detail: string) =>
      new FlowStore.FlowStoreUnavailable({ store: connection.location, reason: "corrupt", detail: `flow ${id}: ${detail}` })

    // Tokens are sealed; every other update holds nothing secret.
    const serialise = (update: FlowStore.FlowUpdate): string => {
      const json = JSON.stringify(encodeUpdate(update))
      return update._tag === "Succeeded" ? "S" + connection.keyring.seal(`flow:${update.id}:result`, json) : "J" + json
    }
    const deserialise = (id: string, text: string) =>
      Effect.gen(function*() {
        const json = text.startsWith("S")
          ? yield* connection.keyring.open(`flow:${id}:result`, text.slice(1)).pipe(
            Effect.mapError((e) => corrupt(id, e.message))
          )
          : text.slice(1)
        const decoded = decodeUpdate(json)
        if (Either.isLeft(decoded)) return yield* corrupt(id, "stored update does not decode")
        return decoded.right
      })

    const decodeRecord = (id: string, text: string) =>
      Record.parseRecord(text).pipe(Effect.mapError((detail) => corrupt(id, detail)))

    const pendingUpdate = (id: string, code: string, pollState: string) =>
      Effect.gen(function*() {
        const encoded = yield* Effect.try({ try: () => Record.pendingOf(id, code, pollState), catch: () => corrupt(id, "stored poll state is not JSON") })
        const decoded = decodeUpdate(JSON.stringify(encoded))
        if (Either.isLeft(decoded)) return yield* corrupt(id, "stored update does not decode")
        return decoded.right
      })

    const readState = (id: string) =>
      Effect.gen(function*() {
        const [raw, live] = (yield* connection.script(READ, [flowKey(id), leaseName(id)], []).pipe(
          Effect.mapError(unavailable)
        )) as [string?, (string | null)?]
        if (raw === undefined) return yield* new FlowStore.FlowNotFound({ id })
        const record = yield* decodeRecord(id, raw)
        if (record.st !== "pending") {
          if (record.u === undefined) return yield* corrupt(id, "final record without its update")
          return { seq: record.q, update: yield* deserialise(id, record.u) }
        }
        // no live lease (its holder died): the record's state, until a taker polls
        const state = typeof live === "string" ? Record.parseLive(live) : { seq: record.q, pollState: record.d ?? "" }
        return { seq: state.seq, update: yield* pendingUpdate(id, record.c ?? "", state.pollState) }
      })

    // The pending index is read by every instance, so it counts time as Redis does: this instance's
    // wall clock plus its measured offset from Redis' (an instance an hour ahead would otherwise
    // hide its flows from takeover for an hour after a crash).
    let redisOffset = 0
    const measureOffset = Effect.gen(function*() {
      const before = yield* Clock.currentTimeMillis
      const [seconds, micros] = yield* connection.run("time", (c) => c.time())
      const after = yield* Clock.currentTimeMillis
      redisOffset = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000) - Math.round((before + after) / 2)
    })
    const indexHint = (id: string, at: number) =>
      connection.run("index flow", (c) => c.zadd(indexKey, at === 0 ? 0 : at + redisOffset, id)).pipe(Effect.ignore)
    const unindex = (id: string) => connection.run("unindex flow", (c) => c.zrem(indexKey, id)).pipe(Effect.ignore)

    const spentCode = (error: DeviceFlowError) =>
      (error._tag === "OAuthError" && error.error === "invalid_grant") ||
      (error._tag === "DeviceCodeExpired" && error.reason === "expired_token")

    // Whether the flow ends (another holder stores its outcome) within `grace`.
    const awaitFinal = (id: string, grace: Duration.Duration) =>
      readState(id).pipe(
        Effect.map((state) => FlowStore.isFinal(state.update)),
        Effect.orElseSucceed(() => false),
        Effect.repeat({ until: (final) => final, schedule: Schedule.spaced("250 millis") }),
        Effect.timeout(grace),
        Effect.orElseSucceed(() => false)
      )

    // A final update must not be lost to a short outage: retried with capped backoff for up to a minute.
    const persistently = Schedule.exponential("200 millis").pipe(
      Schedule.either(Schedule.spaced("2 seconds")),
      Schedule.upTo("60 seconds")
    )

    const finish = (id: string, fence: string, update: FlowStore.Succeeded | FlowStore.Failed, force: boolean) =>
      connection.script(
        FINISH,
        [flowKey(id), leaseName(id)],
        [
          fence,
          update._tag === "Succeeded" ? "succeeded" : "failed",
          serialise(update),
          retentionMs,
          channel(id),
          force ? "1" : "0",
          attemptId()
        ]
      ).pipe(
        Effect.retry(persistently),
        // -1: another instance holds the lease now and will find the outcome itself; keep the flow indexed
        Effect.flatMap((answer) => Number((answer as ReadonlyArray<unknown>)[0]) === -1 ? Effect.void : unindex(id)),
        Effect.catchAll((error) => Effect.logError(`flow ${id}: final update not stored`, error.message))
      )

    /**
     * Poll one flow this instance holds the lease of, until it ends, the lease
     * is lost or the store closes. Never polls once the lease may have lapsed:
     * a guard stops the engine while it sleeps past `validUntil` (lease expiry
     * as measured from before the last successful renewal, minus a margin).
     */
    const drive = (
      id: string,
      events: Stream.Stream<DeviceFlow.DeviceFlowEvent, DeviceFlowError, HttpClient.HttpClient>,
      lease: Lease,
      onIssued: (event: DeviceFlow.DeviceFlowEvent) => Effect.Effect<boolean>,
      takenOver: boolean
    ): Effect.Effect<Outcome, never, HttpClient.HttpClient> => {
      const onEvent = (event: DeviceFlow.DeviceFlowEvent): Effect.Effect<Outcome | undefined> =>
        Effect.gen(function*() {
          if (event._tag === "CodeIssued" && !(yield* Deferred.isDone(lease.leased))) {
            return (yield* onIssued(event)) ? undefined : "done"
          }
          const fence = lease.fence
          if (event._tag === "Succeeded") {
            yield* finish(id, fence, new FlowStore.Succeeded({ id, result: event.result }), true)
            return "done"
          }
          const update = FlowStore.fromEvent(id, event) as FlowStore.Pending
          yield* Ref.set(lease.nextPollAt, update.nextPollAt)
          const seq = yield* Ref.updateAndGet(lease.seq, (n) => n + 1)
          const pollState = Record.pollStateOf(encodeUpdate(update) as typeof FlowStore.Pending.Encoded)
          // the record learns a new interval (slow_down), and a taker's first poll reseals the session with its key
          const [stored, reseal] = [yield* Ref.get(lease.storedState), yield* Ref.get(lease.reseal)]
          const intervalChanged = stored === "" || JSON.parse(stored)[2] !== update.intervalMs
          const durable = reseal !== "" ? reseal : intervalChanged ? "-" : ""
          const t0 = yield* monotonicNow
          const answer = yield* connection.script(PERSIST, [flowKey(id), leaseKey(id, fence)], [
            Record.live(seq, pollState),
            leaseMs,
            channel(id),
            `${seq}|${serialise(update)}`,
            durable
          ]).pipe(Effect.either)
          if (Either.isLeft(answer)) {
            // Redis is away: keep polling while the lease may still be ours (the guard decides)
            yield* Effect.logWarning(`flow ${id}: state not stored`, answer.left.message)
            return undefined
          }
          if (answer.right === -1) return "lost"
          if (durable !== "") {
            yield* Ref.set(lease.storedState, pollState)
            yield* Ref.set(lease.reseal, "")
          }
          yield* Ref.set(lease.validUntil, t0 + leaseMs - margin)
          return undefined
        })

      const poller = events.pipe(
        Stream.mapEffect(onEvent),
        Stream.filter((o): o is Outcome => o !== undefined),
        Stream.runHead,
        Effect.map(Option.getOrElse((): Outcome => "done")),
        Effect.catchAll((error) =>
          Effect.gen(function*() {
            if (!(yield* Deferred.isDone(lease.leased))) return "done" as const
            // A taken-over code the server calls spent (invalid_grant) or expired may have been
            // redeemed by the previous holder, whose answer can still be on its way: wait for it.
            if (takenOver && spentCode(error) && (yield* awaitFinal(id, settings.takeoverGrace))) return "done" as const
            yield* finish(id, lease.fence, new FlowStore.Failed({ id, error }), false)
            return "done" as const
          })
        )
      )

      // Polls renew the lease. This renews it when no poll comes in time (a takeover's first
      // poll waits an interval + 5 s; an interval grown past the lease) as it did before polls
      // renewed, every third of the lease, and stands by in case a poll is slow to answer.
      // PEXPIRE of the lease named by the fencing token is itself fenced.
      const renewer = Effect.gen(function*() {
        yield* Deferred.await(lease.leased)
        const every = Math.floor(leaseMs / 3)
        for (;;) {
          const now = yield* monotonicNow
          const validUntil = yield* Ref.get(lease.validUntil)
          const nextPollIn = (yield* Ref.get(lease.nextPollAt)) - (yield* Clock.currentTimeMillis)
          const renewed = validUntil - (leaseMs - margin)
          const due = nextPollIn < validUntil - now - margin ? validUntil - Math.floor(margin / 2) : renewed + every
          if (now < due) {
            // looked at again now and then: the next poll may move (slow_down)
            yield* Effect.sleep(Duration.millis(Math.min(due - now, Math.max(50, Math.floor(every / 2)))))
            continue
          }
          const answer = yield* connection.run("renew lease", (c) => c.pexpire(leaseKey(id, lease.fence), leaseMs)).pipe(
            Effect.timeout(Duration.millis(every)),
            Effect.either
          )
          if (Either.isLeft(answer)) {
            // not renewed: again soon; the guard stops the flow when the lease may have lapsed
            yield* Effect.sleep("100 millis")
          } else if (answer.right === 0) {
            return "lost" as const
          } else {
            yield* Ref.set(lease.validUntil, now + leaseMs - margin)
          }
        }
      })

      const guard = Effect.gen(function*() {
        yield* Deferred.await(lease.leased)
        for (;;) {
          const now = yield* monotonicNow
          const validUntil = yield* Ref.get(lease.validUntil)
          if (now < validUntil) {
            yield* Effect.sleep(Duration.millis(validUntil - now))
            continue
          }
          // the lease may have lapsed: stop now unless a poll is in flight (its answer is still ours to store)
          if ((yield* Clock.currentTimeMillis) < (yield* Ref.get(lease.nextPollAt))) return "lost" as const
          yield* Effect.sleep("50 millis")
        }
      })

      return Effect.raceAll([poller, renewer, guard, Effect.as(Deferred.await(lease.lost), "lost" as const)]).pipe(
        Effect.tap((outcome) =>
          outcome === "done"
            ? Effect.void
            : Effect.logDebug(`flow ${id}: stopped polling (${outcome === "lost" ? "lease lost" : "ended elsewhere"})`)
        ),
        Effect.onInterrupt(() =>
          // shutting down: hand the flow over at once instead of after the lease expires
          connection.script(HAND_OVER, [flowKey(id), leaseKey(id, lease.fence)], []).pipe(
            Effect.ignore,
            Effect.zipRight(indexHint(id, 0))
          )
        )
      )
    }

    /**
     * The flow's client: the last check before a poll leaves. A lease that may
     * have lapsed (a pause longer than it: GC, SIGSTOP, a VM frozen) sends
     * nothing, whatever timers fire first when the process runs again; the
     * flow stops as "lost" and whoever took it over polls it.
     */
    const gated = (lease: Lease) =>
      HttpClient.mapRequestEffect(client, (request) =>
        Effect.gen(function*() {
          // the device authorization request comes before the lease exists
          if (!(yield* Deferred.isDone(lease.leased))) return request
          if ((yield* monotonicNow) < (yield* Ref.get(lease.validUntil))) return request
          yield* Deferred.succeed(lease.lost, undefined)
          return yield* Effect.never
        }))

    const own = (id: string, lease: Lease, run: Effect.Effect<Outcome, never, HttpClient.HttpClient>) =>
      Effect.gen(function*() {
        const fiber = yield* run.pipe(
          Effect.ensuring(Effect.sync(() => owned.get(id)?.lease === lease && owned.delete(id))),
          Effect.asVoid,
          Effect.provideService(HttpClient.HttpClient, gated(lease)),
          Effect.forkIn(scope)
        )
        owned.set(id, { fiber, lease })
        return fiber
      })

    const start = (request: DeviceCodeRequest = {}) =>
      Effect.gen(function*() {
        const id = yield* FlowStore.makeId
        const issued = yield* Deferred.make<FlowStore.StartedFlow, DeviceFlowError | FlowStore.FlowStoreUnavailable>()
        const lease = yield* makeLease("1", 0, 0, false, { pollState: "", reseal: "" })
        const onIssued = (event: DeviceFlow.DeviceFlowEvent) =>
          Effect.gen(function*() {
            if (event._tag !== "CodeIssued") return false
            const update = FlowStore.fromEvent(id, event)
            const t0 = yield* monotonicNow
            const wall = yield* Clock.currentTimeMillis
            const encoded = encodeUpdate(update) as typeof FlowStore.Pending.Encoded
            const pollState = Record.pollStateOf(encoded)
            const seq = Record.firstSeq(1)
            const record: Record.FlowRecord = {
              st: "pending",
              f: 1,
              q: seq,
              c: Record.codeOf(encoded),
              d: pollState,
              s: connection.keyring.seal(`flow:${id}:session`, Record.secretPartOf(event.session))
            }
            const created = yield* connection.script(CREATE, [flowKey(id), leaseKey(id, "1")], [
              JSON.stringify(record),
              // the record outlives the code by the retention, then Redis forgets it: a TTL relative to
              // this instance's own reading of the code's expiry, so a clock hours off does not matter
              Math.max(1, event.session.expiresOn - wall) + retentionMs,
              Record.live(seq, pollState),
              leaseMs
            ]).pipe(Effect.either)
            if (Either.isLeft(created)) {
              yield* Deferred.fail(issued, unavailable(created.left))
              return false
            }
            yield* indexHint(id, wall + leaseMs)
            yield* Ref.set(lease.storedState, pollState)
            yield* Ref.set(lease.validUntil, t0 + leaseMs - margin)
            yield* Ref.set(lease.nextPollAt, event.session.nextPollAt)
            yield* Deferred.succeed(lease.leased, undefined)
            yield* Deferred.succeed(issued, FlowStore.startedFlow(id, event.code))
            return true
          })
        const events = DeviceFlow.events(config, request, settings.flow).pipe(
          Stream.tapError((error) => Deferred.fail(issued, error))
        )
        yield* own(id, lease, drive(id, events, lease, onIssued, false))
        return yield* Deferred.await(issued)
      })

    // Take over flows whose lease expired (their holder died or lost Redis): resume from the stored session.
    const takeOver = (id: string) =>
      Effect.gen(function*() {
        const t0 = yield* Clock.currentTimeMillis
        const mono0 = yield* monotonicNow
        const answer = (yield* connection.script(ACQUIRE, [flowKey(id), leaseName(id)], [leaseMs, attemptId()])) as Array<
          number | string
        >
        const head = Number(answer[0])
        if (head === 0 || head === -2) return yield* unindex(id)
        if (head === -1) return yield* indexHint(id, t0 + Number(answer[1]))
        const fence = String(head)
        const [code, pollState] = [String(answer[2] ?? ""), String(answer[3] ?? "")]
        const opened = yield* connection.keyring.open(`flow:${id}:session`, String(answer[1] ?? "")).pipe(
          Effect.flatMap((secretPart) =>
            Effect.suspend(() => Record.sessionOf(secretPart, code, pollState)).pipe(
              Effect.catchAllDefect(() => new InvalidConfiguration({ field: "session", reason: "is not a valid saved device session" }))
            )
          ),
          Effect.either
        )
        if (Either.isLeft(opened)) {
          // unreadable (e.g. sealed with a key no longer configured): end it as what it is
          yield* Effect.logError(`flow ${id}: stored session cannot be read`, opened.left.message)
          const error = opened.left._tag === "InvalidConfiguration"
            ? opened.left
            : new InvalidConfiguration({ field: "session", reason: opened.left.message })
          return yield* finish(id, fence, new FlowStore.Failed({ id, error }), false)
        }
        const stored = opened.right
        // The previous holder may have polled after it last stored the session and died with the
        // answer: were it slow_down (RFC 8628 §3.5), the interval grew by 5 s unseen. Assume it did.
        const session = stored.nextPollAt <= t0
          ? new DeviceSession.DeviceSession({ ...stored, intervalMs: stored.intervalMs + 5_000 }, true)
          : stored
        yield* indexHint(id, t0 + leaseMs)
        const lease = yield* makeLease(
          fence,
          mono0 + leaseMs - margin,
          // RFC 8628 §3.5: the first poll after a takeover waits a full interval (the old holder may just have polled)
          Math.max(session.nextPollAt, (yield* Clock.currentTimeMillis) + session.intervalMs),
          true,
          // this holder's first poll stores the session sealed with its own current key
          { pollState, reseal: connection.keyring.seal(`flow:${id}:session`, Record.secretPartOf(session)) }
        )
        yield* own(id, lease, drive(id, DeviceFlow.resumeEvents(config, session, settings.flow), lease, () => Effect.succeed(true), true))
      })

    const SCAN_BATCH = 500

    // The index says when to look at a flow again. Polls renew leases without touching it (one
    // command per poll): instead each scan moves this instance's live flows on, SCAN_BATCH per command.
    const reindexOwned = Effect.gen(function*() {
      const mono = yield* monotonicNow
      const at = (yield* Clock.currentTimeMillis) + redisOffset + leaseMs
      const live: Array<string> = []
      for (const [id, { lease }] of owned) {
        if ((yield* Ref.get(lease.validUntil)) > mono) live.push(id)
      }
      for (let i = 0; i < live.length; i += SCAN_BATCH) {
        const members = live.slice(i, i + SCAN_BATCH).flatMap((id) => [at, id])
        yield* connection.run("index flows", (c) => c.zadd(indexKey, ...members)).pipe(Effect.ignore)
      }
    })

    // returns whether the batch was full (more may be due: scan again at once)
    const scan = Effect.gen(function*() {
      yield* Effect.ignore(measureOffset)
      yield* reindexOwned
      const now = (yield* Clock.currentTimeMillis) + redisOffset
      const due = yield* connection.run("scan flows", (c) => c.zrangebyscore(indexKey, "-inf", now, "LIMIT", 0, SCAN_BATCH))
      // instances scanning together start at different places instead of racing for the same flows
      const mine = due.filter((id) => !owned.has(id))
      const offset = Math.floor(Math.random() * Math.max(1, mine.length))
      const order = [...mine.slice(offset), ...mine.slice(0, offset)]
      yield* Effect.forEach(order, (id) => Effect.ignore(takeOver(id)), { concurrency: 32, discard: true })
      return due.length === SCAN_BATCH
    })

    // before the first flow is indexed (a Redis away now is measured again at every scan)
    yield* Effect.ignore(measureOffset)
    yield* scan.pipe(
      Effect.catchAll((error) => Effect.as(Effect.logWarning("flow takeover scan failed", error.message), false)),
      Effect.flatMap((more) => more ? Effect.void : Effect.sleep(settings.scanEvery)),
      Effect.forever,
      Effect.forkIn(scope)
    )

    // Cancellations from any instance stop this instance's poller at once; the lease's holder then says so.
    yield* connection.subscribe(cancelChannel, (message) => {
      const [id, holder] = message.split("|") as [string, string | undefined]
      const mine = owned.get(id)
      if (mine === undefined) return
      Effect.runFork(Effect.gen(function*() {
        yield* Fiber.interrupt(mine.fiber)
        if (holder === undefined || holder !== mine.lease.fence) return
        yield* connection.run("cancel stopped", (c) => c.publish(stoppedChannel, message)).pipe(Effect.ignore)
      }))
    }).pipe(Effect.catchAll((error) => Effect.logWarning("cancel channel not subscribed", error.message)))
    yield* connection.subscribe(stoppedChannel, (message) => {
      const waiter = stopWaiters.get(message)
      if (waiter !== undefined) Effect.runFork(Deferred.succeed(waiter, undefined))
    }).pipe(Effect.catchAll((error) => Effect.logWarning("cancel acknowledgements not subscribed", error.message)))

    const cancel = (id: string) =>
      Effect.gen(function*() {
        const update = serialise(new FlowStore.Cancelled({ id }))
        const answer = (yield* connection.script(
          FINISH,
          [flowKey(id), leaseName(id)],
          ["", "cancelled", update, retentionMs, channel(id), "1", attemptId()]
        ).pipe(Effect.mapError(unavailable))) as ReadonlyArray<unknown>
        const head = Number(answer[0])
        if (head === 0) return yield* new FlowStore.FlowNotFound({ id })
        if (head === -2) return false
        yield* unindex(id)
        // -3: this cancel's first run ended the flow and its reply was lost: who held the lease is not
        // known any more, so wait as for a holder that never answers (a whole lease at most)
        const holder = head === -3 ? "?" : String(answer[1] ?? "")
        const remaining = head === -3 ? leaseMs : Number(answer[2] ?? 0)
        const message = `${id}|${holder}`
        const local = owned.get(id)
        const heldHere = local !== undefined && local.lease.fence === holder
        if (local !== undefined) yield* Fiber.interrupt(local.fiber)
        // No poll after cancel returns: wait until the lease's holder says it stopped, at most until
        // its lease would have run out (the holder's own deadline comes before that, see `drive`).
        const wait = !heldHere && holder !== "" && remaining > 0
        const stopped = yield* Deferred.make<void>()
        if (wait) stopWaiters.set(message, stopped)
        yield* connection.run("publish cancel", (c) => c.publish(cancelChannel, message)).pipe(Effect.ignore)
        if (wait) {
          yield* Deferred.await(stopped).pipe(
            Effect.timeout(Duration.millis(remaining)),
            Effect.ignore,
            Effect.ensuring(Effect.sync(() => stopWaiters.delete(message)))
          )
        }
        return true
      })

    const watch = (id: string): Stream.Stream<FlowStore.FlowUpdate, FlowStore.FlowStoreError> =>
      Stream.unwrapScoped(Effect.gen(function*() {
        const inbox = yield* Queue.unbounded<string>()
        // subscribe first, then read: nothing published in between is missed
        yield* connection.subscribe(channel(id), (message) => Queue.unsafeOffer(inbox, message)).pipe(
          Effect.mapError(unavailable)
        )
        const first = yield* readState(id)
        if (FlowStore.isFinal(first.update)) return Stream.make(first.update)
        const next = (last: number): Effect.Effect<readonly [FlowStore.FlowUpdate, number], FlowStore.FlowStoreError> =>
          Effect.gen(function*() {
            // lost messages (a reconnect) are caught up by reading the state every resyncEvery
            for (;;) {
              const message = yield* Queue.take(inbox).pipe(Effect.timeout(settings.resyncEvery), Effect.option)
              if (Option.isNone(message)) {
                const state = yield* readState(id)
                if (state.seq > last) return [state.update, state.seq] as const
                continue
              }
              const bar = message.value.indexOf("|")
              const seq = Number(message.value.slice(0, bar))
              if (!(seq > last)) continue
              return [yield* deserialise(id, message.value.slice(bar + 1)), seq] as const
            }
          })
        const rest = Stream.unfoldEffect(
          { last: first.seq, done: false },
          (s): Effect.Effect<Option.Option<readonly [FlowStore.FlowUpdate, { last: number; done: boolean }]>, FlowStore.FlowStoreError> =>
            s.done
              ? Effect.succeedNone
              : Effect.map(next(s.last), ([update, seq]) => Option.some([update, { last: seq, done: FlowStore.isFinal(update) }] as const))
        )
        return Stream.concat(Stream.make(first.update), rest)
      }))

    const pending = Effect.gen(function*() {
      const ids = yield* connection.run("list flows", (c) => c.zrange(indexKey, 0, -1))
      const rows = yield* Effect.forEach(ids, (id) =>
        connection.run("read flow", (c) => c.get(flowKey(id))).pipe(
          Effect.map((raw) => {
            try {
              const record = raw === null ? undefined : JSON.parse(raw) as Record.FlowRecord
              if (record?.st !== "pending" || record.c === undefined) return Option.none()
              const [userCode, , , expiresOn] = JSON.parse(record.c) as [string, unknown, unknown, number]
              return Option.some({ id, userCode, expiresOn })
            } catch {
              // an unreadable record is not listed; reading the flow itself reports it
              return Option.none()
            }
          })
        ), { concurrency: 32 })
      return rows.flatMap(Option.toArray)
    }).pipe(Effect.mapError(unavailable))

    return {
      start,
      get: (id) => Effect.map(readState(id), (s) => s.update),
      watch,
      cancel,
      pending
    } satisfies FlowStore.FlowStore
  })
