/**
 * `devflow git-credential get|store|erase`: devflow as git's credential
 * helper. `get` answers with the profile's access token (refreshed when due,
 * a device sign-in on stderr when one is needed and someone can see it);
 * `store` keeps nothing, the tokens being in devflow's cache already; `erase`
 * forgets the access token git says the server rejected, and nothing else,
 * so that the next `get` refreshes it (or signs in again).
 *
 * A warm `get` is answered by `internal/gitCredential.ts` without loading this.
 *
 * @since 0.1.0
 */
import * as TokenCache from "@devflow/core/TokenCache"
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as CliError from "../CliError.js"
import * as Flags from "../Flags.js"
import * as Help from "../Help.js"
import * as Protocol from "../internal/gitCredential.js"
import * as Output from "../Output.js"
import * as Root from "../Root.js"
import * as Target from "../Target.js"
import { services } from "./Login.js"
import * as Token from "./Token.js"

/**
 * Whether a sign-in may start: asked for, or someone is watching stderr (git
 * hands its stderr to the helper; stdin is the protocol) and git was not told
 * to never prompt.
 */
const mayPrompt = (interactive: boolean): boolean =>
  interactive || (process.stderr.isTTY === true && process.env.GIT_TERMINAL_PROMPT !== "0")

/** Drop the cached access token whose value git gave back; true when there was one. */
const forget = (password: string) =>
  Effect.flatMap(TokenCache.TokenCache, (cache) =>
    cache.modify((content) => {
      const kept = new Map([...content.accessTokens].filter(([, entry]) => Redacted.value(entry.secret) !== password))
      return kept.size === content.accessTokens.size
        ? [false, content] as const
        : [true, { ...content, accessTokens: kept }] as const
    }))

/**
 * @since 0.1.0
 * @category commands
 */
export const gitCredential = Command.make(
  "git-credential",
  { ...Flags.of("git-credential"), operation: Args.text({ name: "operation" }) },
  // stdout is git's: no JSON events on it, whatever DEVFLOW_JSON says
  Root.handle((options) =>
    Effect.gen(function*() {
      const request = Protocol.parse(yield* Effect.promise(() => Protocol.input()))
      const host = Option.getOrUndefined(options.host)
      const refused = Protocol.refusal(request, host)
      const stderr = Output.stderr()
      switch (options.operation) {
        case "get": {
          if (refused !== undefined) {
            // Not ours to answer: git asks its other helpers (or the user).
            if (host === undefined) stderr.line(`devflow: git-credential: no token given: ${refused}.`)
            return
          }
          if (Option.isSome(options.username) && !Protocol.isValue(options.username.value)) {
            return yield* new CliError.UsageError({
              message: "--username cannot hold a line break or NUL",
              hint: "git's protocol is one attribute per line."
            })
          }
          const { provider, view } = yield* Token.acquire(options, {
            json: false,
            login: mayPrompt(options.interactive)
          })
          const username = Option.getOrElse(options.username, () => Protocol.usernameFor(provider))
          Output.stdout().write(Protocol.answer(username, view.accessToken, view.expiresOn))
          return
        }
        case "erase": {
          const password = request.password
          if (refused !== undefined || password === undefined || password === "") return
          yield* forget(password).pipe(
            Effect.provide(services(Target.directoryOf(options.cacheDir), options.secretStore)),
            (body) => Effect.zipRight(Target.checkDirectory(options.cacheDir), body)
          )
          return
        }
          // store: the tokens are in devflow's cache already; other operations: ignored, as the protocol asks
      }
    }), { json: false })
).pipe(
  Command.withDescription(Help.summaryOf("git-credential"))
)
