import * as Duration from "effect/Duration"
import * as Option from "effect/Option"

/**
 * RFC 9110 §10.2.3 Retry-After: either delay-seconds or an HTTP-date.
 * A date in the past means "now"; anything unparseable is ignored.
 * @internal
 */
export const parseRetryAfter = (value: string | undefined, nowMillis: number): Option.Option<Duration.Duration> => {
  if (value === undefined) return Option.none()
  const text = value.trim()
  if (/^\d+$/.test(text)) return Option.some(Duration.seconds(Number(text)))
  const at = Date.parse(text)
  if (Number.isNaN(at)) return Option.none()
  return Option.some(Duration.millis(Math.max(0, at - nowMillis)))
}
