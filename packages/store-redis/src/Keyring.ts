/**
 * The keys that encrypt secrets at rest in Redis (AES-256-GCM, Node's
 * crypto): access, refresh and id tokens, and device codes. Each stored
 * value names the key that sealed it (its key id), so keys can rotate: new
 * writes use the current key, values sealed with an older key stay readable
 * while that key is still configured.
 *
 * A sealed value is `v1.<key id>.<iv>.<tag>.<ciphertext>` (base64url), with
 * the value's place (e.g. `flow:<id>:session`) as additional authenticated
 * data, so a ciphertext copied to another key or another flow does not open.
 *
 * @since 0.1.0
 */
import { InvalidConfiguration } from "@devflow/core/DeviceFlowError"
import * as Config from "effect/Config"
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
  readonly seal: (place: string, plaintext: string) => string
  readonly open: (place: string, sealed: string) => Effect.Effect<string, SealBroken>
}

const KEY_ID = /^[A-Za-z0-9_-]{1,32}$/

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
        return yield* new InvalidConfiguration({ field: "keys", reason: `key id must be 1–32 of [A-Za-z0-9_-]: ${JSON.stringify(id.slice(0, 40))}` })
      }
      const raw = Redacted.value(redacted)
      const bytes = typeof raw === "string" ? Buffer.from(raw.trim(), "base64") : Buffer.from(raw)
      // AES-256 needs exactly 32 bytes; a passphrase is not a key
      if (bytes.length !== 32) {
        return yield* new InvalidConfiguration({ field: `keys.${id}`, reason: `must be 32 bytes (base64), got ${bytes.length}` })
      }
      if (table.has(id)) return yield* new InvalidConfiguration({ field: "keys", reason: `key id ${id} appears twice` })
      table.set(id, bytes)
    }
    const currentKeyId = keys[0]![0]
    const current = table.get(currentKeyId)!
    return {
      currentKeyId,
      seal: (place, plaintext) => {
        const iv = crypto.randomBytes(12)
        const cipher = crypto.createCipheriv("aes-256-gcm", current, iv)
        cipher.setAAD(Buffer.from(place))
        const body = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()])
        return ["v1", currentKeyId, iv.toString("base64url"), cipher.getAuthTag().toString("base64url"), body.toString("base64url")]
          .join(".")
      },
      open: (place, sealed) =>
        Effect.suspend(() => {
          const parts = sealed.split(".")
          const broken = (reason: string) => Effect.fail(new SealBroken({ place, reason }))
          if (parts.length !== 5 || parts[0] !== "v1") return broken("not a sealed value of a known format")
          const key = table.get(parts[1]!)
          if (key === undefined) return broken(`sealed with key id ${JSON.stringify(parts[1]!.slice(0, 40))}, which is not configured`)
          try {
            const decipher = crypto.createDecipheriv("aes-256-gcm", key, Buffer.from(parts[2]!, "base64url"))
            decipher.setAAD(Buffer.from(place))
            decipher.setAuthTag(Buffer.from(parts[3]!, "base64url"))
            const text = Buffer.concat([decipher.update(Buffer.from(parts[4]!, "base64url")), decipher.final()])
            return Effect.succeed(text.toString("utf8"))
          } catch {
            return broken("authentication failed (damaged, or sealed for another place or key)")
          }
        })
    }
  })

/**
 * A new random 32-byte key as base64, e.g. for `DEVFLOW_REDIS_KEYS`.
 *
 * @since 0.1.0
 * @category utils
 */
export const generateKey = (): string => crypto.randomBytes(32).toString("base64")

/**
 * The keyring from configuration: `KEYS` (e.g. the environment variable
 * `DEVFLOW_REDIS_KEYS` under a `devflow.redis` nested provider) holds
 * `id:base64key` pairs separated by commas, current key first.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromConfig: Config.Config<Redacted.Redacted<string>> = Config.redacted("KEYS")

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
      if (at <= 0) return Effect.fail(new InvalidConfiguration({ field: "keys", reason: "each key must be written id:base64key" }))
      pairs.push([item.slice(0, at).trim(), Redacted.make(item.slice(at + 1))])
    }
    return make(pairs)
  })
