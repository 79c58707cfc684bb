/**
 * The typed failures of the device authorization grant.
 *
 * Every failure a caller can react to has its own tag. Interruption (Ctrl-C,
 * a caller's timeout, a parent fiber) is not an error here: it stays Effect's
 * own interruption.
 *
 * @since 0.1.0
 */
import * as Predicate from "effect/Predicate"
import * as Schema from "effect/Schema"
import { remediationFor } from "./internal/remediation.js"
import { clip, headline } from "./internal/text.js"
import { sanitize } from "./ServerText.js"

/**
 * The fields an authorization server's error response carries (RFC 6749 §5.2),
 * plus the provider codes some servers add (Entra's `error_codes`, `trace_id`,
 * `correlation_id`).
 *
 * @since 0.1.0
 * @category models
 */
export const OAuthErrorFields = {
  /** the endpoint that answered, without query */
  endpoint: Schema.String,
  /** HTTP status of the answer */
  status: Schema.Number,
  /** RFC 6749 §5.2 `error` */
  error: Schema.String,
  errorDescription: Schema.optional(Schema.String),
  errorUri: Schema.optional(Schema.String),
  /** Entra's numeric AADSTS codes */
  errorCodes: Schema.optional(Schema.Array(Schema.Number)),
  traceId: Schema.optional(Schema.String),
  correlationId: Schema.optional(Schema.String)
}

interface OAuthFieldsLike {
  readonly endpoint: string
  readonly status: number
  readonly error: string
  readonly errorDescription?: string | undefined
  readonly errorUri?: string | undefined
  readonly errorCodes?: ReadonlyArray<number> | undefined
  readonly traceId?: string | undefined
  readonly correlationId?: string | undefined
}

const describeServer = (self: OAuthFieldsLike): string => {
  // The server's code and ids are short tokens; a hostile or broken server's need not be.
  let text = `${clip(sanitize(self.error), 100)} (HTTP ${self.status} from ${sanitize(self.endpoint)})`
  if (self.errorDescription) text += `: ${headline(self.errorDescription)}`
  const hint = remediationFor(self)
  if (hint) text += `. ${hint}`
  const ids = [
    self.traceId && `trace id ${clip(sanitize(self.traceId), 100)}`,
    self.correlationId && `correlation id ${clip(sanitize(self.correlationId), 100)}`
  ].filter(Boolean)
  if (ids.length > 0) text += ` [${ids.join(", ")}]`
  return text
}

// Entra descriptions carry "Trace ID … Timestamp …" on later lines: keep the first.

/**
 * The user (or a policy acting for them) declined the authorization request
 * (RFC 8628 §3.5 `access_denied`).
 *
 * @since 0.1.0
 * @category errors
 */
export class AccessDenied extends Schema.TaggedError<AccessDenied>("@devflow/core/AccessDenied")(
  "AccessDenied",
  OAuthErrorFields
) {
  /** A ready-to-show remediation hint for known provider codes, if any. */
  get remediation(): string | undefined {
    return remediationFor(this)
  }
  override get message(): string {
    return `Sign-in was declined: ${describeServer(this)}`
  }
}

/**
 * The device code is no longer usable, so the user must start again.
 *
 * `reason` tells who decided: `"expired_token"` when the server said so
 * (RFC 8628 §3.5), `"deadline"` when the client reached `expires_in` without
 * an answer and stopped polling on its own (with `retryAfterMs` when the
 * server's Retry-After asked it to wait past the code's expiry).
 *
 * @since 0.1.0
 * @category errors
 */
export class DeviceCodeExpired extends Schema.TaggedError<DeviceCodeExpired>("@devflow/core/DeviceCodeExpired")(
  "DeviceCodeExpired",
  {
    reason: Schema.Literal("expired_token", "deadline"),
    /** when the code expired, epoch milliseconds */
    expiredAt: Schema.Number,
    endpoint: Schema.String,
    status: Schema.optional(Schema.Number),
    errorDescription: Schema.optional(Schema.String),
    /** with `"deadline"`: the server's Retry-After (ms) that reached past the code's expiry */
    retryAfterMs: Schema.optional(Schema.Number)
  }
) {
  override get message(): string {
    const at = new Date(this.expiredAt).toISOString()
    if (this.reason === "deadline" && this.retryAfterMs !== undefined) {
      return `Sign-in cannot be completed in time: the server asked to wait ${
        Math.ceil(this.retryAfterMs / 1000)
      } s before the next poll (Retry-After), past the code's expiry at ${at}: start again later`
    }
    return this.reason === "deadline"
      ? `Sign-in was not completed in time: the code expires at ${at}, before another poll could be sent: start again and enter the new code sooner`
      : `The authorization server reports the code expired (expired_token, HTTP ${
        this.status ?? "?"
      } from ${this.endpoint}): start again`
  }
}

/**
 * Any other error the authorization server answered with: `invalid_grant`,
 * `invalid_client`, `unauthorized_client`, `invalid_scope`, provider-specific
 * codes, … It keeps everything the server said.
 *
 * @since 0.1.0
 * @category errors
 */
