import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Schema from "effect/Schema"
import * as DeviceFlowError from "./DeviceFlowError.js"
import * as TestKit from "./TestKit.js"

const TOKEN = TestKit.TOKEN_ENDPOINT
const DEVICE = TestKit.DEVICE_AUTHORIZATION_ENDPOINT

/** One instance of each member of the union, with every optional field set. */
const samples: ReadonlyArray<DeviceFlowError.DeviceFlowError> = [
  new DeviceFlowError.AccessDenied({
    endpoint: TOKEN,
    status: 400,
    error: "access_denied",
    errorDescription: "AADSTS70000: The user declined.\r\nTrace ID: 0f1e\r\nTimestamp: 2024-01-01 00:00:00Z",
    errorUri: "https://login.example.com/error?code=70000",
    errorCodes: [70000],
    traceId: "0f1e",
    correlationId: "c0de"
  }),
  new DeviceFlowError.DeviceCodeExpired({ reason: "deadline", expiredAt: 900_000, endpoint: TOKEN }),
  new DeviceFlowError.DeviceCodeExpired({
    reason: "expired_token",
    expiredAt: 600_000,
    endpoint: TOKEN,
    status: 400,
    errorDescription: "The device code has expired.\nTry again."
  }),
  new DeviceFlowError.OAuthError({
    endpoint: DEVICE,
    status: 401,
    error: "invalid_client",
    errorDescription: "Client authentication failed.\nMore detail here.",
    errorCodes: [7000218],
    traceId: "t-1",
    correlationId: "c-1"
  }),
  new DeviceFlowError.InvalidResponse({ endpoint: TOKEN, status: 200, field: "access_token", reason: "is missing" }),
  new DeviceFlowError.InvalidResponse({
    endpoint: TOKEN,
    reason: "is an HTML page (text/html), not an OAuth JSON answer"
  }),
  new DeviceFlowError.TransportError({ endpoint: TOKEN, reason: "ECONNREFUSED" }),
  new DeviceFlowError.TransportError({ endpoint: TOKEN, status: 503, reason: "the server asked to try again later" }),
  new DeviceFlowError.InvalidConfiguration({ field: "endpoints.token", reason: "must use https" })
]

const oauthError = (fields: Partial<ConstructorParameters<typeof DeviceFlowError.OAuthError>[0]> = {}) =>
  new DeviceFlowError.OAuthError({ endpoint: DEVICE, status: 400, error: "invalid_request", ...fields })

describe("DeviceFlowError messages", () => {
  it("every error's message is one non-empty line", () => {
    for (const error of samples) {
      assert.isAbove(error.message.trim().length, 0, error._tag)
      assert.notMatch(error.message, /[\r\n]/, `${error._tag}: ${error.message}`)
    }
  })

  it("AccessDenied says the sign-in was declined and what the server said, first line only", () => {
    assert.strictEqual(
      samples[0]!.message,
      `Sign-in was declined: access_denied (HTTP 400 from ${TOKEN}): AADSTS70000: The user declined. [trace id 0f1e, correlation id c0de]`
    )
  })

  it("DeviceCodeExpired says who decided and when, and to start again", () => {
    const deadline = samples[1]!.message
    assert.include(deadline, new Date(900_000).toISOString())
    assert.include(deadline, "start again")
    const server = samples[2]!.message
    assert.include(server, "expired_token")
    assert.include(server, "HTTP 400")
    assert.include(server, TOKEN)
    assert.include(server, "start again")
  })

  it("OAuthError carries the error code, status, endpoint, description and ids", () => {
    const message = oauthError({
      status: 401,
      error: "invalid_grant",
      errorDescription: "The code is wrong.",
      traceId: "t",
      correlationId: "c"
    }).message
    assert.strictEqual(
      message,
      `The authorization server refused the request: invalid_grant (HTTP 401 from ${DEVICE}): The code is wrong. [trace id t, correlation id c]`
    )
  })

  it("a long description is shortened", () => {
    const message = oauthError({ errorDescription: "x".repeat(1_000) }).message
    assert.isBelow(message.length, 500)
    assert.include(message, "...")
  })

  it("InvalidResponse names the field when one is at fault, and the status when there is one", () => {
    assert.strictEqual(
      samples[4]!.message,
      `Invalid response (HTTP 200 from ${TOKEN}): field "access_token" is missing`
    )
    assert.strictEqual(
      samples[5]!.message,
      `Invalid response (${TOKEN}): is an HTML page (text/html), not an OAuth JSON answer`
    )
  })

  it("TransportError tells an unreachable server from an unavailable one", () => {
    assert.strictEqual(samples[6]!.message, `Network failure talking to ${TOKEN}: ECONNREFUSED`)
    assert.strictEqual(samples[7]!.message, `${TOKEN} is unavailable (HTTP 503): the server asked to try again later`)
  })

  it("InvalidConfiguration names the field", () => {
    assert.strictEqual(samples[8]!.message, "Invalid configuration: endpoints.token must use https")
  })

  // Regression test (this bug was found by the suite and fixed): describeServer (DeviceFlowError.ts) keeps only the first line of error_description, but puts
  // `error`, `traceId` and `correlationId` into the message as the server sent them; asErrorBody only
  // trims `error`. A server answering {"error":"invalid_grant\nFAKE LOG LINE"} (RFC 6749 §5.2 forbids
  // these characters in `error`) yields an OAuthError whose message spans two lines.
  it("server-supplied codes and ids cannot break the message onto a second line", () => {
    for (
      const error of [
        oauthError({ error: "invalid_grant\nFAKE LOG LINE" }),
        oauthError({ traceId: "t\r\nFAKE LOG LINE" }),
        oauthError({ correlationId: "c\nFAKE LOG LINE" })
      ]
    ) {
      assert.notMatch(error.message, /[\r\n]/)
    }
  })
})

