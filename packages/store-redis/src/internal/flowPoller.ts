/**
 * Polling the flows this instance holds the lease of: each flow's poller, its
 * lease renewer and its guard, and the fenced final update. A lease that may
 * have lapsed sends no poll, whatever timers fire first (see `gated`).
 * @internal
 */
import type * as DeviceFlow from "@devflow/core/DeviceFlow"
import type { DeviceFlowError } from "@devflow/core/DeviceFlowError"
import * as FlowStore from "@devflow/core/FlowStore"
import * as HttpClient from "@effect/platform/HttpClient"
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { encodeUpdate } from "./flowCodec.js"
import type { FlowContext } from "./flowContext.js"
import * as Record from "./flowRecord.js"
import { FINISH, HAND_OVER, PERSIST } from "./flowScripts.js"
import { attemptId, monotonicNow } from "./lease.js"

/** @internal */
export type Outcome = "done" | "lost" | "ended"

/** @internal */
export interface Lease {
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

/** @internal */
export const makeLease = (
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
export interface Poller {
  /** the flows this instance polls, by id */
  readonly owned: Map<string, { readonly fiber: Fiber.RuntimeFiber<void>; readonly lease: Lease }>
  /** store a final update; `force`: even when this holder's lease lapsed (tokens are the truth) */
  readonly finish: (
    id: string,
    fence: string,
    update: FlowStore.Succeeded | FlowStore.Failed,
    force: boolean
  ) => Effect.Effect<void>
  /** poll the flow's events under the lease, in the store's scope */
  readonly own: (
    id: string,
    lease: Lease,
    events: Stream.Stream<DeviceFlow.DeviceFlowEvent, DeviceFlowError, HttpClient.HttpClient>,
    onIssued: (event: DeviceFlow.DeviceFlowEvent) => Effect.Effect<boolean>,
    takenOver: boolean
  ) => Effect.Effect<Fiber.RuntimeFiber<void>>
}

/** @internal */
export const makePoller = (
  { codec, connection, index, keys, leaseMs, margin, retentionMs, settings }: FlowContext,
  client: HttpClient.HttpClient,
  scope: Scope.Scope
): Poller => {
  const owned: Poller["owned"] = new Map()

  const spentCode = (error: DeviceFlowError) =>
    (error._tag === "OAuthError" && error.error === "invalid_grant") ||
    (error._tag === "DeviceCodeExpired" && error.reason === "expired_token")

  // Whether the flow ends (another holder stores its outcome) within `grace`.
  const awaitFinal = (id: string, grace: Duration.Duration) =>
    codec.readState(id).pipe(
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
      [keys.flow(id), keys.leaseName(id)],
      [
        fence,
        update._tag === "Succeeded" ? "succeeded" : "failed",
        codec.serialise(update),
        retentionMs,
        keys.flow(id),
        force ? "1" : "0",
        attemptId()
      ]
    ).pipe(
      Effect.retry(persistently),
      // -1: another instance holds the lease now and will find the outcome itself; keep the flow indexed
      Effect.flatMap((answer) => Number((answer as ReadonlyArray<unknown>)[0]) === -1 ? Effect.void : index.remove(id)),
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
        const answer = yield* connection.script(PERSIST, [keys.flow(id), keys.lease(id, fence)], [
          Record.live(seq, pollState),
          leaseMs,
          keys.flow(id),
          `${seq}|${codec.serialise(update)}`,
          durable
        ]).pipe(Effect.either)
        if (Either.isLeft(answer)) {
          // Redis is away: keep polling while the lease may still be ours (the guard decides)
          yield* Effect.logWarning(`flow ${id}: state not stored`, answer.left.message)
          return undefined
        }
        if (answer.right === -1) {
          // The lease is gone. The engine polls on its own schedule, so an answer to a poll sent
          // while the lease was still ours may already be on its way behind this update: tokens
          // are stored even so (`finish`, force). No poll leaves any more (the gate reads
          // validUntil); the flow stops at the gate, or with the tokens.
          yield* Ref.set(lease.validUntil, 0)
          return undefined
        }
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
        const answer = yield* connection.run("renew lease", (c) => c.pexpire(keys.lease(id, lease.fence), leaseMs))
          .pipe(
            Effect.timeout(Duration.millis(every)),
            Effect.either
          )
        if (Either.isLeft(answer)) {
          // not renewed: again soon; the guard stops the flow when the lease may have lapsed
          yield* Effect.sleep("100 millis")
        } else if (answer.right === 0) {
          // The lease is gone in Redis: no poll leaves any more (the gate reads validUntil), but one
          // in flight may still bring tokens, which are the truth and stored even so (`finish`,
          // force). The guard stops the flow once no poll is in flight; stopping here would drop them.
          yield* Ref.set(lease.validUntil, 0)
          return yield* Effect.never
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
        connection.script(HAND_OVER, [keys.flow(id), keys.lease(id, lease.fence)], []).pipe(
          Effect.ignore,
          Effect.zipRight(index.hint(id, 0))
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

  const own: Poller["own"] = (id, lease, events, onIssued, takenOver) =>
    Effect.gen(function*() {
      const fiber = yield* drive(id, events, lease, onIssued, takenOver).pipe(
        Effect.ensuring(Effect.sync(() => owned.get(id)?.lease === lease && owned.delete(id))),
        Effect.asVoid,
        Effect.provideService(HttpClient.HttpClient, gated(lease)),
        Effect.forkIn(scope)
      )
      owned.set(id, { fiber, lease })
      return fiber
    })

  return { owned, finish, own }
}
