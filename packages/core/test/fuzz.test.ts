/**
 * Fuzzing the wire edge: generated server answers (status × headers × body
 * shape) through everything that reads them — `classify` (both wire formats),
 * the device authorization and token response schemas, the poll state
 * machine, the error constructors and their messages, discovery, the id_token
 * claims reader — and, second, whole device flows against a fake server that
 * answers with generated responses.
 *
 * The property: every answer ends as a value or a typed error (never a
 * defect, a thrown exception or a hang), and every error has a one-line
 * message and serialises.
 *
 * `FUZZ_RUNS` sets the number of generated responses (default 2,000; a third
 * of them are also served as discovery documents; the flow fuzz runs a
 * twentieth as many flows). `FUZZ_SEED` replays a run; `FUZZ_ONLY=responses`
 * or `FUZZ_ONLY=flows` runs one of the two properties.
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Encoding from "effect/Encoding"
import * as Exit from "effect/Exit"
import * as fc from "effect/FastCheck"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as TestContext from "effect/TestContext"
import * as Account from "../src/Account.js"
import type * as ClientConfig from "../src/ClientConfig.js"
import * as DeviceAuthorization from "../src/DeviceAuthorization.js"
import * as DeviceFlow from "../src/DeviceFlow.js"
import * as DeviceFlowError from "../src/DeviceFlowError.js"
import * as Engine from "../src/internal/engine.js"
import { toOAuthError } from "../src/internal/errors.js"
import { readClaims } from "../src/internal/jwt.js"
import { type Answer, classify } from "../src/internal/oauthAnswer.js"
import { interactionReason } from "../src/internal/refresh.js"
import * as PollSchedule from "../src/PollSchedule.js"
import * as ServerMetadata from "../src/ServerMetadata.js"
import * as TestKit from "../src/TestKit.js"
import * as TokenResponse from "../src/TokenResponse.js"
import { runVirtual } from "./virtual.js"

const RUNS = Math.max(1, Number(process.env.FUZZ_RUNS ?? "2000") || 2000)
const FLOW_RUNS = Math.max(1, Math.round(RUNS / 20))
const SEED = process.env.FUZZ_SEED === undefined ? undefined : Number(process.env.FUZZ_SEED)
/** an answer taking longer than this (real time, everything is in memory) is a hang */
const HANG_MS = 5_000
/**
 * A whole flow in virtual time is bounded by runVirtual itself (steps, virtual time, idle
 * rounds); this only backstops a runner that stops stepping. Each step lets real work settle
 * over a few event-loop ticks, so on a machine at load 30 a long flow took more than 5 s.
 */
const FLOW_HANG_MS = 30_000

const ENDPOINT = TestKit.TOKEN_ENDPOINT
const ISSUER = TestKit.ISSUER

// ---------------------------------------------------------------------------
// generators

const jwtOf = (header: unknown, payload: unknown, signature = "c2ln") =>
  `${Encoding.encodeBase64Url(JSON.stringify(header))}.${
    Encoding.encodeBase64Url(JSON.stringify(payload))
  }.${signature}`

const weirdString: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    "",
    " ",
    "\t\n",
    "\u0000",
    "\u001b[31mred\u001b[0m",
    "line1\nline2\r\nline3",
    "\u2028\u2029",
    "null",
    "undefined",
    "NaN",
    "Infinity",
    "-1",
    "0",
    "1e309",
    "0x10",
    "  42  ",
    "5",
    "900",
    "3600",
    "Bearer",
    "bearer",
    "authorization_pending",
    "slow_down",
    "access_denied",
    "expired_token",
    "invalid_grant",
    "server_error",
    "temporarily_unavailable",
    "interaction_required",
    "AuthorizationPendingException",
    "com.amazonaws.ssooidc#SlowDownException",
    "InternalServerException",
    "https://auth.devflow.test/device",
    "http://evil.example/device",
    "javascript:alert(1)",
    "https://user:pass@evil.example/",
    "//evil.example",
    "not a url",
    "a.b.c",
    "a.b.c.d.e",
    "..",
    "eyJhbGciOiJub25lIn0.bm90IGpzb24.c2ln",
    jwtOf({ alg: "none" }, { iss: ISSUER, sub: "user-1" }),
    jwtOf({ alg: "none" }, { iss: ISSUER }),
    jwtOf({ alg: "none" }, [1, 2]),
    jwtOf({ alg: "none" }, { iss: 1, sub: { x: 1 } }),
    "\ud800",
    "𝓾𝓷𝓲𝓬𝓸𝓭𝓮",
    "x".repeat(5_000),
    "__proto__",
    "<script>alert(1)</script>"
  ),
  fc.string({ maxLength: 40 }),
  fc.fullUnicodeString({ maxLength: 20 }),
  fc.webUrl(),
  fc.tuple(fc.base64String({ maxLength: 40 }), fc.base64String({ maxLength: 60 }), fc.string({ maxLength: 10 }))
    .map(([a, b, c]) => `${a}.${b}.${c}`)
)

