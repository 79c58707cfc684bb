import { assert, describe, it } from "@effect/vitest"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Redacted from "effect/Redacted"
import { failure, runVirtual } from "../test/virtual.js"
import type { ClientConfig } from "./ClientConfig.js"
import * as DeviceAuthorization from "./DeviceAuthorization.js"
import type { InvalidResponse } from "./DeviceFlowError.js"
import type { Answer } from "./internal/oauthAnswer.js"
import * as PollSchedule from "./PollSchedule.js"
import { isPrintable } from "./ServerText.js"
import * as TestKit from "./TestKit.js"

const ENDPOINT = TestKit.DEVICE_AUTHORIZATION_ENDPOINT
const ISSUED_AT = DateTime.unsafeMake(1_700_000_000_000)
const SCOPES = ["openid", "profile"]

/** A complete RFC 8628 §3.2 answer. */
const valid: Readonly<Record<string, unknown>> = {
  device_code: TestKit.secrets.deviceCode,
  user_code: "WDJB-MJHT",
  verification_uri: "https://auth.devflow.test/device",
  verification_uri_complete: "https://auth.devflow.test/device?user_code=WDJB-MJHT",
  expires_in: 900,
  interval: 5
}

/** `valid` with `fields` set; a field set to `undefined` is left out. */
const answer = (fields: Readonly<Record<string, unknown>> = {}): Record<string, unknown> =>
  Object.fromEntries(Object.entries({ ...valid, ...fields }).filter(([, v]) => v !== undefined))

/** Validate `body` as an HTTP 200 answer of the device authorization endpoint. */
const processBody = (body: Readonly<Record<string, unknown>>) =>
  Effect.gen(function*() {
    const config = yield* TestKit.config()
    const success: Answer = { _tag: "Success", status: 200, body }
    return yield* Effect.exit(DeviceAuthorization.process(config, SCOPES, ISSUED_AT, ENDPOINT, success))
  })

/** The pair as the flow uses it: note the time, send the §3.1 request, then validate its answer. */
const requestCode = (config: ClientConfig, scopes: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const issuedAt = yield* DateTime.now
    const answer = yield* DeviceAuthorization.request(config, scopes)
    return yield* DeviceAuthorization.process(config, scopes, issuedAt, config.endpoints.deviceAuthorization, answer)
  })

/** Send the §3.1 request to the fake server running `script`. */
const requestWith = (script: TestKit.Script) =>
  Effect.gen(function*() {
    const config = yield* TestKit.config()
    return yield* runVirtual(requestCode(config, config.scopes))
  }).pipe(Effect.provide(TestKit.layer(script)))

/** Send the §3.1 request to the fake server, which answers with `reply`. */
const requestAnswered = (reply: TestKit.Reply) => requestWith(TestKit.sequence([TestKit.tokens()], reply))

const invalidResponse = <A, E extends { readonly _tag: string }>(exit: Exit.Exit<A, E>): InvalidResponse => {
  const error = failure(exit)
  assert.strictEqual(error._tag, "InvalidResponse", `expected InvalidResponse, got ${error._tag}`)
  return error as unknown as InvalidResponse
}

const succeeded = <A, E>(exit: Exit.Exit<A, E>): A => {
  if (Exit.isFailure(exit)) assert.fail(`expected a success, got ${String(exit.cause)}`)
  return (exit as Exit.Success<A, E>).value
}

