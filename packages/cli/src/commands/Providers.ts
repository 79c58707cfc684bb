/**
 * `devflow providers`: the presets, and the flags each needs.
 *
 * @since 0.1.0
 */
import * as Providers from "@devflow/core/Providers"
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Flags from "../Flags.js"
import * as Help from "../Help.js"
import * as DidYouMean from "../internal/didYouMean.js"
import * as FlagTable from "../internal/flagTable.js"
import * as Output from "../Output.js"
import { UsageError } from "../CliError.js"
import * as Root from "../Root.js"

const FLAG = (field: Providers.InputField): string => `--${FlagTable.FLAGS[field === "scopes" ? "scope" : field].name}`

const requirement = (r: Providers.Requirement): string =>
  typeof r === "string" ? FLAG(r) : r.anyOf.map(FLAG).join(" or ")

const required = (p: Providers.Provider): ReadonlyArray<string> => p.requires.map(requirement)

const optional = (p: Providers.Provider): ReadonlyArray<string> => {
  const needed = new Set(p.requires.flatMap((r) => (typeof r === "string" ? [r] : r.anyOf)))
  return p.accepts.filter((f) => !needed.has(f)).map(FLAG)
}

const wrap = (text: string, width: number, indent: string): ReadonlyArray<string> => {
  const lines: Array<string> = []
  let line = ""
  for (const word of text.split(/\s+/)) {
    if (line !== "" && indent.length + line.length + 1 + word.length > width) {
      lines.push(indent + line)
      line = word
    } else {
      line = line === "" ? word : `${line} ${word}`
    }
  }
  if (line !== "") lines.push(indent + line)
  return lines
}

/**
 * @since 0.1.0
 * @category commands
 */
export const providers = Command.make(
  "providers",
  {
    ...Flags.of("providers"),
    id: Args.text({ name: "id" }).pipe(Args.withDescription(Help.COMMANDS.providers.args?.[0]?.help ?? ""), Args.optional)
  },
  Root.handle((options, context) =>
    Effect.gen(function*() {
      const stdout = Output.stdout()
      const ids = yield* Option.match(options.id, {
        onNone: () => Effect.succeed(Providers.ids),
        onSome: (id) => {
          if (Providers.isProviderId(id)) return Effect.succeed([id])
          const guess = DidYouMean.closest(id, Providers.ids)
          return Effect.fail(
            new UsageError({
              message: `Unknown provider ${JSON.stringify(id.slice(0, 60))}${guess === undefined ? "" : `: did you mean ${guess}?`}`,
              hint: "`devflow providers` lists them."
            })
          )
        }
      })
      for (const id of ids) {
        const p = Providers.presets[id]
        if (context.json) {
          stdout.line(JSON.stringify({
            id: p.id,
            title: p.title,
            description: p.describe,
            requires: required(p),
            accepts: optional(p),
            client_secret: p.clientSecret,
            default_authority: p.defaults.authority ?? null,
            default_scopes: p.defaults.scopes,
            discovery: p.endpoints._tag === "Discovery",
            docs: p.docs
          }))
          continue
        }
        stdout.line(`${stdout.bold(p.id)} — ${p.title}`)
        stdout.line(`  needs:    ${required(p).join(", ")}`)
        const extra = optional(p)
        if (extra.length > 0) stdout.line(`  optional: ${extra.join(", ")}`)
        if (p.defaults.scopes.length > 0) stdout.line(`  scopes:   ${p.defaults.scopes.join(" ")} (default)`)
        for (const line of wrap(p.describe, Math.min(process.stdout.columns ?? 100, 100), "  ")) stdout.line(line)
        stdout.line("")
      }
      if (!context.json && Option.isNone(options.id)) {
        stdout.line("Example: devflow login --provider entra --tenant contoso.onmicrosoft.com --client-id <app id>")
      }
    })
  )
).pipe(Command.withDescription(Help.summaryOf("providers")))
