/**
 * The `devflow` command tree.
 *
 * @since 0.1.0
 */
import * as Command from "@effect/cli/Command"
import { demo } from "./commands/Demo.js"

/**
 * @since 0.1.0
 * @category constants
 */
export const VERSION = "0.1.0"

const root = Command.make("devflow").pipe(
  Command.withDescription("OAuth 2.0 device code sign-in (RFC 8628) from any terminal"),
  Command.withSubcommands([demo])
)

/**
 * @since 0.1.0
 * @category constructors
 */
export const run = Command.run(root, { name: "devflow", version: VERSION })
