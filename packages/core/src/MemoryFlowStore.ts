/**
 * A {@link FlowStore.FlowStore} in this process's memory: the default for one
 * process (a CLI, a desktop app, one server). Flows run as fibers of the
 * layer's scope and end with it; nothing outlives the process. To share
 * flows across instances, use `@devflow/store-redis`'s `RedisFlowStore`.
 *
 * @since 0.1.0
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import type * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import type { ClientConfig } from "./ClientConfig.js"
import * as FlowStore from "./FlowStore.js"
import * as internal from "./internal/memoryFlowStore.js"

/**
 * A flow store in this process's memory, in the caller's scope. Needs the
 * `HttpClient` the flows poll with.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: (
  config: ClientConfig,
  options?: FlowStore.Options
) => Effect.Effect<FlowStore.FlowStore, never, HttpClient.HttpClient | Scope.Scope> = internal.make

/**
 * The in-memory flow store as the {@link FlowStore.FlowStore} service.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  config: ClientConfig,
  options: FlowStore.Options = {}
): Layer.Layer<FlowStore.FlowStore, never, HttpClient.HttpClient> =>
  Layer.scoped(FlowStore.FlowStore, make(config, options))
