/**
 * Secret canaries, end to end: a confidential client (its secret a canary)
 * signs in at a real OpenID provider (oidc-provider on 127.0.0.1) through the
 * real undici client, gets a token silently from the cache, refreshes it, is
 * refused with a wrong secret, is denied, lets a code expire. The device
 * code and the tokens are the server's own: they are read from the results
 * (the one place they may appear) and become the canaries searched for in
 * every captured log line (minimum level All), span, error, event and result.
 */
import { ClientConfig, DeviceFlow, PublicClient, ServerMetadata, TokenCache } from "@devflow/core"
import { type DevServer, type DevServerClient, startDevServer } from "@devflow/dev-server"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import { type Canaries, type Capture, findLeaks, formatLeaks, makeCapture } from "../../core/test/canaryKit.js"
import type * as HttpOptions from "../src/HttpOptions.js"
import * as NodeOAuthHttp from "../src/NodeOAuthHttp.js"

const direct: HttpOptions.ProxyOptions = { httpProxy: "", httpsProxy: "", noProxy: "" }
const ClientLive = NodeOAuthHttp.layer({ proxy: direct })

const CLIENT_SECRET = "CS-CANARY-e2e-3a91c07b"
const SCOPES = ["openid", "profile", "offline_access"]

const devServer = (clients: ReadonlyArray<DevServerClient>, options: { readonly deviceCodeTtlSeconds?: number } = {}) =>
  Effect.acquireRelease(
    Effect.promise(() => startDevServer({ pollIntervalSeconds: 1, clients, ...options })),
    (server) => Effect.promise(() => server.close())
  )

const configFor = (server: DevServer, clientId: string, secret: string, method: ClientConfig.ClientAuthMethod) =>
  Effect.gen(function*() {
    const metadata = yield* ServerMetadata.discover(server.issuer)
    return yield* ClientConfig.make({
      clientId,
      clientSecret: Redacted.make(secret),
      clientAuthMethod: method,
      endpoints: { deviceAuthorization: metadata.deviceAuthorizationEndpoint, token: metadata.tokenEndpoint },
      scopes: SCOPES
    })
  })

/** What the run revealed of the server's secrets, to search for afterwards. */
interface Seen {
  deviceCodes: Array<string>
  accessTokens: Array<string>
  refreshTokens: Array<string>
  idTokens: Array<string>
}

const remember = (seen: Seen, result: {
  readonly accessToken: Redacted.Redacted<string>
  readonly refreshToken?: Option.Option<Redacted.Redacted<string>>
  readonly idToken: Option.Option<Redacted.Redacted<string>>
}) => {
  seen.accessTokens.push(Redacted.value(result.accessToken))
  if (result.refreshToken !== undefined && Option.isSome(result.refreshToken)) {
    seen.refreshTokens.push(Redacted.value(result.refreshToken.value))
  }
  if (Option.isSome(result.idToken)) seen.idTokens.push(Redacted.value(result.idToken.value))
}

const assertClean = (capture: Capture, seen: Seen, clientId: string) => {
  const sets: Array<Canaries> = []
  const n = Math.max(
    seen.deviceCodes.length,
    seen.accessTokens.length,
    seen.refreshTokens.length,
    seen.idTokens.length,
    1
  )
  for (let i = 0; i < n; i++) {
    sets.push({
      deviceCode: seen.deviceCodes[i] ?? "\u0000none",
      accessToken: seen.accessTokens[i] ?? "\u0000none",
      refreshToken: seen.refreshTokens[i] ?? "\u0000none",
      idToken: seen.idTokens[i] ?? "\u0000none",
      clientSecret: CLIENT_SECRET
    })
  }
  for (const value of [...seen.deviceCodes, ...seen.accessTokens, ...seen.refreshTokens, ...seen.idTokens]) {
    assert.isAtLeast(value.length, 16, "a real secret is long enough to search for")
  }
  const leaks = sets.flatMap((set) => findLeaks(capture.texts, set, { clientId }))
  assert.strictEqual(leaks.length, 0, `${leaks.length} leaks:\n${formatLeaks(leaks.slice(0, 10))}`)
}

/** Sign in (approving over HTTP once the client polls), recording every event. */
const signIn =
  (capture: Capture, seen: Seen, server: DevServer, options: { readonly deny?: boolean } = {}) =>
  (client: PublicClient.PublicClient) =>
    Effect.exit(client.acquireTokenWithDeviceCode({}, {
      onCode: (code) =>
        Effect.sync(() => {
          seen.deviceCodes.push(Redacted.value(code.deviceCode))
          capture.record("code", code)
        }),
      onEvent: (event) =>
        Effect.zipRight(
          Effect.logDebug("event", event),
          event._tag === "Pending" && event.attempt === 1
            ? Effect.promise(() =>
              server.approve(event.session.userCode, { accountId: "canary user", deny: options.deny ?? false })
            )
            : Effect.void
        ).pipe(Effect.tap(() => capture.record("event", event)))
    })).pipe(Effect.tap((exit) => capture.record("sign-in", exit)))

