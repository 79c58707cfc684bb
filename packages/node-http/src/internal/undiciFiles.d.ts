// undici's dispatcher files, which its package types only through its index (see undici.ts)
declare module "undici/lib/dispatcher/agent.js" {
  import type * as Undici from "@effect/platform-node/Undici"
  const Agent: typeof Undici.Agent
  export default Agent
}
declare module "undici/lib/dispatcher/env-http-proxy-agent.js" {
  import type * as Undici from "@effect/platform-node/Undici"
  const EnvHttpProxyAgent: typeof Undici.EnvHttpProxyAgent
  export default EnvHttpProxyAgent
}
declare module "undici/lib/dispatcher/dispatcher.js" {
  import type * as Undici from "@effect/platform-node/Undici"
  const Dispatcher: typeof Undici.Dispatcher
  export default Dispatcher
}
declare module "undici/lib/api/index.js" {
  import type * as Undici from "@effect/platform-node/Undici"
  const api: Pick<Undici.Dispatcher, "request" | "stream" | "pipeline" | "connect" | "upgrade">
  export default api
}
