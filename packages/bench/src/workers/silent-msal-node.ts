/**
 * B4, msal-node side: the same 10,000 access tokens (1,000 accounts × 10
 * resources) in msal-node's own cache format, deserialized into a
 * PublicClientApplication, then `acquireTokenSilent` cache hits, in process.
 */
import { PublicClientApplication } from "@azure/msal-node"
import { configuration } from "../clients/msalNode.js"
import { ACCOUNTS, emitResult, resource, RESOURCES, type SilentJob, timeCalls } from "./silentCommon.js"

const job = JSON.parse(process.argv[2]!) as SilentJob
const accountCount = job.accounts ?? ACCOUNTS
// No request is sent: every call must be a cache hit. The authority's
// metadata is given in the configuration, so nothing is discovered either.
const host = "127.0.0.1:8443"
const issuer = `https://${host}/bench`
const endpoints = {
  issuer,
  deviceAuthorization: `${issuer}/device_authorization`,
  token: `${issuer}/token`,
  clientId: "bench-client",
  scopes: ["openid", "profile", "offline_access"]
}
const realm = "bench"
const nowS = Math.floor(Date.now() / 1000)

/** msal-node's serialized cache, as its own `serialize()` writes it (keys and fields checked against a real sign-in). */
export const msalCache = () => {
  const cache = {
    Account: {} as Record<string, unknown>,
    IdToken: {} as Record<string, unknown>,
    AccessToken: {} as Record<string, unknown>,
    RefreshToken: {} as Record<string, unknown>,
    AppMetadata: {}
  }
  for (let i = 0; i < accountCount; i++) {
    const home = `user-${i}`
    cache.Account[`${home}-${host}-${realm}`] = {
      home_account_id: home,
      environment: host,
      realm,
      local_account_id: home,
      username: `${home}@bench.test`,
      authority_type: "Generic",
      name: home,
      tenantProfiles: [
        JSON.stringify({
          tenantId: realm,
          localAccountId: home,
          name: home,
          username: `${home}@bench.test`,
          isHomeTenant: false
        })
      ]
    }
    const idClaims = Buffer.from(
      JSON.stringify({ iss: issuer, sub: home, aud: "bench-client", iat: nowS, exp: nowS + 3600, tid: realm })
    )
      .toString("base64url")
    cache.IdToken[`${home}-${host}-idtoken-bench-client-${realm}--`] = {
      home_account_id: home,
      environment: host,
      credential_type: "IdToken",
      client_id: "bench-client",
      secret: `eyJhbGciOiJSUzI1NiJ9.${idClaims}.c2ln`,
      realm
    }
    for (let r = 0; r < RESOURCES; r++) {
      const target = `${resource(r)} openid profile offline_access`
      cache.AccessToken[`${home}-${host}-accesstoken-bench-client-${realm}-${target}-`] = {
        home_account_id: home,
        environment: host,
        credential_type: "AccessToken",
        client_id: "bench-client",
        secret: `access-token-${i}-${r}-${"x".repeat(1_000)}`,
        realm,
        target,
        cached_at: String(nowS),
        expires_on: String(nowS + 3600),
        extended_expires_on: String(nowS + 3600),
        token_type: "Bearer"
      }
    }
    cache.RefreshToken[`${home}-${host}-refreshtoken-bench-client---`] = {
      home_account_id: home,
      environment: host,
      credential_type: "RefreshToken",
      client_id: "bench-client",
      secret: `refresh-token-${i}-${"y".repeat(500)}`
    }
  }
  return JSON.stringify(cache)
}

const main = async () => {
  const pca = new PublicClientApplication(configuration(endpoints))
  pca.getTokenCache().deserialize(msalCache())
  const accounts = await pca.getAllAccounts()
  if (accounts.length !== accountCount) {
    throw new Error(`expected ${accountCount} accounts, msal-node sees ${accounts.length}`)
  }
  const byId = new Map(accounts.map((a) => [a.homeAccountId, a]))
  const inProgram = await timeCalls(job, async (pick) => {
    const account = byId.get(`user-${pick(accountCount)}`)!
    const result = await pca.acquireTokenSilent({ account, scopes: [resource(pick(RESOURCES))] })
    if (result.fromCache !== true) throw new Error("expected a cache hit")
  })
  emitResult({ accessTokens: accountCount * RESOURCES, inProgram })
}

main().catch((error: unknown) => {
  console.error(error)
  process.exit(1)
})
