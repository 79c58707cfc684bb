/**
 * The token cache's default directory, computed without loading
 * `@devflow/cache-file` (which brings Effect and Schema): `devflow token`'s
 * fast path needs it before anything else. Must agree with
 * `FileTokenCache.defaultDirectoryFor`; test/fastPath.test.ts checks that.
 * @internal
 */
import * as os from "node:os"
import * as path from "node:path"

/** @internal */
export const defaultCacheDirectory = (
  platform: NodeJS.Platform = process.platform,
  env: Readonly<Record<string, string | undefined>> = process.env,
  home: string = os.homedir()
): string => {
  switch (platform) {
    case "win32": {
      const local = env.LOCALAPPDATA
      return path.win32.join(local !== undefined && local !== "" ? local : path.win32.join(home, "AppData", "Local"), "devflow")
    }
    case "darwin":
      return path.posix.join(home, "Library", "Caches", "devflow")
    default: {
      const xdg = env.XDG_CACHE_HOME
      const base = xdg !== undefined && path.posix.isAbsolute(xdg) ? xdg : path.posix.join(home, ".cache")
      return path.posix.join(base, "devflow")
    }
  }
}
