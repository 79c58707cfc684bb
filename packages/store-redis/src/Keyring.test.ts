import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as crypto from "node:crypto"
import * as Keyring from "./Keyring.js"

const KEY = Keyring.generateKey()

const ring = (...keys: ReadonlyArray<readonly [string, string]>) =>
  Effect.runSync(
    Keyring.make((keys.length === 0 ? [["k1", KEY] as const] : keys).map(([id, k]) => [id, Redacted.make(k)] as const))
  )

const b64url = (bytes: Buffer) => bytes.toString("base64url")

/** The parts of a sealed value, to tamper with. */
const parts = (sealed: string) => sealed.split(".")

const opens = (keyring: Keyring.Keyring, place: string, sealed: string) =>
  Effect.runSync(Effect.either(keyring.open(place, sealed)))._tag === "Right"

describe("Keyring: AES-256-GCM opens only what it sealed, where it sealed it", () => {
  it("a tag cut short (4 of 16 bytes) does not open", () => {
    const keyring = ring()
    const [v, kid, iv, tag, body] = parts(keyring.seal("flow:a:session", "device-code-canary"))
    const short = [v, kid, iv, b64url(Buffer.from(tag!, "base64url").subarray(0, 4)), body].join(".")
    assert.isFalse(opens(keyring, "flow:a:session", short))
  })

  it("an IV of another length than 12 bytes does not open", () => {
    const keyring = ring()
    const [v, kid, , tag, body] = parts(keyring.seal("flow:a:session", "device-code-canary"))
    for (const length of [8, 16]) {
      const forged = [v, kid, b64url(crypto.randomBytes(length)), tag, body].join(".")
      assert.isFalse(opens(keyring, "flow:a:session", forged))
    }
  })

  it("the AAD binds the key id: a value relabelled with another id of the same key does not open", () => {
    const keyring = ring(["k1", KEY], ["k2", KEY])
    const [v, , iv, tag, body] = parts(keyring.seal("tokens:default", "refresh-token-canary"))
    assert.isFalse(opens(keyring, "tokens:default", [v, "k2", iv, tag, body].join(".")))
  })

  it("the AAD binds the key prefix: a value sealed under one prefix does not open under another", () => {
    const keyring = ring()
    const sealed = keyring.forPrefix("app-a").seal("tokens:default", "refresh-token-canary")
    assert.isTrue(opens(keyring.forPrefix("app-a"), "tokens:default", sealed))
    assert.isFalse(opens(keyring.forPrefix("app-b"), "tokens:default", sealed))
    assert.isFalse(opens(keyring.forPrefix("app-a"), "tokens:other", sealed))
  })

  it("the AAD binds the format version: a value relabelled as the older format does not open", () => {
    const keyring = ring()
    const [, kid, iv, tag, body] = parts(keyring.seal("tokens:default", "refresh-token-canary"))
    assert.isFalse(opens(keyring, "tokens:default", ["v1", kid, iv, tag, body].join(".")))
  })

  it("values sealed in the first format (v1: the place alone as AAD) stay readable", () => {
    const key = Buffer.from(KEY, "base64")
    const iv = crypto.randomBytes(12)
    const cipher = crypto.createCipheriv("aes-256-gcm", key, iv, { authTagLength: 16 })
    cipher.setAAD(Buffer.from("flow:x:session"))
    const body = Buffer.concat([cipher.update("legacy-canary", "utf8"), cipher.final()])
    const v1 = ["v1", "k1", b64url(iv), b64url(cipher.getAuthTag()), b64url(body)].join(".")
    assert.strictEqual(Effect.runSync(ring().forPrefix("devflow").open("flow:x:session", v1)), "legacy-canary")
  })
})

describe("Keyring: keys are strict base64 of exactly 32 bytes", () => {
  const refused = (key: string) =>
    Effect.runSync(Effect.either(Keyring.make([["k1", Redacted.make(key)]])))._tag === "Left"

  it("a 43-character passphrase is refused (it decodes to 32 bytes of non-base64 intent)", () => {
    assert.isTrue(refused("correct horse battery staple and more words"))
    assert.isTrue(refused("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ"))
  })

  it("text with characters outside the alphabet, or a non-canonical last character, is refused", () => {
    assert.isTrue(refused(`${KEY.slice(0, 10)}*${KEY.slice(11)}`))
    // 32 bytes leave 2 unused bits in the last character: only one spelling is canonical
    const last = KEY[42]!
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    const sibling = alphabet[alphabet.indexOf(last) + 1]!
    assert.isTrue(refused(`${KEY.slice(0, 42)}${sibling}=`))
    assert.isTrue(refused(crypto.randomBytes(31).toString("base64")))
    assert.isTrue(refused(crypto.randomBytes(33).toString("base64")))
  })

  it("generated keys, their base64url spelling and 32 raw bytes are accepted", () => {
    const bytes = crypto.randomBytes(32)
    assert.isFalse(refused(bytes.toString("base64")))
    assert.isFalse(refused(`${bytes.toString("base64url")}=`))
    assert.isFalse(refused(`  ${Keyring.generateKey()}\n`))
    assert.strictEqual(
      Effect.runSync(Effect.either(Keyring.make([["k1", Redacted.make(new Uint8Array(bytes))]])))._tag,
      "Right"
    )
  })
})
