import { assert, describe, it } from "@effect/vitest"
import * as Providers from "../Providers.js"

describe("checkVerificationUriComplete (RFC 8628 §5.4 for the QR code and link)", () => {
  const check = Providers.checkVerificationUriComplete
  const keycloak = { provider: "keycloak", input: { authority: "https://sso.example.com/realms/demo" } } as const

  it("on verification_uri's own host: trusted", () => {
    const verdict = check(
      keycloak,
      "https://sso.example.com/realms/demo/device",
      "https://sso.example.com/realms/demo/device?user_code=WDJB-MJHT"
    )
    assert.isTrue(verdict.trusted, verdict.reason)
  })

  it("none sent: trusted (only verification_uri is shown)", () => {
    assert.isTrue(check("entra", "https://microsoft.com/devicelogin", undefined).trusted)
  })

  it("on an unknown host while verification_uri is trusted: warned, naming both hosts", () => {
    const verdict = check(
      keycloak,
      "https://sso.example.com/realms/demo/device",
      "https://sso.example.com.evil.example/device?user_code=WDJB-MJHT"
    )
    assert.isFalse(verdict.trusted)
    assert.strictEqual(verdict.host, "sso.example.com.evil.example")
    assert.include(verdict.reason, "the link and QR code")
    assert.include(verdict.reason, "RFC 8628 §5.4")
  })

  it("on another trusted host than verification_uri's: still warned, the QR code must lead where the code is typed", () => {
    const verdict = check(
      "entra",
      "https://microsoft.com/devicelogin",
      "https://login.microsoftonline.com/device?otc=WDJB"
    )
    assert.isFalse(verdict.trusted)
    assert.include(verdict.reason, "login.microsoftonline.com")
    assert.include(verdict.reason, "microsoft.com")
  })

  it("over plain http, or with text before an @: warned like verification_uri", () => {
    assert.isFalse(
      check(keycloak, "https://sso.example.com/device", "http://sso.example.com/device?user_code=X").trusted
    )
    assert.isFalse(
      check(keycloak, "https://sso.example.com/device", "https://sso.example.com@evil.example/device").trusted
    )
  })
})
