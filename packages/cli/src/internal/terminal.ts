/**
 * Output streams with colour only where it is allowed: plain Node, so that
 * the answers given before Effect loads (help, `providers`) are styled as the
 * full CLI styles them. `Output.ts` re-exports these.
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
