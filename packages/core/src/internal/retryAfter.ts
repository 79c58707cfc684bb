// RFC 9110 §5.6.7 HTTP-date: IMF-fixdate, the obsolete RFC 850 form, and asctime (no zone: GMT).
const IMF_FIXDATE = /^[A-Za-z]{3}, \d{2} [A-Za-z]{3} \d{4} \d{2}:\d{2}:\d{2} GMT$/
const RFC_850 = /^[A-Za-z]+, \d{2}-[A-Za-z]{3}-\d{2} \d{2}:\d{2}:\d{2} GMT$/
const ASCTIME = /^[A-Za-z]{3} [A-Za-z]{3} [ \d]\d \d{2}:\d{2}:\d{2} \d{4}$/

/**
 * RFC 9110 §10.2.3 Retry-After: either delay-seconds or an HTTP-date.
 * A date in the past means "now"; anything else is ignored, never guessed at.
 * The delay is in milliseconds.
 * @internal
 */
export const parseRetryAfter = (value: string | undefined, nowMillis: number): number | undefined => {
  if (value === undefined) return undefined
  const text = value.trim()
  if (/^\d+$/.test(text)) return Number(text) * 1000
  const at = IMF_FIXDATE.test(text) || RFC_850.test(text)
    ? Date.parse(text)
    : ASCTIME.test(text)
    ? Date.parse(`${text.replace(/ +/g, " ")} GMT`)
    : Number.NaN
  if (Number.isNaN(at)) return undefined
  return Math.max(0, at - nowMillis)
}
