/**
 * How the code reaches a person at a terminal: instructions and a QR code on
 * stderr, then (on a TTY only) a spinner with a live countdown to expiry.
 * stdout is never touched: it belongs to the result and to `--json`.
 *
 * @since 0.1.0
 */
import type { DeviceAuthorization, DeviceFlow } from "@devflow/core"
import * as Clock from "effect/Clock"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Ref from "effect/Ref"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import { renderUnicodeCompact } from "uqr"

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
  columns: process.stderr.columns || 80
})

/**
 * @since 0.1.0
 * @category models
 */
export interface PromptOptions {
  readonly qr: boolean
  /** shown above the instructions, e.g. an RFC 8628 §5.4 phishing warning */
  readonly warning?: ((code: DeviceAuthorization.DeviceCode) => string | undefined) | undefined
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
  const warning = options.warning?.(code)
  if (warning !== undefined) lines.push(yellow(t, `  Warning: ${warning}`), "")
  lines.push(`  To sign in, open ${bold(t, code.verificationUri)}`)
  lines.push(`  and enter the code ${bold(t, code.userCode)}`)
  const target = code.verificationUriComplete ?? code.verificationUri
  if (options.qr) {
    lines.push("", `  Or scan this with your phone (${code.verificationUriComplete === undefined ? "then enter the code" : "the code is filled in"}):`, "")
    for (const row of renderUnicodeCompact(target, { border: 1 }).split("\n")) lines.push(`  ${row}`)
  } else if (code.verificationUriComplete !== undefined) {
    lines.push(`  (or open ${code.verificationUriComplete})`)
  }
  lines.push("", `  The code expires at ${DateTime.formatIso(code.expiresOn)}.`, "")
  return lines.join("\n") + "\n"
}

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
    const clear = () => terminal.write("\r\x1b[2K")

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

    yield* Effect.addFinalizer(() =>
      Effect.flatMap(Ref.get(spinner), (fiber) =>
        fiber === undefined ? Effect.void : Effect.zipRight(Fiber.interrupt(fiber), Effect.sync(clear)))
    )

    const say = (line: string) =>
      Effect.sync(() => {
        if (terminal.isTTY) clear()
        terminal.write(`${line}\n`)
      })

    return (event: DeviceFlow.DeviceFlowEvent) => {
      switch (event._tag) {
        case "CodeIssued":
          return Effect.zipRight(
            Effect.sync(() => terminal.write(instructions(terminal, event.code, options))),
            terminal.isTTY ? startSpinner(event.code.expiresOn) : say("Waiting for approval...")
          )
        case "Pending":
          return Ref.set(status, "Waiting for approval")
        case "SlowedDown":
          return terminal.isTTY
            ? Ref.set(status, `Waiting for approval (server asked to poll every ${Duration.format(event.interval)})`)
            : say(`The server asked to slow down: polling every ${Duration.format(event.interval)}.`)
        case "Retrying":
          return terminal.isTTY
            ? Ref.set(status, `No answer (${event.reason}), retrying`)
            : say(`No answer (${event.reason}); retrying at ${DateTime.formatIso(event.nextPollAt)}.`)
        case "Succeeded":
          return Effect.flatMap(Ref.get(spinner), (fiber) =>
            fiber === undefined ? Effect.void : Effect.zipRight(Fiber.interrupt(fiber), Effect.sync(clear)))
      }
    }
  })
