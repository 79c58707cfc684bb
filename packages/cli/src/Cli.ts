/**
 * The `devflow` command tree.
 *
 * @since 0.1.0
 */
import * as Command from "@effect/cli/Command"
import { accounts } from "./commands/Accounts.js"
import { demo } from "./commands/Demo.js"
import { exec } from "./commands/Exec.js"
import { gitCredential } from "./commands/GitCredential.js"
import { login } from "./commands/Login.js"
import { logout } from "./commands/Logout.js"
import { providers } from "./commands/Providers.js"
import { token } from "./commands/Token.js"
import { version } from "./internal/version.js"
import { root } from "./Root.js"

/**
 * @since 0.1.0
 * @category constants
 */
export const VERSION: string = version

const command = root.pipe(
  Command.withDescription("OAuth 2.0 device code sign-in (RFC 8628) from any terminal"),
  Command.withSubcommands([login, token, exec, gitCredential, accounts, logout, providers, demo])
)

/**
 * @since 0.1.0
 * @category constructors
 */
export const run = Command.run(command, { name: "devflow", version: VERSION })
