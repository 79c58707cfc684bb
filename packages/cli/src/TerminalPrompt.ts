/**
 * How the code reaches a person at a terminal: instructions and a QR code on
 * stderr, then (on a TTY only) a spinner with a live countdown to expiry.
 * stdout is never touched: it belongs to the result and to `--json`.
 *
 * @since 0.1.0
 */
import type { DeviceAuthorization, DeviceFlow } from "@devflow/core"
import * as ServerText from "@devflow/core/ServerText"
import * as Clock from "effect/Clock"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Ref from "effect/Ref"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import { encode } from "uqr"
import * as Output from "./Output.js"
import type * as VerificationLink from "./VerificationLink.js"

/**
 * Where and how to draw.
 *
 * @since 0.1.0
 * @category models
 */
export interface Terminal {
  readonly write: (text: string) => void
  /** a TTY gets a spinner and a countdown; anything else plain lines only */
  readonly isTTY: boolean
  /** false under NO_COLOR or on a non-TTY */
  readonly color: boolean
  readonly columns: number
  /** the terminal's background, when known (COLORFGBG); a QR code without colour is drawn for it */
  readonly background: "dark" | "light" | undefined
}

/**
 * The background a terminal announces in `COLORFGBG` ("15;0": light text on
 * black), as rxvt, Konsole and others set it.
 *
 * @since 0.1.0
 * @category utils
 */
export const backgroundOf = (colorfgbg: string | undefined): "dark" | "light" | undefined => {
  const bg = Number(colorfgbg?.split(";").at(-1))
  if (colorfgbg === undefined || !Number.isInteger(bg)) return undefined
  return bg === 7 || bg >= 9 ? "light" : "dark"
}

// Black on white from the 256-colour cube, which themes leave alone (unlike the 16 basic colours).
const QR_COLORS = "\x1b[38;5;16;48;5;231m"
const QR_RESET = "\x1b[39;49m"

/**
 * A QR code as text, two modules per character cell, with the quiet zone of
 * four modules the QR specification asks for (ISO/IEC 18004 §6.3.8).
 *
 * With colour, it is painted black on white whatever the theme. Without, the
 * dark modules are drawn as blocks on a light background and the light ones on
 * a dark (or unknown) background, so that the code is never inverted.
 *
 * @since 0.1.0
 * @category utils
 */
export const qrCode = (text: string, paint: "colors" | "dark" | "light"): ReadonlyArray<string> => {
  const { data, size } = encode(text, { border: 4 })
  // drawn: the modules the glyphs show (the terminal's foreground colour)
  const drawn = (x: number, y: number): boolean => {
    const dark = data[y]?.[x] === true
    return paint === "dark" ? !dark : dark
  }
  const lines: Array<string> = []
  for (let y = 0; y < size; y += 2) {
    let line = ""
    for (let x = 0; x < size; x++) {
      const top = drawn(x, y)
      // an odd last row: the half below the code is quiet zone
      const bottom = y + 1 < size ? drawn(x, y + 1) : paint === "dark"
      line += top ? (bottom ? "█" : "▀") : bottom ? "▄" : " "
    }
    lines.push(paint === "colors" ? `${QR_COLORS}${line}${QR_RESET}` : line)
  }
  return lines
}

/**
 * The terminal behind `process.stderr`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const stderr = (): Terminal => ({
  write: (text) => void process.stderr.write(text),
  isTTY: process.stderr.isTTY === true,
  // https://no-color.org: any non-empty value disables color
  color: process.stderr.isTTY === true && (process.env.NO_COLOR ?? "") === "",
  columns: process.stderr.columns || 80,
  background: backgroundOf(process.env.COLORFGBG)
})

/**
 * @since 0.1.0
 * @category models
 */
export interface PromptOptions {
  readonly qr: boolean
  /** the RFC 8628 §5.4 verdict on a code's addresses: what may be QR-encoded, what to warn about */
  readonly vet: (code: DeviceAuthorization.DeviceCode) => VerificationLink.Vetted
}

const bold = (t: Terminal, s: string) => (t.color ? `\x1b[1m${s}\x1b[22m` : s)
const yellow = (t: Terminal, s: string) => (t.color ? `\x1b[33m${s}\x1b[39m` : s)

/**
 * The instructions for one code, as text.
 *
 * @since 0.1.0
 * @category utils
 */
export const instructions = (t: Terminal, code: DeviceAuthorization.DeviceCode, options: PromptOptions): string => {
  const lines: Array<string> = [""]
  const { complete, link, warning } = options.vet(code)
  // core has vetted these at decode time; this is the second wall before a terminal acts on them
  if (warning !== undefined) lines.push(yellow(t, `  Warning: ${ServerText.sanitize(warning)}`), "")
  lines.push(`  To sign in, open ${bold(t, ServerText.sanitize(code.verificationUri))}`)
  lines.push(`  and enter the code ${bold(t, ServerText.sanitize(code.userCode))}`)
  if (link === undefined) {
    // RFC 8628 §5.4: an address that failed the check is shown with the warning, never encoded
    if (options.qr) lines.push("", "  (No QR code: the address did not pass the check above.)")
  } else if (options.qr) {
    lines.push(
      "",
      `  Or scan this with your phone (${complete ? "the code is filled in" : "then enter the code"}):`,
      ""
    )
    for (
      const row of qrCode(ServerText.sanitize(link), t.color ? "colors" : t.background === "light" ? "light" : "dark")
    ) lines.push(`  ${row}`)
  } else if (complete) {
    lines.push(`  (or open ${ServerText.sanitize(link)})`)
  }
  lines.push("", `  The code expires at ${Output.localTime(DateTime.toEpochMillis(code.expiresOn))}.`, "")
  return lines.join("\n") + "\n"
}

