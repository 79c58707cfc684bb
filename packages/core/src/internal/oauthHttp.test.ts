import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import { failure } from "../../test/virtual.js"
import type { InvalidResponse } from "../DeviceFlowError.js"
import * as RequestLimits from "../RequestLimits.js"
import { MAX_BODY_BYTES } from "../RequestLimits.js"
import * as TestKit from "../TestKit.js"
import { type Answer, asErrorBody, classify, parseObject } from "./oauthAnswer.js"
import { postForm } from "./oauthHttp.js"
import { parseRetryAfter } from "./retryAfter.js"

const ENDPOINT = TestKit.TOKEN_ENDPOINT

/** An answer of the token endpoint, as the HTTP client hands it over. */
const response = (
  body: string,
  options: { readonly status?: number; readonly headers?: Readonly<Record<string, string>> } = {}
) =>
  HttpClientResponse.fromWeb(
    HttpClientRequest.post(ENDPOINT),
    new Response(body, { status: options.status ?? 200, headers: { ...options.headers } })
  )

const jsonResponse = (body: unknown, status = 200, headers: Readonly<Record<string, string>> = {}) =>
  response(JSON.stringify(body), { status, headers: { "content-type": "application/json", ...headers } })

const classified = (res: HttpClientResponse.HttpClientResponse) => Effect.exit(classify(ENDPOINT, res))

const answerOf = <E>(exit: Exit.Exit<Answer, E>): Answer => {
  if (Exit.isFailure(exit)) assert.fail(`expected an answer, got ${String(exit.cause)}`)
  return (exit as Exit.Success<Answer, E>).value
}

const errorBodyOf = <E>(exit: Exit.Exit<Answer, E>) => {
  const answer = answerOf(exit)
  if (answer._tag !== "ErrorBody") assert.fail(`expected ErrorBody, got ${answer._tag}`)
  return answer as Extract<Answer, { readonly _tag: "ErrorBody" }>
}

const invalidResponse = <E extends { readonly _tag: string }>(exit: Exit.Exit<Answer, E>): InvalidResponse => {
  const error = failure(exit)
  assert.strictEqual(error._tag, "InvalidResponse")
  return error as unknown as InvalidResponse
}

// Retry-After is carried in ms: compared in seconds, as the server sent it
const seconds = (ms: number | undefined) => (ms === undefined ? Option.none() : Option.some(ms / 1000))