const weirdNumber: fc.Arbitrary<number> = fc.oneof(
  fc.constantFrom(
    0,
    -0,
    -1,
    1,
    5,
    1.5,
    0.001,
    900,
    1e9,
    1e12,
    315_360_000,
    315_360_001,
    1e21,
    1e308,
    -1e308,
    Number.MAX_SAFE_INTEGER + 2
  ),
  fc.integer({ min: -1_000, max: 100_000 }),
  fc.double({ noNaN: true, noDefaultInfinity: true })
)

const weirdValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 5, arbitrary: weirdString },
  { weight: 4, arbitrary: weirdNumber },
  { weight: 1, arbitrary: fc.boolean() },
  { weight: 1, arbitrary: fc.constant(null) },
  { weight: 1, arbitrary: fc.array(fc.oneof(weirdString, weirdNumber, fc.constant(null)), { maxLength: 4 }) },
  { weight: 1, arbitrary: fc.dictionary(weirdString, fc.oneof(weirdString, weirdNumber), { maxKeys: 3 }) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) }
)

const oauthKeys = [
  "device_code",
  "user_code",
  "verification_uri",
  "verification_url",
  "verification_uri_complete",
  "expires_in",
  "interval",
  "message",
  "access_token",
  "token_type",
  "refresh_token",
  "id_token",
  "scope",
  "error",
  "error_description",
  "error_uri",
  "error_codes",
  "trace_id",
  "correlation_id",
  "suberror",
  "claims",
  "issuer",
  "token_endpoint",
  "device_authorization_endpoint",
  "grant_types_supported",
  "scopes_supported",
  "__type",
  "code",
  "Message",
  "deviceCode",
  "userCode",
  "verificationUri",
  "verificationUriComplete",
  "expiresIn",
  "accessToken",
  "tokenType",
  "refreshToken",
  "idToken",
  "clientId",
  "clientSecret",
  "__proto__",
  "constructor",
  "toString",
  "hasOwnProperty"
]

const deviceFields = (): Record<string, unknown> => ({
  device_code: TestKit.secrets.deviceCode,
  user_code: "WDJB-MJHT",
  verification_uri: `${ISSUER}/device`,
  verification_uri_complete: `${ISSUER}/device?user_code=WDJB-MJHT`,
  expires_in: 900,
  interval: 5
})

const tokenFields = (): Record<string, unknown> => ({
  access_token: TestKit.secrets.accessToken,
  token_type: "Bearer",
  expires_in: 3600,
  refresh_token: TestKit.secrets.refreshToken,
  scope: "openid profile",
  id_token: jwtOf({ alg: "none" }, { iss: ISSUER, sub: "user-1", aud: TestKit.CLIENT_ID })
})

const metadataFields = (): Record<string, unknown> => ({
  issuer: ISSUER,
  token_endpoint: `${ISSUER}/oauth2/token`,
  device_authorization_endpoint: `${ISSUER}/oauth2/device_authorization`,
  grant_types_supported: ["urn:ietf:params:oauth:grant-type:device_code"]
})

/** a well-formed body with some fields replaced, removed or added */
const mutated = (base: () => Record<string, unknown>): fc.Arbitrary<Record<string, unknown>> =>
  fc.tuple(
    fc.array(fc.tuple(fc.constantFrom(...oauthKeys), fc.oneof(weirdValue, fc.constant(undefined))), { maxLength: 4 }),
    fc.subarray(Object.keys(base()), { maxLength: 2 })
  ).map(([changes, removed]) => {
    const body = base()
    for (const key of removed) delete body[key]
    for (const [key, value] of changes) {
      if (value === undefined) delete body[key]
      else Object.defineProperty(body, key, { value, enumerable: true, writable: true, configurable: true })
    }
    return body
  })

