import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import { InvalidResponse } from "../DeviceFlowError.js"
import { httpHref, isPrintable, sanitize } from "../ServerText.js"
import { clip } from "./text.js"

/**
 * A count of seconds as OAuth servers send it: a JSON number, or a numeric
 * string (Entra v1, ADFS). Must be finite and positive.
 * @internal
 */
export const Seconds = Schema.Union(Schema.Number, Schema.NumberFromString).pipe(
  Schema.filter((n) => Number.isFinite(n) && n > 0, {
    message: () => "must be a positive, finite number of seconds"
  }),
  // Beyond ten years a lifetime or interval is a server bug, and far beyond it
  // the absolute times computed from it stop being valid dates.
  Schema.filter((n) => n <= MAX_SECONDS, {
    message: () => `must be at most ${MAX_SECONDS} seconds (ten years)`
  })
)

/** @internal */
export const MAX_SECONDS = 315_360_000

/**
 * A secret string, decoded straight into `Redacted` so it cannot be logged.
 * @internal
 */
export const SecretString = Schema.Redacted(
  Schema.String.pipe(Schema.filter((s) => s.trim().length > 0, { message: () => "must be a non-empty string" }))
)

const controlsMessage = "must not contain control characters"

// Server text crosses ServerText at decode time: these schemas are how core's decoders call it.

/**
 * A value a person types or compares, such as the RFC 8628 §3.2 `user_code`:
 * non-empty, and refused when it holds a control character. The value is
 * never quoted in the error.
 * @internal
 */
export const UserCode = Schema.String.pipe(
  Schema.filter((s) => s.trim().length > 0, { message: () => "must be a non-empty string" }),
  Schema.filter(isPrintable, { message: () => controlsMessage })
)

/**
 * An absolute http(s) URL a person is sent to (RFC 8628 §3.2
 * `verification_uri`, `verification_uri_complete`), decoded to
 * `new URL(x).href`: the string that is checked (RFC 8628 §5.4), shown,
 * opened and QR-encoded is the one a browser will load. Control characters
 * are refused before parsing, since the URL parser drops some of them silently.
 * @internal
 */
export const Uri: Schema.Schema<string> = Schema.transformOrFail(Schema.String, Schema.String, {
  strict: true,
  decode: (s, _, ast) => {
    if (!isPrintable(s)) return ParseResult.fail(new ParseResult.Type(ast, s, controlsMessage))
    const href = httpHref(s)
    return href === undefined
      ? ParseResult.fail(new ParseResult.Type(ast, s, "must be an absolute http(s) URL"))
      : ParseResult.succeed(href)
  },
  encode: ParseResult.succeed
})

/**
 * Free text for people (a server's `message`, a display name): decoded to its
 * `sanitize`d form.
 * @internal
 */
export const FreeText: Schema.Schema<string> = Schema.transform(Schema.String, Schema.String, {
  strict: true,
  decode: sanitize,
  encode: (s) => s
})

/** @internal */
export const NonEmpty = Schema.String.pipe(
  Schema.filter((s) => s.trim().length > 0, { message: () => "must be a non-empty string" })
)

/**
 * Decode a wire object, turning the first schema issue into an
 * `InvalidResponse` that names the field. The offending value is quoted only
 * for fields that cannot hold a secret. Pure: an `Either` (an Effect too).
 * @internal
 */
export const decodeWire = <A, I>(
  schema: Schema.Schema<A, I>,
  secretFields: ReadonlySet<string>,
  context: { readonly endpoint: string; readonly status: number }
) => {
  const decode = Schema.decodeUnknownEither(schema, { errors: "first", onExcessProperty: "ignore" })
  return (body: unknown): Either.Either<A, InvalidResponse> =>
    Either.mapLeft(decode(body), (error) => {
      const issue = ParseResult.ArrayFormatter.formatErrorSync(error)[0]
      const field = issue?.path.map(String).join(".") ?? ""
      const top = field.split(".")[0] ?? ""
      const reason = issue === undefined
        ? "is malformed"
        : issue._tag === "Missing"
        ? "is missing"
        : secretFields.has(top)
        ? "must be a non-empty string (value withheld: it is a secret)"
        : describe(issue.message)
      return new InvalidResponse({ ...context, ...(field === "" ? {} : { field }), reason })
    })
}

// Schema's messages quote the actual value; keep them short and free of controls.
const describe = (message: string): string => clip(sanitize(message.replace(/\s+/g, " ")), 200)