describe("classify: an OAuth error is recognised by its body, whatever the status (RFC 6749 §5.2)", () => {
  it.effect("HTTP 200 with an error field is an error (GitHub)", () =>
    Effect.gen(function*() {
      const answer = errorBodyOf(yield* classified(jsonResponse({ error: "authorization_pending" })))
      assert.strictEqual(answer.status, 200)
      assert.strictEqual(answer.body.error, "authorization_pending")
    }))

  for (
    const [status, error] of [
      [400, "authorization_pending"],
      [401, "invalid_client"],
      [403, "slow_down"], // Google, Auth0
      [428, "authorization_pending"], // Google
      [429, "slow_down"] // Auth0
    ] as const
  ) {
    it.effect(`HTTP ${status} with an OAuth JSON body is the error ${error}`, () =>
      Effect.gen(function*() {
        const answer = errorBodyOf(yield* classified(jsonResponse({ error, error_description: "d" }, status)))
        assert.strictEqual(answer.status, status)
        assert.deepStrictEqual(answer.body, { error, error_description: "d" })
      }))
  }

  it.effect("HTTP 200 without an error field is a success, with the body as sent", () =>
    Effect.gen(function*() {
      const answer = answerOf(
        yield* classified(jsonResponse({ access_token: "a", token_type: "Bearer", expires_in: 60 }))
      )
      assert.deepStrictEqual(answer, {
        _tag: "Success",
        status: 200,
        body: { access_token: "a", token_type: "Bearer", expires_in: 60 }
      })
    }))

  it.effect("a form-encoded success is understood", () =>
    Effect.gen(function*() {
      const answer = answerOf(
        yield* classified(response("access_token=a%2Bb&token_type=bearer&scope=repo%2Cgist", {
          headers: { "content-type": "application/x-www-form-urlencoded" }
        }))
      )
      assert.deepStrictEqual(answer, {
        _tag: "Success",
        status: 200,
        body: { access_token: "a+b", token_type: "bearer", scope: "repo,gist" }
      })
    }))

  it.effect("a form-encoded error is understood (GitHub without Accept: application/json)", () =>
    Effect.gen(function*() {
      const answer = errorBodyOf(
        yield* classified(response(
          "error=authorization_pending&error_description=The+authorization+request+is+still+pending.",
          { headers: { "content-type": "application/x-www-form-urlencoded; charset=utf-8" } }
        ))
      )
      assert.deepStrictEqual(answer.body, {
        error: "authorization_pending",
        error_description: "The authorization request is still pending."
      })
    }))

  it.effect("JSON mislabelled as text/plain is understood", () =>
    Effect.gen(function*() {
      const success = answerOf(
        yield* classified(response("{\"access_token\":\"a\"}", { headers: { "content-type": "text/plain" } }))
      )
      assert.strictEqual(success._tag, "Success")
      const error = errorBodyOf(yield* classified(response("{\"error\":\"slow_down\"}", { status: 400 })))
      assert.strictEqual(error.body.error, "slow_down")
    }))

  it.effect("Entra's error_codes, trace_id and correlation_id are kept", () =>
    Effect.gen(function*() {
      const answer = errorBodyOf(
        yield* classified(jsonResponse({
          error: "authorization_pending",
          error_description: "AADSTS70016: OAuth 2.0 device flow error. Authorization is pending.",
          error_codes: [70016],
          timestamp: "2024-01-01 00:00:00Z",
          trace_id: "t-1",
          correlation_id: "c-1",
          error_uri: "https://login.microsoftonline.com/error?code=70016"
        }, 400))
      )
      assert.deepStrictEqual(answer.body, {
        error: "authorization_pending",
        error_description: "AADSTS70016: OAuth 2.0 device flow error. Authorization is pending.",
        error_uri: "https://login.microsoftonline.com/error?code=70016",
        error_codes: [70016],
        trace_id: "t-1",
        correlation_id: "c-1"
      })
    }))

  it.effect("optional fields of the wrong type are dropped without hiding the error code", () =>
    Effect.gen(function*() {
      const answer = errorBodyOf(
        yield* classified(jsonResponse({
          error: "invalid_grant",
          error_description: 42,
          error_uri: { href: "x" },
          trace_id: 1,
          correlation_id: null,
          error_codes: "70000",
          interval: "soon"
        }, 400))
      )
      assert.deepStrictEqual(answer.body, { error: "invalid_grant" })
    }))

  it.effect("the interval sent with slow_down (GitHub) is kept in ms, from a number or numeric string of seconds", () =>
    Effect.gen(function*() {
      const asNumber = errorBodyOf(yield* classified(jsonResponse({ error: "slow_down", interval: 10 })))
      assert.strictEqual(asNumber.body.intervalMs, 10_000)
      const asString = errorBodyOf(
        yield* classified(
          response("error=slow_down&interval=15", { headers: { "content-type": "application/x-www-form-urlencoded" } })
        )
      )
      assert.strictEqual(asString.body.intervalMs, 15_000)
    }))

  it.effect("Retry-After on an error answer is kept", () =>
    Effect.gen(function*() {
      const answer = errorBodyOf(yield* classified(jsonResponse({ error: "slow_down" }, 429, { "retry-after": "30" })))
      assert.deepStrictEqual(seconds(answer.retryAfterMs), Option.some(30))
    }))
})

