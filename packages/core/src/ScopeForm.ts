/**
 * How a provider writes scopes, and when two spellings mean the same scope.
 *
 * RFC 6749 §3.3 makes scope tokens opaque, space-separated and
 * case-sensitive, and that is the `"oauth"` form. Two providers differ, and
 * a token whose granted scopes are compared with the requested ones in the
 * wrong form is never found in the cache again (every lookup refreshes):
 *
 * - `"entra"`: Microsoft Graph scopes may be asked and answered short
 *   (`User.Read`) or qualified with the Graph host of the authority's cloud
 *   (`https://graph.microsoft.com/User.Read`), whichever way; scope values are case-insensitive; a `{resource}/.default`
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
import { isNqchars } from "./internal/nqchar.js"

/**
 * A provider's way of spelling scopes: `oauth` (RFC 6749 §3.3), `entra` or `github`.
 *
 * @since 0.1.0
 * @category models
 */
export type ScopeForm = "oauth" | "entra" | "github"

/**
 * Whether a value is one scope as RFC 6749 §3.3 allows it: no spaces, quotes,
 * backslashes or control characters. Every check of requested scopes (the
 * client's configuration, a silent call, the CLI's fast path) asks this.
 *
 * @since 0.1.0
 * @category refinements
 */
// RFC 6749 §3.3: scope-token = 1*NQCHAR
export const isScopeToken = (u: unknown): u is string => typeof u === "string" && isNqchars(u)

/**
 * Why a scope that is not a {@link isScopeToken} is refused, for an `InvalidConfiguration`.
 *
 * @since 0.1.0
 * @category utils
 */
export const notAScopeToken = (scope: unknown): string =>
  `contains an invalid scope ${JSON.stringify(scope)}: a scope has no spaces, quotes, backslashes or control characters`

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

// Microsoft Graph's host in each cloud, by the cloud's sign-in host; the public cloud's for any other
// (https://learn.microsoft.com/graph/deployments). US Government L4 and DoD share login.microsoftonline.us:
// there the short form is L4's Graph, so a DoD Graph scope (dod-graph.microsoft.us) stays qualified.
const GRAPH_BY_SIGN_IN_HOST: Readonly<Record<string, string>> = {
  "login.microsoftonline.us": "graph.microsoft.us",
  "login.chinacloudapi.cn": "microsoftgraph.chinacloudapi.cn",
  "login.partner.microsoftonline.cn": "microsoftgraph.chinacloudapi.cn"
}
const PUBLIC_GRAPH = "graph.microsoft.com"
// Graph's application id is the same in every cloud: it names the authority's own Graph.
const GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"

const graphHostOf = (authority: string | undefined): string => {
  if (authority === undefined) return PUBLIC_GRAPH
  let host: string
  try {
    host = new URL(authority).hostname.toLowerCase()
  } catch {
    return PUBLIC_GRAPH
  }
  return GRAPH_BY_SIGN_IN_HOST[host] ?? PUBLIC_GRAPH
}

// The scope without `prefix` and the slashes after it (case-insensitive), or undefined.
const after = (scope: string, prefix: string): string | undefined => {
  if (scope.length <= prefix.length || scope.slice(0, prefix.length).toLowerCase() !== prefix) return undefined
  let i = prefix.length
  if (scope[i] !== "/") return undefined
  while (scope[i] === "/") i++
  return scope.slice(i)
}

const stripGraph = (scope: string, graphHost: string): string =>
  after(scope, `https://${graphHost}`) ?? after(scope, GRAPH_APP_ID) ?? scope

/**
 * One scope in its canonical spelling: for Entra, the Graph prefix of the
 * authority's own cloud dropped (`https://graph.microsoft.com/User.Read` is
 * `User.Read` at the public cloud; at the US Government cloud that is
 * `https://graph.microsoft.us/User.Read`). `authority` is the authority or
 * any URL on its sign-in host (the token endpoint); without it, the public cloud.
 *
 * @since 0.1.0
 * @category utils
 */
export const canonicalScope = (form: ScopeForm, scope: string, authority?: string | undefined): string =>
  form === "entra" ? stripGraph(scope, graphHostOf(authority)) : scope

/** The value two canonical scopes are compared by. */
const key = (form: ScopeForm, canonicalSpelling: string): string =>
  form === "entra" ? canonicalSpelling.toLowerCase() : canonicalSpelling

/**
 * Scopes in canonical spelling, sorted, without duplicates or empty strings.
 *
 * @since 0.1.0
 * @category utils
 */
export const normalise = (
  form: ScopeForm,
  scopes: Iterable<string>,
  authority?: string | undefined
): ReadonlyArray<string> => {
  const out = [...canonical(form, scopes, authority)]
  out.sort()
  return out
}

// Canonical spelling, in the given order, each scope once.
const canonical = (form: ScopeForm, scopes: Iterable<string>, authority: string | undefined): Array<string> => {
  const graphHost = form === "entra" ? graphHostOf(authority) : PUBLIC_GRAPH
  const seen = new Map<string, string>()
  for (const scope of scopes) {
    if (scope === "") continue
    const spelled = form === "entra" ? stripGraph(scope, graphHost) : scope
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
  answered: string | undefined,
  authority?: string | undefined
): ReadonlyArray<string> => {
  const listed = answered === undefined ? [] : split(form, answered)
  if (listed.length === 0) return canonical(form, requested, authority)
  const defaults = form === "entra" ? requested.filter((s) => s.endsWith("/.default") || s === ".default") : []
  return canonical(form, [...listed, ...defaults], authority)
}

/**
 * Whether a token granted `grantedScopes` serves a request for `requested`:
 * every requested scope outside {@link OIDC_SCOPES} was granted, compared in
 * the provider's form (RFC 6749 §3.3: case-sensitive, except Entra's) and,
 * for Entra, the authority's cloud (see {@link canonicalScope}).
 *
 * @since 0.1.0
 * @category utils
 */
export const covers = (
  form: ScopeForm,
  grantedScopes: ReadonlyArray<string>,
  requested: ReadonlyArray<string>,
  authority?: string | undefined
): boolean => {
  if (form === "oauth") {
    for (const scope of requested) {
      if (!OIDC_SCOPES.has(scope) && !grantedScopes.includes(scope)) return false
    }
    return true
  }
  const graphHost = form === "entra" ? graphHostOf(authority) : PUBLIC_GRAPH
  const canonicalKey = (scope: string) => key(form, form === "entra" ? stripGraph(scope, graphHost) : scope)
  const have = new Set(grantedScopes.map(canonicalKey))
  for (const scope of requested) {
    const k = canonicalKey(scope)
    if (!OIDC_SCOPES.has(k) && !have.has(k)) return false
  }
  return true
}
