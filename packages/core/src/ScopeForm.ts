/**
 * How a provider writes scopes, and when two spellings mean the same scope.
 *
 * RFC 6749 §3.3 makes scope tokens opaque, space-separated and
 * case-sensitive, and that is the `"oauth"` form. Two providers differ, and
 * a token whose granted scopes are compared with the requested ones in the
 * wrong form is never found in the cache again (every lookup refreshes):
 *
 * - `"entra"`: Microsoft Graph scopes may be asked and answered short
 *   (`User.Read`) or qualified (`https://graph.microsoft.com/User.Read`),
 *   whichever way; scope values are case-insensitive; a `{resource}/.default`
 *   request is answered with the resource's individual permissions.
 * - `"github"`: the token answer's `scope` is comma-separated (`repo,gist`).
 *
 * Every place that turns scopes into stored or compared values — the flow's
 * and a refresh's result, the cache's entries, cache lookups (the CLI's
 * fast path included) — goes through this module, so they always agree.
 * Pure: no Effect, no Node APIs (the CLI's fast path imports it).
 *
 * @since 0.1.0
 */

/**
 * A provider's way of spelling scopes: `oauth` (RFC 6749 §3.3), `entra` or `github`.
 *
 * @since 0.1.0
 * @category models
 */
export type ScopeForm = "oauth" | "entra" | "github"

/**
 * Every ScopeForm.
 *
 * @since 0.1.0
 * @category constants
 */
export const forms: ReadonlyArray<ScopeForm> = ["oauth", "entra", "github"]

/**
 * Whether a value is a ScopeForm.
 *
 * @since 0.1.0
 * @category refinements
 */
export const isScopeForm = (u: unknown): u is ScopeForm => u === "oauth" || u === "entra" || u === "github"

/**
 * The form of a provider preset's scopes (`"oauth"` for any other server).
 *
 * @since 0.1.0
 * @category utils
 */
export const forProvider = (provider: string | undefined): ScopeForm =>
  provider === "entra" || provider === "entra-v1" ? "entra" : provider === "github" ? "github" : "oauth"

/**
 * Scopes that ask for OpenID Connect identity or a refresh token rather than
 * API access: servers leave them out of (or add them to) an access token's
 * `scope` as they please, so they never decide whether a cached token fits.
 *
 * @since 0.1.0
 * @category constants
 */
export const OIDC_SCOPES: ReadonlySet<string> = new Set(["openid", "profile", "email", "offline_access"])

// Microsoft Graph's resource in each cloud, as a scope prefix; a short scope means Graph.
// https://learn.microsoft.com/graph/deployments
const GRAPH_PREFIX =
  /^(?:https:\/\/(?:graph\.microsoft\.com|graph\.microsoft\.us|dod-graph\.microsoft\.us|microsoftgraph\.chinacloudapi\.cn)|00000003-0000-0000-c000-000000000000)\/+/i

/**
 * One scope in its canonical spelling: Entra's Graph prefix dropped.
 *
 * @since 0.1.0
 * @category utils
 */
export const canonicalScope = (form: ScopeForm, scope: string): string =>
  form === "entra" ? scope.replace(GRAPH_PREFIX, "") : scope

/** The value two scopes are compared by. */
const key = (form: ScopeForm, scope: string): string =>
  form === "entra" ? canonicalScope(form, scope).toLowerCase() : scope

/**
 * Scopes in canonical spelling, sorted, without duplicates or empty strings.
 *
 * @since 0.1.0
 * @category utils
 */
export const normalise = (form: ScopeForm, scopes: Iterable<string>): ReadonlyArray<string> => {
  const out = [...canonical(form, scopes)]
  out.sort()
  return out
}

// Canonical spelling, in the given order, each scope once.
const canonical = (form: ScopeForm, scopes: Iterable<string>): Array<string> => {
  const seen = new Map<string, string>()
  for (const scope of scopes) {
    if (scope === "") continue
    const spelled = canonicalScope(form, scope)
    const k = key(form, spelled)
    if (!seen.has(k)) seen.set(k, spelled)
  }
  return [...seen.values()]
}

/**
 * A token answer's `scope` as a list: space-separated (RFC 6749 §3.3), and
 * comma-separated too for GitHub.
 *
 * @since 0.1.0
 * @category utils
 */
export const split = (form: ScopeForm, scope: string): ReadonlyArray<string> =>
  scope.split(form === "github" ? /[\s,]+/ : /\s+/).filter((s) => s !== "")

/**
 * What a token answer granted, in canonical spelling and the server's order
 * (each scope once): the server's `scope`, or
 * the requested scopes when it sent none (RFC 6749 §5.1: then the grant is
 * the request). For Entra, a requested `{resource}/.default` is kept with the
 * permissions the server listed for it, so that the same request finds it.
 *
 * @since 0.1.0
 * @category utils
 */
export const granted = (
  form: ScopeForm,
  requested: ReadonlyArray<string>,
  answered: string | undefined
): ReadonlyArray<string> => {
  const listed = answered === undefined ? [] : split(form, answered)
  if (listed.length === 0) return canonical(form, requested)
  const defaults = form === "entra" ? requested.filter((s) => s.endsWith("/.default") || s === ".default") : []
  return canonical(form, [...listed, ...defaults])
}

/**
 * Whether a token granted `grantedScopes` serves a request for `requested`:
 * every requested scope outside {@link OIDC_SCOPES} was granted, compared in
 * the provider's form (RFC 6749 §3.3: case-sensitive, except Entra's).
 *
 * @since 0.1.0
 * @category utils
 */
export const covers = (
  form: ScopeForm,
  grantedScopes: ReadonlyArray<string>,
  requested: ReadonlyArray<string>
): boolean => {
  if (form === "oauth") {
    for (const scope of requested) {
      if (!OIDC_SCOPES.has(scope) && !grantedScopes.includes(scope)) return false
    }
    return true
  }
  const have = new Set(grantedScopes.map((s) => key(form, s)))
  for (const scope of requested) {
    const k = key(form, scope)
    if (!OIDC_SCOPES.has(k) && !have.has(k)) return false
  }
  return true
}