describe("classify: a server that cannot answer now is Unavailable", () => {
  for (
    const [status, body, contentType] of [
      [429, "Too Many Requests", "text/plain"],
      [500, "", "text/plain"],
      [502, "<html><body>Bad Gateway</body></html>", "text/html"],
      [503, "{\"message\":\"overloaded\"}", "application/json"],
      [504, "upstream timed out", "text/plain"]
    ] as const
  ) {
    it.effect(`HTTP ${status} without an OAuth body (${contentType}${body === "" ? ", empty" : ""})`, () =>
      Effect.gen(function*() {
        const answer = answerOf(yield* classified(response(body, { status, headers: { "content-type": contentType } })))
        assert.deepStrictEqual(answer, { _tag: "Unavailable", status, retryAfterMs: undefined })
      }))
  }

  it.effect("HTTP 503 with an HTML page over the size limit is still only Unavailable", () =>
    Effect.gen(function*() {
      const answer = answerOf(
        yield* classified(
          response(`<html>${"x".repeat(MAX_BODY_BYTES)}</html>`, {
            status: 503,
            headers: { "content-type": "text/html" }
          })
        )
      )
      assert.strictEqual(answer._tag, "Unavailable")
    }))

  it.effect("Retry-After in seconds is parsed", () =>
    Effect.gen(function*() {
      const answer = answerOf(yield* classified(response("busy", { status: 429, headers: { "retry-after": "120" } })))
      assert.strictEqual(answer._tag, "Unavailable")
      if (answer._tag !== "Unavailable") return
      assert.deepStrictEqual(seconds(answer.retryAfterMs), Option.some(120))
    }))

  it.effect("Retry-After as an HTTP date counts from the clock's now", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(1_000_000)
      const date = new Date(1_000_000 + 90_000).toUTCString()
      const answer = answerOf(yield* classified(response("", { status: 503, headers: { "retry-after": date } })))
      assert.strictEqual(answer._tag, "Unavailable")
      if (answer._tag !== "Unavailable") return
      assert.deepStrictEqual(seconds(answer.retryAfterMs), Option.some(90))
    }))
})

describe("classify: anything else is an InvalidResponse", () => {
  for (const status of [400, 401, 403, 404, 405]) {
    it.effect(`HTTP ${status} with an HTML page`, () =>
      Effect.gen(function*() {
        const error = invalidResponse(
          yield* classified(
            response("<!DOCTYPE html><html><body>Not here</body></html>", {
              status,
              headers: { "content-type": "text/html" }
            })
          )
        )
        assert.strictEqual(error.status, status)
        assert.strictEqual(error.endpoint, ENDPOINT)
        assert.include(error.reason, "HTML")
      }))
  }

  it.effect("HTTP 400 with a JSON object that has no error field", () =>
    Effect.gen(function*() {
      const error = invalidResponse(yield* classified(jsonResponse({ message: "bad" }, 400)))
      assert.include(error.reason, "no OAuth error")
    }))

  it.effect("an error field that is not a non-empty string is no OAuth error", () =>
    Effect.gen(function*() {
      for (const value of [42, "", "  ", null, ["invalid_grant"]]) {
        const error = invalidResponse(yield* classified(jsonResponse({ error: value }, 400)))
        assert.strictEqual(error.status, 400)
      }
    }))

  it.effect("HTTP 200 with an HTML page", () =>
    Effect.gen(function*() {
      const error = invalidResponse(
        yield* classified(
          response("<html><head><title>Sign in</title></head></html>", {
            headers: { "content-type": "text/html; charset=utf-8" }
          })
        )
      )
      assert.include(error.reason, "HTML")
    }))

  it.effect("a body over 1 MiB, with or without content-length", () =>
    Effect.gen(function*() {
      const body = JSON.stringify({ access_token: "a", padding: "x".repeat(MAX_BODY_BYTES) })
      const streamed = invalidResponse(yield* classified(response(body)))
      assert.include(streamed.reason, `${MAX_BODY_BYTES}-byte limit`)
      const declared = invalidResponse(
        yield* classified(response(body, { headers: { "content-length": String(body.length) } }))
      )
      assert.include(declared.reason, `${body.length} bytes`)
    }))

  it.effect("a body the HTTP client refused at its own size cap is an InvalidResponse, not a transport failure to retry", () =>
    Effect.gen(function*() {
      // what @devflow/node-http does when a chunked body grows past maxResponseBytes
      const base = response("{\"access_token\":\"")
      const capped = Object.create(base) as HttpClientResponse.HttpClientResponse
      Object.defineProperty(capped, "stream", {
        value: Stream.fail(
          new HttpClientError.ResponseError({
            request: base.request,
            response: base,
            reason: "Decode",
            description: "response body exceeded 16 bytes",
            cause: new Cause.ExceededCapacityException("response body exceeded 16 bytes")
          })
        )
      })
      const error = invalidResponse(yield* classified(capped))
      assert.strictEqual(error.status, 200)
      assert.include(error.reason, "size limit (response body exceeded 16 bytes)")
    }))

  for (const status of [301, 302, 303, 307, 308]) {
    it.effect(`HTTP ${status} names the redirect target's origin and path, never its query`, () =>
      Effect.gen(function*() {
        const error = invalidResponse(
          yield* classified(response("", {
            status,
            headers: { location: "https://login.example.com/common/oauth2/token?code=SECRET-IN-QUERY" }
          }))
        )
        assert.strictEqual(error.status, status)
        assert.include(error.reason, "redirect to https://login.example.com/common/oauth2/token")
        assert.notInclude(error.message, "SECRET-IN-QUERY")
      }))
  }

  it.effect("a redirect without a usable location still says it is a redirect", () =>
    Effect.gen(function*() {
      const missing = invalidResponse(yield* classified(response("", { status: 302 })))
      assert.include(missing.reason, "redirect")
      const relative = invalidResponse(
        yield* classified(response("", { status: 302, headers: { location: "/login" } }))
      )
      assert.include(relative.reason, "\"/login\"")
    }))

  it.effect("a redirect is refused even when its body looks like a success", () =>
    Effect.gen(function*() {
      const error = invalidResponse(
        yield* classified(jsonResponse({ access_token: "a", token_type: "Bearer" }, 302, {
          location: "https://elsewhere.example/token"
        }))
      )
      assert.include(error.reason, "https://elsewhere.example")
    }))
})

