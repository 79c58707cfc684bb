/**
 * The root command's own options and the wrapper every subcommand runs in:
 * `--json` and `--verbose` are accepted before the subcommand as well as
 * after it, and every failure a command reports goes through
 * {@link CliError.report}.
 *
 * @since 0.1.0
 */
import * as Command from "@effect/cli/Command"
import * as Effect from "effect/Effect"
import * as CliError from "./CliError.js"
import { CliExit } from "./CliExit.js"
import * as Flags from "./Flags.js"

/**
 * `devflow [--json] [--verbose] <command>`
 *
 * @since 0.1.0
 * @category commands
 */
export const root = Command.make("devflow", Flags.of("devflow"))

/**
 * @since 0.1.0
 * @category models
 */
export interface Context {
  readonly json: boolean
  readonly verbose: boolean
}

/**
 * Run a command's body with the merged `--json` / `--verbose`, reporting its
 * failure (one line, a hint, an `error` event under `--json`) and exiting
 * with the failure's code. A command whose stdout belongs to another
 * program's protocol (`git-credential`) passes `{ json: false }`: no event
 * ever goes there, whatever `--json` or `DEVFLOW_JSON` say.
 *
 * @since 0.1.0
 * @category combinators
 */
export const handle = <A extends { readonly json: boolean; readonly verbose: boolean }, R>(
  body: (options: A, context: Context) => Effect.Effect<void, CliError.CliError, R>,
  stdout: { readonly json: boolean } = { json: true }
) =>
(options: A) =>
  Effect.gen(function*() {
    const parent = yield* root
    const context: Context = {
      json: stdout.json && (options.json || parent.json),
      verbose: options.verbose || parent.verbose
    }
    yield* body(options, context).pipe(
      Effect.catchAll((error) =>
        Effect.flatMap(
          CliError.report(error, context),
          (code) => Effect.fail(new CliExit({ code }))
        )
      )
    )
  })
