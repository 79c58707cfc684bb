#!/usr/bin/env node
/**
 * Starts the dev authorization server for manual use:
 *
 *   node packages/dev-server/dist/main.js [--port 8080] [--interval 5] [--issuer-path /realms/demo]
 *
 * Open the printed verification URI in a browser, enter the user code, sign
 * in with any name and allow access. Ctrl-C stops the server.
 */
import { parseArgs } from "node:util"
import { startDevServer } from "./index.js"

const { values } = parseArgs({
  options: {
    port: { type: "string", default: "0" },
    interval: { type: "string", default: "5" },
    "device-code-ttl": { type: "string", default: "600" },
    "issuer-path": { type: "string" }
  }
})

const server = await startDevServer({
  port: Number(values.port),
  pollIntervalSeconds: Number(values.interval),
  deviceCodeTtlSeconds: Number(values["device-code-ttl"]),
  ...(values["issuer-path"] === undefined ? {} : { issuerPath: values["issuer-path"] })
})

const lines: ReadonlyArray<readonly [string, string]> = [
  ["issuer", server.issuer],
  ["client id", `${server.clientId} (public, no secret)`],
  ["discovery", `${server.issuer}/.well-known/openid-configuration`],
  ["device authorization endpoint", server.deviceAuthorizationEndpoint],
  ["token endpoint", server.tokenEndpoint],
  ["verification page", server.verificationUri]
]
for (const [label, value] of lines) console.log(`${`${label}:`.padEnd(31)}${value}`)

const stop = () => {
  void server.close().then(() => process.exit(0))
}
process.once("SIGINT", stop)
process.once("SIGTERM", stop)