describe("DeviceAuthorization.process: a valid answer (RFC 8628 §3.2)", () => {
  it.effect("becomes a DeviceCode carrying every field the user and the poller need", () =>
    Effect.gen(function*() {
      const code = succeeded(yield* processBody(answer()))
      assert.strictEqual(code.userCode, "WDJB-MJHT")
      assert.strictEqual(Redacted.value(code.deviceCode), TestKit.secrets.deviceCode)
      assert.strictEqual(code.verificationUri, "https://auth.devflow.test/device")
      assert.strictEqual(code.verificationUriComplete, "https://auth.devflow.test/device?user_code=WDJB-MJHT")
      assert.strictEqual(Duration.toSeconds(code.interval), 5)
      assert.strictEqual(code.clientId, TestKit.CLIENT_ID)
      assert.deepStrictEqual(code.scopes, SCOPES)
    }))

  it.effect("expiresOn is issuedAt + expires_in", () =>
    Effect.gen(function*() {
      const code = succeeded(yield* processBody(answer({ expires_in: 1800 })))
      assert.isTrue(DateTime.Equivalence(code.issuedAt, ISSUED_AT))
      assert.strictEqual(DateTime.toEpochMillis(code.expiresOn), DateTime.toEpochMillis(ISSUED_AT) + 1_800_000)
    }))

  it.effect("issuedAt is taken when the request is sent, so expiresOn = send time + expires_in", () =>
    Effect.gen(function*() {
      const code = succeeded(yield* requestAnswered(TestKit.deviceCode({ expires_in: 600 }, { delay: "3 seconds" })))
      assert.strictEqual(DateTime.toEpochMillis(code.issuedAt), 0)
      assert.strictEqual(DateTime.toEpochMillis(code.expiresOn), 600_000)
    }))

  it.effect("the device code is Redacted and does not show when the DeviceCode is serialised", () =>
    Effect.gen(function*() {
      const code = succeeded(yield* processBody(answer()))
      assert.isTrue(Redacted.isRedacted(code.deviceCode))
      assert.notInclude(JSON.stringify(code), TestKit.secrets.deviceCode)
      assert.notInclude(String(code.deviceCode), TestKit.secrets.deviceCode)
    }))
})

describe("DeviceAuthorization.process: what real servers send is tolerated", () => {
  it.effect("unknown extra fields are ignored", () =>
    Effect.gen(function*() {
      const code = succeeded(
        yield* processBody(answer({ qr_code: "data:image/png;base64,AAAA", nested: { a: [1, 2] }, x_vendor: 42 }))
      )
      assert.strictEqual(code.userCode, "WDJB-MJHT")
    }))

  it.effect("expires_in and interval as numeric strings (Entra v1, ADFS) are read as seconds", () =>
    Effect.gen(function*() {
      const code = succeeded(yield* processBody(answer({ expires_in: "900", interval: "7" })))
      assert.strictEqual(DateTime.toEpochMillis(code.expiresOn) - DateTime.toEpochMillis(code.issuedAt), 900_000)
      assert.strictEqual(Duration.toSeconds(code.interval), 7)
    }))

  it.effect("verification_url (Google, Entra v1, ADFS) stands in for verification_uri", () =>
    Effect.gen(function*() {
      const code = succeeded(
        yield* processBody(answer({ verification_uri: undefined, verification_url: "https://www.google.com/device" }))
      )
      assert.strictEqual(code.verificationUri, "https://www.google.com/device")
    }))

  it.effect("verification_uri wins when both it and verification_url are sent", () =>
    Effect.gen(function*() {
      const code = succeeded(yield* processBody(answer({ verification_url: "https://elsewhere.example/device" })))
      assert.strictEqual(code.verificationUri, "https://auth.devflow.test/device")
    }))

  it.effect("a missing interval means 5 s (RFC 8628 §3.5: clients MUST use 5 as the default)", () =>
    Effect.gen(function*() {
      const code = succeeded(yield* processBody(answer({ interval: undefined })))
      assert.strictEqual(Duration.toMillis(code.interval), PollSchedule.DEFAULT_INTERVAL_MS)
      assert.strictEqual(PollSchedule.DEFAULT_INTERVAL_MS, 5_000)
    }))

  it.effect("a missing verification_uri_complete is undefined (it is OPTIONAL)", () =>
    Effect.gen(function*() {
      const code = succeeded(yield* processBody(answer({ verification_uri_complete: undefined })))
      assert.isUndefined(code.verificationUriComplete)
    }))

  it.effect("null optional fields count as absent", () =>
    Effect.gen(function*() {
      const code = succeeded(
        yield* processBody(answer({ interval: null, verification_uri_complete: null, message: null }))
      )
      assert.strictEqual(Duration.toSeconds(code.interval), 5)
      assert.isUndefined(code.verificationUriComplete)
      assert.include(code.message, "WDJB-MJHT")
    }))

  it.effect("the server's message (Entra) is passed through", () =>
    Effect.gen(function*() {
      const message =
        "To sign in, use a web browser to open the page https://microsoft.com/devicelogin and enter the code ABC."
      const code = succeeded(yield* processBody(answer({ message })))
      assert.strictEqual(code.message, message)
    }))

  for (const message of [undefined, "", "   "]) {
    it.effect(`without a usable message (${JSON.stringify(message)}) one is generated with the URI and the code`, () =>
      Effect.gen(function*() {
        const code = succeeded(yield* processBody(answer({ message })))
        assert.include(code.message, "https://auth.devflow.test/device")
        assert.include(code.message, "WDJB-MJHT")
        assert.notInclude(code.message, TestKit.secrets.deviceCode)
      }))
  }

  it.effect("the Entra v1 answer (strings for numbers, verification_url, message) is understood end to end", () =>
    Effect.gen(function*() {
      const code = succeeded(yield* requestWith(TestKit.scenarios.entraV1()))
      assert.strictEqual(code.verificationUri, "https://microsoft.com/devicelogin")
      assert.strictEqual(DateTime.toEpochMillis(code.expiresOn), 900_000)
      assert.include(code.message, "microsoft.com/devicelogin")
    }))

  it.effect("a form-encoded answer (GitHub without Accept: application/json) is understood", () =>
    Effect.gen(function*() {
      const code = succeeded(
        yield* requestAnswered(TestKit.form({
          device_code: TestKit.secrets.deviceCode,
          user_code: "WDJB-MJHT",
          verification_uri: "https://github.com/login/device",
          expires_in: 900,
          interval: 5
        }))
      )
      assert.strictEqual(code.verificationUri, "https://github.com/login/device")
      assert.strictEqual(Duration.toSeconds(code.interval), 5)
    }))

  it.effect("an answer of exactly 1 MiB is still read", () =>
    Effect.gen(function*() {
      const base = JSON.stringify({ ...valid, padding: "" })
      const body = JSON.stringify({ ...valid, padding: "x".repeat(1_048_576 - base.length) })
      assert.strictEqual(new TextEncoder().encode(body).length, 1_048_576)
      const code = succeeded(yield* requestAnswered(TestKit.text(body, "application/json")))
      assert.strictEqual(code.userCode, "WDJB-MJHT")
    }))
})

