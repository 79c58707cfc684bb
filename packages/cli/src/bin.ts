#!/usr/bin/env node
/**
 * The `devflow` executable. Kept tiny on purpose: help, `providers`, and from
 * a warm cache `accounts` and `devflow token` (and `exec`, and git's `devflow
 * git-credential get` and `store`) are answered by fast paths (plain Node, no Effect), and
 * only when they decline is the full CLI
 * (`main.ts`, @effect/cli and Effect) loaded; the HTTP stack and the demo
 * server are loaded later still, on first use.
 *
 * @since 0.1.0
 */
import * as AccountList from "./internal/accountList.js"
import * as FastExec from "./internal/fastExec.js"
import * as FastHelp from "./internal/fastHelp.js"
import * as FastToken from "./internal/fastToken.js"
import * as GitCredential from "./internal/gitCredential.js"
import * as ProviderList from "./internal/providerList.js"

const args = process.argv.slice(2)

// `devflow token | head -c 10`: a reader that goes away early is not an error.
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code === "EPIPE") process.exit(0)
  throw error
})

/**
 * The answer without loading the full CLI: help and the version, `providers`, and from the cache
 * `accounts`, `token`, `exec`, and git's `get` and `store` (run on every fetch and push).
 */
const fast = async (): Promise<boolean> => {
  if (FastToken.enabled(process.env) && FastHelp.run(args)) return true
  if (args[0] === "providers") return ProviderList.fast(args.slice(1), process.env)
  if (args[0] === "accounts") return AccountList.fast(args.slice(1), process.env)
  if (args[0] === "token") {
    return FastToken.run(args.slice(1), process.env, (text) => process.stdout.write(text)) !== undefined
  }
  if (args[0] === "exec") {
    const ended = await FastExec.run(args.slice(1), process.env)
    if (ended === undefined) return false
    process.exit(ended)
  }
  if (args[0] === "git-credential" && GitCredential.stores(args.slice(1), process.env)) {
    // read as the full CLI reads it: git may wait until its request is taken
    await GitCredential.input()
    return true
  }
  if (args[0] === "git-credential" && args.at(-1) === "get") {
    const answer = GitCredential.fast(args.slice(1), process.env, await GitCredential.input())
    if (answer !== undefined) process.stdout.write(answer)
    return answer !== undefined
  }
  return false
}

if (!(await fast())) {
  // undici parses HTTP with llhttp in WebAssembly. V8 compiles it at once with Liftoff, then again
  // with TurboFan on a background thread, and Node waits for that thread before it exits: 140 ms
  // of every command that makes a request (logout 680 -> 540 ms). A CLI's few responses gain
  // nothing from the faster code, so it stays on Liftoff.
  // (node:v8 is imported here: the fast paths above never load it)
  const v8 = await import("node:v8")
  v8.setFlagsFromString("--liftoff-only")
  const { main } = await import("./main.js")
  main(process.argv)
}