describe("DeviceFlowError remediation hints", () => {
  const entra: ReadonlyArray<readonly [code: number, hint: string]> = [
    [50059, "tenant segment"],
    [90133, "tenanted authority"],
    [90002, "Tenant not found"],
    [53003, "Conditional Access"]
  ]
  for (const [code, hint] of entra) {
    it(`Entra AADSTS${code} from error_codes gets its hint, in remediation and in the message`, () => {
      const error = oauthError({ error: "invalid_request", errorCodes: [code] })
      assert.include(error.remediation, hint)
      assert.include(error.message, error.remediation!)
      assert.notMatch(error.message, /[\r\n]/)
    })

    it(`Entra AADSTS${code} found in the description gets the same hint`, () => {
      const fromText = oauthError({ errorDescription: `AADSTS${code}: something went wrong.\r\nTrace ID: x` })
      const fromCodes = oauthError({ errorCodes: [code] })
      assert.strictEqual(fromText.remediation, fromCodes.remediation)
      assert.include(fromText.message, hint)
    })
  }

  it("AccessDenied gets hints too (Conditional Access blocks device code sign-in)", () => {
    const error = new DeviceFlowError.AccessDenied({
      endpoint: TOKEN,
      status: 400,
      error: "access_denied",
      errorCodes: [53003]
    })
    assert.include(error.remediation, "Conditional Access")
    assert.include(error.message, "Conditional Access")
  })

  it("GitHub's device_flow_disabled says to enable Device Flow in the app settings", () => {
    const error = oauthError({
      status: 200,
      error: "device_flow_disabled",
      errorDescription: "Device Flow must be explicitly enabled for this App"
    })
    assert.include(error.remediation, "enable \"Device Flow\"")
    assert.include(error.message, "enable \"Device Flow\"")
  })

  it("a known Entra code wins over the generic hint for the error code", () => {
    const error = oauthError({ error: "invalid_client", errorCodes: [90002] })
    assert.include(error.remediation, "Tenant not found")
  })

  it("an Entra code the hints do not know falls back to the error code's hint, or none", () => {
    assert.include(oauthError({ error: "invalid_scope", errorCodes: [12345] }).remediation, "scope")
    assert.isUndefined(oauthError({ error: "invalid_request", errorCodes: [12345] }).remediation)
    assert.isUndefined(oauthError({ error: "constructor" }).remediation)
    assert.isUndefined(oauthError({ error: "__proto__" }).remediation)
  })
})