describe("DeviceAuthorization.process: an invalid field is an InvalidResponse naming it", () => {
  for (const field of ["device_code", "user_code", "verification_uri", "expires_in"]) {
    it.effect(`a missing ${field} (REQUIRED)`, () =>
      Effect.gen(function*() {
        const error = invalidResponse(yield* processBody(answer({ [field]: undefined })))
        assert.strictEqual(error.field, field)
        assert.strictEqual(error.reason, "is missing")
        assert.strictEqual(error.endpoint, ENDPOINT)
        assert.strictEqual(error.status, 200)
        assert.include(error.message, `"${field}"`)
      }))
  }

  const cases: ReadonlyArray<readonly [field: string, value: unknown, why: string]> = [
    ["device_code", "", "an empty string"],
    ["user_code", "", "an empty string"],
    ["user_code", "   ", "only spaces"],
    ["user_code", 42, "a number"],
    ["verification_uri", "", "an empty string"],
    ["expires_in", 0, "zero"],
    ["expires_in", -60, "negative"],
    ["expires_in", "abc", "not a number"],
    ["expires_in", "", "an empty string"],
    ["expires_in", "Infinity", "\"Infinity\""],
    ["expires_in", "-900", "a negative numeric string"],
    ["expires_in", true, "a boolean"],
    ["interval", 0, "zero"],
    ["interval", -5, "negative"],
    ["interval", "abc", "not a number"],
    ["verification_uri", "javascript:alert(1)", "a javascript: URL"],
    ["verification_uri", "/device", "a relative URL"],
    ["verification_uri", "device.example.com", "a URL without a scheme"],
    ["verification_uri", "ftp://auth.devflow.test/device", "an ftp: URL"],
    ["verification_uri", "data:text/html,<script>alert(1)</script>", "a data: URL"],
    ["verification_uri_complete", "javascript:alert(1)", "a javascript: URL"]
  ]
  for (const [field, value, why] of cases) {
    it.effect(`${field} that is ${why} (${JSON.stringify(value)})`, () =>
      Effect.gen(function*() {
        const error = invalidResponse(yield* processBody(answer({ [field]: value })))
        assert.strictEqual(error.field, field)
        assert.notStrictEqual(error.reason, "is missing")
      }))
  }

  it.effect("an expires_in of 1e400 (which JSON.parse turns into Infinity) is refused", () =>
    Effect.gen(function*() {
      const body = JSON.stringify(answer()).replace("\"expires_in\":900", "\"expires_in\":1e400")
      assert.include(body, "1e400")
      const error = invalidResponse(yield* requestAnswered(TestKit.text(body, "application/json")))
      assert.strictEqual(error.field, "expires_in")
    }))

  // Regression test (this bug was found by the suite and fixed): Seconds (internal/decode.ts) only requires a finite positive number, and toDeviceCode adds it to
  // issuedAt unchecked: expires_in 1e13 (finite, ~317,000 years) gives an expiresOn past the JS date range
  // (epochMillis 1e16 > 8.64e15), an invalid DateTime.Utc on which DateTime.formatIso and JSON.stringify(code)
  // throw RangeError("Invalid time value"). Expected: an InvalidResponse naming expires_in (or a usable date).
  it.effect("an expires_in too large for a date (1e13 s) is refused rather than giving an unusable expiresOn", () =>
    Effect.gen(function*() {
      const exit = yield* processBody(answer({ expires_in: 1e13 }))
      if (Exit.isSuccess(exit)) {
        assert.doesNotThrow(() => DateTime.formatIso(exit.value.expiresOn))
        assert.doesNotThrow(() => JSON.stringify(exit.value))
      } else {
        assert.strictEqual(invalidResponse(exit).field, "expires_in")
      }
    }))

  it.effect("an invalid verification_url is refused as the verification_uri it stands for", () =>
    Effect.gen(function*() {
      const error = invalidResponse(
        yield* processBody(answer({ verification_uri: undefined, verification_url: "javascript:alert(1)" }))
      )
      assert.strictEqual(error.field, "verification_uri")
    }))

  it.effect("the reason says what is wrong with the value", () =>
    Effect.gen(function*() {
      const uri = invalidResponse(yield* processBody(answer({ verification_uri: "/device" })))
      assert.include(uri.reason, "absolute http(s) URL")
      const seconds = invalidResponse(yield* processBody(answer({ expires_in: -1 })))
      assert.include(seconds.reason, "positive")
    }))
})

