import type { ICachePlugin, TokenCacheContext } from "@azure/msal-node"
import * as fs from "node:fs"

/**
 * The file cache plugin from msal-node's documentation: read the file before
 * each cache access, write it back after one that changed the cache.
 * (msal-node ships no persistence of its own; @azure/msal-node-extensions
 * adds locking and OS keychains on top of this same pattern.)
 */
export const fileCachePlugin = (file: string): ICachePlugin => ({
  beforeCacheAccess: async (context: TokenCacheContext) => {
    try {
      context.tokenCache.deserialize(await fs.promises.readFile(file, "utf8"))
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error
    }
  },
  afterCacheAccess: async (context: TokenCacheContext) => {
    if (context.cacheHasChanged) await fs.promises.writeFile(file, context.tokenCache.serialize(), { mode: 0o600 })
  }
})
