/**
 * Secret canaries, unit level: flows against the TestKit server with canary
 * values for the access token, refresh token, id_token, device code and
 * client secret — successes, retries, servers that echo secrets back in
 * their error text, malformed answers that carry tokens, silent refreshes —
 * with every log line (minimum level: All), span, error, event and result
 * captured. No canary may appear in any of it.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import * as CacheContent from "../src/CacheContent.js"
import type * as ClientConfig from "../src/ClientConfig.js"
import * as DeviceFlow from "../src/DeviceFlow.js"
import * as Dpop from "../src/Dpop.js"
import * as DpopCrypto from "../src/internal/dpop.js"
import * as PublicClient from "../src/PublicClient.js"
import * as TestKit from "../src/TestKit.js"
import * as TokenCache from "../src/TokenCache.js"
import { canaries, type Capture, findLeaks, formatLeaks, makeCapture } from "./canaryKit.js"
import { runVirtual } from "./virtual.js"

const C = canaries(TestKit.ISSUER, TestKit.CLIENT_ID)

const code = (fields: Readonly<Record<string, unknown>> = {}) =>
  TestKit.deviceCode({ device_code: C.deviceCode, interval: 5, ...fields })
const tokens = (fields: Readonly<Record<string, unknown>> = {}) =>
  TestKit.tokens({ access_token: C.accessToken, refresh_token: C.refreshToken, id_token: C.idToken, ...fields })

/** what a server could echo of each request: the secrets that request carried */
const echoAtDevice = `client_id=${TestKit.CLIENT_ID} client_secret=${C.clientSecret}`
const echo = `device_code=${C.deviceCode} client_secret=${C.clientSecret}`
const echoAtRefresh = `refresh_token=${C.refreshToken} client_secret=${C.clientSecret}`

const configWith = (
  method: ClientConfig.ClientAuthMethod = "client_secret_post",
  wire: ClientConfig.WireFormat = "oauth"
) => TestKit.config({ clientSecret: Redacted.make(C.clientSecret), clientAuthMethod: method, wire })

/** Run a flow as a stream, in virtual time, recording every event and the exit. */
const flow = (capture: Capture, script: TestKit.Script, config = configWith()) =>
  Effect.gen(function*() {
    const events: Array<DeviceFlow.DeviceFlowEvent> = []
    const exit = yield* runVirtual(
      Effect.flatMap(config, (c) =>
        DeviceFlow.events(c).pipe(
          Stream.tap((event) =>
            Effect.zipRight(
              Effect.logDebug("device flow event", event),
              Effect.sync(() => {
                events.push(event)
                capture.record("event", event)
              })
            )
          ),
          Stream.runCollect,
          Effect.map(Chunk.toReadonlyArray)
        ))
    )
    capture.record("exit", exit)
    if (Exit.isFailure(exit)) yield* Effect.logError("flow failed", exit.cause)
    // the server did receive the secrets: the capture is not vacuously clean
    const requests = yield* Effect.flatMap(TestKit.FakeServer, (s) => s.requests)
    capture.record("requests (not output)", requests.length)
    return { exit, events, requests }
  }).pipe(Effect.provide(TestKit.layer(script)), Effect.provide(capture.layer))

const assertClean = (capture: Capture) => {
  const leaks = findLeaks(capture.texts, C, { clientId: TestKit.CLIENT_ID })
  assert.deepStrictEqual(leaks.length, 0, `${leaks.length} leaks:\n${formatLeaks(leaks.slice(0, 10))}`)
  assert.isAbove(capture.texts.length, 0)
}

const scenarios: ReadonlyArray<
  readonly [name: string, script: TestKit.Script, config?: ReturnType<typeof configWith>]
