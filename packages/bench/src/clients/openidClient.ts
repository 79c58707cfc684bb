import * as client from "openid-client"
import { describeError, type DeviceFlowClient, type Endpoints, type FlowOptions, type FlowResult } from "./types.js"

/**
 * openid-client v6 as its README shows the device flow:
 * `initiateDeviceAuthorization` then `pollDeviceAuthorizationGrant`, with the
 * server metadata given (no discovery request) and `allowInsecureRequests`
 * only for plain-http loopback servers.
 */
export const make = async (endpoints: Endpoints): Promise<DeviceFlowClient> => {
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
      const tokens = await client.pollDeviceAuthorizationGrant(
        config,
        code,
        undefined,
        options.signal ? { signal: options.signal } : undefined
      )
      if (!tokens.access_token) return { ok: false, error: "resolved without an access token" }
      return { ok: true }
    } catch (error) {
      return { ok: false, error: describeError(error) }
    }
  }

  return { name: "openid-client", flow, close: async () => {} }
}
