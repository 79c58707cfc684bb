/**
 * The loopback server's check of a DPoP proof at its token endpoint (RFC 9449
 * §4.3), on node:crypto: deliberately not devflow's own verifier (core's
 * internal/dpopVerify.ts), so that the proofs of devflow and of openid-client
 * are judged by code neither of them wrote. Its cost is the server's (the
 * benchmark's parent process), not the client's.
 */
import { createHash, createPublicKey, type JsonWebKey, verify } from "node:crypto"

export interface Expected {
  readonly method: string
  /** the token endpoint: `htu` must be it (RFC 9449 §4.3 ignores query and fragment; it has none) */
  readonly url: string
  /** the server's clock, in seconds */
  readonly now: number
  /** jti values already seen this run: a proof is accepted once */
  readonly seen: Set<string>
}

export type ProofCheck =
  | { readonly ok: true; readonly jkt: string; readonly nonce: unknown }
  | { readonly ok: false; readonly reason: string }

/** How far `iat` may be from the server's clock, in seconds. */
const LEEWAY = 60

const decode = (part: string): Record<string, unknown> | undefined => {
  try {
    const value: unknown = JSON.parse(Buffer.from(part, "base64url").toString("utf8"))
    return typeof value === "object" && value !== null && !Array.isArray(value)
      ? value as Record<string, unknown>
      : undefined
  } catch {
    return undefined
  }
}

// RFC 7638: the required members in lexicographic order, no whitespace
const thumbprint = (jwk: Record<string, unknown>): string => {
  const members = jwk.kty === "EC" ? ["crv", "kty", "x", "y"] : ["crv", "kty", "x"]
  const canonical = `{${members.map((m) => `${JSON.stringify(m)}:${JSON.stringify(jwk[m])}`).join(",")}}`
  return createHash("sha256").update(canonical).digest("base64url")
}

// the JWS algorithms the server takes, with the digest node:crypto's verify wants (null: EdDSA)
const DIGESTS: Readonly<Record<string, string | null>> = { ES256: "sha256", EdDSA: null, Ed25519: null }

export const checkProof = (proof: string, expected: Expected): ProofCheck => {
  const fail = (reason: string): ProofCheck => ({ ok: false, reason })
  const parts = proof.split(".")
  if (parts.length !== 3) return fail("not a compact JWS")
  const header = decode(parts[0]!)
  const claims = decode(parts[1]!)
  if (header === undefined || claims === undefined) return fail("header or claims are not JSON objects")
  if (header.typ !== "dpop+jwt") return fail("typ is not dpop+jwt")
  const alg = header.alg
  if (typeof alg !== "string" || !(alg in DIGESTS)) return fail(`alg ${String(alg)} is not accepted`)
  const jwk = header.jwk
  if (typeof jwk !== "object" || jwk === null || Array.isArray(jwk)) return fail("no jwk header")
  if ("d" in jwk) return fail("the jwk header holds a private key")
  let valid: boolean
  try {
    const key = createPublicKey({ key: jwk as JsonWebKey, format: "jwk" })
    valid = verify(
      DIGESTS[alg]!,
      Buffer.from(`${parts[0]}.${parts[1]}`),
      { key, dsaEncoding: "ieee-p1363" },
      Buffer.from(parts[2]!, "base64url")
    )
  } catch {
    return fail("the jwk header is not a usable public key")
  }
  if (!valid) return fail("the signature does not verify")
  if (claims.htm !== expected.method) return fail("htm is not this request's method")
  if (claims.htu !== expected.url) return fail("htu is not the token endpoint")
  if (typeof claims.iat !== "number" || Math.abs(claims.iat - expected.now) > LEEWAY) return fail("iat is not fresh")
  if (typeof claims.jti !== "string" || claims.jti.length === 0) return fail("no jti")
  if (expected.seen.has(claims.jti)) return fail("jti seen before")
  expected.seen.add(claims.jti)
  return { ok: true, jkt: thumbprint(jwk as Record<string, unknown>), nonce: claims.nonce }
}
