import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as fc from "effect/FastCheck"
import * as Option from "effect/Option"
import { runVirtual } from "../test/virtual.js"
import * as DeviceFlow from "./DeviceFlow.js"
import * as TestKit from "./TestKit.js"

/**
 * One answer of an arbitrary server, described as data so a failing case
 * prints readably, and with what it means for the client's timing.
 */
type Behaviour =
  | { readonly kind: "pending"; readonly status: 200 | 400 | 403 | 428 }
  | {
    readonly kind: "slow_down"
    readonly status: 200 | 400 | 403 | 429
    readonly interval: number | string | undefined
  }
  | { readonly kind: "bare429"; readonly retryAfter: number | undefined }
  | { readonly kind: "unavailable"; readonly status: 500 | 502 | 503; readonly retryAfter: number | undefined }
  | { readonly kind: "transport" }
  | { readonly kind: "hang" }
  | { readonly kind: "tokens" }
  | { readonly kind: "denied" }
  | { readonly kind: "expired_token" }
  | { readonly kind: "invalid_grant" }

// An interval as a server may send it: sensible, huge (1e306 s is Infinity ms), negative, zero, or a
// string JSON cannot carry as a number ("Infinity", "NaN", "1e400").
const serverInterval: fc.Arbitrary<number | string> = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: 1, max: 60 }) },
  fc.constantFrom(1e306, Number.MAX_VALUE, 315_360_000, 0, -5, "Infinity", "-Infinity", "NaN", "1e400", "1e306"),
  fc.double({ min: -1e308, max: 1e308, noNaN: true })
)

const behaviour: fc.Arbitrary<Behaviour> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant("pending" as const),
      status: fc.constantFrom(200, 400, 403, 428) as fc.Arbitrary<200 | 400 | 403 | 428>
    })
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant("slow_down" as const),
      status: fc.constantFrom(200, 400, 403, 429) as fc.Arbitrary<200 | 400 | 403 | 429>,
      interval: fc.option(serverInterval, { nil: undefined })
    })
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("bare429" as const),
      retryAfter: fc.option(fc.integer({ min: 0, max: 90 }), { nil: undefined })
    })
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("unavailable" as const),
      status: fc.constantFrom(500, 502, 503) as fc.Arbitrary<500 | 502 | 503>,
      retryAfter: fc.option(fc.integer({ min: 0, max: 90 }), { nil: undefined })
    })
  },
  { weight: 1, arbitrary: fc.constant({ kind: "transport" as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: "hang" as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: "tokens" as const }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom({ kind: "denied" as const }, { kind: "expired_token" as const }, {
      kind: "invalid_grant" as const
    })
  }
)

const toReply = (b: Behaviour, delayMs: number): TestKit.Reply => {
  const delay = Duration.millis(delayMs)
  switch (b.kind) {
    case "pending":
      return TestKit.pending({ status: b.status, delay })
    case "slow_down":
      return TestKit.oauthError("slow_down", {
        status: b.status,
        delay,
        fields: b.interval === undefined ? {} : { interval: b.interval }
      })
    case "bare429":
      return TestKit.text("", "text/plain", { status: 429, delay, headers: retryAfterHeader(b.retryAfter) })
    case "unavailable":
      return TestKit.text("<html>down</html>", "text/html", {
        status: b.status,
        delay,
        headers: retryAfterHeader(b.retryAfter)
      })
    case "transport":
      return TestKit.transportFailure("connection reset", delay)
    case "hang":
      return TestKit.hang
    case "tokens":
      return TestKit.tokens({}, { delay })
    case "denied":
      return TestKit.denied({ delay })
    case "expired_token":
      return TestKit.expired({ delay })
    case "invalid_grant":
      return TestKit.oauthError("invalid_grant", { delay })
  }
}

const retryAfterHeader = (seconds: number | undefined): Record<string, string> =>
  seconds === undefined ? {} : { "retry-after": String(seconds) }

const REQUEST_TIMEOUT_MS = 20_000

const server = {
  interval: fc.option(fc.oneof({ weight: 6, arbitrary: fc.integer({ min: 1, max: 30 }) }, serverInterval), {
    nil: undefined
  }),
  expiresIn: fc.integer({ min: 5, max: 300 }),
  behaviours: fc.array(behaviour, { minLength: 1, maxLength: 30 }),
  delays: fc.array(fc.nat(8_000), { minLength: 1, maxLength: 30 })
}

