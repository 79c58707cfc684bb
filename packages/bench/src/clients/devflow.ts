import * as ClientConfig from "@devflow/core/ClientConfig"
import * as DeviceFlow from "@devflow/core/DeviceFlow"
import * as NodeOAuthHttp from "@devflow/node-http/NodeOAuthHttp"
import * as Effect from "effect/Effect"
import * as Cause from "effect/Cause"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as ManagedRuntime from "effect/ManagedRuntime"
import { describeError, type DeviceFlowClient, type Endpoints, type FlowOptions, type FlowResult } from "./types.js"

/**
 * devflow as an application uses it: `DeviceFlow.acquireToken` over the
 * undici layer of `@devflow/node-http`, one runtime for the whole process.
 */
export const make = async (endpoints: Endpoints): Promise<DeviceFlowClient> => {
  const runtime = ManagedRuntime.make(NodeOAuthHttp.layer())
  const config = await Effect.runPromise(ClientConfig.make({
    clientId: endpoints.clientId,
    endpoints: { deviceAuthorization: endpoints.deviceAuthorization, token: endpoints.token },
    scopes: endpoints.scopes
  }))
  const acquire = (onCode?: (userCode: string) => void) =>
    DeviceFlow.acquireToken(config, {}, {
      onCode: (code) => {
        onCode?.(code.userCode)
      }
    })
  const toResult = (either: Either.Either<unknown, unknown>): FlowResult =>
    Either.isRight(either) ? { ok: true } : { ok: false, error: describeError(either.left) }

  const flow = (options: FlowOptions = {}): Promise<FlowResult> =>
    runtime.runPromiseExit(Effect.either(acquire(options.onCode)), { signal: options.signal }).then((exit) =>
      Exit.isSuccess(exit)
        ? toResult(exit.value)
        : { ok: false, error: Cause.isInterruptedOnly(exit.cause) ? "Interrupted: the fiber was interrupted (cancelled)" : Cause.pretty(exit.cause).split("\n")[0]! }
    )

  // Many flows in one program: the way an Effect application runs them.
  const flows = (n: number, onDone: (result: FlowResult) => void): Promise<ReadonlyArray<FlowResult>> =>
    runtime.runPromise(
      Effect.forEach(
        Array.from({ length: n }),
        () =>
          Effect.map(Effect.either(acquire()), (either) => {
            const result = toResult(either)
            onDone(result)
            return result
          }),
        { concurrency: "unbounded" }
      )
    )

  return { name: "devflow", flow, flows, close: () => runtime.dispose() }
}
