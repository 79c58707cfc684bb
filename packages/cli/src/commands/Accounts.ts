/**
 * `devflow accounts`: what the cache holds. It sends no request.
 *
 * @since 0.1.0
 */
import * as FileTokenCache from "@devflow/cache-file/FileTokenCache"
import * as Command from "@effect/cli/Command"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Flags from "../Flags.js"
import * as Help from "../Help.js"
import * as AccountList from "../internal/accountList.js"
import * as FlagTable from "../internal/flagTable.js"
import * as Output from "../Output.js"
import * as Profile from "../Profile.js"
import * as Root from "../Root.js"
import * as Target from "../Target.js"

/**
 * @since 0.1.0
 * @category commands
 */
export const accounts = Command.make(
  "accounts",
  Flags.of("accounts"),
  Root.handle((options, context) => {
    const directory = Target.directoryOf(options.cacheDir)
    return Effect.gen(function*() {
      yield* Target.checkDirectory(options.cacheDir)
      const cache = yield* FileTokenCache.make({
        directory,
        secretStore: Option.getOrUndefined(options.secretStore),
        fileStoreSetting: FlagTable.FILE_STORE_SETTING
      })
      const content = yield* cache.read
      const listed = AccountList.list(content, yield* Profile.load(directory))
      AccountList.print(listed, { json: context.json, location: cache.location }, {
        stdout: Output.stdout(),
        stderr: Output.stderr()
      })
    })
  })
).pipe(Command.withDescription(Help.summaryOf("accounts")))