const randomObject: fc.Arbitrary<Record<string, unknown>> = fc.array(
  fc.tuple(
    fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...oauthKeys) }, { weight: 1, arbitrary: weirdString }),
    weirdValue
  ),
  { maxLength: 8 }
).map((entries) => {
  const body: Record<string, unknown> = {}
  for (const [key, value] of entries) {
    Object.defineProperty(body, key, { value, enumerable: true, writable: true, configurable: true })
  }
  return body
})

const errorObject: fc.Arbitrary<Record<string, unknown>> = fc.record({
  error: fc.oneof(
    fc.constantFrom(
      "authorization_pending",
      "slow_down",
      "access_denied",
      "expired_token",
      "invalid_grant",
      "server_error"
    ),
    weirdValue
  ),
  error_description: fc.option(weirdValue, { nil: undefined }),
  error_codes: fc.option(fc.oneof(fc.array(fc.oneof(fc.integer(), weirdString), { maxLength: 3 }), weirdValue), {
    nil: undefined
  }),
  interval: fc.option(weirdValue, { nil: undefined }),
  claims: fc.option(weirdValue, { nil: undefined }),
  suberror: fc.option(weirdValue, { nil: undefined })
}, { requiredKeys: ["error"] })

const formEncode = (body: Record<string, unknown>) =>
  new URLSearchParams(Object.entries(body).map(([k, v]): [string, string] => [k, String(v)])).toString()

type Body = string | Uint8Array

const body: fc.Arbitrary<{ readonly shape: string; readonly body: Body }> = fc.oneof(
  { weight: 6, arbitrary: mutated(deviceFields).map((b) => ({ shape: "device±", body: JSON.stringify(b) })) },
  { weight: 6, arbitrary: mutated(tokenFields).map((b) => ({ shape: "token±", body: JSON.stringify(b) })) },
  { weight: 2, arbitrary: mutated(metadataFields).map((b) => ({ shape: "metadata±", body: JSON.stringify(b) })) },
  { weight: 4, arbitrary: errorObject.map((b) => ({ shape: "error", body: JSON.stringify(b) })) },
  { weight: 4, arbitrary: randomObject.map((b) => ({ shape: "object", body: JSON.stringify(b) })) },
  {
    weight: 2,
    arbitrary: fc.jsonValue({ maxDepth: 4 }).map((v) => ({ shape: "json", body: JSON.stringify(v) ?? "null" }))
  },
  {
    weight: 2,
    arbitrary: fc.tuple(
      fc.oneof(mutated(deviceFields), mutated(tokenFields), errorObject),
      fc.double({ min: 0, max: 1, noNaN: true })
    )
      .map(([b, cut]) => {
        const text = JSON.stringify(b)
        return { shape: "truncated", body: text.slice(0, Math.floor(text.length * cut)) }
      })
  },
  {
    weight: 2,
    arbitrary: fc.oneof(mutated(deviceFields), mutated(tokenFields), errorObject, randomObject)
      .map((b) => ({ shape: "form", body: formEncode(b) }))
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      "<!DOCTYPE html><html><body>Sign in</body></html>",
      "<html><h1>502 Bad Gateway</h1></html>",
      "<?xml version=\"1.0\"?><error>x</error>",
      "<HEAD><TITLE>x</TITLE></HEAD>"
    ).map((b) => ({ shape: "html", body: b }))
  },
  { weight: 2, arbitrary: fc.fullUnicodeString({ maxLength: 200 }).map((b) => ({ shape: "text", body: b })) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 200 }).map((b) => ({ shape: "bytes", body: b })) },
  {
    weight: 1,
    arbitrary: fc.oneof(mutated(tokenFields), errorObject).map((b) => ({
      shape: "bom",
      body: `\ufeff${JSON.stringify(b)}`
    }))
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom("", " ", "\n", "{}", "[]", "null", "0", "\"x\"", "{", "}").map((b) => ({
      shape: "tiny",
      body: b
    }))
  }
)

const status: fc.Arbitrary<number> = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(200, 200, 200, 400, 400, 401, 403, 428, 429, 500, 502, 503) },
  { weight: 2, arbitrary: fc.constantFrom(201, 204, 205, 301, 302, 303, 304, 307, 308, 404, 405, 410, 418, 504) },
  { weight: 1, arbitrary: fc.integer({ min: 200, max: 599 }) }
)

const headerValue = (values: ReadonlyArray<string>) =>
  fc.option(
    fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...values) }, {
      weight: 1,
      arbitrary: fc.string({ maxLength: 30 })
    }),
    {
      nil: undefined
    }
  )

