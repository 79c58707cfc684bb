import JsQR from "jsqr"

/**
 * What a phone reads from a QR code drawn as text: each cell two modules
 * tall, the glyph in the foreground colour `fg` on `bg` (0 black, 255 white).
 */
export const scanQr = (lines: ReadonlyArray<string>, fg: number, bg: number): string | undefined => {
  const scale = 4
  // eslint-disable-next-line no-control-regex
  const rows = lines.map((l) => [...l.replace(/\x1b\[[0-9;]*m/g, "")])
  const width = rows[0]!.length * scale
  const height = rows.length * 2 * scale
  const pixels = new Uint8ClampedArray(width * height * 4)
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const cell = rows[Math.floor(y / (2 * scale))]![Math.floor(x / scale)]!
      const top = Math.floor(y / scale) % 2 === 0
      const lit = cell === "█" || (top ? cell === "▀" : cell === "▄")
      const v = lit ? fg : bg
      pixels.set([v, v, v, 255], (y * width + x) * 4)
    }
  }
  // like a phone's reader that does not try the inverted image
  // jsqr is CommonJS: under NodeNext its default import is module.exports, which holds the function as `default`
  return JsQR.default(pixels, width, height, { inversionAttempts: "dontInvert" })?.data
}

/** The QR code in a prompt on stderr (no colour, unknown background: light modules as blocks), read as a phone would. */
export const qrInPrompt = (stderr: string): string | undefined => {
  const lines = stderr.replace(/\r/g, "").split("\n")
  const start = lines.findIndex((l) => l.includes("Or scan this"))
  if (start === -1) return undefined
  const rows: Array<string> = []
  for (const line of lines.slice(start + 2)) {
    if (!/^ {2}[ ▀▄█]+$/.test(line)) break
    rows.push(line.slice(2))
  }
  return rows.length === 0 ? undefined : scanQr(rows, 255, 0)
}