describe("parseObject: JSON or form-encoded, whatever the content type claims", () => {
  const left = (text: string, contentType = "") => {
    const result = parseObject(text, contentType)
    if (Either.isRight(result)) assert.fail(`expected a refusal of ${JSON.stringify(text)}`)
    return (result as Either.Left<string, Record<string, unknown>>).left
  }

  it("a JSON object is read whatever the content type", () => {
    for (const contentType of ["application/json", "text/plain", "", "application/x-www-form-urlencoded"]) {
      assert.deepStrictEqual(parseObject(" {\"a\":1,\"b\":\"x\"} ", contentType), Either.right({ a: 1, b: "x" }))
    }
  })

  it("a form body is read with or without its content type", () => {
    assert.deepStrictEqual(
      parseObject("a=1&b=x+y", "application/x-www-form-urlencoded"),
      Either.right({ a: "1", b: "x y" })
    )
    assert.deepStrictEqual(
      parseObject("error=slow_down&interval=10", "text/plain"),
      Either.right({ error: "slow_down", interval: "10" })
    )
  })

  it("JSON that is not an object is refused, naming what it is", () => {
    assert.include(left("[1,2]", "application/json"), "array")
    assert.include(left("\"str\"", "application/json"), "string")
    assert.include(left("null", "application/json"), "null")
    assert.include(left("42", "application/json"), "number")
    assert.include(left("true", "application/json"), "boolean")
  })

  it("an empty or blank body is refused", () => {
    assert.include(left(""), "empty")
    assert.include(left(" \r\n\t"), "empty")
  })

  it("truncated or malformed JSON is refused", () => {
    assert.include(left("{\"access_token\":\"abc", "application/json"), "not valid JSON")
    assert.include(left("{'a': 1}"), "not valid JSON")
  })

  it("HTML is refused, by content type or by its first tag", () => {
    assert.include(left("{\"a\":1}", "text/html"), "HTML")
    assert.include(left("<!doctype html><p>hi</p>", "text/plain"), "HTML")
    assert.include(left("<html></html>"), "HTML")
  })

  it("plain text that is neither JSON nor form-encoded is refused", () => {
    assert.include(left("Bad Gateway", "text/plain"), "neither JSON nor form-encoded")
  })
})

