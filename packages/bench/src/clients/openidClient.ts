import * as client from "openid-client"
import { describeError, type DeviceFlowClient, type Endpoints, type FlowOptions, type FlowResult } from "./types.js"

/**
 * openid-client v6 as its README shows the device flow:
 * `initiateDeviceAuthorization` then `pollDeviceAuthorizationGrant`, with the
 * server metadata given (no discovery request) and `allowInsecureRequests`
 * only for plain-http loopback servers.
 *
 * With `dpop` (`flows-openid-client-dpop`, B2's DPoP rows), as its docs show
 * DPoP: a key pair from `randomDPoPKeyPair` (ES256, its default) and a handle
 * from `getDPoPHandle`, passed as the `DPoP` option of the poll. One key pair
 * and handle per flow: each sign-in's tokens bound to a key of its own (and
 * the handle keeps that sign-in's nonces); devflow's DPoP client does the same.
 */
export const make = (endpoints: Endpoints): Promise<DeviceFlowClient> => makeClient(endpoints, false)

export const makeDpop = (endpoints: Endpoints): Promise<DeviceFlowClient> => makeClient(endpoints, true)

const makeClient = async (endpoints: Endpoints, dpop: boolean): Promise<DeviceFlowClient> => {
  const config = new client.Configuration(
    {
      issuer: endpoints.issuer,
      device_authorization_endpoint: endpoints.deviceAuthorization,
      token_endpoint: endpoints.token
    },
    endpoints.clientId
  )
  if (endpoints.token.startsWith("http:")) client.allowInsecureRequests(config)
  const scope = endpoints.scopes.join(" ")

  const flow = async (options: FlowOptions = {}): Promise<FlowResult> => {
    try {
      const code = await client.initiateDeviceAuthorization(config, { scope })
      options.onCode?.(code.user_code)
      const DPoP = dpop ? client.getDPoPHandle(config, await client.randomDPoPKeyPair("ES256")) : undefined
      const tokens = await client.pollDeviceAuthorizationGrant(config, code, undefined, {
        ...(options.signal ? { signal: options.signal } : {}),
        ...(DPoP ? { DPoP } : {})
      })
      if (!tokens.access_token) return { ok: false, error: "resolved without an access token" }
      return { ok: true }
    } catch (error) {
      return { ok: false, error: describeError(error) }
    }
  }

  return { name: dpop ? "openid-client-dpop" : "openid-client", flow, close: async () => {} }
}
