import * as ClientConfig from "../ClientConfig.js"
import type { Provider, VerificationCheck, VerificationTarget } from "../Providers.js"
import { presets } from "./presets.js"
import { fill, placeholders, text } from "./providerInput.js"

// RFC 8628 §5.4: the verification page must be where the user expects it, or it may be phishing.

const hostOf = (value: string | undefined): string | undefined => {
  if (value === undefined) return undefined
  try {
    return normaliseHost(new URL(value.trim()).hostname)
  } catch {
    return undefined
  }
}

// DNS names are case-insensitive and "github.com." is "github.com".
const normaliseHost = (host: string): string => host.toLowerCase().replace(/\.$/, "")

const matches = (pattern: string, host: string): boolean =>
  pattern.startsWith("*.") ? host.endsWith(pattern.slice(1)) && host.length > pattern.length - 1 : pattern === host

const isConfig = (target: VerificationTarget): target is ClientConfig.ClientConfig =>
  typeof target === "object" && "endpoints" in target && "clientId" in target

/** @internal */
export const trustedHosts = (target: VerificationTarget): {
  readonly provider: Provider | undefined
  readonly authority: ReadonlyArray<string>
  readonly known: ReadonlyArray<string>
} => {
  const { config, id, input } = typeof target === "string"
    ? { id: target, input: {}, config: undefined }
    : isConfig(target)
    ? { id: undefined, input: {}, config: target }
    : { id: target.provider, input: target.input ?? {}, config: target.config }
  const provider = id !== undefined && Object.hasOwn(presets, id) ? presets[id] : undefined
  const authority = new Set<string>()
  const known = new Set<string>()
  if (config !== undefined) {
    for (const endpoint of [config.endpoints.deviceAuthorization, config.endpoints.token]) {
      const host = hostOf(endpoint)
      if (host !== undefined) authority.add(host)
    }
  }
  if (provider !== undefined) {
    const values = placeholders(input)
    const explicit = text(input.authority) ?? text(input.issuer)
    const template = explicit ?? provider.defaults.authority
    const filled = template === undefined ? undefined : fill(template, values)
    const host = filled !== undefined && "value" in filled ? hostOf(filled.value) : undefined
    if (host !== undefined) authority.add(host)
    for (const pattern of provider.verificationHosts) {
      const p = fill(pattern, values)
      if ("value" in p) known.add(normaliseHost(p.value))
    }
    // AWS: the organisation's own access portal shows the device page too
    const portal = provider.params.some((p) => p.input === "startUrl") ? hostOf(text(input.startUrl)) : undefined
    if (portal !== undefined) known.add(portal)
  }
  return { provider, authority: [...authority], known: [...known] }
}

/** @internal */
export const checkVerificationUri = (target: VerificationTarget, verificationUri: string): VerificationCheck => {
  let url: URL
  try {
    url = new URL(verificationUri.trim())
  } catch {
    return {
      trusted: false,
      host: undefined,
      reason: `${JSON.stringify(verificationUri.slice(0, 100))} is not an absolute URL`
    }
  }
  const host = normaliseHost(url.hostname)
  if (url.protocol !== "https:" && !(url.protocol === "http:" && ClientConfig.isLoopbackHost(host))) {
    return { trusted: false, host, reason: `${url.origin} does not use https: anyone on the way can change the page` }
  }
  if (url.username !== "" || url.password !== "") {
    return {
      trusted: false,
      host,
      reason: `the address has text before an @ (${
        JSON.stringify(url.username.slice(0, 60))
      }@${host}): the real host is ${host}`
    }
  }
  const { authority, known, provider } = trustedHosts(target)
  if (authority.includes(host)) return { trusted: true, host, reason: `${host} is the authority's host` }
  const pattern = known.find((p) => matches(p, host))
  if (pattern !== undefined && provider !== undefined) {
    return {
      trusted: true,
      host,
      reason: `${host} is a known ${provider.title} verification host${pattern === host ? "" : ` (${pattern})`}`
    }
  }
  const expected = [...authority, ...known]
  return {
    trusted: false,
    host,
    reason: `${host} is not the authority's host${
      provider === undefined ? "" : ` nor a known ${provider.title} verification host`
    }${
      expected.length === 0 ? "" : ` (${expected.join(", ")})`
    }: it may be a phishing page (RFC 8628 §5.4); check the address before entering the code`
  }
}
