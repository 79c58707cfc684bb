/**
 * The keys that encrypt secrets at rest in Redis (AES-256-GCM, Node's
 * crypto): access, refresh and id tokens, and device codes. Each stored
 * value names the key that sealed it (its key id), so keys can rotate: new
 * writes use the current key, values sealed with an older key stay readable
 * while that key is still configured.
 *
 * A sealed value is `v2.<key id>.<iv>.<tag>.<ciphertext>` (base64url): a
 * 12-byte IV, a 16-byte tag, and as additional authenticated data the format
 * version, the key id, the key prefix and the value's place (e.g.
 * `flow:<id>:session`), so a ciphertext relabelled, copied to another flow,
 * another prefix or another key id does not open. Values of the first format
 * (`v1`, the place alone as AAD) still open, so that an upgrade strands no
 * pending flow or cached token; every write seals in `v2`.
 *
 * @since 0.1.0
 */
import { InvalidConfiguration } from "@devflow/core/DeviceFlowError"

import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as crypto from "node:crypto"

/**
 * A sealed value could not be opened: unknown key id, damaged, or sealed
 * for another place. Never quotes the value.
 *
 * @since 0.1.0
 * @category errors
 */
export class SealBroken extends Schema.TaggedError<SealBroken>("@devflow/store-redis/SealBroken")("SealBroken", {
  place: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `The encrypted value at ${this.place} cannot be opened: ${this.reason}`
  }
}

/**
 * The keys secrets are sealed with: the first one seals, every one opens.
 *
 * @since 0.1.0
 * @category models
 */
export interface Keyring {
  /** the id of the key new values are sealed with */
  readonly currentKeyId: string
  /** the key prefix sealed values are bound to (`""` until {@link Keyring.forPrefix}) */
  readonly prefix: string
  readonly seal: (place: string, plaintext: string) => string
  readonly open: (place: string, sealed: string) => Effect.Effect<string, SealBroken>
  /** whether `sealed` is not sealed with the current key in the current format: a write should seal it again */
  readonly isStale: (sealed: string) => boolean
  /** the same keys, binding what they seal to the key prefix `prefix` (the connection does this) */
  readonly forPrefix: (prefix: string) => Keyring
}

const KEY_ID = /^[A-Za-z0-9_-]{1,32}$/
// 32 bytes as padded base64 or base64url: 43 characters, then "="
const KEY_TEXT = /^[A-Za-z0-9+/_-]{43}=$/
// NIST SP 800-38D §5.2.1.1 and §5.2.1.2: a 96-bit IV, and the full 128-bit tag (a short tag is easier to forge)
const IV_BYTES = 12
const TAG_BYTES = 16

/** The AAD of the current format: each part length-prefixed, so no two tuples share an encoding. */
const aadOf = (keyId: string, prefix: string, place: string): Buffer =>
  Buffer.from(["v2", keyId, prefix, place].map((part) => `${part.length}:${part}`).join(""))

/** A key's bytes from its text, or why not: strict, canonical base64(url) only. */
const keyBytes = (raw: string | Uint8Array): Buffer | string => {
  if (typeof raw !== "string") return raw.length === 32 ? Buffer.from(raw) : `must be 32 bytes, got ${raw.length}`
  const text = raw.trim()
  // a passphrase is not a key: Node's lenient decoder would turn most 43-character texts into 32 bytes
  if (!KEY_TEXT.test(text)) {
    return "must be 32 bytes written as base64 (44 characters ending in \"=\", e.g. from Keyring.generateKey)"
  }
  const url = /[-_]/.test(text)
  const bytes = Buffer.from(text, url ? "base64url" : "base64")
  const again = url ? `${bytes.toString("base64url")}=` : bytes.toString("base64")
  return again === text ? bytes : "is not canonical base64 (its last character carries stray bits)"
}

