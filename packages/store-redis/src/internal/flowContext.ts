/**
 * What every part of the Redis flow store shares: the connection, the keys,
 * the codec, the pending index and the lease's timings.
 * @internal
 */
import type * as DeviceFlow from "@devflow/core/DeviceFlow"
import type * as Duration from "effect/Duration"
import type { RedisConnection } from "../RedisConnection.js"
import type { FlowCodec } from "./flowCodec.js"
import type { FlowIndex } from "./flowIndex.js"
import type { FlowKeys } from "./flowScripts.js"

/** @internal */
export interface Settings {
  readonly lease: Duration.Duration
  readonly scanEvery: Duration.Duration
  readonly resyncEvery: Duration.Duration
  readonly retention: Duration.Duration
  readonly takeoverGrace: Duration.Duration
  readonly flow: DeviceFlow.FlowOptions
}

/** @internal */
export interface FlowContext {
  readonly connection: RedisConnection
  readonly settings: Settings
  readonly keys: FlowKeys
  readonly codec: FlowCodec
  readonly index: FlowIndex
  readonly leaseMs: number
  /** a holder stops polling this long before its lease can expire in Redis */
  readonly margin: number
  readonly retentionMs: number
}
