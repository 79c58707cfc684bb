/**
 * The full CLI: @effect/cli's parser and the commands, run by
 * `NodeRuntime.runMain` with a teardown that turns the outcome into the exit
 * code (Ctrl-C: 130). Loaded by `bin.ts` unless `devflow token`'s fast path
 * answered.
 *
 * @since 0.1.0
 */
import * as ServerText from "@devflow/core/ServerText"
import * as Setting from "@devflow/core/Setting"
import * as HelpDoc from "@effect/cli/HelpDoc"
import * as ValidationError from "@effect/cli/ValidationError"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import { format } from "node:util"
import * as Cli from "./Cli.js"
import { ExitCode } from "./CliError.js"
import * as Demo from "./commands/Demo.js"
import * as DidYouMean from "./internal/didYouMean.js"
import * as FastHelp from "./internal/fastHelp.js"
import * as FlagTable from "./internal/flagTable.js"
import * as Invocation from "./internal/invocation.js"
import * as Output from "./Output.js"
import * as Telemetry from "./Telemetry.js"

const COMMANDS: ReadonlySet<string> = new Set(FlagTable.COMMAND_NAMES)

/**
 * A flag that takes a value, given none (last, or followed by another flag):
 * @effect/cli would report the next word as an unknown argument.
 */
const missingValue = (args: ReadonlyArray<string>): string | undefined => {
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!
    if (arg === "--") return undefined
    const found = FlagTable.byName(arg)
    if (found === undefined || !FlagTable.takesValue(found.spec)) continue
    const next = args[i + 1]
    if (
      next === undefined || FastHelp.isHelp(next) ||
      (next.startsWith("--") && FlagTable.byName(next.split("=")[0]!) !== undefined)
    ) {
      const env = found.spec.env === undefined ? "" : ` (or set ${found.spec.env})`
      return `${arg} needs a value: ${arg} ${found.spec.value ?? "<value>"}${env}`
    }
    i++
  }
  return undefined
}

// Lines of styled help without their escape codes, indentation kept.
const plain = (text: string): string =>
  text.split("\n").map((line) => /^ */.exec(line)![0] + ServerText.sanitize(line)).join("\n")

const stderrLogger = Logger.make(({ logLevel, message }) => {
  const text = (Array.isArray(message) ? message : [message]).map((m) => (typeof m === "string" ? m : format(m))).join(
    " "
  )
  // The message only: a log's cause would bring a stack trace (and is not needed to act on a warning).
  // a log may quote server text: one clean line (ServerText)
  process.stderr.write(`devflow: ${logLevel.label.toLowerCase()}: ${ServerText.sanitize(text)}\n`)
})

/**
 * Warnings (a cache file moved aside, permissions tightened) go to stderr, for
 * people, as one line each. runMain swaps Effect's default logger for its
 * pretty logger (which prints causes with stack traces): replace both.
 */
const StderrLogger = Layer.mergeAll(
  Logger.replace(Logger.defaultLogger, stderrLogger),
  Logger.replace(Logger.prettyLoggerDefault, stderrLogger)
)

/**
 * Run the CLI on `argv` (`process.argv`) and exit.
 *
 * @since 0.1.0
 * @category utils
 */
