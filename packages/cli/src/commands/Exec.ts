/**
 * `devflow exec -- <command>`: run a program with a fresh access token in its
 * environment (and, on request, in a 0600 header file for `curl -H @file`),
 * never on its command line and never on devflow's own output; exit as the
 * program does.
 *
 * With a valid cached token and no --header-file, `internal/fastExec.ts` runs
 * the program without loading this (or Effect).
 *
 * @since 0.1.0
 */
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as fs from "node:fs"
import * as CliError from "../CliError.js"
import { CliExit } from "../CliExit.js"
import * as Flags from "../Flags.js"
import * as Help from "../Help.js"
import * as ChildProcess from "../internal/childProcess.js"
import * as TokenFormat from "../internal/tokenFormat.js"
import * as Output from "../Output.js"
import * as Root from "../Root.js"
import * as Token from "./Token.js"

const headerFileExists = (path: string) =>
  new CliError.UsageError({
    message: `--header-file ${path} already exists`,
    hint: "Name a file that does not exist: devflow creates it (0600) and removes it when the command ends."
  })

/** `--header-file`: a new file only this user can read, removed when the program ends. */
const headerFile = (path: string, view: TokenFormat.TokenView) =>
  Effect.acquireRelease(
    Effect.try({
      // "wx": never overwrite (or follow a link to) a file someone else prepared
      try: () => fs.writeFileSync(path, TokenFormat.render("header", view), { flag: "wx", mode: 0o600 }),
      catch: (cause) =>
        (cause as NodeJS.ErrnoException).code === "EEXIST"
          ? headerFileExists(path)
          : new CliError.LocalError({ message: `Could not write --header-file ${path}`, cause })
    }),
    () => Effect.sync(() => fs.rmSync(path, { force: true }))
  )

const run = (command: string, args: ReadonlyArray<string>, env: NodeJS.ProcessEnv) =>
  Effect.async<ChildProcess.Ended>((resume) => {
    const stop = ChildProcess.start(
      command,
      args,
      env,
      ChildProcess.forwarded(process.stdin.isTTY === true),
      (ended) => resume(Effect.succeed(ended))
    )
    return Effect.sync(stop)
  })

/**
 * @since 0.1.0
 * @category commands
 */
export const exec = Command.make(
  "exec",
  { ...Flags.of("exec"), command: Args.text({ name: "command" }).pipe(Args.repeated) },
  (options) =>
    Effect.gen(function*() {
      let status = 0
      yield* Root.handle<typeof options, never>((options, context) =>
        Effect.gen(function*() {
          const [command, ...args] = options.command
          if (command === undefined) {
            return yield* new CliError.UsageError({
              message: "No command to run",
              hint: "Give it after `--`: devflow exec -- curl -H @auth.h https://…"
            })
          }
          if (!ChildProcess.isVariableName(options.env)) {
            return yield* new CliError.UsageError({
              message: `--env ${JSON.stringify(options.env.slice(0, 60))} is not a variable name`,
              hint: "Use letters, digits and _, not starting with a digit (e.g. GITHUB_TOKEN)."
            })
          }
          // said before any sign-in or request (the exclusive create below is what guarantees it)
          if (Option.isSome(options.headerFile) && fs.existsSync(options.headerFile.value)) {
            return yield* headerFileExists(options.headerFile.value)
          }
          // A person at a terminal can sign in; a script or CI job gets exit 7 instead of a prompt nobody sees.
          const login = options.login || (process.stdin.isTTY === true && process.stderr.isTTY === true)
          const { view } = yield* Token.acquire(options, { json: context.json, login })
          if (Option.isSome(options.headerFile) && TokenFormat.isDpop(view.tokenType)) {
            // RFC 9449 §4.2: a proof is for one method and URL, and servers refuse it a second time (jti)
            return yield* new CliError.UsageError({
              message: "--header-file cannot hold a DPoP token's header: each request needs a proof of its own",
              hint:
                "In the command, make the two header lines per request: devflow token --format header --method GET --url <url>."
            })
          }
          if (Option.isSome(options.headerFile)) yield* headerFile(options.headerFile.value, view)
          const ended = yield* run(command, args, { ...process.env, [options.env]: view.accessToken })
          if (ended._tag === "NotStarted") {
            const stderr = Output.stderr()
            stderr.line(`devflow: ${stderr.red(ChildProcess.notStarted(command, ended.error))}`)
          }
          status = ChildProcess.exitCodeOf(ended)
        }).pipe(Effect.scoped)
      )(options)
      if (status !== 0) return yield* new CliExit({ code: status })
    })
).pipe(
  Command.withDescription(Help.summaryOf("exec"))
)
