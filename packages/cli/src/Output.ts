/**
 * Machine-readable output: one JSON object per line on stdout.
 *
 * @since 0.1.0
 */
import type { DeviceFlow } from "@devflow/core"
import * as Option from "effect/Option"

/**
 * A flow event as a JSON Lines record. Never contains a secret: the device
 * code and the tokens are left out.
 *
 * @since 0.1.0
 * @category utils
 */
export const jsonEvent = (event: DeviceFlow.DeviceFlowEvent) => {
  switch (event._tag) {
    case "CodeIssued":
      return {
        event: "code_issued",
        user_code: event.code.userCode,
        verification_uri: event.code.verificationUri,
        verification_uri_complete: event.code.verificationUriComplete,
        expires_on: event.code.expiresOn.toJSON(),
        interval_seconds: event.code.interval.toJSON()
      }
    case "Pending":
    case "SlowedDown":
      return { event: event._tag === "Pending" ? "pending" : "slowed_down", attempt: event.attempt, next_poll_at: event.nextPollAt.toJSON() }
    case "Retrying":
      return { event: "retrying", attempt: event.attempt, reason: event.reason, status: event.status, next_poll_at: event.nextPollAt.toJSON() }
    case "Succeeded":
      return { event: "succeeded", scopes: event.result.scopes, expires_on: Option.getOrUndefined(Option.map(event.result.expiresOn, (d) => d.toJSON())) }
  }
}