export const main = (argv: ReadonlyArray<string>): void => {
  const args = argv.slice(2)
  // before the flags are parsed (a usage error is reported in the form they ask for): the table's names, core's reader
  const given = (spec: FlagTable.FlagSpec) =>
    args.includes(`--${spec.name}`) || Setting.boolean(process.env[spec.env ?? ""] ?? "") === true
  const verbose = given(FlagTable.FLAGS.verbose)
  const json = given(FlagTable.FLAGS.json)
  const command = args.find((a) => COMMANDS.has(a))
  // @effect/cli prints its usage errors with Console.error: collect them, to say them in one line.
  const usage: Array<string> = []

  if (FastHelp.run(args)) return

  const program = Effect.gen(function*() {
    // @effect/cli drops empty arguments without a word (`--scope ""` would mean no --scope at all,
    // `logout ""` the profile's account): refuse them.
    // (the arguments after `--` are `devflow exec`'s program's, empty ones included)
    const end = args.indexOf("--")
    const empty = (end === -1 ? args : args.slice(0, end)).indexOf("")
    if (empty !== -1) {
      const before = args[empty - 1]
      const what = before?.startsWith("-")
        ? `${before} was given an empty value`
        : `an empty argument${before === undefined ? "" : ` after '${before}'`}`
      return yield* Effect.fail(ValidationError.invalidValue(HelpDoc.p(what)))
    }
    const missing = missingValue(args) ?? DidYouMean.mistake(args)
    if (missing !== undefined) return yield* Effect.fail(ValidationError.invalidValue(HelpDoc.p(missing)))
    const base = yield* Effect.console
    const stdoutColor = Output.colorAllowed(process.stdout)
    return yield* Cli.run(argv).pipe(
      Effect.withConsole({
        ...base,
        // --help and --version: no escape codes unless stdout is a terminal that may have colour
        log: (...parts: ReadonlyArray<unknown>) =>
          Effect.sync(() => {
            const text = format(...parts)
            process.stdout.write(`${stdoutColor ? text : plain(text)}\n`)
          }),
        error: (...parts: ReadonlyArray<unknown>) => Effect.sync(() => void usage.push(format(...parts)))
      })
    )
  }).pipe(
    Effect.as(ExitCode.Success as number),
    Effect.catchAll((error) =>
      Effect.sync(() => {
        if (error._tag === "CliExit") return error.code
        const text = ValidationError.isValidationError(error)
          // @effect/cli styles its usage errors: one clean line (ServerText)
          ? ServerText.sanitize(usage.join(" ") || HelpDoc.toAnsiText(error.error))
          : ServerText.sanitize(String(error))
        const hint = `run '${Invocation.current().devflow}${
          command === undefined ? "" : ` ${command}`
        } --help' for usage`
        process.stderr.write(`devflow: ${text} (${hint})\n`)
        if (json) {
          process.stdout.write(
            JSON.stringify({ event: "error", error: "UsageError", exit_code: ExitCode.Usage, message: text, hint }) +
              "\n"
          )
        }
        return ValidationError.isValidationError(error) ? ExitCode.Usage : ExitCode.Internal
      })
    ),
    Effect.catchAllDefect((defect) =>
      Effect.sync(() => {
        const message = defect instanceof Error ? defect.message : String(defect)
        process.stderr.write(`devflow: internal error: ${ServerText.sanitize(message)}\n`)
        process.stderr.write(
          verbose
            ? `${Cause.pretty(Cause.die(defect))}\n`
            : "  hint: this is a bug in devflow; --verbose shows where it happened\n"
        )
        return ExitCode.Internal as number
      })
    ),
    Effect.provide(Layer.mergeAll(
      NodeContext.layer,
      StderrLogger,
      Logger.minimumLogLevel(LogLevel.Warning),
      // OTEL_EXPORTER_OTLP_ENDPOINT: spans exported over OTLP; unset, nothing is loaded
      Telemetry.layer(process.env, Cli.VERSION)
    )),
    // Failures are reported by CliError.report; the runtime's "unhandled error" debug log would only repeat them.
    Effect.withUnhandledErrorLogLevel(Option.none())
  )

  NodeRuntime.runMain(program, {
    disableErrorReporting: true,
    teardown: (exit, onExit) => {
      const result = exit as unknown as Exit.Exit<number, never>
      if (Exit.isSuccess(result)) return onExit(result.value)
      if (Cause.isInterruptedOnly(result.cause)) {
        // the documented way to stop the demo server, not a failure
        if (Demo.stopsWithCtrlC(args)) return onExit(ExitCode.Success)
        // Ctrl-C: finalizers have run (spinner cleared, requests aborted, nothing written to the cache)
        process.stderr.write("devflow: interrupted\n")
        return onExit(ExitCode.Interrupted)
      }
      process.stderr.write(
        `devflow: internal error: ${ServerText.sanitize(Cause.pretty(result.cause).split("\n")[0] ?? "")}\n`
      )
      onExit(ExitCode.Internal)
    }
  })
}
