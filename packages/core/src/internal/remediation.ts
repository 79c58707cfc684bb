/** @internal */
interface ServerErrorLike {
  readonly error: string
  readonly errorDescription?: string | undefined
  readonly errorCodes?: ReadonlyArray<number> | undefined
}

// Entra (AADSTS) codes whose fix the user can act on. Sources: Microsoft
// Entra authentication and authorization error codes; MSAL device code docs.
const entraHints: Record<number, string> = {
  50059:
    "No tenant-identifying information was found in the request: use an authority with a tenant segment (tenant id, tenant domain, /organizations, /common or /consumers), not a bare host",
  90133:
    "This application cannot use the device code flow on /common or /consumers (Entra allows them for apps registered for them; this one is not): use a tenanted authority (tenant id or domain) or /organizations",
  90002:
    "Tenant not found: check the tenant id or domain in the authority, and that it belongs to this cloud (public, US Government, China)",
  53003:
    "Blocked by Conditional Access: a policy in this tenant does not allow this sign-in (device code flow is often blocked). Ask the tenant administrator, or use a browser-based sign-in",
  7000218:
    "The app registration requires a client secret: enable \"Allow public client flows\" in the app registration, or configure a client secret",
  700016:
    "Application not found in this tenant: check the client id, and that the app is registered in (or consented to by) this tenant",
  65001: "The user or administrator has not consented to this application: grant consent, then sign in again"
}

// Error codes whose meaning is the same at every provider that sends them.
const codeHints: Record<string, string> = {
  device_flow_disabled:
    "Device flow is disabled for this application: enable \"Device Flow\" in the GitHub App or OAuth App settings",
  incorrect_client_credentials: "The client id is not known to the server: check the client id",
  invalid_client:
    "The server does not accept this client: check the client id (and the client secret, if the provider requires one)",
  unauthorized_client:
    "This client is not allowed to use the device authorization grant: enable it for the client on the server",
  unsupported_grant_type:
    "The server does not support the device authorization grant at this endpoint: check the token endpoint",
  invalid_scope: "A requested scope is unknown or not allowed for this client: check the scopes"
}

const aadstsInText = /AADSTS(\d+)/

/**
 * A short, actionable hint for errors whose cause the user can fix.
 * @internal
 */
export const remediationFor = (self: ServerErrorLike): string | undefined => {
  const codes = [...(self.errorCodes ?? [])]
  const inText = self.errorDescription?.match(aadstsInText)
  if (inText) codes.push(Number(inText[1]))
  for (const code of codes) {
    const hint = entraHints[code]
    if (hint !== undefined) return hint
  }
  return Object.hasOwn(codeHints, self.error) ? codeHints[self.error] : undefined
}