describe.concurrent("secret canaries end to end (oidc-provider, undici)", () => {
  for (const method of ["client_secret_post", "client_secret_basic"] as const) {
    it.scopedLive(`${method}: sign-in, silent from cache, refresh, wrong secret, denial: no secret in any output`, () =>
      Effect.gen(function*() {
        const clientId = `canary-${method}`
        const server = yield* devServer([{
          client_id: clientId,
          client_secret: CLIENT_SECRET,
          token_endpoint_auth_method: method
        }])
        const capture = makeCapture()
        const seen: Seen = { deviceCodes: [], accessTokens: [], refreshTokens: [], idTokens: [] }
        yield* Effect.gen(function*() {
          const config = yield* configFor(server, clientId, CLIENT_SECRET, method)
          capture.record("config", config)
          const client = yield* PublicClient.make({ config })
          const signedIn = yield* signIn(capture, seen, server)(client)
          assert.isTrue(Exit.isSuccess(signedIn), String(signedIn))
          if (Exit.isSuccess(signedIn)) {
            remember(seen, signedIn.value)
            yield* Effect.logInfo("signed in", signedIn.value)
          }
          const [account] = yield* client.getAccounts
          capture.record("account", account)
          const cached = yield* client.acquireTokenSilent([], account!)
          capture.record("cached", cached)
          assert.strictEqual(cached.source, "cache")
          const refreshed = yield* client.acquireTokenSilent([], account!, { forceRefresh: true })
          capture.record("refreshed", refreshed)
          assert.strictEqual(refreshed.source, "refresh")
          remember(seen, refreshed)
          const cache = yield* Effect.flatMap(TokenCache.TokenCache, (c) => c.read)
          seen.refreshTokens.push(...[...cache.refreshTokens.values()].map((e) => Redacted.value(e.secret)))
          capture.record("cache", cache)

          // the same client with a wrong secret: invalid_client at the device endpoint
          const wrong = yield* Effect.exit(
            Effect.flatMap(
              configFor(server, clientId, `${CLIENT_SECRET}-wrong`, method),
              (c) => DeviceFlow.acquireToken(c, {}, { onCode: () => {} })
            )
          )
          capture.record("wrong secret", wrong)
          if (Exit.isFailure(wrong)) yield* Effect.logError("wrong secret", wrong.cause)
          assert.isTrue(Exit.isFailure(wrong))

          // a denial
          const denied = yield* signIn(capture, seen, server, { deny: true })(client)
          if (Exit.isFailure(denied)) yield* Effect.logWarning("denied", denied.cause)
          assert.isTrue(Exit.isFailure(denied))
        }).pipe(Effect.provide(Layer.merge(ClientLive, TokenCache.layerMemory)), Effect.provide(capture.layer))
        assert.isAbove(capture.spans(), 5)
        assert.isAbove(capture.logLines(), 3)
        assertClean(capture, seen, clientId)
      }))
  }

  it.scopedLive("a code that expires unapproved, as an event stream: no secret in any output", () =>
    Effect.gen(function*() {
      const clientId = "canary-expiry"
      const server = yield* devServer(
        [{ client_id: clientId, client_secret: CLIENT_SECRET, token_endpoint_auth_method: "client_secret_post" }],
        { deviceCodeTtlSeconds: 2 }
      )
      const capture = makeCapture()
      const seen: Seen = { deviceCodes: [], accessTokens: [], refreshTokens: [], idTokens: [] }
      const exit = yield* Effect.flatMap(
        configFor(server, clientId, CLIENT_SECRET, "client_secret_post"),
        (config) =>
          DeviceFlow.events(config).pipe(
            Stream.tap((event) =>
              Effect.sync(() => {
                if (event._tag === "CodeIssued") seen.deviceCodes.push(Redacted.value(event.code.deviceCode))
                capture.record("event", event)
              })
            ),
            Stream.runDrain,
            Effect.exit
          )
      ).pipe(Effect.provide(ClientLive), Effect.provide(capture.layer))
      capture.record("exit", exit)
      assert.isTrue(Exit.isFailure(exit))
      assertClean(capture, seen, clientId)
    }))
})
