/**
 * The Redis flow store: a flow is started here and polled by the instance
 * that holds its lease (flowPoller.ts); any instance reads, watches
 * (flowWatch.ts) and cancels it, and takes it over when its holder is gone
 * (flowTakeover.ts). Keys and scripts: flowScripts.ts; stored form:
 * flowRecord.ts and flowCodec.ts.
 * @internal
 */
import type { ClientConfig } from "@devflow/core/ClientConfig"
import type { DeviceCodeRequest } from "@devflow/core/DeviceAuthorization"
import * as DeviceFlow from "@devflow/core/DeviceFlow"
import type { DeviceFlowError } from "@devflow/core/DeviceFlowError"
import * as FlowStore from "@devflow/core/FlowStore"
import * as HttpClient from "@effect/platform/HttpClient"
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type { RedisConnection } from "../RedisConnection.js"
import { encodeUpdate, makeCodec } from "./flowCodec.js"
import type { FlowContext, Settings } from "./flowContext.js"
import { makeIndex } from "./flowIndex.js"
import { makeLease, makePoller } from "./flowPoller.js"
import * as Record from "./flowRecord.js"
import { CREATE, FINISH, keysOf } from "./flowScripts.js"
import { makeScan } from "./flowTakeover.js"
import { makeWatch } from "./flowWatch.js"
import { attemptId, monotonicNow } from "./lease.js"

export type { Settings } from "./flowContext.js"

/** @internal */
export const make = (
  connection: RedisConnection,
  config: ClientConfig,
  settings: Settings
): Effect.Effect<FlowStore.FlowStore, never, HttpClient.HttpClient | Scope.Scope> =>
  Effect.gen(function*() {
    const client = yield* HttpClient.HttpClient
    const scope = yield* Effect.scope
    const keys = keysOf(connection.prefix)
    const leaseMs = Duration.toMillis(settings.lease)
    const ctx: FlowContext = {
      connection,
      settings,
      keys,
      codec: makeCodec(connection, keys),
      index: makeIndex(connection, keys),
      leaseMs,
      // a holder stops polling this long before its lease can expire in Redis
      margin: Math.max(250, Math.floor(leaseMs / 4)),
      retentionMs: Duration.toMillis(settings.retention)
    }
    const { codec, index, margin, retentionMs } = ctx
    const poller = makePoller(ctx, client, scope)
    const { owned } = poller
    const stopWaiters = new Map<string, Deferred.Deferred<void>>()

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
            const created = yield* connection.script(CREATE, [keys.flow(id), keys.lease(id, "1")], [
              JSON.stringify(record),
              // the record outlives the code by the retention, then Redis forgets it: a TTL relative to
              // this instance's own reading of the code's expiry, so a clock hours off does not matter
              Math.max(1, event.session.expiresOn - wall) + retentionMs,
              Record.live(seq, pollState),
              leaseMs
            ]).pipe(Effect.either)
            if (Either.isLeft(created)) {
              yield* Deferred.fail(issued, codec.unavailable(created.left))
              return false
            }
            yield* index.hint(id, wall + leaseMs)
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
        yield* poller.own(id, lease, events, onIssued, false)
        return yield* Deferred.await(issued)
      })

    // before the first flow is indexed (a Redis away now is measured again at every scan)
    yield* Effect.ignore(index.measureOffset)
    yield* makeScan(ctx, config, poller).pipe(
      Effect.catchAll((error) => Effect.as(Effect.logWarning("flow takeover scan failed", error.message), false)),
      Effect.flatMap((more) => more ? Effect.void : Effect.sleep(settings.scanEvery)),
      Effect.forever,
      Effect.forkIn(scope)
    )

    // Cancellations from any instance stop this instance's poller at once; the lease's holder then says so.
    yield* connection.subscribe(keys.cancelChannel, (message) => {
      const [id, holder] = message.split("|") as [string, string | undefined]
      const mine = owned.get(id)
      if (mine === undefined) return
      Effect.runFork(Effect.gen(function*() {
        yield* Fiber.interrupt(mine.fiber)
        if (holder === undefined || holder !== mine.lease.fence) return
        yield* connection.run("cancel stopped", (c) => c.publish(keys.stoppedChannel, message)).pipe(Effect.ignore)
      }))
    }).pipe(Effect.catchAll((error) => Effect.logWarning("cancel channel not subscribed", error.message)))
    yield* connection.subscribe(keys.stoppedChannel, (message) => {
      const waiter = stopWaiters.get(message)
      if (waiter !== undefined) Effect.runFork(Deferred.succeed(waiter, undefined))
    }).pipe(Effect.catchAll((error) => Effect.logWarning("cancel acknowledgements not subscribed", error.message)))

    const cancel = (id: string) =>
      Effect.gen(function*() {
        const update = codec.serialise(new FlowStore.Cancelled({ id }))
        const answer = (yield* connection.script(
          FINISH,
          [keys.flow(id), keys.leaseName(id)],
          ["", "cancelled", update, retentionMs, keys.flow(id), "1", attemptId()]
        ).pipe(Effect.mapError(codec.unavailable))) as ReadonlyArray<unknown>
        const head = Number(answer[0])
        if (head === 0) return yield* new FlowStore.FlowNotFound({ id })
        if (head === -2) return false
        yield* index.remove(id)
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
        yield* connection.run("publish cancel", (c) => c.publish(keys.cancelChannel, message)).pipe(Effect.ignore)
        if (wait) {
          yield* Deferred.await(stopped).pipe(
            Effect.timeout(Duration.millis(remaining)),
            Effect.ignore,
            Effect.ensuring(Effect.sync(() => stopWaiters.delete(message)))
          )
        }
        return true
      })

    const pending = Effect.gen(function*() {
      const ids = yield* connection.run("list flows", (c) => c.zrange(keys.index, 0, -1))
      const rows = yield* Effect.forEach(ids, (id) =>
        connection.run("read flow", (c) => c.get(keys.flow(id))).pipe(
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
    }).pipe(Effect.mapError(codec.unavailable))

    return {
      start,
      get: (id) => Effect.map(codec.readState(id), (s) => s.update),
      watch: makeWatch(ctx),
      cancel,
      pending
    } satisfies FlowStore.FlowStore
  })
