/**
 * Settings written as text — environment variables, the CLI's flags — read
 * the one way every devflow package reads them: the CLI (through Effect's
 * `Config`), `@devflow/node-http`'s `DEVFLOW_HTTP_*` settings and the CLI's
 * `devflow token` fast path (without Effect) accept and refuse the same texts.
 *
 * Pure: no Effect, no Node APIs.
 *
 * @since 0.1.0
 */

const TRUE: ReadonlyArray<string> = ["true", "yes", "on", "1"]
const FALSE: ReadonlyArray<string> = ["false", "no", "off", "0"]

/**
 * A yes/no setting: `true`/`yes`/`on`/`1` or `false`/`no`/`off`/`0` (Effect's
 * `Config.boolean` spellings); `undefined` for any other text.
 *
 * @since 0.1.0
 * @category parsers
 */
export const boolean = (text: string): boolean | undefined =>
  TRUE.includes(text) ? true : FALSE.includes(text) ? false : undefined

// Effect's duration syntax ("10 seconds", "1.5 minutes", "500 millis"), without its nanos and micros.
const DURATION = /^(\d+(?:\.\d+)?)\s+(millis?|seconds?|minutes?|hours?|days?|weeks?)$/
const UNIT_MS: Readonly<Record<string, number>> = {
  milli: 1,
  second: 1_000,
  minute: 60_000,
  hour: 3_600_000,
  day: 86_400_000,
  week: 604_800_000
}

/**
 * A positive, finite duration in milliseconds: `"10 seconds"`, `"1.5 minutes"`,
 * `"500 millis"`, or a bare whole number of milliseconds; `undefined` for any
 * other text, zero or a value too large to be a timeout.
 *
 * @since 0.1.0
 * @category parsers
 */
export const durationMillis = (text: string): number | undefined => {
  const trimmed = text.trim()
  const match = DURATION.exec(trimmed)
  const ms = /^\d+$/.test(trimmed)
    ? Number(trimmed)
    : match === null
    ? Number.NaN
    : Number(match[1]) * UNIT_MS[match[2]!.replace(/s$/, "")]!
  return Number.isSafeInteger(Math.ceil(ms)) && ms > 0 ? ms : undefined
}

/**
 * A whole number above zero (`"128"`); `undefined` for any other text.
 *
 * @since 0.1.0
 * @category parsers
 */
export const positiveInteger = (text: string): number | undefined => {
  const trimmed = text.trim()
  const n = /^\d+$/.test(trimmed) ? Number(trimmed) : Number.NaN
  return Number.isSafeInteger(n) && n > 0 ? n : undefined
}
