import { ClientConfig, DeviceFlow, Dpop } from "@devflow/core"
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
 *
 * With `dpop` (`flows-devflow-dpop`, B2's DPoP rows), `dpop: true` in the
 * configuration and each sign-in proved with an ES256 key of its own
 * (`Dpop.generateKeyPair` + `Dpop.layerKey`): a program signing in many users
 * binds each one's tokens to a key of that sign-in, as the openid-client
 * DPoP peer does (clients/openidClient.ts), so both pay one key generation
 * per flow. (Without `layerKey`, devflow's default is one key for the process.)
 */
export const make = (endpoints: Endpoints): Promise<DeviceFlowClient> => makeClient(endpoints, false)

export const makeDpop = (endpoints: Endpoints): Promise<DeviceFlowClient> => makeClient(endpoints, true)

const makeClient = async (endpoints: Endpoints, dpop: boolean): Promise<DeviceFlowClient> => {
  const runtime = ManagedRuntime.make(NodeOAuthHttp.layer())
  const config = await Effect.runPromise(ClientConfig.make({
    clientId: endpoints.clientId,
    endpoints: { deviceAuthorization: endpoints.deviceAuthorization, token: endpoints.token },
    scopes: endpoints.scopes,
    dpop
  }))

  const acquire = (options: FlowOptions) =>
    DeviceFlow.acquireToken(config, {}, { onCode: (code) => options.onCode?.(code.userCode) })

  const signIn = (options: FlowOptions) =>
    runtime.runPromise(
      dpop
        ? Effect.flatMap(Dpop.generateKeyPair(), (key) => Effect.provide(acquire(options), Dpop.layerKey(key)))
        : acquire(options),
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

  return { name: dpop ? "devflow-dpop" : "devflow", flow, close: () => runtime.dispose() }
}
