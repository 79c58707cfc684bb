/**
 * @devflow/dev-server: a real OAuth 2.0 / OpenID Connect authorization server
 * (oidc-provider) with the RFC 8628 device authorization grant, on loopback
 * http, for tests, benchmarks and the CLI demo.
 */
export { type ApproveOptions, approveOverHttp } from "./internal/agent.js"
export {
  accountClaims,
  DEFAULT_CLIENT_ID,
  DEVICE_CODE_GRANT,
  type DevServer,
  type DevServerClient,
  type DevServerOptions,
  SCOPES,
  startDevServer
} from "./internal/server.js"