const headers = fc.record({
  "content-type": headerValue([
    "application/json",
    "application/json; charset=utf-8",
    "application/problem+json",
    "text/html",
    "text/html; charset=iso-8859-1",
    "text/plain",
    "application/x-www-form-urlencoded",
    "application/octet-stream",
    "APPLICATION/JSON",
    ""
  ]),
  "retry-after": headerValue([
    "0",
    "1",
    "3",
    "120",
    "99999999999999999999999",
    "-5",
    "1.5",
    " 7 ",
    "Wed, 21 Oct 2015 07:28:00 GMT",
    "Wed, 21 Oct 2099 07:28:00 GMT",
    "Sunday, 06-Nov-94 08:49:37 GMT",
    "Sun Nov  6 08:49:37 1994",
    "tomorrow",
    "9".repeat(400)
  ]),
  location: headerValue([
    "https://elsewhere.example/token?code=x",
    "/relative",
    "javascript:alert(1)",
    "",
    "http://[::1",
    `https://elsewhere.example/${"a".repeat(4_000)}`
  ]),
  "x-amzn-errortype": headerValue([
    "AuthorizationPendingException",
    "SlowDownException:http://internal",
    "InternalServerException",
    "Weird"
  ]),
  "content-length": headerValue(["0", "5", "99999999999", "-1", "abc", "9".repeat(4_000)])
}, { requiredKeys: [] })

interface Sample {
  /** also serve it at the well-known metadata locations */
  readonly discover: boolean
  readonly status: number
  readonly headers: Readonly<Record<string, string | undefined>>
  readonly shape: string
  readonly body: Body
}

const sample: fc.Arbitrary<Sample> = fc.record({
  status,
  headers,
  body,
  discover: fc.oneof({ weight: 2, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) })
}).map(({ body: b, discover, headers: h, status: s }) => ({
  discover,
  status: s,
  headers: h,
  shape: b.shape,
  body: b.body
}))

// ---------------------------------------------------------------------------
// the pipeline under test

const nullBody = new Set([204, 205, 304])

/** the answer as an HttpClient would hand it over (a fresh one per call: bodies are read once) */
const toResponse = (s: Sample, request = HttpClientRequest.post(ENDPOINT)): HttpClientResponse.HttpClientResponse => {
  const headers = new Headers()
  for (const [name, value] of Object.entries(s.headers)) {
    if (value === undefined) continue
    try {
      headers.set(name, value)
    } catch {
      // not a valid header value for the Fetch API: an HTTP client could not have received it either
    }
  }
  return HttpClientResponse.fromWeb(
    request,
    new Response(nullBody.has(s.status) ? null : s.body, { status: s.status, headers })
  )
}

const stats = new Map<string, number>()
const count = (key: string) => stats.set(key, (stats.get(key) ?? 0) + 1)

// eslint-disable-next-line no-control-regex
const ONE_LINE = /^[^\n\r\u0000-\u001f\u007f]*$/

/** Every typed error: the refinement holds, the message is one line, serialisation works. */
const checkError = (error: unknown, where: string) => {
  const known = DeviceFlowError.isDeviceFlowError(error) ||
    (typeof error === "object" && error !== null && "_tag" in error && error._tag === "InteractionRequired")
  if (!known) throw new Error(`${where}: not a typed error: ${String(error)}`)
  const message = (error as Error).message
  if (typeof message !== "string" || message === "") throw new Error(`${where}: no message`)
  if (!ONE_LINE.test(message)) throw new Error(`${where}: message is not one line: ${JSON.stringify(message)}`)
  if (message.length > 1_000) throw new Error(`${where}: message of ${message.length} characters`)
  JSON.stringify(error)
  String(error)
}

/** The effect's outcome: its value, or its typed error checked; a defect or interruption throws. */
const settle = <A, E>(where: string, effect: Effect.Effect<A, E>) =>
  Effect.flatMap(Effect.exit(effect), (exit) => {
    if (Exit.isSuccess(exit)) return Effect.succeed(Option.some(exit.value))
    const failure = Cause.failureOption(exit.cause)
    if (Option.isNone(failure)) {
      return Effect.dieMessage(`${where}: defect or interruption: ${Cause.pretty(exit.cause)}`)
    }
    checkError(failure.value, where)
    count(`${where}: ${(failure.value as { readonly _tag: string })._tag}`)
    return Effect.succeed(Option.none<A>())
  })

const policy = PollSchedule.defaultPolicy

