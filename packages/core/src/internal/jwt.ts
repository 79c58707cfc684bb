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
