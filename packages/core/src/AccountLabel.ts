/**
 * What to call an account in messages, as a plain function (no Effect): the
 * CLI lists accounts from the cache file's records before loading Effect, and
 * `Account.label` says the same.
 *
 * @since 0.1.0
 */

/**
 * An account's username, else its display name, else its id.
 *
 * @since 0.1.0
 * @category utils
 */
export const of = (account: {
  readonly id: string
  readonly username?: string | undefined
  readonly name?: string | undefined
}): string => account.username ?? account.name ?? account.id
