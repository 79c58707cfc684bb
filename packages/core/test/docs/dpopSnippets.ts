/**
 * The library snippets of docs/dpop.md, each block of the page verbatim
 * between `// snippet: <name>` and `// end` (test/docs/dpop.test.ts checks the
 * page against this file): so they are type-checked with the tests, and run.
 */
import { TokenCache } from "@devflow/core"
import { TestKit, TestKitCache } from "@devflow/core/testing"
import { Effect, Layer } from "effect"
// snippet: sign-in
import { type ClientConfig, Dpop, PublicClient } from "@devflow/core"
import { HttpClient, HttpClientRequest } from "@effect/platform"

// Sign in once with DPoP: the tokens are bound to a key of this sign-in, kept with them.
export const signIn = (config: ClientConfig.ClientConfig) =>
  Effect.gen(function*() {
    const client = yield* PublicClient.make({ config: { ...config, dpop: true } })
    return yield* client.acquireTokenWithDeviceCode({}, { onCode: (code) => Effect.logInfo(code.message) })
  })

// Later, in any process: a silent token (a refresh, when due, proves with the kept key), then a
// resource request with `Authorization: DPoP …` and a fresh proof of that key.
export const callApi = (config: ClientConfig.ClientConfig, url: string) =>
  Effect.gen(function*() {
    const client = yield* PublicClient.make({ config: { ...config, dpop: true } })
    const [account] = yield* client.getAccounts
    if (account === undefined) return yield* Effect.fail("sign in first")
    const token = yield* client.acquireTokenSilent([], account)
    const key = yield* client.dpopKey(account)
    if (key._tag === "None") return yield* Effect.fail("the tokens are not DPoP-bound")
    const http = yield* Dpop.withAccessToken(yield* HttpClient.HttpClient, token.accessToken).pipe(
      Effect.provide(Dpop.layerKey(key.value))
    )
    return yield* http.execute(HttpClientRequest.get(url))
  })

// Or one proof for a request you send yourself (RFC 9449 §7: htm, htu and ath of this token).
export const oneProof = (key: Dpop.KeyPair, accessToken: string) =>
  Dpop.proof(key, { method: "GET", url: "https://api.example/x", accessToken })
// end

/** The snippets against TestKit's server with DPoP: a sign-in, then a call (the test verifies its proof). */
export const runAll = (apiUrl: string) => {
  const server = TestKitCache.refreshServer()
  const script = { ...server.script, other: () => TestKit.text("{}", "application/json") }
  return Effect.gen(function*() {
    const config = yield* TestKit.config()
    const signedIn = yield* signIn(config)
    const response = yield* callApi(config, apiUrl)
    const requests = yield* Effect.flatMap(TestKit.FakeServer, (s) => s.requests)
    const cache = yield* Effect.flatMap(TokenCache.TokenCache, (c) => c.read)
    return { signedIn, status: response.status, requests, cache }
  }).pipe(Effect.provide(Layer.merge(TokenCache.layerMemory, TestKit.layer(script, { dpop: {} }))))
}