const pollingState = (config: ClientConfig.ClientConfig, now: number): Engine.Polling => {
  const code: DeviceAuthorization.DeviceCode = {
    userCode: "WDJB-MJHT",
    deviceCode: Redacted.make(TestKit.secrets.deviceCode),
    verificationUri: `${ISSUER}/device`,
    verificationUriComplete: undefined,
    issuedAt: DateTime.unsafeMake(now),
    expiresOn: DateTime.unsafeMake(now + 900_000),
    interval: Duration.seconds(5),
    message: "",
    clientId: config.clientId,
    scopes: config.scopes
  }
  const state = Engine.start(config, code, {}, now, { mono: now, wall: now })
  if (Engine.isFailed(state)) throw new Error("could not start polling")
  return state
}

const throughTheMachine = (config: ClientConfig.ClientConfig, answer: Answer, now: number) => {
  const state = pollingState(config, now)
  const next = Engine.transition({ config, policy }, state, answer, now, { mono: now + 1_000, wall: now + 1_000 })
  // never early, never a NaN or infinite wait: the next poll is a real instant after the answer
  if (next._tag === "Continue") {
    if (!Number.isFinite(next.state.nextPollAt) || next.state.nextPollAt < now + 1_000 + 1_000) {
      throw new Error(`the engine scheduled a poll at ${next.state.nextPollAt} after an answer at ${now + 1_000}`)
    }
    if (next.state.timing.intervalMs < state.timing.intervalMs) throw new Error("the interval decreased")
  } else if (next._tag === "Failed") {
    checkError(next.error, "transition")
  }
  count(`transition: ${next._tag}`)
}

