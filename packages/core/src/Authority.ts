/**
 * Authority and issuer URLs: which are acceptable, and the Microsoft Entra
 * rules for tenants.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import { isLoopbackHost, originOf, withoutCredentials } from "./ClientConfig.js"
import { InvalidConfiguration } from "./DeviceFlowError.js"

/**
 * Parse an authority or issuer URL: absolute, https (http only for loopback
 * hosts, where nothing can intercept it), no credentials, query or fragment.
 * The result has no trailing slash.
 *
 * @since 0.1.0
 * @category constructors
 */
export const parse = (field: string, input: string | undefined): Effect.Effect<URL, InvalidConfiguration> =>
  Effect.gen(function*() {
    if (input !== undefined && typeof input !== "string") return yield* invalid(field, "must be a string")
    const text = input?.trim() ?? ""
    if (text === "") return yield* invalid(field, "is required")
    let url: URL
    try {
      url = new URL(text)
    } catch {
      return yield* invalid(field, `is not an absolute URL: ${JSON.stringify(withoutCredentials(text.slice(0, 200)))}`)
    }
    // eslint-disable-next-line no-control-regex
    if (/[\s\u0000-\u001f\u007f]/.test(text)) {
      return yield* invalid(
        field,
        `must not contain spaces or control characters: ${JSON.stringify(withoutCredentials(text.slice(0, 200)))}`
      )
    }
    if (url.protocol !== "https:" && !(url.protocol === "http:" && isLoopbackHost(url.hostname))) {
      return yield* invalid(
        field,
        `must use https (http is allowed only for 127.0.0.1, localhost and [::1]): ${originOf(url)}`
      )
    }
    if (url.username !== "" || url.password !== "") return yield* invalid(field, "must not contain credentials")
    if (url.search !== "" || url.hash !== "" || text.includes("#")) {
      return yield* invalid(field, "must not contain a query or a fragment")
    }
    url.pathname = url.pathname.replace(/\/+$/, "")
    return url
  })

/**
 * `url` without a trailing slash, as a string.
 *
 * @since 0.1.0
 * @category utils
 */
export const toString = (url: URL): string => `${url.origin}${url.pathname.replace(/\/+$/, "")}`

const invalid = (field: string, reason: string) => Effect.fail(new InvalidConfiguration({ field, reason }))

/**
 * Microsoft Entra sign-in hosts: public cloud, US Government, China (21Vianet).
 *
 * @since 0.1.0
 * @category constants
 */
export const ENTRA_HOSTS: ReadonlyArray<string> = [
  "login.microsoftonline.com",
  "login.microsoft.com",
  "login.windows.net",
  "login.microsoftonline.us",
  "login.chinacloudapi.cn",
  "login.partner.microsoftonline.cn"
]

/**
 * Whether a host is one of Microsoft Entra ID's login hosts (public and sovereign clouds).
 *
 * @since 0.1.0
 * @category refinements
 */
export const isEntraHost = (hostname: string): boolean => ENTRA_HOSTS.includes(hostname.toLowerCase())

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
// A verified domain: at least two labels (contoso.onmicrosoft.com, contoso.com).
const DOMAIN = /^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/i

/**
 * What the tenant segment of an Entra authority names.
 *
 * @since 0.1.0
 * @category models
 */
export type EntraTenantKind = "guid" | "domain" | "organizations" | "common" | "consumers"

/**
 * Classify an Entra tenant segment, or refuse it.
 *
 * @since 0.1.0
 * @category constructors
 */
export const entraTenant = (field: string, tenant: string | undefined): Effect.Effect<
  { readonly tenant: string; readonly kind: EntraTenantKind },
  InvalidConfiguration
> =>
  Effect.gen(function*() {
    if (tenant !== undefined && typeof tenant !== "string") return yield* invalid(field, "must be a string")
    const value = tenant?.trim() ?? ""
    if (value === "") {
      // AADSTS50059: the request carries no tenant-identifying information
      return yield* invalid(
        field,
        "is missing: a Microsoft Entra authority needs a tenant (a tenant id, a tenant domain such as contoso.onmicrosoft.com, or organizations, common or consumers); without one Entra answers AADSTS50059, \"No tenant-identifying information found\""
      )
    }
    const lower = value.toLowerCase()
    if (lower === "organizations" || lower === "common" || lower === "consumers") return { tenant: lower, kind: lower }
    if (GUID.test(value)) return { tenant: lower, kind: "guid" as const }
    if (DOMAIN.test(value)) return { tenant: lower, kind: "domain" as const }
    return yield* invalid(
      field,
      `${
        JSON.stringify(value.slice(0, 100))
      } is not a tenant id (GUID), a tenant domain, organizations, common or consumers`
    )
  })

/**
 * An Entra authority: the cloud's host and the tenant, from either a full
 * authority URL (`https://login.microsoftonline.com/contoso.onmicrosoft.com`)
 * or a host plus a separate tenant.
 *
 * @since 0.1.0
 * @category models
 */
export interface EntraAuthority {
  /** `https://login.microsoftonline.com`, or another cloud's (or a test double's) origin */
  readonly origin: string
  /** the path a proxy or test double serves Entra's paths under (`/prefix`); absent for Entra's own hosts */
  readonly prefix?: string
  readonly tenant: string
  readonly kind: EntraTenantKind
}

/**
 * Read an Entra authority. A tenant in the URL's path and a separate `tenant`
 * must agree when both are given; the authority is refused before any
 * request when no tenant is found at all (AADSTS50059).
 *
 * @since 0.1.0
 * @category constructors
 */
export const entra = (options: {
  readonly authority?: string | undefined
  readonly tenant?: string | undefined
}): Effect.Effect<EntraAuthority, InvalidConfiguration> =>
  Effect.gen(function*() {
    const url = yield* parse("authority", options.authority ?? "https://login.microsoftonline.com")
    const segments = url.pathname.split("/").filter((s) => s !== "")
    // An authority may carry the v2 suffix users copy from the portal.
    while (segments.length > 0 && /^(oauth2|v2\.0)$/i.test(segments[segments.length - 1]!)) segments.pop()
    const given = typeof options.tenant === "string" ? options.tenant.trim().toLowerCase() : undefined
    // Entra's own hosts serve /{tenant} at the root; a proxy or test double may sit under any path
    // prefix (https://proxy/prefix/{tenant}, or https://proxy/prefix with the tenant given apart).
    const proxied = !isEntraHost(url.hostname)
    const tenantInPath = !proxied || given === undefined || segments[segments.length - 1]?.toLowerCase() === given
    const prefix = proxied ? segments.slice(0, tenantInPath ? -1 : undefined) : []
    if (!proxied && segments.length > 1) {
      return yield* invalid("authority", `has too many path segments (${url.pathname}): use https://<host>/<tenant>`)
    }
    const inPath = tenantInPath ? segments[prefix.length] : undefined
    if (inPath !== undefined && given !== undefined && inPath.toLowerCase() !== given) {
      return yield* invalid("tenant", `(${options.tenant}) disagrees with the tenant in the authority (${inPath})`)
    }
    const { kind, tenant } = yield* entraTenant("tenant", inPath ?? options.tenant)
    return prefix.length === 0
      ? { origin: url.origin, tenant, kind }
      : { origin: url.origin, prefix: `/${prefix.join("/")}`, tenant, kind }
  })
