/**
 * B1, msal-node side: what `devflow token` does, written with msal-node —
 * open the file cache, take the one account, `acquireTokenSilent`, print the
 * access token. The authority's metadata is in the configuration, so a cache
 * hit sends no request.
 */
import { PublicClientApplication } from "@azure/msal-node"
import { fileCachePlugin } from "../clients/msalCache.js"
import { configuration } from "../clients/msalNode.js"
import type { Endpoints } from "../clients/types.js"

const job = JSON.parse(process.argv[2]!) as { endpoints: Endpoints; cacheFile: string; scopes: Array<string> }
const pca = new PublicClientApplication(
  configuration(job.endpoints, { cache: { cachePlugin: fileCachePlugin(job.cacheFile) } })
)
const [account] = await pca.getAllAccounts()
if (account === undefined) {
  console.error("no account in the cache")
  process.exit(4)
}
const result = await pca.acquireTokenSilent({ account, scopes: job.scopes })
if (!result.fromCache) {
  console.error("not a cache hit")
  process.exit(5)
}
process.stdout.write(`${result.accessToken}\n`)
