/** @internal */
import * as FlowStore from "@devflow/core/FlowStore"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Stream from "effect/Stream"
import type { FlowContext } from "./flowContext.js"

/**
 * A flow's updates as they happen, from any instance: subscribe first, then
 * read, so that nothing published in between is missed.
 * @internal
 */
export const makeWatch = (
  { codec, connection, keys, settings }: FlowContext
) =>
(id: string): Stream.Stream<FlowStore.FlowUpdate, FlowStore.FlowStoreError> =>
  Stream.unwrapScoped(Effect.gen(function*() {
    const inbox = yield* Queue.unbounded<string>()
    // subscribe first, then read: nothing published in between is missed
    yield* connection.subscribe(keys.flow(id), (message) => Queue.unsafeOffer(inbox, message)).pipe(
      Effect.mapError(codec.unavailable)
    )
    const first = yield* codec.readState(id)
    if (FlowStore.isFinal(first.update)) return Stream.make(first.update)
    const next = (last: number): Effect.Effect<readonly [FlowStore.FlowUpdate, number], FlowStore.FlowStoreError> =>
      Effect.gen(function*() {
        // lost messages (a reconnect) are caught up by reading the state every resyncEvery
        for (;;) {
          const message = yield* Queue.take(inbox).pipe(Effect.timeout(settings.resyncEvery), Effect.option)
          if (Option.isNone(message)) {
            const state = yield* codec.readState(id)
            if (state.seq > last) return [state.update, state.seq] as const
            continue
          }
          const bar = message.value.indexOf("|")
          const seq = Number(message.value.slice(0, bar))
          if (!(seq > last)) continue
          return [yield* codec.deserialise(id, message.value.slice(bar + 1)), seq] as const
        }
      })
    const rest = Stream.unfoldEffect(
      { last: first.seq, done: false },
      (
        s
      ): Effect.Effect<
        Option.Option<readonly [FlowStore.FlowUpdate, { last: number; done: boolean }]>,
        FlowStore.FlowStoreError
      > =>
        s.done
          ? Effect.succeedNone
          : Effect.map(next(s.last), ([update, seq]) =>
            Option.some([update, { last: seq, done: FlowStore.isFinal(update) }] as const))
    )
    return Stream.concat(Stream.make(first.update), rest)
  }))
