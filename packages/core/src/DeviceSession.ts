/**
 * A pending device flow as a plain value, so that another process can resume
 * polling the same code until it expires (e.g. a CLI that was restarted, a
 * job that hands the flow to a worker).
 *
 * The encoded form contains the device code, and with DPoP the private key
 * the polls are proved with, in clear: store it like a credential (the file
 * cache writes it 0600; store-redis seals it).
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import { InvalidConfiguration } from "./DeviceFlowError.js"
import * as Dpop from "./Dpop.js"
import { Uri, UserCode } from "./internal/decode.js"
import * as PollSchedule from "./PollSchedule.js"

/**
 * A pending device flow as data: the code, its deadline, the current interval and the next poll instant, so that another process can resume polling it.
 *
 * @since 0.1.0
 * @category schemas
 */
export class DeviceSession extends Schema.Class<DeviceSession>("@devflow/core/DeviceSession")({
  version: Schema.Literal(1),
  clientId: Schema.String,
  tokenEndpoint: Schema.String,
  deviceCode: Schema.Redacted(Schema.NonEmptyString),
  // a saved session comes back from a file or a shared store: what is shown to the user crosses ServerText again
  userCode: UserCode,
  verificationUri: Uri,
  verificationUriComplete: Schema.optional(Uri),
  /** epoch ms the device authorization request was sent */
  issuedAt: Schema.Number,
  /** epoch ms after which no poll is sent */
  expiresOn: Schema.Number,
  /** the current interval, including every slow_down so far */
  intervalMs: Schema.Number.pipe(Schema.positive()),
  /** epoch ms before which the next poll must not be sent */
  nextPollAt: Schema.Number,
  scopes: Schema.Array(Schema.String),
  tokenParams: Schema.Record({ key: Schema.String, value: Schema.String }),
  /** the DPoP key the polls are proved with (RFC 9449 §5: the tokens will be bound to it), when DPoP is on */
  dpopKey: Schema.optional(Dpop.StoredKey)
}) {}

/**
 * The session as JSON text (device code included, in clear).
 *
 * @since 0.1.0
 * @category schemas
 */
export const DeviceSessionJson: Schema.Schema<DeviceSession, string> = Schema.parseJson(DeviceSession)

/**
 * The session as JSON text (the device code in clear: store it like a password).
 *
 * @since 0.1.0
 * @category utils
 */
export const toJson: (session: DeviceSession) => string = Schema.encodeSync(DeviceSessionJson)

/**
 * A session from JSON text written by toJson, validated; a malformed one is a typed error.
 *
 * @since 0.1.0
 * @category utils
 */
export const fromJson = (json: string): Effect.Effect<DeviceSession, InvalidConfiguration> =>
  Schema.decodeUnknown(DeviceSessionJson)(json).pipe(
    Effect.mapError((error) => {
      const issue = ParseResult.ArrayFormatter.formatErrorSync(error)[0]
      const path = issue?.path.map(String).join(".")
      return new InvalidConfiguration({
        field: path ? `session.${path}` : "session",
        reason: issue?._tag === "Missing" ? "is missing" : "is not a valid saved device session"
      })
    })
  )

/**
 * How a resumed session polls: at its interval — raised by a `slow_down`'s
 * 5 s when the process that saved it may have sent a poll whose answer was
 * never recorded (`unobservedPoll`) — and not before a full interval from
 * `now` (the saver may have polled just before it stopped). Wall-clock
 * milliseconds. The one rule both `DeviceFlow.resume` and a shared store's
 * takeover follow.
 *
 * @since 0.1.0
 * @category utils
 */
export const resumeTiming = (
  session: Pick<DeviceSession, "intervalMs" | "nextPollAt">,
  now: number,
  unobservedPoll: boolean
): { readonly intervalMs: number; readonly nextPollAt: number } => {
  // RFC 8628 §3.5: an answer nobody saw may have been a slow_down; assume it was
  const intervalMs = PollSchedule.clampInterval(
    unobservedPoll ? session.intervalMs + PollSchedule.SLOW_DOWN_INCREMENT_MS : session.intervalMs
  )
  return { intervalMs, nextPollAt: Math.max(session.nextPollAt, now + intervalMs) }
}