describe("asErrorBody: RFC 6749 §5.2 error bodies", () => {
  it("an object without a string error is no error body", () => {
    for (const body of [{}, { access_token: "a" }, { error: null }, { error: 1 }, { error: "" }, { error: "   " }]) {
      assert.isUndefined(asErrorBody(body))
    }
  })

  it("the error code is trimmed", () => {
    assert.deepStrictEqual(asErrorBody({ error: " invalid_grant\n" }), { error: "invalid_grant" })
  })

  it("error_codes are kept as numbers; numeric strings are converted, the rest dropped", () => {
    assert.deepStrictEqual(asErrorBody({ error: "x", error_codes: [50059, "90133", "abc"] })?.error_codes, [
      50059,
      90133
    ])
  })

  it("an interval that is not a positive number is dropped; a huge one is kept for PollSchedule to cap", () => {
    for (const interval of [0, -5, "abc", -Infinity, Number.NaN, null, {}]) {
      assert.isUndefined(asErrorBody({ error: "slow_down", interval })?.intervalMs, String(interval))
    }
    assert.strictEqual(asErrorBody({ error: "slow_down", interval: "7" })?.intervalMs, 7_000)
    // JSON.parse reads 1e400 as Infinity: still the server asking to wait longer than the code lives
    assert.strictEqual(asErrorBody(JSON.parse(`{"error":"slow_down","interval":1e400}`))?.intervalMs, Infinity)
  })

  it("error_description reaches callers without controls: escape sequences removed, line breaks made spaces", () => {
    const body = asErrorBody({
      error: "access_denied",
      error_description: "AADSTS70000: declined.\x1b[2K\rSigned in as admin\r\nTrace ID: 0f1e\x1b]52;c;ZXZpbA==\x07"
    })
    assert.strictEqual(body?.error_description, "AADSTS70000: declined. Signed in as admin Trace ID: 0f1e")
  })

  it("error_uri is carried as its href, and dropped when it holds a control or is no http(s) URL", () => {
    assert.strictEqual(
      asErrorBody({ error: "x", error_uri: "HTTPS://IdP.example/errors?c=1" })?.error_uri,
      "https://idp.example/errors?c=1"
    )
    for (
      const error_uri of [
        "https://idp.example/\x1b[2Kerrors",
        "https://idp.example/err\nors",
        "javascript:alert(1)",
        "see the docs"
      ]
    ) {
      const body = asErrorBody({ error: "x", error_uri })
      assert.strictEqual(body?.error, "x")
      assert.isUndefined(body?.error_uri, JSON.stringify(error_uri))
    }
  })

  it("the error code, ids and suberror lose their controls too", () => {
    const body = asErrorBody({
      error: "invalid_grant\u009b2K",
      trace_id: "t\x1b[1m1",
      correlation_id: "c\u007f1",
      suberror: "basic\x1b]8;;https://e/\x07action"
    })
    assert.deepStrictEqual(body, {
      error: "invalid_grant 2K",
      trace_id: "t1",
      correlation_id: "c 1",
      suberror: "basicaction"
    })
  })
})

