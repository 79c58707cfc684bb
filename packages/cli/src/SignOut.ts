/**
 * What `devflow logout` does at the server before it forgets an account:
 * revoke each of the account's refresh tokens (RFC 7009) where the
 * provider has a revocation endpoint, and say plainly where it has none or
 * the server could not be reached. The local sign-out happens whatever the
 * server says: a failed revocation is reported, never a reason to keep the
 * tokens.
 *
 * @since 0.1.0
 */
import type * as Account from "@devflow/core/Account"
import * as CacheContent from "@devflow/core/CacheContent"
import * as ClientConfig from "@devflow/core/ClientConfig"
import * as Providers from "@devflow/core/Providers"
import * as Revocation from "@devflow/core/Revocation"
import type * as HttpClient from "@effect/platform/HttpClient"
import * as Config from "effect/Config"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Profile from "./Profile.js"

/**
 * The outcome for one refresh token.
 *
 * @since 0.1.0
 * @category models
 */
export interface Revoked {
  readonly clientId: string
  readonly outcome: "revoked" | "unsupported" | "failed"
  /** the revocation endpoint's host, when there is one */
  readonly host: string | undefined
  /** why it was not revoked, in words */
  readonly reason: string | undefined
}

const hostOf = (url: string): string => {
  try {
    return new URL(url).host
  } catch {
    return url
  }
}

/**
 * Revoke `account`'s refresh tokens, reading each client's revocation
 * endpoint from the profiles that signed it in and its secret from the
 * cache (or `DEVFLOW_CLIENT_SECRET`).
 *
 * @since 0.1.0
 * @category utils
 */
export const revokeAccount = (
  content: CacheContent.CacheContent,
  profiles: Profile.ProfilesFile,
  account: Account.Account
): Effect.Effect<ReadonlyArray<Revoked>, never, HttpClient.HttpClient> =>
  Effect.gen(function*() {
    const envSecret = Option.getOrUndefined(
      yield* Effect.orElseSucceed(
        Config.option(Config.redacted("DEVFLOW_CLIENT_SECRET")),
        () => Option.none()
      )
    )
    const out: Array<Revoked> = []
    for (const entry of content.refreshTokens.values()) {
      if (entry.authority !== account.authority || entry.accountId !== account.id) continue
      const profile = Object.values(profiles.profiles).find((p) =>
        p.client.authority === entry.authority && p.client.clientId === entry.clientId
      )
      if (profile === undefined) {
        out.push({
          clientId: entry.clientId,
          outcome: "unsupported",
          host: undefined,
          reason: "no profile says where this client's server revokes tokens"
        })
        continue
      }
      const client = profile.client
      const endpoint = client.endpoints.revocation
      if (endpoint === undefined) {
        const provider = Providers.isProviderId(profile.inputs.provider)
          ? Providers.presets[profile.inputs.provider]
          : undefined
        out.push({
          clientId: entry.clientId,
          outcome: "unsupported",
          host: undefined,
          reason: provider?.revocation._tag === "None"
            ? provider.revocation.why
            : "this server advertises no token revocation endpoint (RFC 7009): the refresh token stays valid there until it expires"
        })
        continue
      }
      const kept = CacheContent.findClient(content, client.endpoints.token, client.clientId)
      const secret = kept?.secret ?? (client.clientAuthMethod === "none" ? undefined : envSecret)
      const attempt = Effect.gen(function*() {
        const config = yield* ClientConfig.make({
          clientId: client.clientId,
          clientSecret: secret,
          clientAuthMethod: secret === undefined ? "none" : kept?.authMethod ?? client.clientAuthMethod,
          endpoints: client.endpoints,
          wire: client.wire
        })
        return yield* Revocation.revoke(config, entry.secret)
      })
      const result = yield* Effect.either(attempt)
      out.push(
        result._tag === "Right"
          ? { clientId: entry.clientId, outcome: "revoked", host: hostOf(endpoint), reason: undefined }
          : { clientId: entry.clientId, outcome: "failed", host: hostOf(endpoint), reason: result.left.message }
      )
    }
    return out
  })

/**
 * One line for people about a revocation outcome.
 *
 * @since 0.1.0
 * @category utils
 */
export const describe = (revoked: Revoked): string => {
  switch (revoked.outcome) {
    case "revoked":
      return `Revoked the refresh token at ${revoked.host}.`
    case "unsupported":
      return `Not revoked at the server: ${revoked.reason}.`
    case "failed":
      return `Could not revoke the refresh token at ${revoked.host} (${revoked.reason}); it is gone from this machine but stays valid at the server until it expires.`
  }
}