const fuzzOne = (config: ClientConfig.ClientConfig, s: Sample) =>
  Effect.gen(function*() {
    const now = yield* Effect.clockWith((clock) => clock.currentTimeMillis)
    const issuedAt = DateTime.unsafeMake(now)
    for (const wire of ["oauth", "aws-sso-oidc"] as const) {
      const answer = yield* settle(`classify(${wire})`, classify(ENDPOINT, toResponse(s), wire))
      if (Option.isNone(answer)) continue
      count(`classify(${wire}): ${answer.value._tag}`)
      const a = answer.value
      switch (a._tag) {
        case "Success": {
          const code = yield* settle(
            "DeviceAuthorization.process",
            DeviceAuthorization.process({ ...config, wire }, config.scopes, issuedAt, ENDPOINT, a)
          )
          if (Option.isSome(code)) {
            count("DeviceAuthorization.process: ok")
            const polling = Engine.start(config, code.value, {}, now, { mono: now, wall: now })
            if (Engine.isFailed(polling)) checkError(polling.error, "startPolling")
            else if (!Number.isFinite(polling.nextPollAt) || polling.nextPollAt <= now) {
              throw new Error("first poll not in the future")
            }
          }
          const result = yield* settle(
            "TokenResponse.process",
            TokenResponse.process({ endpoint: ENDPOINT, status: a.status }, a.body, config.scopes, issuedAt)
          )
          if (Option.isSome(result)) {
            count("TokenResponse.process: ok")
            Account.fromResult(ISSUER, config.clientId, Option.getOrUndefined(result.value.idTokenClaims))
            JSON.stringify(result.value)
          }
          throughTheMachine(config, a, now)
          break
        }
        case "ErrorBody": {
          checkError(toOAuthError(ENDPOINT, a.status, a.body), "toOAuthError")
          interactionReason(a.body)
          throughTheMachine(config, a, now)
          break
        }
        case "Unavailable":
          throughTheMachine(config, a, now)
          break
      }
    }
    // discovery: the same answer at every well-known location
    const discovery = Layer.succeed(
      HttpClient.HttpClient,
      HttpClient.make((request) => Effect.succeed(toResponse(s, request)))
    )
    if (!s.discover) return
    const metadata = yield* settle(
      "ServerMetadata.discover",
      Effect.provide(ServerMetadata.discover(ISSUER), discovery)
    )
    if (Option.isSome(metadata)) count("ServerMetadata.discover: ok")
    // the id_token reader on every string the body holds
    if (typeof s.body === "string") {
      for (const piece of s.body.split(/["&=]/)) readClaims(piece)
    }
  }).pipe(
    Effect.timeoutFail({
      duration: HANG_MS,
      onTimeout: () => new Error(`hang (${HANG_MS} ms) on ${describeSample(s)}`)
    }),
    Effect.orDie
  )

const describeSample = (s: Sample) =>
  `HTTP ${s.status} ${JSON.stringify(s.headers)} ${s.shape} ${
    typeof s.body === "string" ? JSON.stringify(s.body.slice(0, 300)) : `<${s.body.length} bytes>`
  }`

// ---------------------------------------------------------------------------

const report = (what: string, runs: number, millis: number) => {
  const lines = [...stats.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `  ${k}: ${v}`)
  console.info(
    `[fuzz] ${what}: ${runs} runs in ${(millis / 1000).toFixed(1)} s, 0 defects, 0 hangs\n${lines.join("\n")}`
  )
  stats.clear()
}

describe("fuzz: generated server answers never escape the typed error channel", () => {
  const only = process.env.FUZZ_ONLY
  it.skipIf(only === "flows")(
    `${RUNS} generated responses through classify, the schemas, the poll machine and discovery`,
    {
      timeout: 60_000 + RUNS * 20
    },
    async () => {
      const config = await Effect.runPromise(TestKit.config())
      const started = Date.now()
      await fc.assert(
        fc.asyncProperty(sample, async (s) => {
          await Effect.runPromise(fuzzOne(config, s)).catch((error: unknown) => {
            throw new Error(`${describeSample(s)}\n${error instanceof Error ? error.message : String(error)}`)
          })
        }),
        { numRuns: RUNS, ...(SEED === undefined ? {} : { seed: SEED }) }
      )
      report("responses", RUNS, Date.now() - started)
    }
  )

  it.skipIf(only === "responses")(`${FLOW_RUNS} whole device flows against a server answering generated responses`, {
    timeout: 60_000 + FLOW_RUNS * 100
  }, async () => {
    const reply = (s: Sample): TestKit.Reply => ({
      _tag: "Body",
      status: s.status,
      body: typeof s.body === "string" ? s.body : new TextDecoder().decode(s.body),
      headers: Object.fromEntries(Object.entries(s.headers).filter(([, v]) => v !== undefined)) as Record<
        string,
        string
      >,
      delay: Duration.zero
    })
    const deviceAnswer = fc.oneof(
      { weight: 3, arbitrary: fc.constant(TestKit.deviceCode({ interval: 1, expires_in: 30 })) },
      { weight: 1, arbitrary: sample.map(reply) }
    )
    const tokenAnswers = fc.array(
      fc.oneof(
        { weight: 2, arbitrary: fc.constant(TestKit.pending()) },
        { weight: 1, arbitrary: fc.constant(TestKit.transportFailure()) },
        { weight: 4, arbitrary: sample.map(reply) }
      ),
      { minLength: 1, maxLength: 12 }
    )
    const started = Date.now()
    let ended = 0
    await fc.assert(
      fc.asyncProperty(deviceAnswer, tokenAnswers, async (device, replies) => {
        let maxPolls = 0
        const program = Effect.gen(function*() {
          const config = yield* TestKit.config()
          const exit = yield* runVirtual(
            DeviceFlow.acquireToken(config, {}, {
              // no runaway polling, whatever the answers: at most one poll per interval of the code's life
              onCode: (code) => {
                maxPolls =
                  Math.floor(DateTime.distance(code.issuedAt, code.expiresOn) / Duration.toMillis(code.interval)) + 1
              },
              requestTimeout: "10 seconds"
            }),
            { limit: "12 hours" }
          )
          const polls = yield* Effect.flatMap(TestKit.FakeServer, (server) => server.polls)
          return { exit, polls: polls.length }
        }).pipe(
          Effect.provide(TestKit.layer(TestKit.sequence(replies, device))),
          Effect.provide(TestContext.TestContext)
        )
        const { exit, polls } = await Effect.runPromise(
          Effect.scoped(program).pipe(
            Effect.timeoutFail({ duration: FLOW_HANG_MS, onTimeout: () => new Error("hang") })
          )
        )
        if (Exit.isFailure(exit)) {
          const failure = Cause.failureOption(exit.cause)
          if (Option.isNone(failure)) throw new Error(`defect: ${Cause.pretty(exit.cause)}`)
          checkError(failure.value, "flow")
          count(`flow: ${failure.value._tag}`)
        } else {
          count("flow: tokens")
        }
        assert.isAtMost(polls, maxPolls)
        ended++
      }),
      { numRuns: FLOW_RUNS, ...(SEED === undefined ? {} : { seed: SEED }) }
    )
    assert.strictEqual(ended, FLOW_RUNS)
    report("flows", FLOW_RUNS, Date.now() - started)
  })
})
