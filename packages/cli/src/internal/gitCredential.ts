/**
 * git's credential protocol (https://git-scm.com/docs/git-credential, "INPUT/OUTPUT
 * FORMAT") for `devflow git-credential`, and its answer to `get` from a warm
 * cache without loading Effect: git runs the helper on every fetch and push.
 *
 * Plain Node. The full command (commands/GitCredential.ts) reads the same
 * request through {@link input} (read once, shared) when this path declines.
 * @internal
 */
import * as FastToken from "./fastToken.js"

/** git sends a handful of short lines; more than this is not a credential request. */
const MAX_INPUT = 64 * 1024

/**
 * The operations of the protocol; git asks helpers to ignore any other.
 * @internal
 */
export const OPERATIONS = ["get", "store", "erase"] as const

let pending: Promise<string> | undefined

/**
 * The request on stdin: up to the blank line that ends it, or the end of
 * input. Read once per process (stdin can be read only once); both paths ask.
 * @internal
 */
export const input = (stdin: NodeJS.ReadableStream = process.stdin): Promise<string> =>
  pending ??= new Promise((resolve) => {
    let text = ""
    const done = () => {
      stdin.removeListener("data", onData)
      stdin.removeListener("end", done)
      stdin.removeListener("error", done)
      stdin.pause()
      resolve(text)
    }
    const onData = (chunk: Buffer | string) => {
      text += chunk.toString()
      if (text.length > MAX_INPUT || /(^|\n)\r?\n/.test(text)) done()
    }
    stdin.on("data", onData)
    stdin.on("end", done)
    stdin.on("error", done)
  })

/**
 * `key=value` lines up to the first blank line; a later value replaces an
 * earlier one (the protocol's rule), `key[]` lines are not needed here.
 * @internal
 */
export const parse = (text: string): Readonly<Record<string, string>> => {
  const fields: Record<string, string> = {}
  for (const raw of text.split("\n")) {
    const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw
    if (line === "") break
    const eq = line.indexOf("=")
    if (eq <= 0 || line.slice(0, eq).endsWith("[]")) continue
    fields[line.slice(0, eq)] = line.slice(eq + 1)
  }
  return fields
}

/**
 * Whether git can read `value` as one attribute's value: no line break, no NUL.
 * @internal
 */
export const isValue = (value: string): boolean => !/[\n\0]/.test(value)

/**
 * The answer to `get`. `password_expiry_utc` (git 2.41+) lets git drop the
 * token once it has expired instead of offering it to a server.
 * @internal
 */
export const answer = (username: string, token: string, expiresOn: number | undefined): string => {
  // git refuses a value with a newline or NUL; a token never has one, and --username is checked before
  if (!isValue(username) || !isValue(token)) throw new Error("a line break in a credential")
  const expiry = expiresOn === undefined ? "" : `password_expiry_utc=${Math.floor(expiresOn / 1000)}\n`
  return `username=${username}\npassword=${token}\n${expiry}`
}

/**
 * The username git sends with the token: what each provider documents for
 * tokens over https (GitHub: `x-access-token`; GitLab, Bitbucket, Gerrit and
 * most others: `oauth2`).
 * @internal
 */
export const usernameFor = (
  provider: string | undefined
): string => (provider === "github" ? "x-access-token" : "oauth2")

const LOOPBACK = /^(localhost|127(\.\d{1,3}){3}|\[::1\])(:\d+)?$/

/**
 * Why the token must not go to the URL git asks about, or `undefined` when it
 * may: https only (plain http to loopback, for a local server), and only the
 * `--host` given, when one is.
 * @internal
 */
export const refusal = (request: Readonly<Record<string, string>>, host: string | undefined): string | undefined => {
  const asked = request.host ?? ""
  if (host !== undefined && asked.toLowerCase() !== host.toLowerCase()) {
    return `not configured for ${asked || "this host"} (--host ${host})`
  }
  if (request.protocol === "https") return undefined
  if (request.protocol === "http" && LOOPBACK.test(asked)) return undefined
  return `a token is sent over https only (or http to loopback), not ${
    request.protocol ?? "an unnamed protocol"
  }://${asked}`
}

/**
 * `devflow git-credential [flags] get` answered from the cache: the answer's
 * text, or `undefined` to leave the request to the full CLI (which also says
 * why it does not answer). Never throws.
 * @internal
 */
export const fast = (
  args: ReadonlyArray<string>,
  env: Readonly<Record<string, string | undefined>>,
  text: string
): string | undefined => {
  try {
    // git appends the operation to the helper's command line
    if (args.at(-1) !== "get") return undefined
    const parsed = FastToken.parse(args.slice(0, -1), "git-credential")
    if (parsed === undefined) return undefined
    const request = parse(text)
    if (refusal(request, parsed.values.host) !== undefined) return undefined
    const found = FastToken.find(parsed, env)
    if (found === undefined) return undefined
    return answer(parsed.values.username ?? usernameFor(found.provider), found.view.accessToken, found.view.expiresOn)
  } catch {
    return undefined
  }
}

/**
 * Whether `devflow git-credential [flags] store` is done without the full CLI:
 * the tokens are in devflow's cache already, so `store` (which git runs after
 * every request the answer served) only has to accept what the full CLI's
 * parser accepts; anything else is left to it, to refuse. Never throws.
 * @internal
 */
export const stores = (args: ReadonlyArray<string>, env: Readonly<Record<string, string | undefined>>): boolean => {
  try {
    if (args.at(-1) !== "store" || !FastToken.enabled(env)) return false
    const parsed = FastToken.parse(args.slice(0, -1), "git-credential")
    return parsed !== undefined && FastToken.flagsValid("git-credential", parsed, env)
  } catch {
    return false
  }
}
