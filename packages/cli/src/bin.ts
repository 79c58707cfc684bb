#!/usr/bin/env node
/**
 * The `devflow` executable.
 *
 * @since 0.1.0
 */
import * as ValidationError from "@effect/cli/ValidationError"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Cause from "effect/Cause"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Cli from "./Cli.js"
import { ExitCode } from "./Render.js"

const main = Cli.run(process.argv).pipe(
  Effect.as(ExitCode.Success as number),
  Effect.catchAll((error) => {
    if (error._tag === "CliExit") return Effect.succeed(error.code)
    // @effect/cli has already printed usage errors
    if (ValidationError.isValidationError(error)) return Effect.succeed(ExitCode.Usage as number)
    return Effect.as(Console.error(`devflow: ${String(error)}`), ExitCode.Internal as number)
  }),
  Effect.catchAllDefect((defect) =>
    Effect.as(Console.error(`devflow: internal error: ${Cause.pretty(Cause.die(defect))}`), ExitCode.Internal as number)
  ),
  Effect.provide(NodeContext.layer)
)

NodeRuntime.runMain(main, {
  disableErrorReporting: true,
  teardown: (exit, onExit) => {
    const result = exit as unknown as Exit.Exit<number, never>
    onExit(
      Exit.isSuccess(result)
        ? result.value
        : Cause.isInterruptedOnly(result.cause)
        ? ExitCode.Interrupted
        : ExitCode.Internal
    )
  }
})