describe("DeviceAuthorization.request: a body that is not a protocol answer is an InvalidResponse", () => {
  const bodies: ReadonlyArray<readonly [name: string, reply: TestKit.Reply, reason: string]> = [
    ["a JSON array", TestKit.json([valid]), "array"],
    ["a JSON string", TestKit.json("device_code"), "string"],
    ["JSON null", TestKit.text("null", "application/json"), "null"],
    ["a JSON number", TestKit.text("900", "application/json"), "number"],
    [
      "an HTML page with HTTP 200",
      TestKit.text("<!DOCTYPE html><html><body>Sign in</body></html>", "text/html"),
      "HTML"
    ],
    ["an HTML page labelled as JSON", TestKit.text("<html><body>Sign in</body></html>", "application/json"), "HTML"],
    ["an empty body", TestKit.text("", "application/json"), "empty"],
    ["a body of only whitespace", TestKit.text(" \n ", "application/json"), "empty"],
    ["truncated JSON", TestKit.text(JSON.stringify(valid).slice(0, 40), "application/json"), "not valid JSON"],
    ["plain text", TestKit.text("OK", "text/plain"), "neither JSON nor form-encoded"]
  ]
  for (const [name, reply, reason] of bodies) {
    it.effect(name, () =>
      Effect.gen(function*() {
        const error = invalidResponse(yield* requestAnswered(reply))
        assert.include(error.reason, reason)
        assert.isUndefined(error.field)
        assert.strictEqual(error.endpoint, ENDPOINT)
      }))
  }

  const oversized = JSON.stringify({ ...valid, padding: "x".repeat(1_048_576) })

  it.effect("a body over 1 MiB without a content-length header is cut off while reading", () =>
    Effect.gen(function*() {
      const error = invalidResponse(yield* requestAnswered(TestKit.text(oversized, "application/json")))
      assert.include(error.reason, "1048576-byte limit")
    }))

  it.effect("a body over 1 MiB with a content-length header is refused", () =>
    Effect.gen(function*() {
      const error = invalidResponse(
        yield* requestAnswered(
          TestKit.text(oversized, "application/json", { headers: { "content-length": String(oversized.length) } })
        )
      )
      assert.include(error.reason, `${oversized.length} bytes, over the 1048576-byte limit`)
    }))

  it.effect("a declared content-length over 1 MiB is refused before the body is read", () =>
    Effect.gen(function*() {
      const error = invalidResponse(
        yield* requestAnswered(
          TestKit.deviceCode({}, { headers: { "content-length": "2000000" } })
        )
      )
      assert.include(error.reason, "2000000 bytes")
    }))

  for (const status of [301, 302, 303, 307, 308]) {
    it.effect(`an HTTP ${status} redirect is not followed and names where it pointed`, () =>
      Effect.gen(function*() {
        const error = invalidResponse(
          yield* requestAnswered(
            TestKit.text("", "text/plain", { status, headers: { location: "https://login.evil.example/phish?next=1" } })
          )
        )
        assert.strictEqual(error.status, status)
        assert.include(error.reason, "redirect")
        assert.include(error.reason, "https://login.evil.example")
      }))
  }
})

