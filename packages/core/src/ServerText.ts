/**
 * The one boundary for text an authorization server, or its id_token, hands
 * to a person: user codes, verification URIs, messages, error descriptions,
 * display names. The server may be hostile or compromised, and a terminal
 * acts on control characters instead of showing them — erasing lines, adding
 * hidden links (OSC 8), writing to the clipboard (OSC 52). Codes and
 * addresses with a control character are refused (they are typed or opened,
 * so a cleaned copy would be a different value); free text is cleaned.
 *
 * Core decodes every such field through this module, so library users get
 * clean strings; the CLI passes what it writes through `sanitize` once more.
 *
 * @since 0.1.0
 */
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"

// C0, DEL and C1: every code point a terminal may interpret rather than draw.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/
// eslint-disable-next-line no-control-regex
const CONTROL_RUNS = /[\u0000-\u001f\u007f-\u009f]+/g
// CSI (ESC [ … final byte) and OSC (ESC ] … BEL or ESC \) are removed whole: their parameters are not text.
// eslint-disable-next-line no-control-regex
const ESCAPE_SEQUENCES = /\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)/g

/**
 * Whether `text` is free of C0 and C1 control characters and DEL.
 *
 * @since 0.1.0
 * @category refinements
 */
export const isPrintable = (text: string): boolean => !CONTROL.test(text)

/**
 * Server text made safe to write to a terminal or a log as one line: escape
 * sequences removed whole, every other run of control characters (line breaks
 * included) replaced by one space, surrounding spaces trimmed.
 *
 * @since 0.1.0
 * @category utils
 */
export const sanitize = (text: string): string =>
  text.replace(ESCAPE_SEQUENCES, "").replace(CONTROL_RUNS, " ").trim()

const controlsMessage = "must not contain control characters"

/**
 * A value a person types or compares, such as the RFC 8628 §3.2 `user_code`:
 * non-empty, and refused when it holds a control character. The value is
 * never quoted in the error.
 *
 * @since 0.1.0
 * @category schemas
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
 *
 * @since 0.1.0
 * @category schemas
 */
export const Uri: Schema.Schema<string> = Schema.transformOrFail(Schema.String, Schema.String, {
  strict: true,
  decode: (s, _, ast) => {
    if (!isPrintable(s)) return ParseResult.fail(new ParseResult.Type(ast, s, controlsMessage))
    const href = hrefOf(s)
    return href === undefined
      ? ParseResult.fail(new ParseResult.Type(ast, s, "must be an absolute http(s) URL"))
      : ParseResult.succeed(href)
  },
  encode: ParseResult.succeed
})

const hrefOf = (s: string): string | undefined => {
  try {
    const url = new URL(s)
    return url.protocol === "https:" || url.protocol === "http:" ? url.href : undefined
  } catch {
    return undefined
  }
}

/**
 * The `href` of an absolute http(s) URL without control characters, else
 * `undefined`: for optional addresses (RFC 6749 §5.2 `error_uri`) that are
 * dropped rather than failing the answer that carries them.
 *
 * @since 0.1.0
 * @category utils
 */
export const uriOrUndefined = (s: string): string | undefined => (isPrintable(s) ? hrefOf(s) : undefined)

/**
 * Free text for people (a server's `message`, a display name): decoded to its
 * `sanitize`d form.
 *
 * @since 0.1.0
 * @category schemas
 */
export const FreeText: Schema.Schema<string> = Schema.transform(Schema.String, Schema.String, {
  strict: true,
  decode: sanitize,
  encode: (s) => s
})
