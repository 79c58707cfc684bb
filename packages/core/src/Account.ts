/**
 * Who a set of cached tokens belongs to.
 *
 * An account is made from the id_token's claims when the server sends one
 * (OpenID Connect): issuer + subject is the identity, the rest is for
 * display. Providers without an id_token (GitHub) get one account per
 * authority and client, or the identity the caller supplies.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"
import * as AccountLabel from "./AccountLabel.js"
import { sanitize } from "./ServerText.js"

/**
 * How the account's identity was established.
 *
 * - `oidc`: from an id_token (`iss` + `sub`)
 * - `client`: no id_token; the one account of this authority and client
 * - `supplied`: no id_token; an identity the caller named
 *
 * @since 0.1.0
 * @category models
 */
export const AccountKind = Schema.Literal("oidc", "client", "supplied")

/**
 * How the account was identified: `oidc` from an id_token's issuer and subject, `client` for servers without one (one account per authority and client), `supplied` when the caller named the user.
 *
 * @since 0.1.0
 * @category models
 */
export type AccountKind = typeof AccountKind.Type

/**
 * A signed-in account, in the shape of MSAL's `IAccount`.
 *
 * Two accounts are equal when all their fields are (it is a `Schema.Class`,
 * hence a `Data` value); the cache identifies them by `authority` + `id`.
 *
 * @since 0.1.0
 * @category models
 */
export class Account extends Schema.Class<Account>("@devflow/core/Account")({
  /** stable identity within the authority: `<iss>#<sub>`, `client:<client id>` or `user:<supplied id>` */
  id: Schema.NonEmptyString,
  kind: AccountKind,
  /** the authority (issuer URL, or token endpoint) the account signed in at: the cache's partition */
  authority: Schema.NonEmptyString,
  /** OpenID Connect `iss` */
  issuer: Schema.optional(Schema.String),
  /** OpenID Connect `sub` */
  subject: Schema.optional(Schema.String),
  /** Entra's tenant id (`tid`) */
  tenantId: Schema.optional(Schema.String),
  /** a human-readable sign-in name: `preferred_username`, `upn` or `email` */
  username: Schema.optional(Schema.String),
  /** the display name (`name`) */
  name: Schema.optional(Schema.String)
}) {
  /** What to call the account in messages: its username, name, or id. */
  get label(): string {
    return AccountLabel.of(this)
  }
}

const stringClaim = (claims: Readonly<Record<string, unknown>>, name: string): string | undefined => {
  const value = claims[name]
  return typeof value === "string" && value.trim() !== "" ? value.trim() : undefined
}

// Claims given by a caller have not crossed the id_token decoder: names shown to people cross ServerText here too.
const displayClaim = (claims: Readonly<Record<string, unknown>>, name: string): string | undefined => {
  const value = stringClaim(claims, name)
  const clean = value === undefined ? undefined : sanitize(value)
  return clean === "" ? undefined : clean
}

const optional = <K extends string>(key: K, value: string | undefined): { readonly [P in K]?: string } =>
  (value === undefined ? {} : { [key]: value }) as { readonly [P in K]?: string }

/**
 * The account an id_token's claims describe. `iss` and `sub` are required
 * (OpenID Connect Core §2); `undefined` when either is missing.
 *
 * The username is the first of `preferred_username` (OIDC, Entra v2), `upn`
 * (Entra v1, ADFS) and `email`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromClaims = (authority: string, claims: Readonly<Record<string, unknown>>): Account | undefined => {
  const issuer = stringClaim(claims, "iss")
  const subject = stringClaim(claims, "sub")
  // OpenID Connect Core §2: iss + sub is the only stable identity of an end-user
  if (issuer === undefined || subject === undefined) return undefined
  return new Account({
    // An issuer has no fragment (OpenID Connect Discovery §3), so the first "#" separates the two.
    id: `${issuer}#${subject}`,
    kind: "oidc",
    authority,
    issuer,
    subject,
    ...optional("tenantId", stringClaim(claims, "tid")),
    ...optional(
      "username",
      displayClaim(claims, "preferred_username") ?? displayClaim(claims, "upn") ?? displayClaim(claims, "email")
    ),
    ...optional("name", displayClaim(claims, "name"))
  })
}

/**
 * The single account of a client at an authority, for providers that send
 * no id_token (GitHub): signing in again replaces its tokens.
 *
 * @since 0.1.0
 * @category constructors
 */
export const forClient = (authority: string, clientId: string): Account =>
  new Account({ id: `client:${clientId}`, kind: "client", authority })

/**
 * An identity the caller knows (e.g. the GitHub login it looked up), for
 * providers that send no id_token: several accounts per client become possible.
 *
 * @since 0.1.0
 * @category models
 */
export interface SuppliedIdentity {
  /** stable and unique per user at this authority, e.g. a numeric user id */
  readonly id: string
  readonly username?: string | undefined
  readonly name?: string | undefined
}

/**
 * An identity the caller supplies for servers that return no id_token (GitHub, AWS): the tokens are filed under it.
 *
 * @since 0.1.0
 * @category constructors
 */
export const supplied = (authority: string, identity: SuppliedIdentity): Account =>
  new Account({
    id: `user:${identity.id}`,
    kind: "supplied",
    authority,
    ...optional("username", identity.username),
    ...optional("name", identity.name)
  })

/**
 * The account a sign-in result belongs to: from the id_token's claims when
 * there are any, else the supplied identity, else the client's one account.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromResult = (
  authority: string,
  clientId: string,
  idTokenClaims: Readonly<Record<string, unknown>> | undefined,
  identity?: SuppliedIdentity | undefined
): Account =>
  (idTokenClaims === undefined ? undefined : fromClaims(authority, idTokenClaims)) ??
    (identity === undefined ? forClient(authority, clientId) : supplied(authority, identity))
