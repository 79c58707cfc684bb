/**
 * Where the cache file's long-lived secrets (refresh tokens, kept client
 * secrets, the DPoP keys refresh tokens are bound to) are, read from the file alone: in clear, or replaced by a
 * reference to an OS keychain item. Deliberately free of Effect: the CLI's
 * `devflow token` fast path, which never opens the keychain, answers only
 * when the secrets already sit where the chosen store keeps them, so that a
 * switch of store is carried out by the next command, as docs/caching.md says.
 *
 * @since 0.1.0
 */

/**
 * In the file, a secret kept in the keychain is replaced by a reference to
 * its item: this prefix and the item's name. No server issues a token of
 * this shape.
 *
 * @since 0.1.0
 * @category constants
 */
export const REFERENCE_PREFIX = "devflow-keychain:"

/**
 * A reference, capturing the keychain item's name.
 *
 * @since 0.1.0
 * @category constants
 */
export const REFERENCE: RegExp =
  /^devflow-keychain:((?:refresh-token|client-secret|dpop-key)\/[0-9a-f]{12}\/[0-9a-f]{32})$/

/**
 * Whether the secrets the file holds (its `refreshTokens`, `clients` and
 * `dpopKeys` entries' `secret`s) are where `store` keeps them: `keychain`, none in
 * clear; `file`, no reference. `auto` takes either.
 *
 * @since 0.1.0
 * @category utils
 */
export const settled = (store: "auto" | "keychain" | "file", secrets: ReadonlyArray<string>): boolean =>
  store === "keychain"
    ? secrets.every((s) => REFERENCE.test(s))
    : store === "file"
    ? !secrets.some((s) => REFERENCE.test(s))
    : true
