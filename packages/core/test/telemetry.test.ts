/**
 * What an operator sees with tracing on: devflow's spans exported through
 * `@effect/opentelemetry` into OpenTelemetry's in-memory exporter — one per
 * device authorization request, per poll, per refresh and per cache read and
 * write — with the attributes a person debugging needs, and never a secret:
 * the TestKit's canary tokens, device code and a client secret are searched
 * for in every exported span (name, attributes, events, status).
 */
import * as NodeSdk from "@effect/opentelemetry/NodeSdk"
import { assert, describe, it } from "@effect/vitest"
import { InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base"
import * as Effect from "effect/Effect"
import * as Encoding from "effect/Encoding"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as TestClock from "effect/TestClock"
import * as PublicClient from "../src/PublicClient.js"
import * as TestKit from "../src/TestKit.js"
import * as TestKitCache from "../src/TestKitCache.js"
import * as TokenCache from "../src/TokenCache.js"
import { runVirtual } from "./virtual.js"

const CLIENT_SECRET = "CS-CANARY-telemetry-3e9a"
const canaries = [
  TestKit.secrets.accessToken,
  TestKit.secrets.refreshToken,
  TestKit.secrets.deviceCode,
  TestKitCache.accessToken(1),
  TestKitCache.refreshToken(1),
  CLIENT_SECRET
]

const exported = (exporter: InMemorySpanExporter) => exporter.getFinishedSpans()
const named = (spans: ReadonlyArray<ReadableSpan>, name: string) => spans.filter((s) => s.name === name)
const serialised = (span: ReadableSpan) =>
  JSON.stringify({
    name: span.name,
    attributes: span.attributes,
    events: span.events,
    status: span.status,
    links: span.links
  })

describe("spans through @effect/opentelemetry", () => {
  it.effect("a sign-in and a refresh: one span per request, poll, refresh and cache access; attributes; no secret", () => {
    const exporter = new InMemorySpanExporter()
    const tracing = NodeSdk.layer(() => ({
      resource: { serviceName: "devflow-test" },
      spanProcessor: new SimpleSpanProcessor(exporter)
    }))
    const server = TestKitCache.refreshServer({ expiresIn: 600 })
    let polls = 0
    const script: TestKit.Script = {
      ...server.script,
      // two authorization_pending answers, then the server's tokens
      token: (
        context
      ) => (context.params.grant_type !== "refresh_token" && polls++ < 2
        ? TestKit.pending()
        : server.script.token(context))
    }
    return Effect.gen(function*() {
      const config = yield* TestKit.config({ clientSecret: Redacted.make(CLIENT_SECRET) })
      const app = yield* PublicClient.make({ config })
      const signedIn = yield* runVirtual(app.acquireTokenWithDeviceCode({}, { onCode: () => {} }))
      if (Exit.isFailure(signedIn)) throw new Error(String(signedIn))
      yield* TestClock.adjust("6 minutes")
      assert.strictEqual((yield* app.acquireTokenSilent([], signedIn.value.account)).source, "refresh")

      const spans = exported(exporter)
      const [device] = named(spans, "devflow.device_authorization")
      assert.isDefined(device)
      assert.deepInclude(device!.attributes, {
        "devflow.endpoint.host": new URL(TestKit.DEVICE_AUTHORIZATION_ENDPOINT).host,
        "devflow.client_id": TestKit.CLIENT_ID,
        "devflow.outcome": "code_issued"
      })
      const pollSpans = named(spans, "devflow.poll")
      assert.deepStrictEqual(pollSpans.map((s) => s.attributes["devflow.attempt"]), [1, 2, 3])
      assert.deepStrictEqual(pollSpans.map((s) => s.attributes["devflow.outcome"]), [
        "authorization_pending",
        "authorization_pending",
        "tokens"
      ])
      assert.deepStrictEqual(pollSpans.map((s) => s.attributes["http.response.status_code"]), [400, 400, undefined])
      for (const s of pollSpans) assert.strictEqual(s.attributes["devflow.interval_ms"], 5_000)
      const [refresh] = named(spans, "devflow.refresh")
      assert.deepInclude(refresh!.attributes, { "devflow.outcome": "tokens", "devflow.client_id": TestKit.CLIENT_ID })
      assert.isAbove(named(spans, "devflow.cache.write").length, 1)
      assert.isAbove(named(spans, "devflow.cache.read").length, 0)
      assert.strictEqual(named(spans, "devflow.cache.read")[0]!.attributes["devflow.cache.location"], "memory")
      // the HTTP requests are traced too, as children of the poll and refresh spans
      const pollIds = new Set(pollSpans.map((s) => s.spanContext().spanId))
      assert.isTrue(
        spans.some((s) => s.name.startsWith("http.client") && pollIds.has(s.parentSpanContext?.spanId ?? ""))
      )

      for (const span of spans) {
        const text = serialised(span)
        for (const canary of canaries) assert.notInclude(text, canary, `${span.name} carries a secret`)
      }
    }).pipe(Effect.provide(Layer.mergeAll(TokenCache.layerMemory, TestKit.layer(script), tracing)))
  })

  it.effect("a failed poll's span says why (the server's code and status), and the flow's error is typed as before", () => {
    const exporter = new InMemorySpanExporter()
    const tracing = NodeSdk.layer(() => ({
      resource: { serviceName: "devflow-test" },
      spanProcessor: new SimpleSpanProcessor(exporter)
    }))
    return Effect.gen(function*() {
      const config = yield* TestKit.config()
      const app = yield* PublicClient.make({ config })
      const exit = yield* runVirtual(app.acquireTokenWithDeviceCode({}, { onCode: () => {} }))
      assert.isTrue(Exit.isFailure(exit))
      const poll = named(exported(exporter), "devflow.poll").at(-1)
      assert.deepInclude(poll!.attributes, { "devflow.outcome": "access_denied", "http.response.status_code": 400 })
    }).pipe(Effect.provide(Layer.mergeAll(TokenCache.layerMemory, TestKit.layer(TestKit.scenarios.denied()), tracing)))
  })

  it.effect("a transport error echoing the device code and the client secret, in any spelling, reaches no span", () => {
    const exporter = new InMemorySpanExporter()
    const tracing = NodeSdk.layer(() => ({
      resource: { serviceName: "devflow-test" },
      spanProcessor: new SimpleSpanProcessor(exporter)
    }))
    const deviceCode = "dc/TELEMETRY+code ==9c1e"
    const formEncoded = (v: string) => encodeURIComponent(v).replace(/%20/g, "+")
    const basic = Encoding.encodeBase64(`${formEncoded(TestKit.CLIENT_ID)}:${formEncoded(CLIENT_SECRET)}`)
    const spellings = [deviceCode, formEncoded(deviceCode), CLIENT_SECRET, basic]
    const echo = `device_code=${formEncoded(deviceCode)} ${deviceCode} ${CLIENT_SECRET} Basic ${basic}`
    const script = TestKit.sequence(
      [
        TestKit.transportFailure(echo),
        TestKit.oauthError("server_error", { status: 500, fields: { error_description: echo } }),
        TestKit.transportFailure(echo)
      ],
      TestKit.deviceCode({ device_code: deviceCode })
    )
    return Effect.gen(function*() {
      const config = yield* TestKit.config({
        clientSecret: Redacted.make(CLIENT_SECRET),
        clientAuthMethod: "client_secret_basic"
      })
      const app = yield* PublicClient.make({ config, flow: { policy: { maxConsecutiveFailures: 3 } } })
      const exit = yield* runVirtual(app.acquireTokenWithDeviceCode({}, { onCode: () => {} }))
      assert.isTrue(Exit.isFailure(exit))
      const spans = exported(exporter)
      assert.isAbove(named(spans, "devflow.poll").length, 2)
      assert.isTrue(spans.some((s) => s.name.startsWith("http.client")))
      for (const span of spans) {
        const text = serialised(span)
        for (const secret of spellings) assert.notInclude(text, secret, `${span.name} carries ${secret}`)
      }
    }).pipe(Effect.provide(Layer.mergeAll(TokenCache.layerMemory, TestKit.layer(script), tracing)))
  })
})