describe("DeviceAuthorization: other answers", () => {
  it.effect("an OAuth error, even with HTTP 200, is an OAuthError and never a DeviceCode", () =>
    Effect.gen(function*() {
      const error = failure(yield* requestAnswered(TestKit.oauthError("invalid_client", { status: 200 })))
      assert.strictEqual(error._tag, "OAuthError")
    }))

  it.effect("an OAuth error echoing the client secret (raw or form-encoded) has it blanked out when the answer is read", () =>
    Effect.gen(function*() {
      const config = yield* TestKit.config({ clientSecret: Redacted.make("CLIENT/SECRET+CANARY") })
      const e = failure(yield* Effect.exit(requestCode(config, SCOPES)))
      assert.strictEqual(e._tag, "OAuthError")
      for (const spelling of ["CLIENT/SECRET+CANARY", "CLIENT%2FSECRET%2BCANARY"]) {
        assert.notInclude(e.message, spelling)
        assert.notInclude(JSON.stringify(e), spelling)
      }
    }).pipe(Effect.provide(TestKit.layer({
      deviceAuthorization: () =>
        TestKit.oauthError("invalid_client", {
          status: 401,
          fields: { error_description: "bad secret CLIENT/SECRET+CANARY (CLIENT%2FSECRET%2BCANARY)" }
        }),
      token: () => TestKit.tokens()
    }))))

  it.effect("a server that is unavailable (HTTP 503 without an OAuth body) is a TransportError with the status", () =>
    Effect.gen(function*() {
      const error = failure(yield* requestAnswered(TestKit.text("Service Unavailable", "text/plain", { status: 503 })))
      assert.strictEqual(error._tag, "TransportError")
      if (error._tag !== "TransportError") return
      assert.strictEqual(error.status, 503)
    }))
})

