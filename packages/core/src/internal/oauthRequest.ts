import * as HttpBody from "@effect/platform/HttpBody"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as UrlParams from "@effect/platform/UrlParams"
import * as Redacted from "effect/Redacted"
import type { WireFormat } from "../ClientConfig.js"
import { basicCredentials, spellingsOf } from "./secrets.js"
import { encodeRequest } from "./wire.js"

/**
 * How a client authenticates at the token endpoint (RFC 6749 §2.3.1).
 * @internal
 */
export interface ClientAuth {
  readonly clientId: string
  readonly clientSecret: Redacted.Redacted<string> | undefined
  readonly method: "none" | "client_secret_post" | "client_secret_basic"
}

/**
 * How `config`'s client authenticates: every request to the server's
 * endpoints (code, poll, refresh, revocation) sends the same.
 * @internal
 */
export const clientAuthOf = (
  config: {
    readonly clientId: string
    readonly clientSecret: Redacted.Redacted<string> | undefined
    readonly clientAuthMethod: ClientAuth["method"]
  }
): ClientAuth => ({ clientId: config.clientId, clientSecret: config.clientSecret, method: config.clientAuthMethod })

/**
 * An OAuth request (RFC 6749 §3.2: a POST of its parameters) with the
 * client's authentication (RFC 6749 §2.3.1: Basic, or `client_id` and
 * `client_secret` in the body), encoded for the wire format: form-encoded
 * for `"oauth"`, JSON for `"aws-sso-oidc"` (internal/wire.ts). `secrets`
 * are the spellings an answer or a failure is cleaned of, worked out only
 * when one has text to clean: not on the polling hot path.
 * @internal
 */
export const formRequest = (
  endpoint: string,
  params: Readonly<Record<string, string>>,
  auth: ClientAuth,
  wire: WireFormat
): { readonly request: HttpClientRequest.HttpClientRequest; readonly secrets: () => ReadonlyArray<string> } => {
  const body: Record<string, string> = { ...params }
  // GitHub answers form-encoded without Accept: application/json
  const headers: Record<string, string> = { accept: "application/json" }
  if (auth.method === "client_secret_basic" && auth.clientSecret !== undefined) {
    headers.authorization = `Basic ${basicCredentials(auth.clientId, Redacted.value(auth.clientSecret))}`
  } else {
    body.client_id = auth.clientId
    if (auth.method === "client_secret_post" && auth.clientSecret !== undefined) {
      body.client_secret = Redacted.value(auth.clientSecret)
    }
  }
  const encoded = encodeRequest(wire, body)
  const request = HttpClientRequest.post(endpoint, {
    headers,
    body: encoded._tag === "Form"
      ? HttpBody.urlParams(UrlParams.fromInput(encoded.body))
      : HttpBody.unsafeJson(encoded.body)
  })
  let spellings: ReadonlyArray<string> | undefined
  return { request, secrets: () => (spellings ??= spellingsOf(params, auth)) }
}