describe("parseRetryAfter (RFC 9110 §10.2.3)", () => {
  const NOW = Date.UTC(2024, 0, 1, 12, 0, 0)

  it("no header is no delay", () => {
    assert.isTrue(Option.isNone(seconds(parseRetryAfter(undefined, NOW))))
  })

  it("delay-seconds is that many seconds", () => {
    assert.deepStrictEqual(seconds(parseRetryAfter("120", NOW)), Option.some(120))
    assert.deepStrictEqual(seconds(parseRetryAfter(" 5 ", NOW)), Option.some(5))
    assert.deepStrictEqual(seconds(parseRetryAfter("0", NOW)), Option.some(0))
  })

  it("an HTTP date is the time until that date", () => {
    assert.deepStrictEqual(seconds(parseRetryAfter("Mon, 01 Jan 2024 12:01:30 GMT", NOW)), Option.some(90))
  })

  it("the obsolete HTTP date forms are accepted too (RFC 9110 §5.6.7: recipients MUST accept them)", () => {
    assert.deepStrictEqual(seconds(parseRetryAfter("Monday, 01-Jan-24 12:01:30 GMT", NOW)), Option.some(90))
  })

  // Regression test (this bug was found by the suite and fixed): parseRetryAfter hands the asctime form ("Mon Jan  1 12:01:30 2024", which carries no zone)
  // to Date.parse, which reads it in the local time zone; RFC 9110 §5.6.7 says every HTTP-date is
  // GMT and recipients MUST accept this form. East or west of UTC the delay is off by the UTC offset
  // (in New York: 18090 s instead of 90 s).
  it("the asctime form is read as GMT, whatever the local time zone", () => {
    // eslint-disable-next-line no-restricted-globals -- the test needs a non-UTC zone; Node applies TZ changes at once
    const env = process.env
    const saved = env.TZ
    env.TZ = "America/New_York"
    try {
      assert.deepStrictEqual(seconds(parseRetryAfter("Mon Jan  1 12:01:30 2024", NOW)), Option.some(90))
    } finally {
      if (saved === undefined) delete env.TZ
      else env.TZ = saved
    }
  })

  it("a date in the past means now", () => {
    assert.deepStrictEqual(seconds(parseRetryAfter("Mon, 01 Jan 2024 11:00:00 GMT", NOW)), Option.some(0))
  })

  it("text that is neither delay-seconds nor a date is ignored", () => {
    for (const value of ["", "soon", "10 seconds", "later please"]) {
      assert.isTrue(Option.isNone(seconds(parseRetryAfter(value, NOW))), JSON.stringify(value))
    }
  })

  // Regression test (this bug was found by the suite and fixed): parseRetryAfter falls back to Date.parse, which V8 parses leniently: "1.5" becomes
  // 2001-01-05 and "-5" / "+5" become 2001-05-01, so these invalid values (RFC 9110: delay-seconds
  // = 1*DIGIT) give Some(0 s) instead of being ignored as the function's contract says.
  it("a decimal or signed number is not a valid Retry-After and is ignored", () => {
    for (const value of ["1.5", "-5", "+5"]) {
      assert.isTrue(Option.isNone(seconds(parseRetryAfter(value, NOW))), JSON.stringify(value))
    }
  })
})

describe("postForm: the request and its answer through the fake server", () => {
  const auth = { clientId: TestKit.CLIENT_ID, clientSecret: undefined, method: "none" } as const

  const post = (reply: TestKit.Reply, options: { readonly auth?: Parameters<typeof postForm>[2] } = {}) =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(postForm(ENDPOINT, { grant_type: "g", device_code: "d c" }, options.auth ?? auth))
      const requests = yield* Effect.flatMap(TestKit.FakeServer, (s) => s.requests)
      return { exit, request: requests[0]!, requests }
    }).pipe(Effect.provide(TestKit.layer(TestKit.sequence([reply]))))

  it.effect("sends a form-encoded POST asking for JSON, with client_id in the body", () =>
    Effect.gen(function*() {
      const { exit, request } = yield* post(TestKit.tokens())
      assert.strictEqual(answerOf(exit)._tag, "Success")
      assert.strictEqual(request.method, "POST")
      assert.strictEqual(request.headers["accept"], "application/json")
      assert.strictEqual(request.headers["content-type"], "application/x-www-form-urlencoded")
      assert.deepStrictEqual(request.params, { grant_type: "g", device_code: "d c", client_id: TestKit.CLIENT_ID })
    }))

  it.effect("client_secret_basic form-encodes id and secret before Basic encoding (RFC 6749 §2.3.1)", () =>
    Effect.gen(function*() {
      const { request } = yield* post(TestKit.tokens(), {
        auth: { clientId: "my client", clientSecret: Redacted.make("p@ss:w rd"), method: "client_secret_basic" }
      })
      assert.strictEqual(request.headers["authorization"], `Basic ${btoa("my+client:p%40ss%3Aw+rd")}`)
      assert.isUndefined(request.params.client_id)
      assert.isUndefined(request.params.client_secret)
    }))

  it.effect("an OAuth error with HTTP 200 comes back as ErrorBody", () =>
    Effect.gen(function*() {
      const { exit } = yield* post(TestKit.oauthError("slow_down", { status: 200, fields: { interval: 10 } }))
      const answer = errorBodyOf(exit)
      assert.deepStrictEqual(answer.body, { error: "slow_down", intervalMs: 10_000 })
    }))

  it.effect("a form-encoded error comes back as ErrorBody", () =>
    Effect.gen(function*() {
      const { exit } = yield* post(TestKit.form({ error: "authorization_pending" }))
      assert.strictEqual(errorBodyOf(exit).body.error, "authorization_pending")
    }))

  it.effect("HTTP 429 without an OAuth body comes back Unavailable with its Retry-After", () =>
    Effect.gen(function*() {
      const { exit } = yield* post(
        TestKit.text("slow down", "text/plain", { status: 429, headers: { "retry-after": "42" } })
      )
      const answer = answerOf(exit)
      assert.strictEqual(answer._tag, "Unavailable")
      if (answer._tag !== "Unavailable") return
      assert.deepStrictEqual(seconds(answer.retryAfterMs), Option.some(42))
    }))

  it.effect("a connection failure is a TransportError carrying the reason", () =>
    Effect.gen(function*() {
      const { exit } = yield* post(TestKit.transportFailure("ECONNRESET"))
      const error = failure(exit)
      assert.strictEqual(error._tag, "TransportError")
      assert.include(error.message, "ECONNRESET")
    }))

  it.effect("a 302 is an InvalidResponse, not followed", () =>
    Effect.gen(function*() {
      const { exit } = yield* post(
        TestKit.text("", "text/plain", { status: 302, headers: { location: "https://evil.example/x" } })
      )
      const error = failure(exit)
      assert.strictEqual(error._tag, "InvalidResponse")
      assert.include(error.message, "https://evil.example")
      const { requests } = yield* post(TestKit.text("", "text/plain", { status: 307, headers: { location: ENDPOINT } }))
      assert.strictEqual(requests.length, 1)
    }))
})

