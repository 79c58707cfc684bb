/**
 * @since 0.1.0
 */
import * as Data from "effect/Data"

/**
 * A handled failure: the message was already shown, only the exit code is left.
 *
 * @since 0.1.0
 * @category errors
 */
export class CliExit extends Data.TaggedError("CliExit")<{ readonly code: number }> {}
