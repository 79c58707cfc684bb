/**
 * DPoP (RFC 9449) end to end: @devflow/core over the real undici client
 * against oidc-provider on 127.0.0.1, in both of its nonce modes. The server
 * checks every proof and the access token's `cnf.jkt` at `/me` (userinfo).
 */
import { ClientConfig, Dpop, PublicClient, ServerMetadata, TokenCache } from "@devflow/core"
import { type DevServer, startDevServer } from "@devflow/dev-server"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import type * as HttpOptions from "../src/HttpOptions.js"
import * as NodeOAuthHttp from "../src/NodeOAuthHttp.js"

const direct: HttpOptions.ProxyOptions = { httpProxy: "", httpsProxy: "", noProxy: "" }
const SCOPES = ["openid", "profile", "offline_access"]

const devServer = (requireNonce: boolean) =>
  Effect.acquireRelease(
    Effect.promise(() => startDevServer({ pollIntervalSeconds: 1, dpop: { requireNonce } })),
    (server) => Effect.promise(() => server.close())
  )

const publicClient = (server: DevServer) =>
  Effect.gen(function*() {
    const metadata = yield* ServerMetadata.discover(server.issuer)
    const config = yield* ClientConfig.make({
      clientId: server.clientId,
      endpoints: { deviceAuthorization: metadata.deviceAuthorizationEndpoint, token: metadata.tokenEndpoint },
      scopes: SCOPES,
      dpop: "required"
    })
    return { app: yield* PublicClient.make({ config }), algorithms: metadata.dpopSigningAlgValuesSupported }
  })

/** GET /me (OIDC userinfo) with a DPoP-bound token and a proof of the current key. */
const userinfo = (server: DevServer, accessToken: Redacted.Redacted<string>) =>
  Effect.gen(function*() {
    const client = yield* Effect.flatMap(HttpClient.HttpClient, Dpop.withAccessToken(accessToken))
    const response = yield* client.get(`${server.issuer}/me`)
    return { status: response.status, body: (yield* response.json) as Record<string, unknown> }
  })

for (const requireNonce of [false, true]) {
  describe(`DPoP against oidc-provider (${requireNonce ? "nonces required" : "no nonces"})`, () => {
    it.scopedLive(
      "sign-in, userinfo and refresh with one key; the token without its proof and a refresh with another key are refused",
      () =>
        Effect.gen(function*() {
          const server = yield* devServer(requireNonce)
          const { algorithms, app } = yield* publicClient(server)
          // RFC 9449 §5.1: oidc-provider lists Ed25519, which devflow prefers
          const alg = Dpop.chooseAlgorithm(algorithms)
          assert.include(["EdDSA", "Ed25519"], alg)
          const key = yield* Dpop.generateKeyPair(alg)
          const other = yield* Dpop.generateKeyPair()
          const withKey = Dpop.layerKey(key)
          // the server's mode, as a proof without a nonce meets it (RFC 9449 §8)
          const http = yield* HttpClient.HttpClient
          const probe = yield* http.execute(
            HttpClientRequest.post(server.tokenEndpoint).pipe(
              HttpClientRequest.setHeader(
                "dpop",
                yield* Dpop.proof(key, { method: "POST", url: server.tokenEndpoint })
              ),
              HttpClientRequest.bodyUrlParams({
                grant_type: "refresh_token",
                refresh_token: "x",
                client_id: server.clientId
              })
            )
          )
          assert.strictEqual(((yield* probe.json) as { error?: string }).error === "use_dpop_nonce", requireNonce)

          const signedIn = yield* app.acquireTokenWithDeviceCode({}, {
            onCode: (code) => Effect.promise(() => server.approve(code.userCode))
          }).pipe(Effect.provide(withKey))
          assert.strictEqual(signedIn.tokenType, "DPoP")

          const me = yield* userinfo(server, signedIn.accessToken).pipe(Effect.provide(withKey))
          assert.strictEqual(me.status, 200, JSON.stringify(me.body))
          assert.strictEqual(me.body.sub, "devflow-user")

          // RFC 9449 §7.1: the bound token is refused without its proof, as Bearer or as DPoP
          for (const scheme of ["Bearer", "DPoP"]) {
            const bare = yield* http.execute(
              HttpClientRequest.get(`${server.issuer}/me`).pipe(
                HttpClientRequest.setHeader("authorization", `${scheme} ${Redacted.value(signedIn.accessToken)}`)
              )
            )
            // oidc-provider: 401 invalid_token for Bearer, 400 invalid_request for DPoP without a proof
            assert.include([400, 401], bare.status, scheme)
          }
          // ... and with a proof of another key
          const stolen = yield* userinfo(server, signedIn.accessToken).pipe(Effect.provide(Dpop.layerKey(other)))
          assert.strictEqual(stolen.status, 401)

          // RFC 9449 §5: the refresh token is bound to the sign-in's key
          const refreshed = yield* app.acquireTokenSilent(SCOPES, signedIn.account, { forceRefresh: true }).pipe(
            Effect.provide(withKey)
          )
          assert.strictEqual(refreshed.source, "refresh")
          assert.strictEqual(refreshed.tokenType, "DPoP")
          const again = yield* userinfo(server, refreshed.accessToken).pipe(Effect.provide(withKey))
          assert.strictEqual(again.status, 200)
          // A refresh proves with the key kept with the tokens, whatever key the caller holds; with
          // the kept key gone, the caller's other key proves, and the server refuses the bound token.
          // Last: the refusal (invalid_grant) makes devflow drop the refresh token from the cache.
          yield* Effect.flatMap(
            TokenCache.TokenCache,
            (cache) => cache.update((content) => ({ ...content, dpopKeys: new Map() }))
          )
          const refused = yield* app.acquireTokenSilent(SCOPES, signedIn.account, { forceRefresh: true }).pipe(
            Effect.provide(Dpop.layerKey(other)),
            Effect.flip
          )
          assert.strictEqual(refused._tag, "InteractionRequired", refused.message)
          assert.include(refused.message, "invalid_grant")
        }).pipe(Effect.provide(Layer.merge(NodeOAuthHttp.layer({ proxy: direct }), TokenCache.layerMemory))),
      { timeout: 60_000 }
    )
  })
}