/** Run a real DeviceFlow against an arbitrary server; return what the server saw. */
const runAgainst = (input: {
  readonly interval: number | string | undefined
  readonly expiresIn: number
  readonly behaviours: ReadonlyArray<Behaviour>
  readonly delays: ReadonlyArray<number>
}, dpop = false) => {
  const replies = input.behaviours.map((b, i) => toReply(b, input.delays[i % input.delays.length]!))
  const script = TestKit.sequence(
    replies,
    TestKit.deviceCode({ interval: input.interval, expires_in: input.expiresIn })
  )
  return Effect.gen(function*() {
    const config = yield* TestKit.config({ dpop })
    const exit = yield* runVirtual(
      DeviceFlow.acquireToken(config, {}, { onCode: () => {}, requestTimeout: Duration.millis(REQUEST_TIMEOUT_MS) }),
      { limit: "2 hours" }
    )
    const requests = yield* Effect.flatMap(TestKit.FakeServer, (s) => s.requests)
    // with DPoP, the server's nonce demands (answered at once, RFC 9449 §8) are not polls
    const polls = requests.filter((r) => r.endpoint === "token" && !(r.dpop !== undefined && "refused" in r.dpop))
    return { exit, device: requests[0]!, polls }
  }).pipe(Effect.provide(TestKit.layer(script, dpop ? { dpop: { requireNonce: true } } : {})))
}

// What the server asked to wait, in ms: however large, even Infinity; nothing when it is no positive number.
const askedMs = (interval: number | string | undefined): number => {
  const seconds = Number(interval)
  return seconds > 0 ? seconds * 1000 : 0
}

/**
 * The interval the client must respect before poll `i`, derived from the
 * RFC alone: the advertised interval (5 s without one), +5 s (or the server's
 * larger interval) for each slow_down or 429 answered so far.
 */
const requiredIntervals = (
  interval: number | string | undefined,
  behaviours: ReadonlyArray<Behaviour>,
  polls: number
) => {
  let current = Math.max(1_000, interval === undefined ? 5_000 : askedMs(interval))
  const out: Array<number> = []
  for (let i = 0; i < polls; i++) {
    out.push(current)
    const b = behaviours[Math.min(i, behaviours.length - 1)]!
    if (b.kind === "slow_down") current = Math.max(current + 5_000, askedMs(b.interval))
    if (b.kind === "bare429") current += 5_000
  }
  return out
}

const answerEnd = (r: TestKit.RecordedRequest) => r.endedAt ?? Number.POSITIVE_INFINITY

// Each run is a whole flow in virtual time (up to a few hundred polls), so the
// default run count is modest; DEVFLOW_PROPERTY_RUNS scales it up.
const numRuns = Number(globalThis.process?.env?.DEVFLOW_PROPERTY_RUNS ?? 60)

const invariants = (input: Parameters<typeof runAgainst>[0], dpop: boolean) =>
  Effect.gen(function*() {
    const { device, exit, polls } = yield* runAgainst(input, dpop)

    // always terminates (runVirtual bounds it), with a result or a typed error, never a defect
    if (Exit.isFailure(exit)) assert.isTrue(Option.isSome(Cause.failureOption(exit.cause)), Cause.pretty(exit.cause))

    // never early: every poll waits the required interval after the previous answer ended
    const required = requiredIntervals(input.interval, input.behaviours, polls.length)
    polls.forEach((poll, i) => {
      const previousEnd = i === 0 ? answerEnd(device) : answerEnd(polls[i - 1]!)
      assert.isAtLeast(poll.sentAt - previousEnd, required[i]!, `poll ${i} was early`)
    })

    // no request at or after the deadline (code request time + expires_in)
    for (const poll of polls) assert.isBelow(poll.sentAt, device.sentAt + input.expiresIn * 1000)

    // bounded: at most expires_in / interval polls
    assert.isAtMost(
      polls.length,
      Math.floor(input.expiresIn * 1000 / Math.max(1_000, askedMs(input.interval ?? 5))) + 1
    )

    // the outcome is what the last answer said
    if (polls.length === 0) return
    const last = input.behaviours[Math.min(polls.length - 1, input.behaviours.length - 1)]!
    if (Exit.isSuccess(exit)) {
      assert.strictEqual(last.kind, "tokens")
      return
    }
    const error = Option.getOrThrow(Cause.failureOption(exit.cause))
    assert.include(expectedErrors[last.kind], error._tag, `last answer ${last.kind}`)
  })

describe("DeviceFlow invariants over arbitrary server behaviour (RFC 8628 §3.4–3.5)", () => {
  it.effect.prop(
    "terminates with a result or a typed error; never early; nothing after the deadline; bounded; the outcome is the last answer's",
    server,
    (input) => invariants(input, false),
    { timeout: 120_000, fastCheck: { numRuns } }
  )

  it.effect.prop(
    "the same with DPoP on and a server demanding nonces (RFC 9449 §8)",
    server,
    (input) => invariants(input, true),
    { timeout: 120_000, fastCheck: { numRuns: Math.ceil(numRuns / 2) } }
  )
})

const expectedErrors: Record<Behaviour["kind"], ReadonlyArray<string>> = {
  tokens: [],
  denied: ["AccessDenied"],
  expired_token: ["DeviceCodeExpired"],
  invalid_grant: ["OAuthError"],
  // retryable answers end only at the deadline, or when the failure budget is spent
  pending: ["DeviceCodeExpired"],
  slow_down: ["DeviceCodeExpired"],
  bare429: ["DeviceCodeExpired"],
  unavailable: ["DeviceCodeExpired", "TransportError"],
  transport: ["DeviceCodeExpired", "TransportError"],
  hang: ["DeviceCodeExpired", "TransportError"]
}
