/**
 * Where output goes. stdout is for programs: results, `--json` events, and
 * (from `devflow token` only) the token. stderr is for people. Colour only on
 * a terminal, and never under NO_COLOR (https://no-color.org); no escape
 * codes at all when the stream is not a terminal.
 *
 * @since 0.1.0
 */
import type * as DeviceFlow from "@devflow/core/DeviceFlow"
import * as ServerText from "@devflow/core/ServerText"
import * as Duration from "effect/Duration"
import * as Option from "effect/Option"
import * as Terminal from "./internal/terminal.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface Stream {
  readonly write: (text: string) => void
  readonly line: (text: string) => void
  readonly isTTY: boolean
  readonly color: boolean
  readonly bold: (s: string) => string
  readonly dim: (s: string) => string
  readonly red: (s: string) => string
  readonly yellow: (s: string) => string
  readonly green: (s: string) => string
}

/**
 * Whether colour is allowed on a stream: a terminal, and NO_COLOR unset or empty.
 *
 * @since 0.1.0
 * @category utils
 */
export const colorAllowed: (stream: NodeJS.WriteStream) => boolean = Terminal.colorAllowed

/**
 * @since 0.1.0
 * @category constructors
 */
export const stdout: () => Stream = Terminal.stdout

/**
 * @since 0.1.0
 * @category constructors
 */
export const stderr: () => Stream = Terminal.stderr

/**
 * A flow event as a JSON Lines record. Never contains a secret: the device
 * code and the tokens are left out. Server text is sanitised: JSON escapes
 * C0 controls, but a reader that prints the value would pass them on (and
 * C1 controls are not escaped at all).
 *
 * @since 0.1.0
 * @category utils
 */
export const jsonEvent = (event: DeviceFlow.DeviceFlowEvent) => {
  switch (event._tag) {
    case "CodeIssued":
      return {
        event: "code_issued",
        user_code: ServerText.sanitize(event.code.userCode),
        verification_uri: ServerText.sanitize(event.code.verificationUri),
        verification_uri_complete: event.code.verificationUriComplete === undefined
          ? undefined
          : ServerText.sanitize(event.code.verificationUriComplete),
        expires_on: event.code.expiresOn.toJSON(),
        interval_seconds: Duration.toSeconds(event.code.interval)
      }
    case "Pending":
    case "SlowedDown":
      return {
        event: event._tag === "Pending" ? "pending" : "slowed_down",
        attempt: event.attempt,
        interval_seconds: Duration.toSeconds(event.interval),
        next_poll_at: event.nextPollAt.toJSON()
      }
    case "Retrying":
      return {
        event: "retrying",
        attempt: event.attempt,
        reason: ServerText.sanitize(event.reason),
        status: event.status,
        next_poll_at: event.nextPollAt.toJSON()
      }
    case "Succeeded":
      return {
        event: "succeeded",
        scopes: event.result.scopes,
        expires_on: Option.getOrUndefined(Option.map(event.result.expiresOn, (d) => d.toJSON()))
      }
  }
}

/**
 * A time for people: the local wall-clock time and zone, with the date when
 * it is not today (`05:25:30 CET`, `2026-12-06 05:25:30 CET`). JSON keeps
 * ISO 8601 in UTC.
 *
 * @since 0.1.0
 * @category utils
 */
export const localTime: (epochMs: number, now?: number) => string = Terminal.localTime
