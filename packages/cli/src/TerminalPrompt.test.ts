import type * as DeviceAuthorization from "@devflow/core/DeviceAuthorization"
import * as DeviceFlow from "@devflow/core/DeviceFlow"
import type * as DeviceSession from "@devflow/core/DeviceSession"
import * as ServerText from "@devflow/core/ServerText"
import type * as TokenResponse from "@devflow/core/TokenResponse"
import { assert, describe, it } from "@effect/vitest"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as TestClock from "effect/TestClock"
import { scanQr } from "../test/qr.js"
import * as TerminalPrompt from "./TerminalPrompt.js"
import type * as VerificationLink from "./VerificationLink.js"

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

/** every address passed the RFC 8628 §5.4 check */
const trusted = (): VerificationLink.Vetted => ({
  link: code.verificationUriComplete,
  complete: true,
  warning: undefined
})

const count = (text: string, part: string) => text.split(part).length - 1

describe("TerminalPrompt: a code nobody approves", () => {
  for (const isTTY of [false, true]) {
    it.scoped(`says to press Ctrl-C and run again after the first minute of waiting, once (${isTTY ? "TTY" : "plain lines"})`, () =>
      Effect.gen(function*() {
        const { terminal, text } = recording(isTTY)
        const prompt = yield* TerminalPrompt.make(terminal, { qr: false, vet: trusted })
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
      const prompt = yield* TerminalPrompt.make(terminal, { qr: false, vet: trusted })
      yield* prompt(issued)
      yield* TestClock.adjust(Duration.seconds(30))
      yield* prompt(succeeded)
      yield* TestClock.adjust(Duration.minutes(2))
      assert.notInclude(text(), "press Ctrl-C")
    }))
})

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
    assert.strictEqual(scanQr(lines, BLACK, WHITE), url)
  })

  it("without colour: drawn for the terminal's background, never inverted", () => {
    // a light theme: dark text on white
    assert.strictEqual(scanQr(TerminalPrompt.qrCode(url, "light"), BLACK, WHITE), url)
    // a dark theme: light text on black
    assert.strictEqual(scanQr(TerminalPrompt.qrCode(url, "dark"), WHITE, BLACK), url)
    // the negative control: the dark theme's drawing on a light theme is inverted, and does not scan
    assert.isUndefined(scanQr(TerminalPrompt.qrCode(url, "dark"), BLACK, WHITE))
  })

  it("COLORFGBG tells the background", () => {
    assert.strictEqual(TerminalPrompt.backgroundOf("0;15"), "light")
    assert.strictEqual(TerminalPrompt.backgroundOf("15;0"), "dark")
    assert.strictEqual(TerminalPrompt.backgroundOf("12;default;7"), "light")
    assert.isUndefined(TerminalPrompt.backgroundOf(undefined))
    assert.isUndefined(TerminalPrompt.backgroundOf("default"))
  })
})

describe("TerminalPrompt.instructions: only a vetted address is QR-encoded (RFC 8628 §5.4), and nothing reaches the terminal raw", () => {
  const plain = recording(false).terminal
  const qrOf = (text: string) => {
    const lines = text.split("\n")
    const start = lines.findIndex((l) => l.includes("Or scan this")) + 2
    const rows = lines.slice(start).filter((l) => /^ {2}[ ▀▄█]+$/.test(l)).map((l) => l.slice(2))
    return scanQr(rows, WHITE, BLACK)
  }

  it("the QR code carries verification_uri_complete when it passed the check", () => {
    assert.strictEqual(
      qrOf(TerminalPrompt.instructions(plain, code, { qr: true, vet: trusted })),
      code.verificationUriComplete
    )
  })

  it("only verification_uri when the complete link failed it", () => {
    const vet = (): VerificationLink.Vetted => ({
      link: code.verificationUri,
      complete: false,
      warning: "the link and QR code go elsewhere"
    })
    const text = TerminalPrompt.instructions(plain, code, { qr: true, vet })
    assert.strictEqual(qrOf(text), code.verificationUri)
    assert.include(text, "then enter the code")
    assert.include(text, "Warning: the link and QR code go elsewhere")
  })

  it("no QR code and no link at all when the page itself failed it", () => {
    const vet = (): VerificationLink.Vetted => ({
      link: undefined,
      complete: false,
      warning: "evil.example is not the authority's host"
    })
    for (const qr of [true, false]) {
      const text = TerminalPrompt.instructions(plain, code, { qr, vet })
      assert.notInclude(text, "Or scan this")
      assert.notInclude(text, "(or open")
      assert.include(text, "Warning: evil.example is not the authority's host")
    }
  })

  it("a code and address that did not come through core's decoder are still written without their controls", () => {
    const hostile = {
      ...code,
      userCode: "WDJB-MJHT\x1b]52;c;ZXZpbA==\x07",
      verificationUri: "\x1b[2K\r  To sign in, open https://evil.example/device"
    }
    const vet = (): VerificationLink.Vetted => ({
      link: undefined,
      complete: false,
      warning: "\x1b]8;;https://evil.example/\x07check\x1b]8;;\x07"
    })
    const text = TerminalPrompt.instructions(plain, hostile, { qr: true, vet })
    assert.isTrue(text.split("\n").every(ServerText.isPrintable), JSON.stringify(text))
    assert.include(text, "and enter the code WDJB-MJHT")
  })
})
