import { assert, describe, it } from "@effect/vitest"
import * as FastCheck from "effect/FastCheck"
import { ESC, hostile } from "../test/hostileText.js"
import * as ServerText from "./ServerText.js"

describe("ServerText.sanitize: free text keeps its words and loses what a terminal would act on", () => {
  it("plain text, including non-ASCII, is unchanged", () => {
    for (const text of ["Ada Lovelace", "Zoë Ødegård", "李小龍", "ada@contoso.test", "AADSTS70016: pending."]) {
      assert.strictEqual(ServerText.sanitize(text), text)
    }
  })

  it("an erase-line and carriage return cannot rewrite the line before it", () => {
    const clean = ServerText.sanitize(`${ESC}[2K\rSigned in as admin`)
    assert.isTrue(ServerText.isPrintable(clean))
    assert.strictEqual(clean, "Signed in as admin")
  })

  it("OSC 8 hyperlinks and OSC 52 clipboard writes are removed whole", () => {
    assert.strictEqual(ServerText.sanitize(hostile.osc8Link), "ABCD-EFGH")
    assert.strictEqual(ServerText.sanitize(hostile.osc52Clipboard), "ABCD-EFGH")
  })

  it("C1 controls (8-bit CSI), DEL and NUL are removed", () => {
    for (const text of [hostile.c1Csi, hostile.del, hostile.nul]) {
      assert.isTrue(ServerText.isPrintable(ServerText.sanitize(text)))
    }
  })

  it("line breaks and tabs become one space, so a value is one line", () => {
    assert.strictEqual(
      ServerText.sanitize("  first line\r\nTrace ID: 1\n\tTimestamp: 2  "),
      "first line Trace ID: 1 Timestamp: 2"
    )
  })

  it.prop("the result never holds a C0 or C1 control or DEL, and sanitising twice changes nothing", [
    FastCheck.string({ unit: "binary" })
  ], ([text]) => {
    const clean = ServerText.sanitize(text)
    assert.isTrue(ServerText.isPrintable(clean))
    assert.strictEqual(ServerText.sanitize(clean), clean)
  })
})

describe("ServerText.httpHref and uriOrUndefined: an address as the browser will load it", () => {
  it("is new URL(x).href for absolute http(s) URLs, undefined for anything else", () => {
    assert.strictEqual(ServerText.httpHref("HTTPS://Login.Example.COM"), "https://login.example.com/")
    for (const s of ["javascript:alert(1)", "/device", "device.example.com", "ftp://idp.example/x"]) {
      assert.isUndefined(ServerText.httpHref(s))
    }
  })

  it("uriOrUndefined also refuses an address with a control character", () => {
    assert.isUndefined(ServerText.uriOrUndefined("https://idp.example/err\nors"))
    assert.strictEqual(ServerText.uriOrUndefined("https://idp.example/errors"), "https://idp.example/errors")
  })
})

describe("ServerText.isPrintable", () => {
  it("is false for any C0 or C1 control or DEL, true for text and spaces", () => {
    assert.isTrue(ServerText.isPrintable("WDJB MJHT"))
    for (const c of ["\t", "\n", "\r", ESC, "\u0000", "\u007f", "\u0080", "\u009b", "\u009f"]) {
      assert.isFalse(ServerText.isPrintable(`AB${c}CD`), JSON.stringify(c))
    }
  })
})
