import * as ClientConfig from "@devflow/core/ClientConfig"
import * as DeviceFlow from "@devflow/core/DeviceFlow"
import * as NodeOAuthHttp from "@devflow/node-http/NodeOAuthHttp"
import * as Effect from "effect/Effect"
import * as Cause from "effect/Cause"
import * as Exit from "effect/Exit"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Option from "effect/Option"
import { describeError, type DeviceFlowClient, type Endpoints, type FlowOptions, type FlowResult } from "./types.js"

/**
 * devflow as an application uses it: `DeviceFlow.acquireToken` over the
 * undici layer of `@devflow/node-http`, one runtime for the whole process,
 * and each sign-in run on its own (`runPromiseExit`), as a server runs one per
 * incoming request. Many flows go through `flow` like every peer's: one
 * `Effect.forEach` over all of them would add its own per-element fork
 * bookkeeping (about 7.7 KiB per element while they wait) to devflow's figures.
 */
export const make = async (endpoints: Endpoints): Promise<DeviceFlowClient> => {
  const runtime = ManagedRuntime.make(NodeOAuthHttp.layer())
  const config = await Effect.runPromise(ClientConfig.make({
    clientId: endpoints.clientId,
    endpoints: { deviceAuthorization: endpoints.deviceAuthorization, token: endpoints.token },
    scopes: endpoints.scopes
  }))
  // built before the first sign-in, as a server builds it at start-up
  await runtime.runtime()
  const acquire = (onCode?: (userCode: string) => void) =>
    DeviceFlow.acquireToken(config, {}, {
      onCode: (code) => {
        onCode?.(code.userCode)
      }
    })
  const flow = (options: FlowOptions = {}): Promise<FlowResult> =>
    runtime.runPromiseExit(acquire(options.onCode), { signal: options.signal }).then((exit): FlowResult => {
      if (Exit.isSuccess(exit)) return { ok: true }
      if (Cause.isInterruptedOnly(exit.cause)) return { ok: false, error: "Interrupted: the fiber was interrupted (cancelled)" }
      const failure = Cause.failureOption(exit.cause)
      return { ok: false, error: Option.isSome(failure) ? describeError(failure.value) : Cause.pretty(exit.cause).split("\n")[0]! }
    })

  return { name: "devflow", flow, close: () => runtime.dispose() }
}
