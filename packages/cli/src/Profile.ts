/**
 * Profiles: `devflow login` remembers the non-secret settings of its last
 * sign-in under a name (`--profile`, default `default`) in
 * `<cache dir>/profiles.json` — provider, authority/issuer, tenant, audience,
 * region, start URL, client id, scopes, the endpoints they resolved to, and
 * the account that signed in — so that `devflow token` and `devflow logout`
 * need no flags. Never a token or a secret. See docs/cli.md#profiles.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import { LocalError } from "./CliError.js"
import * as ProfileFile from "./internal/profileFile.js"

/**
 * @since 0.1.0
 * @category models
 */
export type Profile = ProfileFile.Profile

/**
 * @since 0.1.0
 * @category models
 */
export type Inputs = ProfileFile.Inputs

/**
 * @since 0.1.0
 * @category models
 */
export type ProfilesFile = ProfileFile.ProfilesFile

/**
 * The profiles in `directory`; none when there is no file. An unreadable file
 * is reported as a warning and counts as empty (the next login replaces it).
 *
 * @since 0.1.0
 * @category constructors
 */
export const load = (directory: string): Effect.Effect<ProfilesFile> =>
  Effect.suspend(() => {
    const read = ProfileFile.readSync(directory)
    if (read === undefined) return Effect.succeed(ProfileFile.empty)
    if ("invalid" in read) {
      return Effect.as(
        Effect.logWarning(`The profiles file ${ProfileFile.location(directory)} ${read.invalid}: ignoring it`),
        ProfileFile.empty
      )
    }
    return Effect.succeed(read)
  })

/**
 * Store `profile` under `name` (replacing it), keeping the other profiles.
 *
 * @since 0.1.0
 * @category utils
 */
export const save = (directory: string, name: string, profile: Profile): Effect.Effect<void, LocalError> =>
  Effect.flatMap(load(directory), (file) =>
    Effect.try({
      try: () => ProfileFile.writeSync(directory, { version: 1, profiles: { ...file.profiles, [name]: profile } }),
      catch: (cause) =>
        new LocalError({
          message: `Signed in, but the profile could not be saved to ${ProfileFile.location(directory)}: ${
            cause instanceof Error ? cause.message : String(cause)
          }`,
          hint: "Later commands need the server flags again (or fix the cache directory's permissions).",
          cause
        })
    }))

/**
 * @since 0.1.0
 * @category utils
 */
export const location: (directory: string) => string = ProfileFile.location

/**
 * @since 0.1.0
 * @category utils
 */
export const find = ProfileFile.find

/**
 * @since 0.1.0
 * @category utils
 */
export const inputsFrom = ProfileFile.inputsFrom

/**
 * @since 0.1.0
 * @category constants
 */
export const NAME_PATTERN: RegExp = ProfileFile.PROFILE_NAME
