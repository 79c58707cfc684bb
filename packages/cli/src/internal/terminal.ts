/**
 * Output streams with colour only where it is allowed, and times for people:
 * plain Node, so that the answers given before Effect loads (help,
 * `providers`, `accounts`) look as the full CLI's do. `Output.ts` re-exports
 * these.
 * @internal
 */
import type { Stream } from "../Output.js"

/** @internal */
export const colorAllowed = (stream: NodeJS.WriteStream): boolean =>
  stream.isTTY === true && (process.env.NO_COLOR ?? "") === ""

const make = (stream: NodeJS.WriteStream): Stream => {
  const color = colorAllowed(stream)
  const paint = (open: string, close: string) => (s: string) => (color ? `\x1b[${open}m${s}\x1b[${close}m` : s)
  return {
    write: (text) => void stream.write(text),
    line: (text) => void stream.write(`${text}\n`),
    isTTY: stream.isTTY === true,
    color,
    bold: paint("1", "22"),
    dim: paint("2", "22"),
    red: paint("31", "39"),
    yellow: paint("33", "39"),
    green: paint("32", "39")
  }
}

/** @internal */
export const stdout = (): Stream => make(process.stdout)

/** @internal */
export const stderr = (): Stream => make(process.stderr)

const pad = (n: number) => String(n).padStart(2, "0")

/**
 * The zone as an offset ("UTC", "GMT+9", "GMT-3:30"), the form ICU's `short` name takes for most
 * zones. Not `Intl.DateTimeFormat`: loading its time zone data costs 20–30 ms, a fifth of the
 * `accounts` fast path's whole start-up, and its names ("EST", "IST") are ambiguous anyway.
 */
const zoneOf = (d: Date): string => {
  const offset = -d.getTimezoneOffset()
  if (offset === 0) return "UTC"
  const abs = Math.abs(offset)
  const minutes = abs % 60
  return `GMT${offset < 0 ? "-" : "+"}${Math.floor(abs / 60)}${minutes === 0 ? "" : `:${pad(minutes)}`}`
}

/** @internal */
export const localTime = (epochMs: number, now: number = Date.now()): string => {
  const d = new Date(epochMs)
  const zone = zoneOf(d)
  const time = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())} ${zone}`
  return new Date(now).toDateString() === d.toDateString()
    ? time
    : `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${time}`
}