/**
 * A keyring from key ids and 32-byte keys (base64 or base64url text, or
 * bytes); the first key is the current one.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  keys: ReadonlyArray<readonly [id: string, key: Redacted.Redacted<string | Uint8Array>]>
): Effect.Effect<Keyring, InvalidConfiguration> =>
  Effect.gen(function*() {
    if (keys.length === 0) {
      return yield* new InvalidConfiguration({ field: "keys", reason: "needs at least one key (id and 32 bytes)" })
    }
    const table = new Map<string, Buffer>()
    for (const [id, redacted] of keys) {
      if (!KEY_ID.test(id)) {
        return yield* new InvalidConfiguration({
          field: "keys",
          reason: `key id must be 1–32 of [A-Za-z0-9_-]: ${JSON.stringify(id.slice(0, 40))}`
        })
      }
      // AES-256 needs exactly 32 bytes
      const bytes = keyBytes(Redacted.value(redacted))
      if (typeof bytes === "string") return yield* new InvalidConfiguration({ field: `keys.${id}`, reason: bytes })
      if (table.has(id)) return yield* new InvalidConfiguration({ field: "keys", reason: `key id ${id} appears twice` })
      table.set(id, bytes)
    }
    return bound(table, keys[0]![0], "")
  })

const bound = (table: ReadonlyMap<string, Buffer>, currentKeyId: string, prefix: string): Keyring => {
  const current = table.get(currentKeyId)!
  return {
    currentKeyId,
    prefix,
    forPrefix: (next) => bound(table, currentKeyId, next),
    isStale: (sealed) => !sealed.startsWith(`v2.${currentKeyId}.`),
    seal: (place, plaintext) => {
      const iv = crypto.randomBytes(IV_BYTES)
      const cipher = crypto.createCipheriv("aes-256-gcm", current, iv, { authTagLength: TAG_BYTES })
      cipher.setAAD(aadOf(currentKeyId, prefix, place))
      const body = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()])
      return [
        "v2",
        currentKeyId,
        iv.toString("base64url"),
        cipher.getAuthTag().toString("base64url"),
        body.toString("base64url")
      ]
        .join(".")
    },
    open: (place, sealed) =>
      Effect.suspend(() => {
        const parts = sealed.split(".")
        const broken = (reason: string) => Effect.fail(new SealBroken({ place, reason }))
        if (parts.length !== 5 || (parts[0] !== "v2" && parts[0] !== "v1")) {
          return broken("not a sealed value of a known format")
        }
        const keyId = parts[1]!
        const key = table.get(keyId)
        if (key === undefined) {
          return broken(`sealed with key id ${JSON.stringify(keyId.slice(0, 40))}, which is not configured`)
        }
        const iv = Buffer.from(parts[2]!, "base64url")
        const tag = Buffer.from(parts[3]!, "base64url")
        if (iv.length !== IV_BYTES || tag.length !== TAG_BYTES) {
          return broken("authentication failed (damaged: wrong IV or tag length)")
        }
        try {
          const decipher = crypto.createDecipheriv("aes-256-gcm", key, iv, { authTagLength: TAG_BYTES })
          // v1 (the first format) bound the place only; it is read, never written
          decipher.setAAD(parts[0] === "v2" ? aadOf(keyId, prefix, place) : Buffer.from(place))
          decipher.setAuthTag(tag)
          const text = Buffer.concat([decipher.update(Buffer.from(parts[4]!, "base64url")), decipher.final()])
          return Effect.succeed(text.toString("utf8"))
        } catch {
          return broken("authentication failed (damaged, or sealed for another place, prefix or key)")
        }
      })
  }
}

/**
 * A new random 32-byte key as base64, e.g. for `DEVFLOW_REDIS_KEYS`.
 *
 * @since 0.1.0
 * @category utils
 */
export const generateKey = (): string => crypto.randomBytes(32).toString("base64")

/**
 * Parse `id:base64key,id:base64key` text (current key first) into a keyring.
 *
 * @since 0.1.0
 * @category constructors
 */
export const parse = (text: Redacted.Redacted<string>): Effect.Effect<Keyring, InvalidConfiguration> =>
  Effect.suspend(() => {
    const pairs: Array<readonly [string, Redacted.Redacted<string>]> = []
    for (const item of Redacted.value(text).split(",")) {
      const at = item.indexOf(":")
      if (item.trim() === "") continue
      if (at <= 0) {
        return Effect.fail(new InvalidConfiguration({ field: "keys", reason: "each key must be written id:base64key" }))
      }
      pairs.push([item.slice(0, at).trim(), Redacted.make(item.slice(at + 1))])
    }
    return make(pairs)
  })
