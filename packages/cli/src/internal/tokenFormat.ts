/**
 * What `devflow token` prints: the only output of devflow that contains a
 * token. Plain functions, shared by the fast path and the full CLI so that
 * both print exactly the same thing.
 * @internal
 */
import * as ServerText from "@devflow/core/ServerText"

/** @internal */
export const FORMATS = ["raw", "json", "header", "k8s"] as const

/** @internal */
export type Format = (typeof FORMATS)[number]

/** @internal */
export const isFormat = (s: string): s is Format => (FORMATS as ReadonlyArray<string>).includes(s)

/** @internal */
export interface TokenView {
  readonly accessToken: string
  readonly tokenType: string
  /** epoch ms; undefined when the server gave no lifetime */
  readonly expiresOn: number | undefined
  readonly scopes: ReadonlyArray<string>
  readonly account: {
    readonly id: string
    readonly authority: string
    readonly username?: string | undefined
    readonly name?: string | undefined
  }
  readonly source: "cache" | "refresh" | "device_code"
  /** with a DPoP token and `--url`: the proof for that one request (RFC 9449 §7) */
  readonly dpopProof?: string | undefined
}

// RFC 6750 §2.1: the scheme is "Bearer", RFC 9449 §7.1 "DPoP"; servers spell token_type in any case (RFC 6749 §5.1).
const scheme = (tokenType: string): string =>
  tokenType.toLowerCase() === "bearer" ? "Bearer" : tokenType.toLowerCase() === "dpop" ? "DPoP" : tokenType

/**
 * Whether a token is DPoP-bound (RFC 9449 §5): used only with a proof made per request.
 * @internal
 */
export const isDpop = (tokenType: string): boolean => tokenType.toLowerCase() === "dpop"

// Kubernetes decodes metav1.Time as RFC 3339 in whole seconds.
const rfc3339 = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z")

/**
 * The text for one format, newline included.
 * @internal
 */
export const render = (format: Format, view: TokenView): string => {
  switch (format) {
    case "raw":
      return `${view.accessToken}\n`
    case "header":
      // RFC 9449 §7.1: a DPoP token goes with its proof, in the DPoP header
      return `Authorization: ${scheme(view.tokenType)} ${view.accessToken}\n` +
        (view.dpopProof === undefined ? "" : `DPoP: ${view.dpopProof}\n`)
    case "json":
      return JSON.stringify({
        access_token: view.accessToken,
        token_type: view.tokenType,
        expires_on: view.expiresOn === undefined ? null : new Date(view.expiresOn).toISOString(),
        scopes: view.scopes,
        // names come from id_tokens, and the cache may predate core's cleaning: the second wall (ServerText)
        account: {
          id: ServerText.sanitize(view.account.id),
          username: view.account.username === undefined ? null : ServerText.sanitize(view.account.username),
          name: view.account.name === undefined ? null : ServerText.sanitize(view.account.name),
          authority: ServerText.sanitize(view.account.authority)
        },
        source: view.source
      }) + "\n"
    case "k8s":
      // https://kubernetes.io/docs/reference/access-authn-authz/authentication/#client-go-credential-plugins
      return JSON.stringify({
        apiVersion: "client.authentication.k8s.io/v1",
        kind: "ExecCredential",
        status: {
          token: view.accessToken,
          ...(view.expiresOn === undefined ? {} : { expirationTimestamp: rfc3339(view.expiresOn) })
        }
      }) + "\n"
  }
}
