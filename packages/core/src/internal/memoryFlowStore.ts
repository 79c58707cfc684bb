/** @internal */
import * as HttpClient from "@effect/platform/HttpClient"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as SubscriptionRef from "effect/SubscriptionRef"
import type { ClientConfig } from "../ClientConfig.js"
import type { DeviceCodeRequest } from "../DeviceAuthorization.js"
import * as DeviceFlow from "../DeviceFlow.js"
import type { DeviceFlowError } from "../DeviceFlowError.js"
import * as FlowStore from "../FlowStore.js"

const DEFAULT_RETENTION = Duration.minutes(10)

interface Entry {
  readonly state: SubscriptionRef.SubscriptionRef<FlowStore.FlowUpdate>
  fiber: Fiber.RuntimeFiber<void> | undefined
}

/** Set `next` unless the flow already ended (first final update wins). */
const advance = (entry: Entry, next: FlowStore.FlowUpdate) =>
  SubscriptionRef.update(entry.state, (current) => (FlowStore.isFinal(current) ? current : next))

/** @internal */
export const make = (
  config: ClientConfig,
  options: FlowStore.Options = {}
): Effect.Effect<FlowStore.FlowStore, never, HttpClient.HttpClient | Scope.Scope> =>
  Effect.gen(function*() {
    const client = yield* HttpClient.HttpClient
    const scope = yield* Effect.scope
    const retention = Duration.decode(options.retention ?? DEFAULT_RETENTION)
    const flows = new Map<string, Entry>()

    const find = (id: string) =>
      Effect.suspend(() => {
        const entry = flows.get(id)
        return entry === undefined ? Effect.fail(new FlowStore.FlowNotFound({ id })) : Effect.succeed(entry)
      })

    const start = (request: DeviceCodeRequest = {}) =>
      Effect.gen(function*() {
        const id = yield* FlowStore.makeId
        const issued = yield* Deferred.make<FlowStore.StartedFlow, DeviceFlowError>()
        const run = DeviceFlow.events(config, request, options).pipe(
          Stream.runForEach((event) =>
            Effect.gen(function*() {
              const update = FlowStore.fromEvent(id, event)
              if (event._tag === "CodeIssued") {
                flows.set(id, { state: yield* SubscriptionRef.make<FlowStore.FlowUpdate>(update), fiber: undefined })
                yield* Deferred.succeed(issued, FlowStore.startedFlow(id, event.code))
              } else {
                yield* advance(flows.get(id)!, update)
              }
            })
          ),
          Effect.catchAll((error) => {
            const entry = flows.get(id)
            return entry === undefined
              ? Deferred.fail(issued, error)
              : advance(entry, new FlowStore.Failed({ id, error }))
          }),
          // a finished flow stays readable for `retention`, then is forgotten
          Effect.zipRight(Effect.sleep(retention)),
          Effect.zipRight(Effect.sync(() => void flows.delete(id))),
          Effect.provideService(HttpClient.HttpClient, client)
        )
        const fiber = yield* Effect.forkIn(run, scope)
        const started = yield* Deferred.await(issued)
        const entry = flows.get(id)
        if (entry !== undefined) entry.fiber = fiber
        return started
      })

    const cancel = (id: string) =>
      Effect.gen(function*() {
        const entry = yield* find(id)
        const stopped = yield* SubscriptionRef.modify(entry.state, (current) =>
          FlowStore.isFinal(current)
            ? [false, current] as const
            : [true, new FlowStore.Cancelled({ id })] as const)
        if (stopped && entry.fiber !== undefined) {
          // the poll in flight is aborted; the entry stays readable for `retention`
          const fiber = entry.fiber
          entry.fiber = undefined
          yield* Fiber.interrupt(fiber)
          yield* Effect.forkIn(
            Effect.ensuring(Effect.sleep(retention), Effect.sync(() => flows.delete(id))),
            scope
          )
        }
        return stopped
      })

    return {
      start,
      get: (id) => Effect.flatMap(find(id), (entry) => SubscriptionRef.get(entry.state)),
      watch: (id) =>
        Stream.unwrap(Effect.map(find(id), (entry) => entry.state.changes.pipe(Stream.takeUntil(FlowStore.isFinal)))),
      cancel,
      pending: Effect.gen(function*() {
        const out: Array<FlowStore.PendingFlow> = []
        for (const entry of flows.values()) {
          const update = yield* SubscriptionRef.get(entry.state)
          if (update._tag === "Pending") {
            out.push({ id: update.id, userCode: update.userCode, expiresOn: update.expiresOn })
          }
        }
        return out
      })
    } satisfies FlowStore.FlowStore
  })