export class OAuthError extends Schema.TaggedError<OAuthError>("@devflow/core/OAuthError")(
  "OAuthError",
  OAuthErrorFields
) {
  /** A ready-to-show remediation hint for known provider codes, if any. */
  get remediation(): string | undefined {
    return remediationFor(this)
  }
  override get message(): string {
    return `The authorization server refused the request: ${describeServer(this)}`
  }
}

/**
 * The authorization server refused the request's DPoP proof (RFC 9449 §5.2
 * `invalid_dpop_proof`): a clock far off (the proof carries its time), a key
 * the tokens are not bound to, a proof the server cannot verify. The server's
 * hint is `errorDescription`, cleaned like all server text.
 *
 * @since 0.1.0
 * @category errors
 */
export class DpopProofRejected extends Schema.TaggedError<DpopProofRejected>("@devflow/core/DpopProofRejected")(
  "DpopProofRejected",
  OAuthErrorFields
) {
  override get message(): string {
    return `The authorization server refused the DPoP proof: ${describeServer(this)}`
  }
}

/**
 * The server answered something that is not a valid protocol message: a field
 * missing or malformed, a body that is not an object, HTML instead of JSON, a
 * body over the size limit, an unexpected status or redirect.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidResponse extends Schema.TaggedError<InvalidResponse>("@devflow/core/InvalidResponse")(
  "InvalidResponse",
  {
    endpoint: Schema.String,
    status: Schema.optional(Schema.Number),
    /** the offending field path, e.g. `expires_in`, when one field is at fault */
    field: Schema.optional(Schema.String),
    reason: Schema.String
  }
) {
  override get message(): string {
    const where = this.status === undefined ? this.endpoint : `HTTP ${this.status} from ${this.endpoint}`
    return this.field === undefined
      ? `Invalid response (${where}): ${this.reason}`
      : `Invalid response (${where}): field "${this.field}" ${this.reason}`
  }
}

/**
 * The request did not get a usable answer: DNS, connection refused or reset,
 * TLS failure, timeout, or a server that only says it is unavailable. During polling these are retried with backoff until
 * the code's deadline; this error surfaces when retrying is over.
 *
 * @since 0.1.0
 * @category errors
 */
export class TransportError extends Schema.TaggedError<TransportError>("@devflow/core/TransportError")(
  "TransportError",
  {
    endpoint: Schema.String,
    reason: Schema.String,
    /** set when the server answered, but only with "unavailable" (HTTP 429 / 5xx without an OAuth error) */
    status: Schema.optional(Schema.Number),
    /** the server's Retry-After, in milliseconds, when it sent one with that answer */
    retryAfterMs: Schema.optional(Schema.Number),
    cause: Schema.optional(Schema.Defect)
  }
) {
  override get message(): string {
    return this.status === undefined
      ? `Network failure talking to ${this.endpoint}: ${this.reason}`
      : `${this.endpoint} is unavailable (HTTP ${this.status}): ${this.reason}`
  }
}

/**
 * The configuration cannot work: a malformed or non-https endpoint, an empty
 * client id, a scope with spaces. Raised before any request is sent.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidConfiguration extends Schema.TaggedError<InvalidConfiguration>(
  "@devflow/core/InvalidConfiguration"
)("InvalidConfiguration", {
  field: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `Invalid configuration: ${this.field} ${this.reason}`
  }
}

/**
 * Every failure of the device authorization grant.
 *
 * @since 0.1.0
 * @category errors
 */
export type DeviceFlowError =
  | AccessDenied
  | DeviceCodeExpired
  | OAuthError
  | DpopProofRejected
  | InvalidResponse
  | TransportError
  | InvalidConfiguration

/**
 * The error union as a schema, e.g. to carry errors across a process boundary
 * or into JSON output.
 *
 * @since 0.1.0
 * @category schemas
 */
export const DeviceFlowError: Schema.Union<[
  typeof AccessDenied,
  typeof DeviceCodeExpired,
  typeof OAuthError,
  typeof DpopProofRejected,
  typeof InvalidResponse,
  typeof TransportError,
  typeof InvalidConfiguration
]> = Schema.Union(
  AccessDenied,
  DeviceCodeExpired,
  OAuthError,
  DpopProofRejected,
  InvalidResponse,
  TransportError,
  InvalidConfiguration
)

const tags: ReadonlySet<string> = new Set([
  "AccessDenied",
  "DeviceCodeExpired",
  "OAuthError",
  "DpopProofRejected",
  "InvalidResponse",
  "TransportError",
  "InvalidConfiguration"
])

/**
 * Whether a value is one of the device flow's typed errors.
 *
 * @since 0.1.0
 * @category refinements
 */
export const isDeviceFlowError = (u: unknown): u is DeviceFlowError =>
  Predicate.hasProperty(u, "_tag") && typeof u._tag === "string" && tags.has(u._tag) && u instanceof Error
