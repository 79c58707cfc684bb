/**
 * Taking over flows whose lease expired (their holder died, or lost Redis):
 * the scan of the pending index, and the resume from the stored session.
 * @internal
 */
import type { ClientConfig } from "@devflow/core/ClientConfig"
import * as DeviceFlow from "@devflow/core/DeviceFlow"
import { InvalidConfiguration } from "@devflow/core/DeviceFlowError"
import * as DeviceSession from "@devflow/core/DeviceSession"
import * as FlowStore from "@devflow/core/FlowStore"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Ref from "effect/Ref"
import type { RedisUnavailable } from "../RedisConnection.js"
import type { FlowContext } from "./flowContext.js"
import type { Poller } from "./flowPoller.js"
import { makeLease } from "./flowPoller.js"
import * as Record from "./flowRecord.js"
import { ACQUIRE } from "./flowScripts.js"
import { attemptId, monotonicNow } from "./lease.js"

const SCAN_BATCH = 500

/**
 * One scan: flows due in the index that this instance does not poll are
 * taken over. Returns whether the batch was full (more may be due: scan again
 * at once).
 * @internal
 */
export const makeScan = (
  ctx: FlowContext,
  config: ClientConfig,
  poller: Poller
): Effect.Effect<boolean, RedisUnavailable> => {
  const { connection, index, keys, leaseMs, margin } = ctx

  const takeOver = (id: string) =>
    Effect.gen(function*() {
      const t0 = yield* Clock.currentTimeMillis
      const mono0 = yield* monotonicNow
      const answer =
        (yield* connection.script(ACQUIRE, [keys.flow(id), keys.leaseName(id)], [leaseMs, attemptId()])) as Array<
          number | string
        >
      const head = Number(answer[0])
      if (head === 0 || head === -2) return yield* index.remove(id)
      if (head === -1) return yield* index.hint(id, t0 + Number(answer[1]))
      const fence = String(head)
      const [code, pollState] = [String(answer[2] ?? ""), String(answer[3] ?? "")]
      const opened = yield* connection.keyring.open(`flow:${id}:session`, String(answer[1] ?? "")).pipe(
        Effect.flatMap((secretPart) =>
          Effect.suspend(() => Record.sessionOf(secretPart, code, pollState)).pipe(
            Effect.catchAllDefect(() =>
              new InvalidConfiguration({ field: "session", reason: "is not a valid saved device session" })
            )
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
        return yield* poller.finish(id, fence, new FlowStore.Failed({ id, error }), false)
      }
      const session = opened.right
      // The previous holder may have polled after it last stored the session and died with the
      // answer: core's resume rule raises the interval for it and waits a full one before the first poll.
      const unobservedPoll = session.nextPollAt <= t0
      const resumed = DeviceSession.resumeTiming(session, yield* Clock.currentTimeMillis, unobservedPoll)
      yield* index.hint(id, t0 + leaseMs)
      const lease = yield* makeLease(
        fence,
        mono0 + leaseMs - margin,
        resumed.nextPollAt,
        true,
        // this holder's first poll stores the session sealed with its own current key
        { pollState, reseal: connection.keyring.seal(`flow:${id}:session`, Record.secretPartOf(session)) }
      )
      const events = DeviceFlow.resumeEvents(config, session, { ...ctx.settings.flow, unobservedPoll })
      yield* poller.own(id, lease, events, () => Effect.succeed(true), true)
    })

  // The index says when to look at a flow again. Polls renew leases without touching it (one
  // command per poll): instead each scan moves this instance's live flows on, SCAN_BATCH per command.
  const reindexOwned = Effect.gen(function*() {
    const mono = yield* monotonicNow
    const at = (yield* index.redisNow) + leaseMs
    const live: Array<string> = []
    for (const [id, { lease }] of poller.owned) {
      if ((yield* Ref.get(lease.validUntil)) > mono) live.push(id)
    }
    for (let i = 0; i < live.length; i += SCAN_BATCH) yield* index.hintAll(live.slice(i, i + SCAN_BATCH), at)
  })

  return Effect.gen(function*() {
    yield* Effect.ignore(index.measureOffset)
    yield* reindexOwned
    const now = yield* index.redisNow
    const due = yield* connection.run(
      "scan flows",
      (c) => c.zrangebyscore(keys.index, "-inf", now, "LIMIT", 0, SCAN_BATCH)
    )
    // instances scanning together start at different places instead of racing for the same flows
    const mine = due.filter((id) => !poller.owned.has(id))
    const offset = Math.floor(Math.random() * Math.max(1, mine.length))
    const order = [...mine.slice(offset), ...mine.slice(0, offset)]
    yield* Effect.forEach(order, (id) => Effect.ignore(takeOver(id)), { concurrency: 32, discard: true })
    return due.length === SCAN_BATCH
  })
}
