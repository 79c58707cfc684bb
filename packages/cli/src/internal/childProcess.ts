/**
 * Running another program for `devflow exec`: its own stdio (the terminal),
 * the signals devflow receives passed on to it, and its end reported the way
 * a shell reports it. Plain Node, no Effect.
 * @internal
 */
import { spawn } from "node:child_process"
import * as os from "node:os"

/**
 * How the program ended, or why it never started.
 * @internal
 */
export type Ended =
  | { readonly _tag: "Exited"; readonly code: number }
  | { readonly _tag: "Signalled"; readonly signal: NodeJS.Signals }
  | { readonly _tag: "NotStarted"; readonly error: NodeJS.ErrnoException }

/**
 * Whether `name` can name an environment variable: the POSIX portable names
 * (what every shell accepts).
 * @internal
 */
export const isVariableName = (name: string): boolean => /^[A-Za-z_][A-Za-z0-9_]*$/.test(name)

/**
 * What devflow says when the program could not be started.
 * @internal
 */
export const notStarted = (command: string, error: NodeJS.ErrnoException): string =>
  `could not run ${JSON.stringify(command)}: ${error.code ?? error.message}`

/** The signals devflow takes over while the program runs. */
const SIGNALS: ReadonlyArray<NodeJS.Signals> = ["SIGINT", "SIGTERM", "SIGHUP"]

/**
 * The signals passed on. A Ctrl-C at a terminal reaches the whole foreground
 * process group, the program included, so SIGINT is passed on only when
 * devflow's stdin is not a terminal (a `kill -INT` from a supervisor); on a
 * terminal devflow only waits for the program to end.
 * @internal
 */
export const forwarded = (stdinIsTTY: boolean): ReadonlyArray<NodeJS.Signals> =>
  stdinIsTTY ? ["SIGTERM", "SIGHUP"] : SIGNALS

/**
 * The exit status a shell gives for this end: the program's own code,
 * 128 + n for death by signal n, 127 for a command not found, 126 for one
 * that cannot be run (POSIX `sh`, "Exit Status for Commands").
 * @internal
 */
export const exitCodeOf = (ended: Ended): number => {
  switch (ended._tag) {
    case "Exited":
      return ended.code
    case "Signalled":
      return 128 + (os.constants.signals[ended.signal] ?? 0)
    case "NotStarted":
      return ended.error.code === "ENOENT" ? 127 : 126
  }
}

/**
 * Start `command` with `args` and `env`, stdio inherited. While it runs,
 * SIGINT, SIGTERM and SIGHUP do not reach devflow's own handlers (which would
 * end devflow first and lose the program's status): the `forward`ed ones go
 * to the program, the others are left to it. The handlers are restored when
 * it ends. Returns a function that stops it with SIGTERM.
 * @internal
 */
export const start = (
  command: string,
  args: ReadonlyArray<string>,
  env: NodeJS.ProcessEnv,
  forward: ReadonlyArray<NodeJS.Signals>,
  onEnd: (ended: Ended) => void
): () => void => {
  const saved = SIGNALS.map((signal) => [signal, process.listeners(signal)] as const)
  const pass = (signal: NodeJS.Signals) => {
    if (forward.includes(signal)) child.kill(signal)
  }
  for (const [signal] of saved) {
    process.removeAllListeners(signal)
    process.on(signal, pass)
  }
  const restore = () => {
    for (const [signal, listeners] of saved) {
      process.removeListener(signal, pass)
      for (const listener of listeners) process.on(signal, listener as (s: NodeJS.Signals) => void)
    }
  }
  let done = false
  const end = (ended: Ended) => {
    if (done) return
    done = true
    restore()
    onEnd(ended)
  }
  // shell: false — the arguments reach the program as given, and the token is never in a command line
  const child = spawn(command, args, { env, stdio: "inherit", shell: false })
  child.on("error", (error: NodeJS.ErrnoException) => {
    // "error" also reports a failed kill; only a failed start ends the run here
    if (child.pid === undefined) end({ _tag: "NotStarted", error })
  })
  child.on(
    "exit",
    (code, signal) => end(signal !== null ? { _tag: "Signalled", signal } : { _tag: "Exited", code: code ?? 0 })
  )
  return () => void child.kill("SIGTERM")
}
