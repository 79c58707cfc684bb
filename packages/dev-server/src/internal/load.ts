import { generateKeyPair, type JsonWebKey } from "node:crypto"
import type * as OidcProvider from "oidc-provider"

type OidcProviderModule = typeof OidcProvider

let module: Promise<OidcProviderModule> | undefined

/**
 * Imports oidc-provider once. Its entry point prints
 * "oidc-provider WARNING: Unsupported runtime. Use Node.js v22.x LTS, or a later LTS release."
 * on Node 20 (this project's runtime; the package declares no `engines` and works here).
 * That single warning is dropped while the module loads; every other
 * console output (errors included) passes through.
 */
export const loadOidcProvider = (): Promise<OidcProviderModule> => (module ??= (async () => {
  const original = console.warn
  const filter = (...args: Array<unknown>) => {
    if (typeof args[0] === "string" && args[0].includes("oidc-provider WARNING: Unsupported runtime")) return
    original.apply(console, args)
  }
  console.warn = filter
  try {
    return await import("oidc-provider")
  } finally {
    if (console.warn === filter) console.warn = original
  }
})())

let signingKey: Promise<JsonWebKey> | undefined

/** One RSA signing key per process (RS256 is every client's default id_token algorithm). */
export const rsaSigningKey = (): Promise<
  JsonWebKey
> => (signingKey ??= new Promise<JsonWebKey>((resolve, reject) =>
  generateKeyPair("rsa", { modulusLength: 2048 }, (error, _publicKey, privateKey) => {
    if (error) reject(error)
    else resolve({ ...privateKey.export({ format: "jwk" }), use: "sig", alg: "RS256" })
  })
))