describe("DeviceAuthorization: the device code never leaks into an error", () => {
  const invalidCodes: ReadonlyArray<readonly [name: string, value: unknown, canary: string]> = [
    ["a number", 12345678, "12345678"],
    ["an empty string", "", TestKit.secrets.deviceCode],
    ["an array holding the code", [TestKit.secrets.deviceCode], TestKit.secrets.deviceCode],
    ["an object holding the code", { value: TestKit.secrets.deviceCode }, TestKit.secrets.deviceCode],
    ["a boolean", true, "true"]
  ]
  for (const [name, value, canary] of invalidCodes) {
    it.effect(`a device_code that is ${name} is refused without quoting it`, () =>
      Effect.gen(function*() {
        const error = invalidResponse(yield* processBody(answer({ device_code: value })))
        assert.strictEqual(error.field, "device_code")
        assert.include(error.reason, "withheld")
        assert.notInclude(error.message, canary)
        assert.notInclude(JSON.stringify(error), canary)
        assert.notInclude(String(error), canary)
      }))
  }

  it.effect("an error in another field does not quote the (valid) device code", () =>
    Effect.gen(function*() {
      for (
        const fields of [{ expires_in: "abc" }, { user_code: "" }, { verification_uri: "/device" }, { interval: 0 }]
      ) {
        const error = invalidResponse(yield* processBody(answer(fields)))
        assert.notInclude(error.message, TestKit.secrets.deviceCode)
        assert.notInclude(JSON.stringify(error), TestKit.secrets.deviceCode)
      }
    }))

  it.effect("a body that is not an object does not quote the device code", () =>
    Effect.gen(function*() {
      const truncated = JSON.stringify(valid).slice(0, 60)
      assert.include(truncated, TestKit.secrets.deviceCode)
      const error = invalidResponse(yield* requestAnswered(TestKit.text(truncated, "application/json")))
      assert.notInclude(error.message, TestKit.secrets.deviceCode)
      assert.notInclude(JSON.stringify(error), TestKit.secrets.deviceCode)
    }))
})

describe("DeviceAuthorization.process: server text crosses ServerText at decode time (RFC 8628 §5.4, issue 20)", () => {
  const ESC = "\x1b"
  const refused: ReadonlyArray<readonly [field: string, value: string, why: string]> = [
    [
      "verification_uri",
      `${ESC}[2K\r  To sign in, open https://evil.example/device`,
      "an erase-line that draws another URL"
    ],
    [
      "verification_uri",
      `https://auth.devflow.test/device${ESC}[2K\r  To sign in, open https://evil.example/device`,
      "a trusted URL followed by an erase-line"
    ],
    ["verification_uri", "https://auth.devflow.test/dev\nice", "a line break the URL parser would drop"],
    [
      "verification_uri_complete",
      `https://auth.devflow.test/device?user_code=WDJB${ESC}]52;c;ZXZpbA==\x07`,
      "an OSC 52 clipboard write"
    ],
    ["user_code", `${ESC}]8;;https://evil.example/${ESC}\\WDJB-MJHT${ESC}]8;;${ESC}\\`, "an OSC 8 hyperlink"],
    ["user_code", `WDJB-MJHT${ESC}]52;c;Y3VybCBldmlsLmV4YW1wbGUgfCBzaA==\x07`, "an OSC 52 clipboard write"],
    ["user_code", "WDJB\u009b2KMJHT", "a C1 CSI"],
    ["user_code", "WDJB\u007fMJHT", "DEL"]
  ]
  for (const [field, value, why] of refused) {
    it.effect(`${field} with ${why} is an InvalidResponse naming the field, the value not echoed`, () =>
      Effect.gen(function*() {
        const error = invalidResponse(yield* processBody(answer({ [field]: value })))
        assert.strictEqual(error.field, field)
        assert.strictEqual(error.reason, "must not contain control characters")
        assert.notInclude(error.message, "evil")
        assert.notInclude(error.message, "WDJB")
        assert.isTrue(isPrintable(error.message))
      }))
  }

  it.effect("the verification URIs are carried as new URL(x).href, the string the §5.4 check and the user see", () =>
    Effect.gen(function*() {
      const code = succeeded(
        yield* processBody(
          answer({
            verification_uri: "HTTPS://Auth.Devflow.TEST",
            verification_uri_complete: "https://auth.devflow.test/device?user_code=WDJB MJHT"
          })
        )
      )
      assert.strictEqual(code.verificationUri, "https://auth.devflow.test/")
      assert.strictEqual(code.verificationUriComplete, "https://auth.devflow.test/device?user_code=WDJB%20MJHT")
    }))

  it.effect("the server's message has its controls removed, not passed on", () =>
    Effect.gen(function*() {
      const code = succeeded(
        yield* processBody(
          answer({
            message:
              `Open the page${ESC}[2K\rand enter ${ESC}]8;;https://evil.example/${ESC}\\the code${ESC}]8;;${ESC}\\.`
          })
        )
      )
      assert.strictEqual(code.message, "Open the page and enter the code.")
    }))
})
