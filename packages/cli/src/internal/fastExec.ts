/**
 * `devflow exec -- <command>` from a warm cache without loading Effect or
 * @effect/cli, for scripts that wrap every call in it: the token as
 * `devflow token`'s fast path finds it, the program run as
 * `commands/Exec.ts` runs it (internal/childProcess.ts). Anything else — no
 * valid cached token, `--header-file`, `--help`, an unknown flag — is left to
 * the full command.
 * @internal
 */
import * as FastToken from "./fastToken.js"
import * as FlagTable from "./flagTable.js"

const DEFAULT_VARIABLE = FlagTable.FLAGS.env.default

/**
 * The program's exit status once it has ended, or `undefined` (before
 * anything has run) to leave the command to the full CLI.
 * @internal
 */
export const run = async (
  args: ReadonlyArray<string>,
  env: Readonly<Record<string, string | undefined>>
): Promise<number | undefined> => {
  const end = args.indexOf("--")
  if (end === -1) return undefined
  const [command, ...rest] = args.slice(end + 1)
  if (command === undefined) return undefined
  const parsed = FastToken.parse(args.slice(0, end), "exec")
  if (parsed === undefined) return undefined
  // loaded here, not with the other fast paths: `token` and git's helper never start a program
  const ChildProcess = await import("./childProcess.js")
  const variable = parsed.values.env ?? DEFAULT_VARIABLE
  if (!ChildProcess.isVariableName(variable)) return undefined
  const found = FastToken.find(parsed, env)
  if (found === undefined) return undefined
  return new Promise((resolve) =>
    ChildProcess.start(
      command,
      rest,
      { ...env, [variable]: found.view.accessToken },
      ChildProcess.forwarded(process.stdin.isTTY === true),
      (ended) => {
        if (ended._tag === "NotStarted") {
          process.stderr.write(
            `devflow: ${ChildProcess.notStarted(command, ended.error)}\n`
          )
        }
        resolve(ChildProcess.exitCodeOf(ended))
      }
    )
  )
}
