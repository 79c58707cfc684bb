import type * as DeviceAuthorization from "@devflow/core/DeviceAuthorization"
import * as DeviceFlow from "@devflow/core/DeviceFlow"
import type * as DeviceSession from "@devflow/core/DeviceSession"
import type * as TokenResponse from "@devflow/core/TokenResponse"
import { assert, describe, it } from "@effect/vitest"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as TestClock from "effect/TestClock"
import JsQR from "jsqr"
import * as TerminalPrompt from "./TerminalPrompt.js"

const recording = (isTTY: boolean) => {
  const written: Array<string> = []
  const terminal: TerminalPrompt.Terminal = {
    write: (text) => void written.push(text),
    isTTY,
    color: false,
    columns: 100,
    background: undefined
  }
  return { terminal, text: () => written.join("") }
}

const code: DeviceAuthorization.DeviceCode = {
  userCode: "WDJB-MJHT",
  deviceCode: Redacted.make("device-code"),
  verificationUri: "https://id.example.com/device",
  verificationUriComplete: "https://id.example.com/device?user_code=WDJB-MJHT",
  issuedAt: DateTime.unsafeMake(0),
  expiresOn: DateTime.unsafeMake(600_000),
  interval: Duration.seconds(5),
  message: "To sign in, open https://id.example.com/device and enter WDJB-MJHT",
  clientId: "cli",
  scopes: ["openid"]
}
// The prompt reads only the code of CodeIssued and nothing of Succeeded: the rest of each event is not built here.
const issued = DeviceFlow.DeviceFlowEvent.CodeIssued({ code, session: {} as DeviceSession.DeviceSession })
const succeeded = DeviceFlow.DeviceFlowEvent.Succeeded({ result: {} as TokenResponse.AuthenticationResult })

const count = (text: string, part: string) => text.split(part).length - 1

describe("TerminalPrompt: a code nobody approves", () => {
  for (const isTTY of [false, true]) {
    it.scoped(`says to press Ctrl-C and run again after the first minute of waiting, once (${isTTY ? "TTY" : "plain lines"})`, () =>
      Effect.gen(function*() {
        const { terminal, text } = recording(isTTY)
        const prompt = yield* TerminalPrompt.make(terminal, { qr: false })
        yield* prompt(issued)
        yield* TestClock.adjust(Duration.millis(59_999))
        assert.strictEqual(count(text(), "press Ctrl-C"), 0)
        yield* TestClock.adjust(Duration.millis(1))
        assert.strictEqual(count(text(), TerminalPrompt.STUCK_HINT), 1)
        // (the TTY's spinner redraws every 100 ms: a shorter wait keeps the test quick)
        yield* TestClock.adjust(isTTY ? Duration.seconds(10) : Duration.minutes(5))
        assert.strictEqual(count(text(), TerminalPrompt.STUCK_HINT), 1)
      }))
  }

  it.scoped("says nothing of the kind once signed in", () =>
    Effect.gen(function*() {
      const { terminal, text } = recording(false)
      const prompt = yield* TerminalPrompt.make(terminal, { qr: false })
      yield* prompt(issued)
      yield* TestClock.adjust(Duration.seconds(30))
      yield* prompt(succeeded)
      yield* TestClock.adjust(Duration.minutes(2))
      assert.notInclude(text(), "press Ctrl-C")
    }))
})

/** The QR code as a terminal shows it: each cell two modules tall, the glyph in the foreground colour. */
const paintOnScreen = (lines: ReadonlyArray<string>, fg: number, bg: number) => {
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

const BLACK = 0
const WHITE = 255
const url = code.verificationUriComplete!

describe("TerminalPrompt.qrCode: scannable on light and dark terminals", () => {
  it("a quiet zone of four modules (two text rows, four columns) on every side", () => {
    const lines = TerminalPrompt.qrCode(url, "light")
    for (const row of [0, 1, lines.length - 2, lines.length - 1]) assert.match(lines[row]!, /^ +$/)
    for (const line of lines) {
      assert.match(line, /^ {4}/)
      assert.match(line, / {4}$/)
    }
    assert.notMatch(lines[2]!, /^ +$/)
    assert.notMatch(lines[2]!.slice(4), /^ /)
  })

  it("with colour: painted black on white whatever the theme's colours", () => {
    const lines = TerminalPrompt.qrCode(url, "colors")
    // eslint-disable-next-line no-control-regex
    for (const line of lines) assert.match(line, /^\x1b\[38;5;16;48;5;231m[ █▀▄]+\x1b\[39;49m$/)
    // the escape codes fix the colours: black glyphs on white
    assert.strictEqual(paintOnScreen(lines, BLACK, WHITE), url)
  })

  it("without colour: drawn for the terminal's background, never inverted", () => {
    // a light theme: dark text on white
    assert.strictEqual(paintOnScreen(TerminalPrompt.qrCode(url, "light"), BLACK, WHITE), url)
    // a dark theme: light text on black
    assert.strictEqual(paintOnScreen(TerminalPrompt.qrCode(url, "dark"), WHITE, BLACK), url)
    // the negative control: the dark theme's drawing on a light theme is inverted, and does not scan
    assert.isUndefined(paintOnScreen(TerminalPrompt.qrCode(url, "dark"), BLACK, WHITE))
  })

  it("COLORFGBG tells the background", () => {
    assert.strictEqual(TerminalPrompt.backgroundOf("0;15"), "light")
    assert.strictEqual(TerminalPrompt.backgroundOf("15;0"), "dark")
    assert.strictEqual(TerminalPrompt.backgroundOf("12;default;7"), "light")
    assert.isUndefined(TerminalPrompt.backgroundOf(undefined))
    assert.isUndefined(TerminalPrompt.backgroundOf("default"))
  })
})