> = [
  [
    "a full flow: pending, slow_down, 429, 503, a transport failure, then tokens (client_secret_post)",
    TestKit.sequence([
      TestKit.pending(),
      TestKit.slowDown(),
      TestKit.text("", "text/plain", { status: 429, headers: { "retry-after": "7" } }),
      TestKit.text("<html>down</html>", "text/html", { status: 503 }),
      TestKit.transportFailure(),
      tokens()
    ], code())
  ],
  [
    "the same with client_secret_basic",
    TestKit.sequence([TestKit.pending(), tokens()], code()),
    configWith("client_secret_basic")
  ],
  [
    "the device endpoint echoes the client secret in an OAuth error",
    TestKit.sequence(
      [tokens()],
      TestKit.oauthError("invalid_client", {
        status: 401,
        fields: { error_description: echoAtDevice, error_uri: `https://idp.example/e?${echoAtDevice}` }
      })
    )
  ],
  [
    "the token endpoint echoes the device code and the client secret (invalid_grant)",
    TestKit.sequence([
      TestKit.pending(),
      TestKit.oauthError("invalid_grant", {
        fields: { error_description: echo, error_uri: `https://idp.example/e?${echo}` }
      })
    ], code())
  ],
  [
    "the token endpoint echoes them with access_denied",
    TestKit.sequence([TestKit.oauthError("access_denied", { fields: { error_description: echo } })], code())
  ],
  [
    "the token endpoint echoes them with expired_token",
    TestKit.sequence([TestKit.oauthError("expired_token", { fields: { error_description: echo } })], code())
  ],
  [
    "the token endpoint echoes them in an error code of its own",
    TestKit.sequence([TestKit.oauthError(`bad_code_${C.deviceCode}`, { fields: { error_description: echo } })], code())
  ],
  [
    "server_error echoing them until the client gives up",
    TestKit.sequence([TestKit.oauthError("server_error", { status: 500, fields: { error_description: echo } })], code())
  ],
  [
    "AWS SSO-OIDC: an exception message echoing them",
    TestKit.sequence([
      TestKit.json({ __type: "InvalidClientException", message: echo }, { status: 400 })
    ], code()),
    configWith("client_secret_post", "aws-sso-oidc")
  ],
  [
    "a success missing token_type, carrying the tokens",
    TestKit.sequence([tokens({ token_type: undefined })], code())
  ],
  [
    "access_token as an object holding the token",
    TestKit.sequence([tokens({ access_token: { value: C.accessToken } })], code())
  ],
  [
    "refresh_token as an array holding the token",
    TestKit.sequence([tokens({ refresh_token: [C.refreshToken] })], code())
  ],
  [
    "id_token that is not a JWT",
    TestKit.sequence([tokens({ id_token: `x${C.idToken}x.y` })], code())
  ],
  [
    "truncated JSON carrying the access token",
    TestKit.sequence([
      TestKit.text(`{"access_token":"${C.accessToken}","refresh_token":"${C.refreshToken}`, "application/json")
    ], code())
  ],
  [
    "an HTML page (HTTP 200) quoting the tokens",
    TestKit.sequence([
      TestKit.text(`<html><body>${C.accessToken} ${C.refreshToken} ${C.deviceCode}</body></html>`, "text/html")
    ], code())
  ],
  [
    "a form body that is not a token response, carrying the secrets",
    TestKit.sequence(
      [TestKit.text(`refresh_token=${C.refreshToken}&device_code=${C.deviceCode}`, "text/plain")],
      code()
    )
  ],
  [
    "a redirect whose location carries the device code",
    TestKit.sequence([
      TestKit.text("", "text/plain", {
        status: 302,
        headers: { location: `https://evil.example/cb?device_code=${C.deviceCode}` }
      })
    ], code())
  ],
  [
    "a device authorization answer with a malformed device code field",
    TestKit.sequence([tokens()], code({ device_code: { code: C.deviceCode } }))
  ],
  [
    "a device authorization answer missing user_code, carrying the device code",
    TestKit.sequence([tokens()], code({ user_code: undefined }))
  ],
  [
    "the code expires (deadline), with the session in every event",
    TestKit.sequence([TestKit.pending()], code({ expires_in: 30 }))
  ]
]

