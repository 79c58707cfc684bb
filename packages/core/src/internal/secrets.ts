import * as Encoding from "effect/Encoding"
import * as Redacted from "effect/Redacted"
import { InvalidResponse, TransportError } from "../DeviceFlowError.js"

/**
 * The secrets a request carries, in every spelling they can come back in,
 * and the one scrubber: oauthHttp applies it where a failure or an OAuth
 * error answer is built, so events, errors, spans and stores only ever see
 * the clean text. A server or a proxy may echo the request — the body
 * (form-encoded), the Authorization header (Basic) or the values raw.
 * @internal
 */

/**
 * `application/x-www-form-urlencoded` as RFC 6749 Appendix B spells a value.
 * @internal
 */
export const formEncode = (s: string): string => encodeURIComponent(s).replace(/%20/g, "+")

/**
 * RFC 6749 §2.3.1: the Basic credentials, id and secret form-encoded before base64.
 * @internal
 */
export const basicCredentials = (clientId: string, secret: string): string =>
  Encoding.encodeBase64(`${formEncode(clientId)}:${formEncode(secret)}`)

// Parameters whose value is a credential: RFC 8628 §3.4, RFC 6749 §2.3.1, §4.1.3, §4.3.2 and §6, RFC 7009 §2.1, RFC 7636 §4.5, RFC 7523 §2.2.
const SECRET_PARAMS: ReadonlySet<string> = new Set([
  "device_code",
  "refresh_token",
  "client_secret",
  "token",
  "code",
  "code_verifier",
  "client_assertion",
  "password"
])

// Shorter values would blank ordinary words out of the text.
const MIN_SECRET_LENGTH = 4

/**
 * Every spelling of every secret of a request (its credential parameters and
 * the client secret), longest first so that no spelling is left half-blanked.
 * @internal
 */
export const spellingsOf = (
  params: Readonly<Record<string, string>>,
  auth: { readonly clientId: string; readonly clientSecret: Redacted.Redacted<string> | undefined }
): ReadonlyArray<string> => {
  const raw: Array<string> = []
  for (const [name, value] of Object.entries(params)) if (SECRET_PARAMS.has(name)) raw.push(value)
  const out = new Set<string>()
  for (const value of raw) {
    for (const spelling of [value, formEncode(value), encodeURIComponent(value)]) out.add(spelling)
  }
  if (auth.clientSecret !== undefined) {
    const secret = Redacted.value(auth.clientSecret)
    for (
      const spelling of [
        secret,
        formEncode(secret),
        encodeURIComponent(secret),
        basicCredentials(auth.clientId, secret)
      ]
    ) {
      out.add(spelling)
    }
  }
  return [...out].filter((s) => s.length >= MIN_SECRET_LENGTH).sort((a, b) => b.length - a.length)
}

/**
 * `text` with every spelling blanked out.
 * @internal
 */
export const scrub = (text: string, spellings: ReadonlyArray<string>): string => {
  let out = text
  for (const spelling of spellings) if (out.includes(spelling)) out = out.split(spelling).join("<redacted>")
  return out
}

const carries = (text: string, spellings: ReadonlyArray<string>): boolean => spellings.some((s) => text.includes(s))

// The messages along an error's cause chain: what a Defect encodes and a span records.
const causeText = (cause: unknown): string => {
  const parts: Array<string> = []
  let current: unknown = cause
  for (let depth = 0; depth < 5 && current !== undefined && current !== null; depth++) {
    parts.push(current instanceof Error ? `${current.name}: ${current.message}` : String(current))
    current = current instanceof Error ? current.cause : undefined
  }
  return parts.join("\n")
}

/**
 * A transport's failure with the request's secrets blanked out of its reason
 * and its cause; a cause that carried one is replaced by a clean copy of its
 * messages (its stack and fields may carry it too).
 * @internal
 */
export const scrubFailure = <E extends TransportError | InvalidResponse>(
  error: E,
  spellings: ReadonlyArray<string>
): E => {
  if (spellings.length === 0) return error
  if (error._tag === "InvalidResponse") {
    if (!carries(error.reason, spellings)) return error
    return new InvalidResponse({
      endpoint: error.endpoint,
      reason: scrub(error.reason, spellings),
      ...(error.status === undefined ? {} : { status: error.status }),
      ...(error.field === undefined ? {} : { field: error.field })
    }) as E
  }
  const transport = error as TransportError
  const cause = transport.cause === undefined ? "" : causeText(transport.cause)
  if (!carries(transport.reason, spellings) && !carries(cause, spellings)) return error
  const clean = cause === ""
    ? undefined
    : carries(cause, spellings)
    ? new Error(scrub(cause, spellings))
    : transport.cause
  return new TransportError({
    endpoint: transport.endpoint,
    reason: scrub(transport.reason, spellings),
    ...(transport.status === undefined ? {} : { status: transport.status }),
    ...(transport.retryAfterMs === undefined ? {} : { retryAfterMs: transport.retryAfterMs }),
    ...(clean === undefined ? {} : { cause: clean })
  }) as E
}
