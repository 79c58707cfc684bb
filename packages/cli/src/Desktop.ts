/**
 * `--open` and `--copy`: hand the verification URI to the desktop's browser
 * and the user code to its clipboard, where there is a desktop. Both are
 * conveniences: nothing breaks when they fail (the instructions are on the
 * screen anyway), but `--open` says what happened, since the user waits for
 * a page. Only an address that passed the RFC 8628 §5.4 check is handed
 * over, and never through a shell.
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"

/**
 * The full path of `command` on PATH, if it is there and executable.
 *
 * @since 0.1.0
 * @category utils
 */
export const which = (command: string, env: NodeJS.ProcessEnv = process.env): string | undefined => {
  const extensions = process.platform === "win32" ? (env.PATHEXT ?? ".EXE;.CMD;.BAT").split(";") : [""]
  for (const dir of (env.PATH ?? "").split(path.delimiter)) {
    if (dir === "") continue
    for (const ext of extensions) {
      const candidate = path.join(dir, command + ext)
      try {
        fs.accessSync(candidate, fs.constants.X_OK)
        if (fs.statSync(candidate).isFile()) return candidate
      } catch {
        // not here
      }
    }
  }
  return undefined
}

/** Start a program detached from devflow: it may outlive it, and its failure is not ours. */
const launch = (file: string, args: ReadonlyArray<string>, input?: string): boolean => {
  try {
    const child = spawn(file, args, {
      detached: true,
      stdio: [input === undefined ? "ignore" : "pipe", "ignore", "ignore"],
      windowsHide: true
    })
    child.on("error", () => {})
    if (input !== undefined) {
      child.stdin?.on("error", () => {})
      child.stdin?.end(input)
    }
    child.unref()
    return true
  } catch {
    return false
  }
}

/**
 * A program and its argument vector.
 *
 * @since 0.1.0
 * @category models
 */
export interface Command {
  readonly file: string
  readonly args: ReadonlyArray<string>
}

/**
 * The program that opens `href` in the default browser. The address is one
 * argument of an argument vector: no shell ever parses it (on Windows,
 * `cmd /c start` would let `|`, `<`, `>`, `^` and `%` in a server's address
 * run commands).
 *
 * @since 0.1.0
 * @category utils
 */
export const opener = (href: string, platform: NodeJS.Platform, env: NodeJS.ProcessEnv): Command => {
  switch (platform) {
    case "darwin":
      return { file: "open", args: [href] }
    case "win32":
      // Node quotes only arguments with spaces or quotes, which an href never has: rundll32 sees it verbatim.
      return {
        file: `${env.SystemRoot ?? "C:\\Windows"}\\System32\\rundll32.exe`,
        args: ["url.dll,FileProtocolHandler", href]
      }
    default:
      return { file: "xdg-open", args: [href] }
  }
}

/**
 * How long `--open` waits for the opener to exit before it stops waiting.
 *
 * @since 0.1.0
 * @category constants
 */
export const OPEN_WAIT: Duration.Duration = Duration.seconds(5)

/**
 * What became of `--open`: only an opener that exited 0 counts as opened.
 *
 * @since 0.1.0
 * @category models
 */
export type OpenOutcome =
  | { readonly _tag: "Opened"; readonly program: string }
  | { readonly _tag: "NotFound"; readonly program: string }
  | { readonly _tag: "Failed"; readonly program: string; readonly detail: string }
  | { readonly _tag: "Unconfirmed"; readonly program: string }

/**
 * Open `href` (an address that passed the RFC 8628 §5.4 check) in the default
 * browser: xdg-open, open, or rundll32's URL handler, started without a
 * shell. Waits up to {@link OPEN_WAIT} for the program's exit status.
 *
 * @since 0.1.0
 * @category utils
 */
export const openUrl = (
  href: string,
  system: { readonly platform: NodeJS.Platform; readonly env: NodeJS.ProcessEnv } = process
): Effect.Effect<OpenOutcome> => {
  const command = opener(href, system.platform, system.env)
  const program = command.file.split(/[\\/]/).at(-1)!
  const file = path.isAbsolute(command.file) || path.win32.isAbsolute(command.file)
    ? command.file
    : which(command.file, system.env)
  if (file === undefined) return Effect.succeed({ _tag: "NotFound", program })
  return Effect.async<OpenOutcome>((resume) => {
    let settled = false
    const settle = (outcome: OpenOutcome) => {
      if (settled) return
      settled = true
      resume(Effect.succeed(outcome))
    }
    try {
      // detached: the browser it may start outlives devflow, and Ctrl-C here does not reach it
      const child = spawn(file, command.args, { detached: true, stdio: "ignore", windowsHide: true, env: system.env })
      child.on(
        "error",
        (error: NodeJS.ErrnoException) =>
          settle(
            error.code === "ENOENT" ? { _tag: "NotFound", program } : { _tag: "Failed", program, detail: error.message }
          )
      )
      child.on("exit", (code, signal) =>
        settle(
          code === 0
            ? { _tag: "Opened", program }
            : { _tag: "Failed", program, detail: code === null ? `was stopped by ${signal}` : `exited with ${code}` }
        ))
      child.unref()
    } catch (error) {
      settle({ _tag: "Failed", program, detail: error instanceof Error ? error.message : String(error) })
    }
  }).pipe(
    Effect.timeoutTo({
      duration: OPEN_WAIT,
      onSuccess: (outcome) => outcome,
      onTimeout: () => ({ _tag: "Unconfirmed", program })
    })
  )
}

/**
 * `--open`'s outcome as one line: opened, or what failed and to open `href` by hand.
 *
 * @since 0.1.0
 * @category utils
 */
export const describeOpen = (outcome: OpenOutcome, href: string): string => {
  switch (outcome._tag) {
    case "Opened":
      return "Opened the verification page in your browser."
    case "NotFound":
      return `Could not open a browser (${outcome.program} not found): open ${href} by hand.`
    case "Failed":
      return `Could not open a browser (${outcome.program} ${outcome.detail}): open ${href} by hand.`
    case "Unconfirmed":
      return `${outcome.program} has not finished after ${
        Duration.format(OPEN_WAIT)
      }: if no page appeared, open ${href} by hand.`
  }
}

const clipboardTools = (): ReadonlyArray<{ readonly command: string; readonly args: ReadonlyArray<string> }> => {
  switch (process.platform) {
    case "darwin":
      return [{ command: "pbcopy", args: [] }]
    case "win32":
      return [{ command: "clip", args: [] }]
    default:
      return [
        ...((process.env.WAYLAND_DISPLAY ?? "") === "" ? [] : [{ command: "wl-copy", args: [] }]),
        { command: "xclip", args: ["-selection", "clipboard"] },
        { command: "xsel", args: ["--clipboard", "--input"] }
      ]
  }
}

/**
 * Put `text` on the clipboard: an OSC 52 sequence to the terminal (which
 * reaches the local clipboard even over SSH, in terminals that allow it), and
 * the first clipboard program found on PATH. `true` when either was tried.
 *
 * @since 0.1.0
 * @category utils
 */
export const copyText = (
  text: string,
  terminal: { readonly isTTY: boolean; readonly write: (s: string) => void }
): Effect.Effect<boolean> =>
  Effect.sync(() => {
    let tried = false
    if (terminal.isTTY) {
      terminal.write(`\x1b]52;c;${Buffer.from(text, "utf8").toString("base64")}\x07`)
      tried = true
    }
    for (const tool of clipboardTools()) {
      const file = which(tool.command)
      if (file === undefined) continue
      tried = launch(file, tool.args, text) || tried
      break
    }
    return tried
  })
