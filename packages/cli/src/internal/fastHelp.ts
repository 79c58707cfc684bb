/**
 * `devflow`, `devflow --help`, `devflow help [command]`, `devflow <command>
 * --help` and `devflow --version`, answered in plain Node: our help
 * (Help.ts, from the one flag table) instead of @effect/cli's. `bin.ts` asks
 * here before loading the full CLI, and `main.ts` asks again when it runs on
 * its own.
 * @internal
 */
import * as Help from "../Help.js"
import * as FlagTable from "./flagTable.js"
import * as Terminal from "./terminal.js"
import { version as VERSION } from "./version.js"

const COMMANDS: ReadonlySet<string> = new Set(FlagTable.COMMAND_NAMES)

/** @internal */
export const isHelp = (arg: string): boolean => arg === "--help" || arg === "-h"

/**
 * Whether the arguments ask for help, and for which command's.
 * @internal
 */
export const helpFor = (
  args: ReadonlyArray<string>
): { readonly command: FlagTable.CommandName | undefined } | undefined => {
  const end = args.indexOf("--")
  const before = end === -1 ? args : args.slice(0, end)
  const asked = before.length === 0 || before[0] === "help" || before.some(isHelp)
  if (!asked) return undefined
  const named = before.find((a) => COMMANDS.has(a)) as FlagTable.CommandName | undefined
  return { command: named }
}

const printHelp = (command: FlagTable.CommandName | undefined): void => {
  const color = Terminal.colorAllowed(process.stdout)
  const out = Terminal.stdout()
  const style: Help.Style = {
    columns: Math.min(
      100,
      process.stdout.isTTY === true && process.stdout.columns > 0 ? process.stdout.columns - 1 : 80
    ),
    bold: color ? out.bold : (s) => s,
    dim: color ? out.dim : (s) => s
  }
  out.write(command === undefined ? Help.root(VERSION, style) : Help.command(command, style))
}

/**
 * Print the help or the version the arguments (`process.argv.slice(2)`) ask
 * for and return true; false when they ask for neither.
 * @internal
 */
export const run = (args: ReadonlyArray<string>): boolean => {
  const help = helpFor(args)
  if (help !== undefined) {
    printHelp(help.command)
    return true
  }
  // one line, and -v too (@effect/cli knows only --version, and follows it with an empty line)
  if (args.length === 1 && (args[0] === "-v" || args[0] === "--version")) {
    process.stdout.write(`${VERSION}\n`)
    return true
  }
  return false
}
