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
 * Pure: no Effect, no Node APIs (the CLI's fast path imports it).
 *
 * @since 0.1.0
 */
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
export const sanitize = (text: string): string => text.replace(ESCAPE_SEQUENCES, "").replace(CONTROL_RUNS, " ").trim()

/**
 * `new URL(s).href` when `s` is an absolute http(s) URL, else `undefined`:
 * the form an address is checked, shown, opened and QR-encoded in, the one a
 * browser will load. Refuse controls first (`isPrintable`): the URL parser
 * drops some of them silently.
 *
 * @since 0.1.0
 * @category utils
 */
export const httpHref = (s: string): string | undefined => {
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
export const uriOrUndefined = (s: string): string | undefined => (isPrintable(s) ? httpHref(s) : undefined)
