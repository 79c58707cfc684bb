/**
 * `--open` and `--copy`: hand the verification URI to the desktop's browser
 * and the user code to its clipboard, where there is a desktop. Both are
 * conveniences: when no tool is found, or it fails, nothing is said and
 * nothing breaks (the instructions are on the screen anyway).
 *
 * @since 0.1.0
 */
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

const opener = (): { readonly command: string; readonly args: (url: string) => ReadonlyArray<string> } | undefined => {
  switch (process.platform) {
    case "darwin":
      return { command: "open", args: (url) => [url] }
    case "win32":
      // `start` is a cmd built-in; its first quoted argument is the window title
      return { command: "cmd", args: (url) => ["/c", "start", "\"\"", url.replace(/&/g, "^&")] }
    default:
      return { command: "xdg-open", args: (url) => [url] }
  }
}

/**
 * Open `url` in the default browser (xdg-open, open, start). `true` when a
 * program was started.
 *
 * @since 0.1.0
 * @category utils
 */
export const openUrl = (url: string): Effect.Effect<boolean> =>
  Effect.sync(() => {
    const tool = opener()
    const file = tool === undefined ? undefined : which(tool.command)
    return file === undefined ? false : launch(file, tool!.args(url))
  })

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
export const copyText = (text: string, terminal: { readonly isTTY: boolean; readonly write: (s: string) => void }): Effect.Effect<boolean> =>
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
