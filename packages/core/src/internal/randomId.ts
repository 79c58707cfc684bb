/** @internal */
import * as Encoding from "effect/Encoding"

/**
 * A random identifier: `bytes` random bytes, base64url. Web Crypto (global in
 * Node 20 and browsers): core stays free of node:* imports.
 * @internal
 */
export const randomId = (bytes = 16): string =>
  Encoding.encodeBase64Url(globalThis.crypto.getRandomValues(new Uint8Array(bytes)))