/**
 * How long to wait for approval before saying what to do when nothing
 * happens: a person who confirmed in the browser and then left the page (or
 * whose page no longer takes the code) would otherwise watch "Waiting for
 * approval" until the code expires, as long as the server keeps answering
 * `authorization_pending`.
 *
 * @since 0.1.0
 * @category constants
 */
export const STUCK_AFTER: Duration.Duration = Duration.minutes(1)

/**
 * @since 0.1.0
 * @category constants
 */
export const STUCK_HINT =
  "Still waiting. If the sign-in page no longer accepts the code (or you left it), press Ctrl-C and run the command again for a new code."

const spinnerFrames = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"]

const countdown = (ms: number): string => {
  const total = Math.max(0, Math.ceil(ms / 1000))
  const m = Math.floor(total / 60)
  const s = total % 60
  return `${m}:${String(s).padStart(2, "0")}`
}

/**
 * A prompt that follows a flow's events: instructions at `CodeIssued`, a
 * spinner with the time left while polling (TTY only), one line per notable
 * event otherwise. The spinner stops with the scope.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  terminal: Terminal,
  options: PromptOptions
): Effect.Effect<(event: DeviceFlow.DeviceFlowEvent) => Effect.Effect<void>, never, Scope.Scope> =>
  Effect.gen(function*() {
    const scope = yield* Effect.scope
    const status = yield* Ref.make("Waiting for approval")
    const spinner = yield* Ref.make<Fiber.RuntimeFiber<unknown> | undefined>(undefined)
    const reminder = yield* Ref.make<Fiber.RuntimeFiber<unknown> | undefined>(undefined)
    const clear = () => terminal.write("\r\x1b[2K")
    const stop = (ref: Ref.Ref<Fiber.RuntimeFiber<unknown> | undefined>) =>
      Effect.flatMap(
        Ref.getAndSet(ref, undefined),
        (fiber) => (fiber === undefined ? Effect.void : Fiber.interrupt(fiber))
      )

    const startSpinner = (expiresOn: DateTime.Utc) =>
      Effect.gen(function*() {
        let frame = 0
        const tick = Effect.gen(function*() {
          const now = yield* Clock.currentTimeMillis
          const left = DateTime.toEpochMillis(expiresOn) - now
          const text = yield* Ref.get(status)
          const line = `${spinnerFrames[frame++ % spinnerFrames.length]} ${text} — code expires in ${countdown(left)}`
          clear()
          terminal.write(line.slice(0, Math.max(20, terminal.columns - 1)))
        })
        const fiber = yield* Effect.forkIn(Effect.repeat(tick, Schedule.spaced(Duration.millis(100))), scope)
        yield* Ref.set(spinner, fiber)
      })

    const say = (line: string) =>
      Effect.sync(() => {
        if (terminal.isTTY) clear()
        terminal.write(`${line}\n`)
      })

    const done = Effect.zipRight(
      stop(reminder),
      Effect.flatMap(
        Ref.getAndSet(spinner, undefined),
        (fiber) => fiber === undefined ? Effect.void : Effect.zipRight(Fiber.interrupt(fiber), Effect.sync(clear))
      )
    )
    yield* Effect.addFinalizer(() => done)

    const remind = Effect.flatMap(
      Effect.forkIn(Effect.zipRight(Effect.sleep(STUCK_AFTER), say(`  ${STUCK_HINT}`)), scope),
      (fiber) => Ref.set(reminder, fiber)
    )

    return (event: DeviceFlow.DeviceFlowEvent) => {
      switch (event._tag) {
        case "CodeIssued":
          return Effect.all([
            stop(reminder),
            Effect.sync(() => terminal.write(instructions(terminal, event.code, options))),
            terminal.isTTY ? startSpinner(event.code.expiresOn) : say("Waiting for approval..."),
            remind
          ], { discard: true })
        case "Pending":
          return Ref.set(status, "Waiting for approval")
        case "SlowedDown":
          return terminal.isTTY
            ? Ref.set(status, `Waiting for approval (server asked to poll every ${Duration.format(event.interval)})`)
            : say(`The server asked to slow down: polling every ${Duration.format(event.interval)}.`)
        case "Retrying":
          return terminal.isTTY
            ? Ref.set(status, `No answer (${ServerText.sanitize(event.reason)}), retrying`)
            : say(
              `No answer (${ServerText.sanitize(event.reason)}); retrying at ${
                Output.localTime(DateTime.toEpochMillis(event.nextPollAt))
              }.`
            )
        case "Succeeded":
          return done
      }
    }
  })
