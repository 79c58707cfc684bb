import * as Either from "effect/Either"
import * as Encoding from "effect/Encoding"
import { sanitize } from "../ServerText.js"

/** The claims that name a person on screen ("Signed in as …", account lists). */
const DISPLAY_CLAIMS = ["name", "preferred_username", "upn", "email"] as const

/**
 * Read the claims of a JWS compact serialization without verifying the
 * signature. Only used for id_tokens received directly from the token endpoint
 * over TLS, where OpenID Connect Core §3.1.3.7 (6) lets TLS server validation
 * stand in for signature checking.
 * @internal
 */
export const readClaims = (jwt: string): Either.Either<Readonly<Record<string, unknown>>, string> => {
  const parts = jwt.split(".")
  if (parts.length === 5) return Either.left("is an encrypted JWT (JWE), which devflow cannot read")
  if (parts.length !== 3 || parts[1] === "") return Either.left("is not a JWT (expected three dot-separated parts)")
  const payload = Encoding.decodeBase64UrlString(parts[1]!)
  if (Either.isLeft(payload)) return Either.left("is not a JWT (the payload is not base64url)")
  let claims: unknown
  try {
    claims = JSON.parse(payload.right)
  } catch {
    return Either.left("is not a JWT (the payload is not JSON)")
  }
  if (typeof claims !== "object" || claims === null || Array.isArray(claims)) {
    return Either.left("is not a JWT (the payload is not a JSON object)")
  }
  const { iss, sub } = claims as Record<string, unknown>
  // OpenID Connect Core §2: iss and sub are REQUIRED
  if (typeof iss !== "string" || iss === "") return Either.left("has no \"iss\" claim")
  if (typeof sub !== "string" || sub === "") return Either.left("has no \"sub\" claim")
  // Display claims cross ServerText here, so every reader of the claims gets them clean.
  const clean: Record<string, unknown> = { ...(claims as Record<string, unknown>) }
  for (const name of DISPLAY_CLAIMS) {
    const value = clean[name]
    if (typeof value === "string") clean[name] = sanitize(value)
  }
  return Either.right(clean)
}

/**
 * Whose id_token it is, checked before its claims name an account: OpenID
 * Connect Core §3.1.3.7 (2) the `iss` is the issuer, exactly, and (3) `aud`
 * names this client. No signature or time checks: the token came straight
 * from the token endpoint over TLS (§3.1.3.7 (6)). In `issuer`, `{tenantid}`
 * stands for the token's own `tid` (Entra's multi-tenant issuer). Without a
 * known issuer only the audience is checked. The reason, or undefined.
 * @internal
 */
export const issuedFor = (
  claims: Readonly<Record<string, unknown>>,
  expected: { readonly clientId: string; readonly issuer?: string | undefined }
): string | undefined => {
  const aud = claims.aud
  const audiences = typeof aud === "string" ? [aud] : Array.isArray(aud) ? aud : []
  // OpenID Connect Core §3.1.3.7 (3): "The ID Token MUST be rejected if the ID Token does not list the Client as a valid audience"
  if (!audiences.includes(expected.clientId)) {
    return aud === undefined
      ? "has no \"aud\" claim"
      : "is for another client: its \"aud\" claim does not name this client id"
  }
  if (expected.issuer === undefined) return undefined
  const tid = claims.tid
  const issuer = expected.issuer.includes("{tenantid}")
    ? typeof tid === "string" && /^[\w.-]+$/.test(tid) ? expected.issuer.replace("{tenantid}", tid) : undefined
    : expected.issuer
  // OpenID Connect Core §3.1.3.7 (2): the issuer "MUST exactly match the value of the iss (issuer) Claim"
  if (issuer === undefined || claims.iss !== issuer) {
    return "is from another issuer: its \"iss\" claim is not the configured issuer"
  }
  return undefined
}
