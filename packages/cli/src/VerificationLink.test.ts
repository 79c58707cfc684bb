import * as ClientConfig from "@devflow/core/ClientConfig"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as VerificationLink from "./VerificationLink.js"

const config = ClientConfig.make({
  clientId: "cli",
  endpoints: { deviceAuthorization: "https://idp.example/device/code", token: "https://idp.example/token" }
})

describe("VerificationLink.vet: what may be QR-encoded and opened (RFC 8628 §5.4)", () => {
  it.effect("both addresses on the authority's host: the complete link, no warning", () =>
    Effect.gen(function*() {
      const vetted = VerificationLink.vet(yield* config, {
        verificationUri: "https://idp.example/device",
        verificationUriComplete: "https://idp.example/device?user_code=WDJB-MJHT"
      })
      assert.deepStrictEqual(vetted, {
        link: "https://idp.example/device?user_code=WDJB-MJHT",
        complete: true,
        warning: undefined
      })
    }))

  it.effect("no complete link: verification_uri", () =>
    Effect.gen(function*() {
      const vetted = VerificationLink.vet(yield* config, {
        verificationUri: "https://idp.example/device",
        verificationUriComplete: undefined
      })
      assert.deepStrictEqual(vetted, { link: "https://idp.example/device", complete: false, warning: undefined })
    }))

  it.effect("a complete link on another host: verification_uri, with a warning naming that host", () =>
    Effect.gen(function*() {
      const vetted = VerificationLink.vet(yield* config, {
        verificationUri: "https://idp.example/device",
        verificationUriComplete: "https://evil.example/device?user_code=WDJB-MJHT"
      })
      assert.strictEqual(vetted.link, "https://idp.example/device")
      assert.isFalse(vetted.complete)
      assert.include(vetted.warning, "evil.example")
    }))

  it.effect("a page on another host: no link at all, whatever the complete link says", () =>
    Effect.gen(function*() {
      for (
        const complete of [
          undefined,
          "https://evil.example/device?user_code=X",
          "https://idp.example/device?user_code=X"
        ]
      ) {
        const vetted = VerificationLink.vet(yield* config, {
          verificationUri: "https://evil.example/device",
          verificationUriComplete: complete
        })
        assert.isUndefined(vetted.link, String(complete))
        assert.include(vetted.warning, "evil.example")
      }
    }))
})
