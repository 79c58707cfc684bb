/**
 * A flow's updates as stored and published, and the state a reader sees.
 * Tokens are sealed with the store's keyring; every other update holds
 * nothing secret.
 * @internal
 */
import * as FlowStore from "@devflow/core/FlowStore"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import type { RedisConnection, RedisUnavailable } from "../RedisConnection.js"
import * as Record from "./flowRecord.js"
import { type FlowKeys, READ } from "./flowScripts.js"

/** @internal */
export const encodeUpdate = Schema.encodeSync(FlowStore.FlowUpdate)
const decodeUpdate = Schema.decodeUnknownEither(Schema.parseJson(FlowStore.FlowUpdate))

/** @internal */
export interface FlowCodec {
  readonly unavailable: (error: RedisUnavailable) => FlowStore.FlowStoreUnavailable
  readonly corrupt: (id: string, detail: string) => FlowStore.FlowStoreUnavailable
  readonly serialise: (update: FlowStore.FlowUpdate) => string
  readonly deserialise: (
    id: string,
    text: string
  ) => Effect.Effect<FlowStore.FlowUpdate, FlowStore.FlowStoreUnavailable>
  readonly decodeRecord: (id: string, text: string) => Effect.Effect<Record.FlowRecord, FlowStore.FlowStoreUnavailable>
  /** the flow's latest update and its sequence number, as any instance reads it */
  readonly readState: (
    id: string
  ) => Effect.Effect<{ readonly seq: number; readonly update: FlowStore.FlowUpdate }, FlowStore.FlowStoreError>
}

/** @internal */
export const makeCodec = (connection: RedisConnection, keys: FlowKeys): FlowCodec => {
  const unavailable = (error: RedisUnavailable) =>
    new FlowStore.FlowStoreUnavailable({ store: connection.location, reason: "connection", detail: error.message })
  const corrupt = (id: string, detail: string) =>
    new FlowStore.FlowStoreUnavailable({
      store: connection.location,
      reason: "corrupt",
      detail: `flow ${id}: ${detail}`
    })

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
      const encoded = yield* Effect.try({
        try: () => Record.pendingOf(id, code, pollState),
        catch: () => corrupt(id, "stored poll state is not JSON")
      })
      const decoded = decodeUpdate(JSON.stringify(encoded))
      if (Either.isLeft(decoded)) return yield* corrupt(id, "stored update does not decode")
      return decoded.right
    })

  const readState = (id: string) =>
    Effect.gen(function*() {
      const [raw, live] = (yield* connection.script(READ, [keys.flow(id), keys.leaseName(id)], []).pipe(
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

  return { unavailable, corrupt, serialise, deserialise, decodeRecord, readState }
}
