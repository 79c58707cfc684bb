import type { Provider, ProviderId } from "../Providers.js"

const oidcScopes = ["openid", "profile", "offline_access"] as const

const entraVerificationHosts = [
  // https://microsoft.com/devicelogin (and /deviceloginus, /deviceloginchina for the sovereign clouds)
  "microsoft.com",
  "www.microsoft.com",
  // https://login.microsoftonline.com/device, https://login.microsoft.com/device
  "login.microsoftonline.com",
  "login.microsoft.com"
]

// AADSTS50059, as Authority.entraTenant explains it
const entraTenantWhy =
  "a Microsoft Entra authority needs a tenant (a tenant id, a tenant domain such as contoso.onmicrosoft.com, or organizations, common or consumers); without one Entra answers AADSTS50059, \"No tenant-identifying information found\""

const entraNoRevocation =
  "Microsoft Entra ID has no token revocation endpoint (RFC 7009): the refresh token stays valid until it expires or the user's sessions are revoked (My Account → Sign out everywhere, or Revoke-MgUserSignInSession)"

/** @internal */
export const presets: Readonly<Record<ProviderId, Provider>> = {
  entra: {
    id: "entra",
    title: "Microsoft Entra ID",
    describe:
      "Microsoft Entra ID (Azure AD) v2.0 endpoints: {authority}/{tenant}/oauth2/v2.0/devicecode and /token. The authority is the cloud's host (https://login.microsoftonline.com, or a sovereign cloud's); the tenant is a tenant id, a verified domain, organizations, common or consumers.",
    docs: ["https://learn.microsoft.com/entra/identity-platform/v2-oauth2-device-code"],
    // the tenant may also come as the authority's path (https://login.microsoftonline.com/contoso.onmicrosoft.com)
    requires: ["clientId", { anyOf: ["tenant", "authority"] }],
    requiresWhy: { tenant: entraTenantWhy },
    accepts: ["clientId", "clientSecret", "authority", "tenant", "scopes"],
    defaults: { authority: "https://login.microsoftonline.com", scopes: oidcScopes },
    authority: { _tag: "EntraTenant" },
    endpoints: { _tag: "Paths", deviceAuthorization: "/oauth2/v2.0/devicecode", token: "/oauth2/v2.0/token" },
    params: [],
    clientSecret: "optional",
    wire: "oauth",
    scopeForm: "entra",
    revocation: { _tag: "None", why: entraNoRevocation },
    registration: undefined,
    verificationHosts: entraVerificationHosts,
    quirks: [
      "the answer carries a ready-made `message`, shown as is",
      "no verification_uri_complete",
      "errors carry AADSTS `error_codes`, `trace_id` and `correlation_id`; /devicecode may answer an error with HTTP 200",
      "`authorization_declined` is Entra's access_denied"
    ]
  },
  "entra-v1": {
    id: "entra-v1",
    title: "Microsoft Entra ID (v1 endpoints)",
    describe:
      "Microsoft Entra ID (Azure AD) v1 endpoints: {authority}/{tenant}/oauth2/devicecode and /oauth2/token, with a resource (given as audience) instead of scopes.",
    docs: ["https://learn.microsoft.com/entra/identity-platform/v2-oauth2-device-code"],
    requires: ["clientId", { anyOf: ["tenant", "authority"] }, "audience"],
    requiresWhy: {
      tenant: entraTenantWhy,
      audience: "the v1 endpoints name the API by its resource (e.g. https://graph.microsoft.com), given as audience"
    },
    accepts: ["clientId", "clientSecret", "authority", "tenant", "audience", "scopes"],
    defaults: { authority: "https://login.microsoftonline.com", scopes: [] },
    authority: { _tag: "EntraTenant" },
    endpoints: { _tag: "Paths", deviceAuthorization: "/oauth2/devicecode", token: "/oauth2/token" },
    params: [{ input: "audience", name: "resource", on: "both" }],
    clientSecret: "optional",
    wire: "oauth",
    scopeForm: "entra",
    revocation: { _tag: "None", why: entraNoRevocation },
    registration: undefined,
    verificationHosts: entraVerificationHosts,
    quirks: [
      "`resource=` instead of scope",
      "`verification_url` instead of verification_uri",
      "`expires_in` and `interval` as strings",
      "the answer carries a ready-made `message`, shown as is"
    ]
  },
  github: {
    id: "github",
    title: "GitHub",
    describe:
      "GitHub OAuth and GitHub Apps: https://github.com/login/device/code and /login/oauth/access_token. For GitHub Enterprise Server give its address as authority (https://HOST). No discovery.",
    docs: [
      "https://docs.github.com/en/apps/oauth-apps/building-oauth-apps/authorizing-oauth-apps#device-flow"
    ],
    requires: ["clientId"],
    requiresWhy: {},
    accepts: ["clientId", "clientSecret", "authority", "scopes"],
    defaults: { authority: "https://github.com", scopes: [] },
    authority: { _tag: "Base" },
    endpoints: { _tag: "Paths", deviceAuthorization: "/login/device/code", token: "/login/oauth/access_token" },
    params: [],
    clientSecret: "optional",
    wire: "oauth",
    scopeForm: "github",
    revocation: {
      _tag: "None",
      why:
        "GitHub has no RFC 7009 revocation endpoint: revoke the app's access under Settings → Applications (or with the REST API and the client secret, DELETE /applications/{client_id}/grant)"
    },
    registration: undefined,
    verificationHosts: ["github.com"],
    quirks: [
      "form-encoded answers unless `Accept: application/json` (devflow sends it, and reads both)",
      "errors arrive with HTTP 200",
      "slow_down carries the new `interval`",
      "extra error codes: device_flow_disabled, incorrect_client_credentials, incorrect_device_code, unsupported_grant_type",
      "`token_type` is lowercase `bearer`; comma-separated `scope`; no expiry or refresh token for OAuth apps"
    ]
  },
  google: {
    id: "google",
    title: "Google",
    describe:
      "Google OAuth 2.0 for TV and limited-input devices: https://oauth2.googleapis.com/device/code and /token. Needs the client secret of a \"TVs and Limited Input devices\" client.",
    docs: ["https://developers.google.com/identity/protocols/oauth2/limited-input-device"],
    requires: ["clientId", "clientSecret"],
    requiresWhy: {
      clientSecret:
        "Google's token endpoint refuses device-flow requests without the client secret of the \"TVs and Limited Input devices\" client"
    },
    accepts: ["clientId", "clientSecret", "authority", "scopes"],
    defaults: { authority: "https://oauth2.googleapis.com", scopes: ["openid", "email", "profile"] },
    authority: { _tag: "Base" },
    endpoints: { _tag: "Paths", deviceAuthorization: "/device/code", token: "/token" },
    params: [],
    clientSecret: "required",
    wire: "oauth",
    scopeForm: "oauth",
    revocation: { _tag: "Path", path: "/revoke" },
    registration: undefined,
    verificationHosts: ["www.google.com", "google.com"],
    quirks: [
      "`verification_url` instead of verification_uri",
      "client_secret in the token request",
      "pending may come as HTTP 428 and slow_down as HTTP 403"
    ]
  },
  okta: {
    id: "okta",
    title: "Okta",
    describe:
      "Okta: the issuer is https://{org}/oauth2/default or any custom authorization server (or https://{org} for the org server); endpoints come from discovery.",
    docs: ["https://developer.okta.com/docs/guides/device-authorization-grant/main/"],
    requires: ["clientId", { anyOf: ["authority", "issuer"] }],
    requiresWhy: {},
    accepts: ["clientId", "clientSecret", "authority", "issuer", "scopes"],
    defaults: { authority: undefined, scopes: oidcScopes },
    authority: { _tag: "Issuer" },
    endpoints: { _tag: "Discovery" },
    params: [],
    clientSecret: "optional",
    wire: "oauth",
    scopeForm: "oauth",
    revocation: { _tag: "Discovery" },
    registration: undefined,
    verificationHosts: [],
    quirks: ["standard RFC 8628 with discovery; verification_uri_complete present"]
  },
  auth0: {
    id: "auth0",
    title: "Auth0",
    describe:
      "Auth0: https://{tenant}.auth0.com/oauth/device/code and /oauth/token (tenant, e.g. dev-abc or dev-abc.eu, or a custom domain as authority); audience names the API.",
    docs: [
      "https://auth0.com/docs/get-started/authentication-and-authorization-flow/device-authorization-flow/call-your-api-using-the-device-authorization-flow"
    ],
    requires: ["clientId", { anyOf: ["tenant", "authority"] }],
    requiresWhy: {},
    accepts: ["clientId", "clientSecret", "authority", "tenant", "audience", "scopes"],
    defaults: { authority: "https://{tenant}.auth0.com", scopes: oidcScopes },
    authority: { _tag: "Base" },
    endpoints: { _tag: "Paths", deviceAuthorization: "/oauth/device/code", token: "/oauth/token" },
    params: [{ input: "audience", name: "audience", on: "deviceAuthorization" }],
    clientSecret: "optional",
    wire: "oauth",
    scopeForm: "oauth",
    revocation: { _tag: "Path", path: "/oauth/revoke" },
    registration: undefined,
    verificationHosts: [],
    quirks: [
      "`audience` selects the API the access token is for",
      "pending as HTTP 403, slow_down as HTTP 429",
      "expired_token once, then invalid_grant"
    ]
  },
  keycloak: {
    id: "keycloak",
    title: "Keycloak",
    describe:
      "Keycloak: the issuer is https://{host}[/{path}]/realms/{realm} (/auth/realms/{realm} before Keycloak 17; any --http-relative-path or reverse-proxy prefix before /realms); endpoints are the fixed realm paths /protocol/openid-connect/auth/device and /protocol/openid-connect/token.",
    docs: ["https://www.keycloak.org/securing-apps/oidc-layers"],
    requires: ["clientId", { anyOf: ["authority", "issuer"] }],
    requiresWhy: {},
    accepts: ["clientId", "clientSecret", "authority", "issuer", "scopes"],
    defaults: { authority: undefined, scopes: ["openid", "profile"] },
    authority: {
      _tag: "Issuer",
      // Keycloak's --http-relative-path (/auth before 17, /keycloak, /sso, …) or a reverse proxy's prefix may precede /realms.
      pathPattern: "^(/[^/]+)*/realms/[^/]+$",
      example: "https://keycloak.example.com/realms/myrealm"
    },
    endpoints: {
      _tag: "Paths",
      deviceAuthorization: "/protocol/openid-connect/auth/device",
      token: "/protocol/openid-connect/token"
    },
    params: [],
    clientSecret: "optional",
    wire: "oauth",
    scopeForm: "oauth",
    revocation: { _tag: "Path", path: "/protocol/openid-connect/revoke" },
    registration: undefined,
    verificationHosts: [],
    quirks: ["standard RFC 8628; verification_uri_complete present; the same paths are in its discovery document"]
  },
  "aws-sso": {
    id: "aws-sso",
    title: "AWS IAM Identity Center",
    describe:
      "AWS IAM Identity Center (SSO OIDC) at https://oidc.{region}.amazonaws.com: registers a public client (RegisterClient) unless a client secret is given, then StartDeviceAuthorization with the access portal's start URL and CreateToken.",
    docs: [
      "https://docs.aws.amazon.com/singlesignon/latest/OIDCAPIReference/API_RegisterClient.html",
      "https://docs.aws.amazon.com/singlesignon/latest/OIDCAPIReference/API_StartDeviceAuthorization.html",
      "https://docs.aws.amazon.com/singlesignon/latest/OIDCAPIReference/API_CreateToken.html"
    ],
    requires: ["clientId", { anyOf: ["region", "authority"] }, "startUrl"],
    requiresWhy: {
      region:
        "IAM Identity Center's OIDC service is regional (https://oidc.{region}.amazonaws.com); or give its address as authority",
      startUrl: "StartDeviceAuthorization needs the AWS access portal URL (e.g. https://d-1234567890.awsapps.com/start)"
    },
    accepts: ["clientId", "clientSecret", "authority", "region", "startUrl", "scopes"],
    defaults: { authority: "https://oidc.{region}.{dnsSuffix}", scopes: ["sso:account:access"] },
    authority: { _tag: "Base" },
    endpoints: { _tag: "Paths", deviceAuthorization: "/device_authorization", token: "/token" },
    params: [{ input: "startUrl", name: "start_url", on: "deviceAuthorization" }],
    clientSecret: "optional",
    wire: "aws-sso-oidc",
    scopeForm: "oauth",
    revocation: {
      _tag: "None",
      why:
        "AWS IAM Identity Center's OIDC service has no revocation endpoint: the refresh token lasts until its session ends (sign out of the AWS access portal to end it)"
    },
    registration: { _tag: "AwsSsoOidc", path: "/client/register" },
    verificationHosts: ["device.sso.{region}.{dnsSuffix}", "*.awsapps.com"],
    quirks: [
      "client registration first (RegisterClient), its secret sent with every request",
      "JSON requests and camelCase JSON answers",
      "errors as exception names (AuthorizationPendingException, SlowDownException, …) in `error`, `__type` or x-amzn-errortype"
    ]
  },
  generic: {
    id: "generic",
    title: "RFC 8628 server (discovery)",
    describe:
      "Any authorization server that advertises device_authorization_endpoint in its OpenID Connect or RFC 8414 metadata; the authority is its issuer.",
    docs: ["https://www.rfc-editor.org/rfc/rfc8628", "https://www.rfc-editor.org/rfc/rfc8414"],
    requires: ["clientId", { anyOf: ["authority", "issuer"] }],
    requiresWhy: {},
    accepts: ["clientId", "clientSecret", "authority", "issuer", "scopes"],
    defaults: { authority: undefined, scopes: [] },
    authority: { _tag: "Issuer" },
    endpoints: { _tag: "Discovery" },
    params: [],
    clientSecret: "optional",
    wire: "oauth",
    scopeForm: "oauth",
    revocation: { _tag: "Discovery" },
    registration: undefined,
    verificationHosts: [],
    quirks: []
  }
}
