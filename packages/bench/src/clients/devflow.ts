import { ClientConfig, DeviceFlow } from "@devflow/core"
import { NodeOAuthHttp } from "@devflow/node-http"
import { Cause, Effect, ManagedRuntime, Option, Runtime } from "effect"
import { describeError, type DeviceFlowClient, type Endpoints, type FlowOptions, type FlowResult } from "./types.js"

/**
 * devflow as a user writes it: the packages' public entry points (the
 * barrels of `@devflow/core`, `@devflow/node-http` and `effect`, as the
 * README imports them), ONE `ManagedRuntime` built from
 * `NodeOAuthHttp.layer()`, and each sign-in its own `runPromise`, as a server
 * runs one per incoming request.
 *
 * Two workers run it: `flows-devflow`, bundled with esbuild like every peer,
 * and `flows-devflow-user`, which Node loads from node_modules (the packages'
 * `dist`) as it does in a user's application (build.ts). Same code, so the
 * difference between their figures is what loading the packages costs.
 */
export const make = async (endpoints: Endpoints): Promise<DeviceFlowClient> => {
  const runtime = ManagedRuntime.make(NodeOAuthHttp.layer())
  const config = await Effect.runPromise(ClientConfig.make({
    clientId: endpoints.clientId,
    endpoints: { deviceAuthorization: endpoints.deviceAuthorization, token: endpoints.token },
    scopes: endpoints.scopes
  }))

  const signIn = (options: FlowOptions) =>
    runtime.runPromise(
      DeviceFlow.acquireToken(config, {}, { onCode: (code) => options.onCode?.(code.userCode) }),
      { signal: options.signal }
    )

  // the harness's side: a failure as the other clients describe theirs (the error itself, not its wrapper)
  const failed = (error: unknown): FlowResult => {
    if (!Runtime.isFiberFailure(error)) return { ok: false, error: describeError(error) }
    const cause = error[Runtime.FiberFailureCauseId]
    if (Cause.isInterruptedOnly(cause)) {
      return { ok: false, error: "Interrupted: the fiber was interrupted (cancelled)" }
    }
    const failure = Cause.failureOption(cause)
    return {
      ok: false,
      error: Option.isSome(failure) ? describeError(failure.value) : Cause.pretty(cause).split("\n")[0]!
    }
  }

  const flow = (options: FlowOptions = {}): Promise<FlowResult> =>
    signIn(options).then((): FlowResult => ({ ok: true }), failed)

  return { name: "devflow", flow, close: () => runtime.dispose() }
}
