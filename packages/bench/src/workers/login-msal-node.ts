/**
 * Signs in once with msal-node's device code flow and keeps the tokens in a
 * file cache (B1's warm cache). The server approves on its own.
 */
import { PublicClientApplication } from "@azure/msal-node"
import { fileCachePlugin } from "../clients/msalCache.js"
import { configuration } from "../clients/msalNode.js"
import type { Endpoints } from "../clients/types.js"

const job = JSON.parse(process.argv[2]!) as { endpoints: Endpoints; cacheFile: string; scopes: Array<string> }
const pca = new PublicClientApplication(
  configuration(job.endpoints, { cache: { cachePlugin: fileCachePlugin(job.cacheFile) } })
)
const result = await pca.acquireTokenByDeviceCode({ scopes: job.scopes, deviceCodeCallback: () => {} })
process.stdout.write(
  `${JSON.stringify({ type: "result", ok: result !== null, account: result?.account?.homeAccountId })}\n`
)
