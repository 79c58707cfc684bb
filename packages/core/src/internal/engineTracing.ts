import type { ClientConfig } from "../ClientConfig.js"
import * as Engine from "./engine.js"
import * as Telemetry from "./telemetry.js"

/**
 * The engine's server calls in spans (`devflow.poll`, `devflow.device_authorization`),
 * chosen once per flow when the application installed a tracer. The spans describe
 * what the engine decided — the answer's OAuth code and status, never its text.
 * @internal
 */
export const ops: Engine.Ops = {
  poll: (flow, state) =>
    Telemetry.traced<Engine.Next, never>(
      "devflow.poll",
      () => ({
        ...spanAttributes(flow.config, state.tokenEndpoint),
        "devflow.attempt": state.attempt + 1,
        "devflow.interval_ms": state.timing.intervalMs
      }),
      // a poll never fails: its Next says what the answer was
      (exit) => (exit._tag === "Success" ? nextAttributes(exit.value) : {})
    )(Engine.plain.poll(flow, state)),
  requestCode: (flow, scopes, extraParams, tokenParams) =>
    Telemetry.traced(
      "devflow.device_authorization",
      spanAttributes(flow.config, flow.config.endpoints.deviceAuthorization),
      (exit) => (exit._tag === "Success" ? { "devflow.outcome": "code_issued" } : Telemetry.failureOutcome(exit))
    )(Engine.plain.requestCode(flow, scopes, extraParams, tokenParams))
}

const nextAttributes = (next: Engine.Next): Telemetry.Attributes =>
  next._tag === "Done" ? { "devflow.outcome": "tokens" } : next.reply === undefined ? {} : replyAttributes(next.reply)

const replyAttributes = (reply: Engine.Reply): Telemetry.Attributes => {
  switch (reply._tag) {
    case "ErrorBody":
      return {
        "devflow.outcome": Telemetry.oauthCode(reply.body.error),
        "http.response.status_code": reply.status,
        "devflow.retry_after_ms": reply.retryAfterMs
      }
    case "Unavailable":
      return {
        "devflow.outcome": "unavailable",
        "http.response.status_code": reply.status,
        "devflow.retry_reason": `HTTP ${reply.status}`,
        "devflow.retry_after_ms": reply.retryAfterMs
      }
    case "TransportError":
      return { "devflow.outcome": "no_answer", "devflow.retry_reason": reply.reason.slice(0, 200) }
  }
}

const spanAttributes = (config: ClientConfig, endpoint: string): Telemetry.Attributes => ({
  "devflow.endpoint.host": Telemetry.hostOf(endpoint),
  "devflow.client_id": config.clientId,
  "devflow.provider": config.preset
})
