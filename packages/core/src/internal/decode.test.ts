import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import { ESC, hostile } from "../../test/hostileText.js"
import { FreeText, Uri, UserCode } from "./decode.js"

const decodeError = <A, I>(schema: Schema.Schema<A, I>, value: unknown): string => {
  const result = Schema.decodeUnknownEither(schema)(value)
  if (Either.isRight(result)) {
    assert.fail(`expected ${JSON.stringify(value)} to be refused, got ${JSON.stringify(result.right)}`)
  }
  return ParseResult.TreeFormatter.formatErrorSync(result.left)
}

describe("UserCode: a code a person types is refused, not cleaned, when it holds a control", () => {
  it("an ordinary code decodes to itself", () => {
    assert.strictEqual(Schema.decodeUnknownSync(UserCode)("WDJB-MJHT"), "WDJB-MJHT")
  })

  for (const [name, value] of Object.entries(hostile)) {
    it(`${name} is refused without echoing the value`, () => {
      const message = decodeError(UserCode, value)
      assert.include(message, "must not contain control characters")
      assert.notInclude(message, "evil")
      assert.notInclude(message, "ABCD")
    })
  }

  it("an empty or blank code is refused", () => {
    decodeError(UserCode, "")
    decodeError(UserCode, "   ")
  })
})

describe("Uri: an address is carried as the URL parser's href, the string that is checked and shown", () => {
  it.effect("is normalised to new URL(x).href", () =>
    Effect.gen(function*() {
      const decode = Schema.decodeUnknown(Uri)
      assert.strictEqual(yield* decode("HTTPS://Login.Example.COM"), "https://login.example.com/")
      assert.strictEqual(
        yield* decode("https://idp.example/device?user_code=A B"),
        "https://idp.example/device?user_code=A%20B"
      )
      // an internationalised host is shown in the punycode the browser will go to
      assert.strictEqual(yield* decode("https://еxample.com/device"), "https://xn--xample-2of.com/device")
    }))

  it("controls are refused, even those the URL parser would silently drop", () => {
    for (
      const value of [
        hostile.eraseLine,
        `https://idp.example/device${ESC}[2K\r  To sign in, open https://evil.example/device`,
        "https://idp.example/dev\nice",
        "https://idp.example/dev\tice",
        "\u0000https://idp.example/device",
        "https://idp.example/device\u009b"
      ]
    ) {
      const message = decodeError(Uri, value)
      assert.include(message, "must not contain control characters")
      assert.notInclude(message, "evil")
      assert.notInclude(message, "idp.example")
    }
  })

  it("only absolute http(s) URLs are accepted", () => {
    for (
      const value of [
        "javascript:alert(1)",
        "/device",
        "device.example.com",
        "ftp://idp.example/device",
        "data:text/html,x"
      ]
    ) {
      assert.include(decodeError(Uri, value), "must be an absolute http(s) URL")
    }
  })

  it("encodes as the href it holds", () => {
    assert.strictEqual(Schema.encodeSync(Uri)("https://idp.example/device"), "https://idp.example/device")
  })
})

describe("FreeText: decodes to the sanitised text", () => {
  it("removes controls at decode time", () => {
    assert.strictEqual(
      Schema.decodeUnknownSync(FreeText)(`To sign in${ESC}[2K\r, enter the code`),
      "To sign in , enter the code"
    )
  })
})
