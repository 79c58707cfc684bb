/**
 * Where the token cache lives by default, per platform. Deliberately free of
 * Effect: the CLI's `devflow token` fast path reads it before loading anything
 * else, so both agree on one definition.
 *
 * @since 0.1.0
 */
import * as os from "node:os"
import * as path from "node:path"

/**
 * What the default cache directory depends on: the platform, the environment and the home directory.
 *
 * @since 0.1.0
 * @category models
 */
export interface Environment {
  readonly platform: NodeJS.Platform
  readonly env: Readonly<Record<string, string | undefined>>
  readonly home: string
}

/**
 * This process's Environment.
 *
 * @since 0.1.0
 * @category constructors
 */
export const currentEnvironment = (): Environment => ({
  platform: process.platform,
  env: process.env,
  home: os.homedir()
})

/**
 * The per-user cache directory each platform designates for data that can be
 * recreated (here: by signing in again).
 *
 * @since 0.1.0
 * @category utils
 */
export const defaultDirectory = ({ env, home, platform }: Environment): string => {
  switch (platform) {
    case "win32": {
      const local = env.LOCALAPPDATA
      return path.win32.join(
        local !== undefined && local !== "" ? local : path.win32.join(home, "AppData", "Local"),
        "devflow"
      )
    }
    case "darwin":
      return path.posix.join(home, "Library", "Caches", "devflow")
    default: {
      // XDG Base Directory: "If $XDG_CACHE_HOME is either not set or empty, a default equal to
      // $HOME/.cache should be used"; relative paths are invalid and must be ignored.
      const xdg = env.XDG_CACHE_HOME
      const base = xdg !== undefined && path.posix.isAbsolute(xdg) ? xdg : path.posix.join(home, ".cache")
      return path.posix.join(base, "devflow")
    }
  }
}