describe("one deadline and one body limit per request (RequestLimits)", () => {
  // A client that records what it was handed and never answers. (Built with makeWith: platform's
  // HttpClient.make hands its function a copy of the request carrying trace headers.)
  const silent = (seen: Array<RequestLimits.RequestLimits | undefined>) =>
    HttpClient.makeWith(
      (effect) =>
        Effect.flatMap(effect, (request) =>
          Effect.zipRight(Effect.sync(() => seen.push(RequestLimits.get(request))), Effect.never)),
      Effect.succeed as HttpClient.HttpClient.Preprocess<never, never>
    )

  it.effect("a client that enforces them finds them on the request, and devflow sets no timer of its own", () =>
    Effect.gen(function*() {
      const seen: Array<RequestLimits.RequestLimits | undefined> = []
      const fiber = yield* Effect.fork(
        postForm(
          ENDPOINT,
          { grant_type: "g" },
          { clientId: "c", clientSecret: undefined, method: "none" },
          "oauth",
          5_000
        ).pipe(
          Effect.provideService(HttpClient.HttpClient, RequestLimits.enforcing(silent(seen)))
        )
      )
      yield* TestClock.adjust("1 hour")
      assert.deepStrictEqual(seen, [{ timeoutMs: 5_000, maxBodyBytes: MAX_BODY_BYTES }])
      // still waiting: the deadline is the client's to keep
      assert.isTrue(Option.isNone(yield* Fiber.poll(fiber)))
      yield* Fiber.interrupt(fiber)
    }))

  it.effect("any other client gets the deadline enforced around it", () =>
    Effect.gen(function*() {
      const seen: Array<RequestLimits.RequestLimits | undefined> = []
      const fiber = yield* Effect.fork(
        postForm(
          ENDPOINT,
          { grant_type: "g" },
          { clientId: "c", clientSecret: undefined, method: "none" },
          "oauth",
          5_000
        ).pipe(
          Effect.provideService(HttpClient.HttpClient, silent(seen))
        )
      )
      yield* TestClock.adjust("5 seconds")
      const error = failure(yield* Fiber.await(fiber))
      assert.strictEqual(error._tag, "TransportError")
      assert.include(error.message, "no answer within 5s")
      // nothing attached: the client is not asked to enforce what it does not
      assert.deepStrictEqual(seen, [undefined])
    }))

  it("a client derived from an enforcing one carries no mark", () => {
    const client = RequestLimits.enforcing(silent([]))
    assert.isTrue(RequestLimits.isEnforcedBy(client))
    assert.isFalse(RequestLimits.isEnforcedBy(HttpClient.mapRequest(client, (r) => r)))
  })
})