describe("isDeviceFlowError", () => {
  it("is true for every member of the union", () => {
    for (const error of samples) assert.isTrue(DeviceFlowError.isDeviceFlowError(error), error._tag)
  })

  it("is false for look-alike objects, plain Errors and other tagged errors", () => {
    const notOurs: ReadonlyArray<unknown> = [
      { _tag: "OAuthError", endpoint: TOKEN, status: 400, error: "x" },
      JSON.parse(JSON.stringify(samples[3])),
      new Error("OAuthError"),
      Object.assign(new Error("x"), { _tag: "SomethingElse" }),
      new Cause.TimeoutException(),
      new Cause.UnknownException("x"),
      null,
      undefined,
      "OAuthError",
      42
    ]
    for (const value of notOurs) assert.isFalse(DeviceFlowError.isDeviceFlowError(value), String(value))
  })

  it.effect("lets a caller catch the whole family by refinement", () =>
    Effect.gen(function*() {
      const caught = yield* Effect.fail(samples[6]!).pipe(
        Effect.catchIf(DeviceFlowError.isDeviceFlowError, (e) => Effect.succeed(e._tag))
      )
      assert.strictEqual(caught, "TransportError")
    }))
})

describe("the DeviceFlowError schema", () => {
  it.effect("round-trips every member through encode, JSON and decode", () =>
    Effect.gen(function*() {
      for (const error of samples) {
        const encoded = yield* Schema.encode(DeviceFlowError.DeviceFlowError)(error)
        const wire = JSON.parse(JSON.stringify(encoded))
        const decoded = yield* Schema.decodeUnknown(DeviceFlowError.DeviceFlowError)(wire)
        assert.strictEqual(decoded._tag, error._tag)
        assert.strictEqual(Object.getPrototypeOf(decoded), Object.getPrototypeOf(error))
        assert.strictEqual(decoded.message, error.message)
        assert.isTrue(DeviceFlowError.isDeviceFlowError(decoded))
        assert.deepStrictEqual(yield* Schema.encode(DeviceFlowError.DeviceFlowError)(decoded), encoded)
      }
    }))

  it.effect("keeps every field of a server error", () =>
    Effect.gen(function*() {
      const encoded = yield* Schema.encode(DeviceFlowError.DeviceFlowError)(samples[0]!)
      assert.deepStrictEqual(encoded, {
        _tag: "AccessDenied",
        endpoint: TOKEN,
        status: 400,
        error: "access_denied",
        errorDescription: "AADSTS70000: The user declined.\r\nTrace ID: 0f1e\r\nTimestamp: 2024-01-01 00:00:00Z",
        errorUri: "https://login.example.com/error?code=70000",
        errorCodes: [70000],
        traceId: "0f1e",
        correlationId: "c0de"
      })
    }))

  it.effect("a TransportError's cause survives as an Error with its message", () =>
    Effect.gen(function*() {
      const error = new DeviceFlowError.TransportError({
        endpoint: TOKEN,
        reason: "reset",
        cause: new Error("ECONNRESET")
      })
      const wire = JSON.parse(JSON.stringify(yield* Schema.encode(DeviceFlowError.DeviceFlowError)(error)))
      const decoded = yield* Schema.decodeUnknown(DeviceFlowError.DeviceFlowError)(wire)
      assert.strictEqual(decoded._tag, "TransportError")
      if (decoded._tag !== "TransportError") return
      assert.instanceOf(decoded.cause, Error)
      assert.strictEqual((decoded.cause as Error).message, "ECONNRESET")
    }))

  it.effect("an unknown tag or a member with a missing field is refused", () =>
    Effect.gen(function*() {
      const decode = Schema.decodeUnknown(DeviceFlowError.DeviceFlowError)
      assert.isTrue(Exit.isFailure(yield* Effect.exit(decode({ _tag: "Nope", endpoint: TOKEN, reason: "x" }))))
      assert.isTrue(Exit.isFailure(yield* Effect.exit(decode({ _tag: "OAuthError", endpoint: TOKEN, status: 400 }))))
      assert.isTrue(
        Exit.isFailure(
          yield* Effect.exit(decode({ _tag: "DeviceCodeExpired", reason: "later", expiredAt: 0, endpoint: TOKEN }))
        )
      )
    }))
})
