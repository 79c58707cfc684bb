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
import { UsageError } from "../CliError.js"
import * as Flags from "../Flags.js"
import * as Help from "../Help.js"
import * as DidYouMean from "../internal/didYouMean.js"
import * as ProviderList from "../internal/providerList.js"
import * as Output from "../Output.js"
import * as Root from "../Root.js"

/**
 * @since 0.1.0
 * @category commands
 */
export const providers = Command.make(
  "providers",
  {
    ...Flags.of("providers"),
    id: Args.text({ name: "id" }).pipe(
      Args.withDescription(Help.COMMANDS.providers.args?.[0]?.help ?? ""),
      Args.optional
    )
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
              message: `Unknown provider ${JSON.stringify(id.slice(0, 60))}${
                guess === undefined ? "" : `: did you mean ${guess}?`
              }`,
              hint: "`devflow providers` lists them."
            })
          )
        }
      })
      ProviderList.print(ids, { json: context.json, all: Option.isNone(options.id) }, stdout)
    })
  )
).pipe(Command.withDescription(Help.summaryOf("providers")))