describe("secret canaries: nothing a flow logs, traces, throws or emits carries a secret", () => {
  it.effect("the capture sees log lines at every level and spans", () =>
    Effect.gen(function*() {
      const capture = makeCapture()
      yield* flow(capture, TestKit.sequence([tokens()], code()))
      yield* Effect.logTrace("probe").pipe(Effect.provide(capture.layer))
      assert.isAbove(capture.logLines(), 1)
      // the HTTP client's spans, one per request
      assert.isAtLeast(capture.spans(), 2)
      assert.isTrue(capture.texts.some((t) => t.includes("http.request.method")))
    }))

  for (const [name, script, config] of scenarios) {
    it.effect(name, () =>
      Effect.gen(function*() {
        const capture = makeCapture()
        const { exit, requests } = yield* flow(capture, script, config)
        assertClean(capture)
        // the secrets did travel where they belong
        const sent = requests.map((r) => JSON.stringify(r.params) + JSON.stringify(r.headers)).join("")
        assert.isTrue(sent.includes(C.clientSecret) || sent.includes("authorization"), "the client secret was sent")
        if (Exit.isSuccess(exit)) {
          const result = exit.value.at(-1)
          assert(result?._tag === "Succeeded")
          assert.strictEqual(Redacted.value(result.result.accessToken), C.accessToken)
        }
      }))
  }

  it.effect("PublicClient: sign-in, cache hit, forced refresh, and a refresh refused with an echo", () =>
    Effect.gen(function*() {
      const capture = makeCapture()
      let refuse = false
      const script: TestKit.Script = {
        deviceAuthorization: () => code(),
        token: ({ params }) =>
          params.grant_type === "refresh_token"
            ? refuse
              ? TestKit.oauthError("invalid_grant", {
                fields: { error_description: `${echoAtRefresh} (${params.refresh_token})` }
              })
              : tokens({ access_token: C.accessToken, refresh_token: C.refreshToken })
            : tokens()
      }
      const program = Effect.gen(function*() {
        const client = yield* PublicClient.make({ config: yield* configWith() })
        const signedIn = yield* runVirtual(
          client.acquireTokenWithDeviceCode({}, { onCode: (c) => Effect.logInfo("code", c) })
        )
        capture.record("sign-in", signedIn)
        assert.isTrue(Exit.isSuccess(signedIn))
        const [account] = yield* client.getAccounts
        capture.record("account", account)
        const cached = yield* Effect.exit(client.acquireTokenSilent([], account!))
        capture.record("cached", cached)
        const refreshed = yield* runVirtual(client.acquireTokenSilent([], account!, { forceRefresh: true }))
        capture.record("refreshed", refreshed)
        assert.isTrue(Exit.isSuccess(refreshed) && refreshed.value.source === "refresh")
        refuse = true
        const refused = yield* runVirtual(client.acquireTokenSilent([], account!, { forceRefresh: true }))
        capture.record("refused", refused)
        if (Exit.isFailure(refused)) yield* Effect.logWarning("refresh refused", refused.cause)
        assert.isTrue(Exit.isFailure(refused))
        const content = yield* Effect.flatMap(TokenCache.TokenCache, (cache) => cache.read)
        // the cache holds them (Redacted): printing it must not show them
        capture.record("cache content", content)
        assert.isTrue(Option.isSome(Option.fromNullable(account)))
      })
      yield* program.pipe(
        Effect.provide(Layer.merge(TokenCache.layerMemory, TestKit.layer(script))),
        Effect.provide(capture.layer)
      )
      assertClean(capture)
    }))

  it.effect("DPoP: nothing of a private key in any log, span, event, saved session, error, result or printed cache", () =>
    Effect.gen(function*() {
      const capture = makeCapture()
      const privateParts: Array<string> = []
      const remember = (stored: Dpop.StoredKey | undefined) => {
        if (stored === undefined) return
        privateParts.push(Redacted.value(stored.secret), (JSON.parse(Redacted.value(stored.secret)) as { d: string }).d)
      }
      let refuse = false
      const script: TestKit.Script = {
        deviceAuthorization: () => code(),
        token: ({ params, headers }) =>
          params.grant_type === "refresh_token" && refuse
            // a server that quotes the proof it refused (it holds the public key only)
            ? TestKit.oauthError("invalid_dpop_proof", {
              fields: { error_description: `bad proof ${headers.dpop ?? ""}` }
            })
            : tokens()
      }
      const key = yield* Dpop.generateKeyPair()
      remember(yield* DpopCrypto.toStored(key))
      const program = Effect.gen(function*() {
        const config = yield* TestKit.config({ clientSecret: Redacted.make(C.clientSecret), dpop: true })
        // a flow whose every event carries the saved session, its key inside
        const events = yield* runVirtual(
          DeviceFlow.events(config).pipe(
            Stream.tap((event) => Effect.logDebug("device flow event", event)),
            Stream.runCollect,
            Effect.provide(Dpop.layerKey(key))
          )
        )
        capture.record("events", events)
        assert.isTrue(Exit.isSuccess(events))
        const client = yield* PublicClient.make({ config })
        const signedIn = yield* runVirtual(
          client.acquireTokenWithDeviceCode({}, { onCode: (c) => Effect.logInfo("code", c) })
        )
        capture.record("sign-in", signedIn)
        const [account] = yield* client.getAccounts
        const content = yield* Effect.flatMap(TokenCache.TokenCache, (cache) => cache.read)
        remember(CacheContent.findDpopKey(content, client.authority, config.clientId, account!.id))
        capture.record("cache content", content)
        capture.record("kept key", yield* client.dpopKey(account!))
        const refreshed = yield* runVirtual(client.acquireTokenSilent([], account!, { forceRefresh: true }))
        capture.record("refreshed", refreshed)
        assert.isTrue(Exit.isSuccess(refreshed) && refreshed.value.tokenType === "DPoP")
        refuse = true
        const refused = yield* runVirtual(client.acquireTokenSilent([], account!, { forceRefresh: true }))
        capture.record("refused", refused)
        if (Exit.isFailure(refused)) yield* Effect.logWarning("refresh refused", refused.cause)
        assert.isTrue(Exit.isFailure(refused) && String(refused.cause).includes("DpopProofRejected"))
      })
      yield* program.pipe(
        Effect.provide(Layer.merge(TokenCache.layerMemory, TestKit.layer(script, { dpop: {} }))),
        Effect.provide(capture.layer)
      )
      assertClean(capture)
      // two keys: the flow's and the sign-in's own
      assert.strictEqual(privateParts.length, 4)
      // not vacuous: the sessions and the kept key were captured, shown by their public thumbprint
      assert.isTrue(capture.texts.some((text) => text.includes(key.thumbprint)))
      const leaks = capture.texts.filter((text) => privateParts.some((part) => text.includes(part)))
      assert.deepStrictEqual(leaks.map((t) => t.slice(0, 200)), [])
    }))
})
