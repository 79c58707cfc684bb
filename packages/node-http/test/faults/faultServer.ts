/**
 * The fault-injection server of `@devflow/dev-server/faults`, as a scoped
 * Effect resource: closed (every connection destroyed) with its scope.
 */
import { type FaultServer, type Handler, startFaultServer } from "@devflow/dev-server/faults"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"

export * from "@devflow/dev-server/faults"

export const faultServer = (
  script: Readonly<Record<string, Handler>>
): Effect.Effect<FaultServer, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.promise(() => startFaultServer(script)),
    (server) => Effect.promise(() => server.close())
  )
