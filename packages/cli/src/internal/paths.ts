/**
 * The token cache's default directory, from `@devflow/cache-file/CacheLocation`
 * (Effect-free, so `devflow token`'s fast path can load it before anything else).
 * @internal
 */
import * as CacheLocation from "@devflow/cache-file/CacheLocation"
import * as os from "node:os"

/** @internal */
export const defaultCacheDirectory = (
  platform: NodeJS.Platform = process.platform,
  env: Readonly<Record<string, string | undefined>> = process.env,
  home: string = os.homedir()
): string => CacheLocation.defaultDirectory({ platform, env, home })
