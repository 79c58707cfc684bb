/**
 * Provider presets, replayed end to end through DeviceFlow against TestKit
 * speaking each provider's documented wire format at the preset's real paths.
 *
 * Which provider facts come only from documentation (no live server was
 * available to these tests; the e2e suite covers a real oidc-provider only):
 *
 * | provider  | fact taken from documentation only                                                                      | source |
 * |-----------|---------------------------------------------------------------------------------------------------------|--------|
 * | entra     | paths /{tenant}/oauth2/v2.0/devicecode + /token; `message`; no verification_uri_complete;                | learn.microsoft.com v2-oauth2-device-code |
 * |           | AADSTS70016 pending body shape (error_codes, trace_id, correlation_id); `authorization_declined`;         |        |
 * |           | verification pages microsoft.com/devicelogin, login.microsoftonline.com/device. slow_down is not in       |        |
 * |           | Entra's table: the RFC 8628 form is assumed.                                                             |        |
 * | entra-v1  | paths /{tenant}/oauth2/devicecode + /oauth2/token; `resource`; `verification_url`; numbers as strings.   | ADAL sources, Azure docs |
 * |           | ADAL polled with the pre-RFC `grant_type=device_code` + `code`; devflow sends the RFC 8628 form           |        |
 * |           | (`urn:…:device_code` + `device_code`) and that the v1 endpoint accepts it is NOT verified here.          |        |
 * | github    | /login/device/code + /login/oauth/access_token; HTTP 200 errors; slow_down `interval`; form bodies        | docs.github.com device flow |
 * |           | without Accept JSON; GHES serves the same paths on its own host.                                         |        |
 * | google    | /device/code + /token on oauth2.googleapis.com; client_secret required; `verification_url`;              | developers.google.com limited-input-device |
 * |           | 428 pending, 403 slow_down / access_denied, 400 expired_token.                                            |        |
 * | okta      | issuer https://{org}/oauth2/default; /v1/device/authorize + /v1/token via discovery; error texts.         | developer.okta.com device grant |
 * | auth0     | https://{tenant}.auth0.com/oauth/device/code + /oauth/token; `audience`; 403 pending / 429 slow_down;     | auth0.com device flow docs |
 * |           | expired_token once, then invalid_grant; verification page /activate on the tenant host.                 |        |
 * | keycloak  | /realms/{realm}/protocol/openid-connect/auth/device + /token; /auth prefix before Keycloak 17.           | keycloak.org docs |
 * | aws-sso   | oidc.{region}.amazonaws.com; RegisterClient / StartDeviceAuthorization / CreateToken JSON shapes;        | docs.aws.amazon.com OIDCAPIReference, SDK models |
 * |           | exception names in `error` / `__type` / x-amzn-errortype; device.sso.{region}.amazonaws.com pages;       |        |
 * |           | amazonaws.com.cn in China regions.                                                                       |        |
 * | generic   | nothing provider-specific: RFC 8628 + RFC 8414 (also proven against oidc-provider in the e2e suite).    | RFCs   |
 */
import { assert, describe, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Encoding from "effect/Encoding"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Ref from "effect/Ref"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import { failure, runVirtual } from "../test/virtual.js"
import * as CacheContent from "./CacheContent.js"
import * as ClientConfig from "./ClientConfig.js"
import type { DeviceCode } from "./DeviceAuthorization.js"
import * as DeviceFlow from "./DeviceFlow.js"
import type { DeviceSession } from "./DeviceSession.js"
import * as Providers from "./Providers.js"
import * as PublicClient from "./PublicClient.js"
import * as ServerMetadata from "./ServerMetadata.js"
import * as TestKit from "./TestKit.js"
import * as TokenCache from "./TokenCache.js"

const DEVICE_CODE = TestKit.secrets.deviceCode
const ACCESS_TOKEN = TestKit.secrets.accessToken
const REFRESH_TOKEN = TestKit.secrets.refreshToken
const DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"

/** One provider's documented wire format, at the preset's real endpoints. */
interface Wire {
  readonly id: Providers.ProviderId
  readonly input: Providers.ProviderInput
  readonly endpoints: { readonly deviceAuthorization: string; readonly token: string }
  /** discovery documents, client registration */
  readonly other?: TestKit.Script["other"]
  readonly device: (expiresIn: number) => TestKit.Reply
  /** the interval `device` sends, in seconds */
  readonly interval: number
  /** the interval after one slow_down */
  readonly slowedInterval: number
  readonly pending: TestKit.Reply
  readonly slowDown: TestKit.Reply
  readonly denied: TestKit.Reply
  /** the `error` the AccessDenied keeps */
  readonly deniedError: string
  readonly expired: TestKit.Reply
  readonly tokens: TestKit.Reply
  readonly verificationUri: string
  /** what the preset must have sent */
  readonly checkRequests: (device: TestKit.RecordedRequest, poll: TestKit.RecordedRequest) => void
}

const idToken = (iss: string, aud: string, claims: Readonly<Record<string, unknown>> = {}) =>
  TestKit.idToken({ iss, sub: TestKit.secrets.idTokenSubject, aud, name: "Test User", ...claims })
const ENTRA_TID = "9188040d-6c67-4c5b-b112-36a304b66dad"
/** `reply`, a JSON token answer, with its id_token issued by `iss` (OpenID Connect Core §3.1.3.7: an id_token names its issuer) */
const issuedBy = (reply: TestKit.Reply, iss: string): TestKit.Reply => {
  if (reply._tag !== "Body") return reply
  const body = JSON.parse(reply.body) as Record<string, unknown>
  const claims = JSON.parse(
    new TextDecoder().decode(Encoding.decodeBase64Url(String(body.id_token).split(".")[1]!).pipe(Either.getOrThrow))
  ) as Record<string, unknown>
  return { ...reply, body: JSON.stringify({ ...body, id_token: TestKit.idToken({ ...claims, iss }) }) }
}

// ---------------------------------------------------------------------------
// Microsoft Entra ID

const ENTRA_CLIENT = "4a1aa1d5-c567-49d0-ad0b-cd957a47f842"
const ENTRA_TENANT = "contoso.onmicrosoft.com"
const entraError = (error: string, code: number | undefined, description: string, status = 400) =>
  TestKit.json({
    error,
    error_description: `${
      code === undefined ? "" : `AADSTS${code}: `
    }${description}\r\nTrace ID: 0b1f5a3e\r\nCorrelation ID: 7d2c\r\nTimestamp: 2024-01-01 00:00:00Z`,
    ...(code === undefined ? {} : { error_codes: [code] }),
    timestamp: "2024-01-01 00:00:00Z",
    trace_id: "0b1f5a3e-0000-0000-0000-000000000000",
    correlation_id: "7d2c0000-0000-0000-0000-000000000000"
  }, { status })

const entraMessage =
  "To sign in, use a web browser to open the page https://microsoft.com/devicelogin and enter the code FJ9XKZ2QN to authenticate."

const entra: Wire = {
  id: "entra",
  input: { clientId: ENTRA_CLIENT, tenant: ENTRA_TENANT, scopes: ["User.Read", "offline_access"] },
  endpoints: {
    deviceAuthorization: `https://login.microsoftonline.com/${ENTRA_TENANT}/oauth2/v2.0/devicecode`,
    token: `https://login.microsoftonline.com/${ENTRA_TENANT}/oauth2/v2.0/token`
  },
  device: (expiresIn) =>
    TestKit.json({
      user_code: "FJ9XKZ2QN",
      device_code: DEVICE_CODE,
      verification_uri: "https://microsoft.com/devicelogin",
      expires_in: expiresIn,
      interval: 5,
      message: entraMessage
    }),
  interval: 5,
  slowedInterval: 10,
  pending: entraError(
    "authorization_pending",
    70016,
    "OAuth 2.0 device flow error. Authorization is pending. Continue polling."
  ),
  slowDown: entraError("slow_down", undefined, "Polling too fast."),
  denied: entraError("authorization_declined", undefined, "The end user denied the authorization request."),
  deniedError: "authorization_declined",
  expired: entraError("expired_token", undefined, "The device code has expired."),
  tokens: TestKit.json({
    token_type: "Bearer",
    scope: "User.Read profile openid email",
    expires_in: 3599,
    ext_expires_in: 3599,
    access_token: ACCESS_TOKEN,
    refresh_token: REFRESH_TOKEN,
    id_token: idToken(`https://login.microsoftonline.com/${ENTRA_TID}/v2.0`, ENTRA_CLIENT, { tid: ENTRA_TID })
  }),
  verificationUri: "https://microsoft.com/devicelogin",
  checkRequests: (device, poll) => {
    assert.strictEqual(device.params.client_id, ENTRA_CLIENT)
    assert.strictEqual(device.params.scope, "User.Read offline_access")
    assert.deepStrictEqual(
      [poll.params.grant_type, poll.params.device_code, poll.params.client_id],
      [DEVICE_GRANT, DEVICE_CODE, ENTRA_CLIENT]
    )
  }
}

const GRAPH = "https://graph.microsoft.com"
const entraV1: Wire = {
  ...entra,
  id: "entra-v1",
  input: { clientId: ENTRA_CLIENT, tenant: ENTRA_TENANT, audience: GRAPH },
  endpoints: {
    deviceAuthorization: `https://login.microsoftonline.com/${ENTRA_TENANT}/oauth2/devicecode`,
    token: `https://login.microsoftonline.com/${ENTRA_TENANT}/oauth2/token`
  },
  // v1: verification_url, numbers as strings
  device: (expiresIn) =>
    TestKit.json({
      user_code: "FJ9XKZ2QN",
      device_code: DEVICE_CODE,
      verification_url: "https://microsoft.com/devicelogin",
      expires_in: String(expiresIn),
      interval: "5",
      message: entraMessage
    }),
  tokens: TestKit.json({
    token_type: "Bearer",
    scope: "User.Read",
    expires_in: "3599",
    ext_expires_in: "3599",
    expires_on: "1700003599",
    not_before: "1700000000",
    resource: GRAPH,
    access_token: ACCESS_TOKEN,
    refresh_token: REFRESH_TOKEN,
    id_token: idToken("https://sts.windows.net/9188040d-6c67-4c5b-b112-36a304b66dad/", ENTRA_CLIENT)
  }),
  checkRequests: (device, poll) => {
    assert.strictEqual(device.params.resource, GRAPH)
    assert.isUndefined(device.params.scope)
    assert.strictEqual(poll.params.resource, GRAPH)
    assert.deepStrictEqual([poll.params.grant_type, poll.params.device_code], [DEVICE_GRANT, DEVICE_CODE])
  }
}

// ---------------------------------------------------------------------------
// GitHub

const GITHUB_CLIENT = "Iv1.b507a08c87ecfe98"
const githubError = (error: string, description: string, fields: Readonly<Record<string, unknown>> = {}) =>
  // GitHub answers every device-flow error with HTTP 200
  TestKit.oauthError(error, {
    status: 200,
    fields: {
      error_description: description,
      error_uri: "https://docs.github.com/developers/apps/authorizing-oauth-apps#error-codes-for-the-device-flow",
      ...fields
    }
  })

const github: Wire = {
  id: "github",
  input: { clientId: GITHUB_CLIENT, scopes: ["repo", "read:org"] },
  endpoints: {
    deviceAuthorization: "https://github.com/login/device/code",
    token: "https://github.com/login/oauth/access_token"
  },
  device: (expiresIn) =>
    TestKit.json({
      device_code: DEVICE_CODE,
      user_code: "WDJB-MJHT",
      verification_uri: "https://github.com/login/device",
      expires_in: expiresIn,
      interval: 5
    }),
  interval: 5,
  // slow_down carries the new interval; devflow takes the larger of it and interval + 5
  slowedInterval: 12,
  pending: githubError("authorization_pending", "The authorization request is still pending."),
  slowDown: githubError("slow_down", "Too many requests have been made in the same timeframe.", { interval: 12 }),
  denied: githubError("access_denied", "The authorization request was denied."),
  deniedError: "access_denied",
  expired: githubError("expired_token", "The device_code has expired."),
  tokens: TestKit.json({ access_token: ACCESS_TOKEN, token_type: "bearer", scope: "repo,read:org" }),
  verificationUri: "https://github.com/login/device",
  checkRequests: (device, poll) => {
    assert.strictEqual(device.params.client_id, GITHUB_CLIENT)
    assert.strictEqual(device.params.scope, "repo read:org")
    assert.strictEqual(device.headers.accept, "application/json")
    assert.deepStrictEqual([poll.params.grant_type, poll.params.device_code], [DEVICE_GRANT, DEVICE_CODE])
    assert.isUndefined(poll.params.client_secret)
  }
}

// ---------------------------------------------------------------------------
// Google

const GOOGLE_CLIENT = "1234567890-abc123def456.apps.googleusercontent.com"
const GOOGLE_SECRET = "GOCSPX-canary-secret-value"
const google: Wire = {
  id: "google",
  input: { clientId: GOOGLE_CLIENT, clientSecret: Redacted.make(GOOGLE_SECRET) },
  endpoints: {
    deviceAuthorization: "https://oauth2.googleapis.com/device/code",
    token: "https://oauth2.googleapis.com/token"
  },
  device: (expiresIn) =>
    TestKit.json({
      device_code: DEVICE_CODE,
      user_code: "GQVQ-JKEC",
      verification_url: "https://www.google.com/device",
      expires_in: expiresIn,
      interval: 5
    }),
  interval: 5,
  slowedInterval: 10,
  pending: TestKit.oauthError("authorization_pending", {
    status: 428,
    fields: { error_description: "Precondition Required" }
  }),
  slowDown: TestKit.oauthError("slow_down", { status: 403, fields: { error_description: "Forbidden" } }),
  denied: TestKit.oauthError("access_denied", { status: 403, fields: { error_description: "Forbidden" } }),
  deniedError: "access_denied",
  expired: TestKit.oauthError("expired_token", { status: 400, fields: { error_description: "Bad Request" } }),
  tokens: TestKit.json({
    access_token: ACCESS_TOKEN,
    expires_in: 3920,
    scope: "openid https://www.googleapis.com/auth/userinfo.profile https://www.googleapis.com/auth/userinfo.email",
    token_type: "Bearer",
    refresh_token: REFRESH_TOKEN,
    id_token: idToken("https://accounts.google.com", GOOGLE_CLIENT)
  }),
  verificationUri: "https://www.google.com/device",
  checkRequests: (device, poll) => {
    assert.strictEqual(device.params.scope, "openid email profile")
    assert.strictEqual(poll.params.client_secret, GOOGLE_SECRET)
    assert.deepStrictEqual([poll.params.grant_type, poll.params.device_code], [DEVICE_GRANT, DEVICE_CODE])
  }
}

// ---------------------------------------------------------------------------
// Okta (discovery)

const OKTA_ISSUER = "https://dev-123456.okta.com/oauth2/default"
const OKTA_CLIENT = "0oa1b2c3d4e5f6g7h8i9"
const oktaError = (error: string, description: string) =>
  TestKit.oauthError(error, { fields: { error_description: description } })
const discoveryDocument =
  (issuer: string, device: string, token: string): NonNullable<TestKit.Script["other"]> => ({ url }) =>
    url.href === `${issuer}/.well-known/openid-configuration`
      ? TestKit.json({
        issuer,
        device_authorization_endpoint: device,
        token_endpoint: token,
        grant_types_supported: ["authorization_code", "refresh_token", DEVICE_GRANT]
      })
      : TestKit.text("Not Found", "text/plain", { status: 404 })

const okta: Wire = {
  id: "okta",
  input: { clientId: OKTA_CLIENT, authority: OKTA_ISSUER },
  endpoints: { deviceAuthorization: `${OKTA_ISSUER}/v1/device/authorize`, token: `${OKTA_ISSUER}/v1/token` },
  other: discoveryDocument(OKTA_ISSUER, `${OKTA_ISSUER}/v1/device/authorize`, `${OKTA_ISSUER}/v1/token`),
  device: (expiresIn) =>
    TestKit.json({
      device_code: DEVICE_CODE,
      user_code: "RMHVHMSJ",
      verification_uri: "https://dev-123456.okta.com/activate",
      verification_uri_complete: "https://dev-123456.okta.com/activate?user_code=RMHVHMSJ",
      expires_in: expiresIn,
      interval: 5
    }),
  interval: 5,
  slowedInterval: 10,
  pending: oktaError("authorization_pending", "The device authorization is pending. Please try again later."),
  slowDown: oktaError("slow_down", "The client is polling too frequently."),
  denied: oktaError("access_denied", "The resource owner or authorization server denied the request."),
  deniedError: "access_denied",
  expired: oktaError("expired_token", "The device code has expired."),
  tokens: TestKit.json({
    token_type: "Bearer",
    expires_in: 3600,
    access_token: ACCESS_TOKEN,
    scope: "openid profile offline_access",
    refresh_token: REFRESH_TOKEN,
    id_token: idToken(OKTA_ISSUER, OKTA_CLIENT)
  }),
  verificationUri: "https://dev-123456.okta.com/activate",
  checkRequests: (device, poll) => {
    assert.strictEqual(device.params.scope, "openid profile offline_access")
    assert.deepStrictEqual([poll.params.grant_type, poll.params.device_code], [DEVICE_GRANT, DEVICE_CODE])
  }
}

// ---------------------------------------------------------------------------
// Auth0

const AUTH0_BASE = "https://dev-abc.us.auth0.com"
const AUTH0_CLIENT = "9Zr5dBL1kQeWb4NNJ0mnVbh1Nq1E2cR0"
const AUTH0_API = "https://api.example.com"
const auth0Error = (error: string, description: string, status = 403) =>
  TestKit.oauthError(error, { status, fields: { error_description: description } })

const auth0: Wire = {
  id: "auth0",
  input: { clientId: AUTH0_CLIENT, tenant: "dev-abc.us", audience: AUTH0_API },
  endpoints: { deviceAuthorization: `${AUTH0_BASE}/oauth/device/code`, token: `${AUTH0_BASE}/oauth/token` },
  device: (expiresIn) =>
    TestKit.json({
      device_code: DEVICE_CODE,
      user_code: "QTZL-MCBW",
      verification_uri: `${AUTH0_BASE}/activate`,
      verification_uri_complete: `${AUTH0_BASE}/activate?user_code=QTZL-MCBW`,
      expires_in: expiresIn,
      interval: 5
    }),
  interval: 5,
  slowedInterval: 10,
  pending: auth0Error("authorization_pending", "User has yet to authorize device code."),
  slowDown: auth0Error("slow_down", "You are polling faster than the specified interval of 5 seconds.", 429),
  denied: auth0Error(
    "access_denied",
    "User cancelled the confirmation prompt or consent page; the code is no longer valid."
  ),
  deniedError: "access_denied",
  expired: auth0Error("expired_token", "User has not authorized device code within the expected time frame."),
  tokens: TestKit.json({
    access_token: ACCESS_TOKEN,
    refresh_token: REFRESH_TOKEN,
    id_token: idToken(`${AUTH0_BASE}/`, AUTH0_CLIENT),
    token_type: "Bearer",
    expires_in: 86400
  }),
  verificationUri: `${AUTH0_BASE}/activate`,
  checkRequests: (device, poll) => {
    assert.strictEqual(device.params.audience, AUTH0_API)
    assert.strictEqual(device.params.scope, "openid profile offline_access")
    assert.isUndefined(poll.params.audience)
    assert.deepStrictEqual([poll.params.grant_type, poll.params.device_code], [DEVICE_GRANT, DEVICE_CODE])
  }
}

// ---------------------------------------------------------------------------
// Keycloak

const KEYCLOAK_ISSUER = "https://sso.example.com/realms/demo"
const keycloakError = (error: string, description: string) =>
  TestKit.oauthError(error, { fields: { error_description: description } })
const keycloak: Wire = {
  id: "keycloak",
  input: { clientId: "devflow-cli", authority: KEYCLOAK_ISSUER },
  endpoints: {
    deviceAuthorization: `${KEYCLOAK_ISSUER}/protocol/openid-connect/auth/device`,
    token: `${KEYCLOAK_ISSUER}/protocol/openid-connect/token`
  },
  device: (expiresIn) =>
    TestKit.json({
      device_code: DEVICE_CODE,
      user_code: "HQPX-LQTB",
      verification_uri: `${KEYCLOAK_ISSUER}/device`,
      verification_uri_complete: `${KEYCLOAK_ISSUER}/device?user_code=HQPX-LQTB`,
      expires_in: expiresIn,
      interval: 5
    }),
  interval: 5,
  slowedInterval: 10,
  pending: keycloakError("authorization_pending", "The authorization request is still pending"),
  slowDown: keycloakError("slow_down", "Slow down"),
  denied: keycloakError("access_denied", "The end user denied the authorization request"),
  deniedError: "access_denied",
  expired: keycloakError("expired_token", "Device code is expired"),
  tokens: TestKit.json({
    access_token: ACCESS_TOKEN,
    expires_in: 300,
    refresh_expires_in: 1800,
    refresh_token: REFRESH_TOKEN,
    token_type: "Bearer",
    id_token: idToken(KEYCLOAK_ISSUER, "devflow-cli"),
    "not-before-policy": 0,
    session_state: "5c0e3d5e-0000-0000-0000-000000000000",
    scope: "openid profile email"
  }),
  verificationUri: `${KEYCLOAK_ISSUER}/device`,
  checkRequests: (device, poll) => {
    assert.strictEqual(device.params.client_id, "devflow-cli")
    assert.strictEqual(device.params.scope, "openid profile")
    assert.deepStrictEqual([poll.params.grant_type, poll.params.device_code], [DEVICE_GRANT, DEVICE_CODE])
  }
}

// ---------------------------------------------------------------------------
// AWS IAM Identity Center (SSO OIDC): JSON, camelCase, exception names

const AWS_BASE = "https://oidc.us-east-1.amazonaws.com"
const AWS_START_URL = "https://d-1234567890.awsapps.com/start"
const AWS_CLIENT_ID = "aws-registered-client-id-123"
const AWS_CLIENT_SECRET = "AWS-CLIENT-SECRET-CANARY-9d1e"
const CORAL = "http://internal.amazon.com/coral/com.amazonaws.switchboard.portal/"

const awsRegistration: NonNullable<TestKit.Script["other"]> = ({ url }) =>
  url.href === `${AWS_BASE}/client/register`
    ? TestKit.json({
      clientId: AWS_CLIENT_ID,
      clientSecret: AWS_CLIENT_SECRET,
      clientIdIssuedAt: 1_700_000_000,
      clientSecretExpiresAt: 1_707_776_000
    })
    : TestKit.text("Not Found", "text/plain", { status: 404 })

/** An exception as AWS sends it: the name in x-amzn-errortype, and the body in one of its spellings. */
const awsException = (name: string, body: Readonly<Record<string, unknown>>, status = 400) =>
  TestKit.json(body, { status, headers: { "x-amzn-errortype": `${name}:${CORAL}` } })

const awsSso: Wire = {
  id: "aws-sso",
  input: { clientId: "devflow", region: "us-east-1", startUrl: AWS_START_URL },
  endpoints: { deviceAuthorization: `${AWS_BASE}/device_authorization`, token: `${AWS_BASE}/token` },
  other: awsRegistration,
  device: (expiresIn) =>
    TestKit.json({
      deviceCode: DEVICE_CODE,
      userCode: "PQRS-TUVW",
      verificationUri: "https://device.sso.us-east-1.amazonaws.com/",
      verificationUriComplete: "https://device.sso.us-east-1.amazonaws.com/?user_code=PQRS-TUVW",
      expiresIn,
      interval: 1
    }),
  interval: 1,
  slowedInterval: 6,
  // each scenario uses another of the spellings AWS SDKs accept
  pending: awsException("AuthorizationPendingException", { error: "authorization_pending", error_description: null }),
  slowDown: awsException("SlowDownException", {
    __type: "com.amazonaws.ssooidc#SlowDownException",
    message: "Slow down"
  }),
  denied: TestKit.json({ error: "AccessDeniedException", error_description: "The user denied access" }, {
    status: 400
  }),
  deniedError: "access_denied",
  expired: awsException("ExpiredTokenException", { message: "Device code has expired" }),
  tokens: TestKit.json({
    accessToken: ACCESS_TOKEN,
    tokenType: "Bearer",
    expiresIn: 28_800,
    refreshToken: REFRESH_TOKEN
  }),
  verificationUri: "https://device.sso.us-east-1.amazonaws.com/",
  checkRequests: (device, poll) => {
    // JSON bodies with camelCase names; the registered client, not the name it was registered under
    assert.deepStrictEqual(device.params, {
      clientId: AWS_CLIENT_ID,
      clientSecret: AWS_CLIENT_SECRET,
      startUrl: AWS_START_URL
    })
    assert.deepStrictEqual(poll.params, {
      clientId: AWS_CLIENT_ID,
      clientSecret: AWS_CLIENT_SECRET,
      grantType: DEVICE_GRANT,
      deviceCode: DEVICE_CODE
    })
  }
}

// ---------------------------------------------------------------------------
// generic (discovery from the issuer)

const generic: Wire = {
  id: "generic",
  input: { clientId: TestKit.CLIENT_ID, issuer: TestKit.ISSUER, scopes: ["openid", "offline_access"] },
  endpoints: { deviceAuthorization: TestKit.DEVICE_AUTHORIZATION_ENDPOINT, token: TestKit.TOKEN_ENDPOINT },
  other: discoveryDocument(TestKit.ISSUER, TestKit.DEVICE_AUTHORIZATION_ENDPOINT, TestKit.TOKEN_ENDPOINT),
  device: (expiresIn) => TestKit.deviceCode({ expires_in: expiresIn }),
  interval: 5,
  slowedInterval: 10,
  pending: TestKit.pending(),
  slowDown: TestKit.slowDown(),
  denied: TestKit.denied(),
  deniedError: "access_denied",
  expired: TestKit.expired(),
  tokens: TestKit.tokens(),
  verificationUri: `${TestKit.ISSUER}/device`,
  checkRequests: (device, poll) => {
    assert.strictEqual(device.params.scope, "openid offline_access")
    assert.deepStrictEqual([poll.params.grant_type, poll.params.device_code], [DEVICE_GRANT, DEVICE_CODE])
  }
}

const wires: ReadonlyArray<Wire> = [entra, entraV1, github, google, okta, auth0, keycloak, awsSso, generic]

// ---------------------------------------------------------------------------

const serverLayer = (script: TestKit.Script, endpoints?: TestKit.LayerOptions["endpoints"]) => {
  const kit = TestKit.layer(script, { endpoints })
  return Layer.provideMerge(ServerMetadata.layer(), kit)
}

/** resolve + DeviceFlow.acquireToken against `script`, in virtual time. */
const runFlow = (
  id: Providers.ProviderId,
  input: Providers.ProviderInput,
  script: TestKit.Script,
  endpoints?: TestKit.LayerOptions["endpoints"]
) =>
  Effect.gen(function*() {
    const prompt = yield* TestKit.recordingPrompt
    const config = yield* Ref.make<ClientConfig.ClientConfig | undefined>(undefined)
    const exit = yield* runVirtual(
      Providers.resolve(id, input).pipe(
        Effect.tap((c) => Ref.set(config, c)),
        Effect.flatMap((c) => DeviceFlow.acquireToken(c, {}, { onCode: prompt.onCode }))
      )
    )
    const requests = yield* Effect.flatMap(TestKit.FakeServer, (s) => s.requests)
    return {
      exit,
      config: yield* Ref.get(config),
      code: (yield* prompt.shown)[0] as DeviceCode | undefined,
      requests,
      device: requests.filter((r) => r.endpoint === "deviceAuthorization"),
      polls: requests.filter((r) => r.endpoint === "token")
    }
  }).pipe(Effect.provide(serverLayer(script, endpoints)))

const replay = (wire: Wire, replies: ReadonlyArray<TestKit.Reply>, expiresIn = 900) =>
  runFlow(wire.id, wire.input, {
    deviceAuthorization: () => wire.device(expiresIn),
    token: ({ attempt }) => replies[Math.min(attempt, replies.length - 1)]!,
    other: wire.other
  }, wire.endpoints)

const succeeded = <A, E>(exit: Exit.Exit<A, E>): A => {
  if (Exit.isFailure(exit)) throw new Error(`expected success, got ${String(exit)}`)
  return exit.value
}

/** Seconds between the end of each answer (the code's, then each poll's) and the next poll. */
const gaps = (requests: ReadonlyArray<TestKit.RecordedRequest>) => {
  let previous: number | undefined
  const out: Array<number> = []
  for (const r of requests) {
    if (r.endpoint === "token" && previous !== undefined) out.push((r.sentAt - previous) / 1000)
    if (r.endpoint !== "unknown") previous = r.endedAt
  }
  return out
}

for (const wire of wires) {
  describe(`${wire.id} preset: the provider's wire format through DeviceFlow`, () => {
    it.effect("success: the preset's endpoints, parameters and the provider's answer become tokens", () =>
      Effect.gen(function*() {
        const run = yield* replay(wire, [wire.tokens])
        const result = succeeded(run.exit)
        assert.strictEqual(run.device.length, 1)
        assert.strictEqual(run.polls.length, 1)
        assert.strictEqual(run.device[0]!.url, wire.endpoints.deviceAuthorization)
        assert.strictEqual(run.polls[0]!.url, wire.endpoints.token)
        wire.checkRequests(run.device[0]!, run.polls[0]!)
        assert.strictEqual(Redacted.value(result.accessToken), ACCESS_TOKEN)
        assert.strictEqual(run.code?.verificationUri, wire.verificationUri)
        assert.isTrue(
          Providers.checkVerificationUri({ provider: wire.id, input: wire.input }, run.code!.verificationUri).trusted
        )
        assert.isTrue(
          Providers.checkVerificationUri(
            { provider: wire.id, input: wire.input, config: run.config },
            run.code!.verificationUri
          ).trusted
        )
      }))

    it.effect("pending: polls once per interval, measured from the end of each answer, until approval", () =>
      Effect.gen(function*() {
        const run = yield* replay(wire, [wire.pending, wire.pending, wire.tokens])
        succeeded(run.exit)
        assert.strictEqual(run.polls.length, 3)
        assert.deepStrictEqual(gaps(run.requests), [wire.interval, wire.interval, wire.interval])
      }))

    it.effect("slow_down: every later poll waits the larger interval", () =>
      Effect.gen(function*() {
        const run = yield* replay(wire, [wire.pending, wire.slowDown, wire.pending, wire.tokens])
        succeeded(run.exit)
        assert.deepStrictEqual(gaps(run.requests), [
          wire.interval,
          wire.interval,
          wire.slowedInterval,
          wire.slowedInterval
        ])
      }))

    it.effect("denial: AccessDenied keeping the server's error", () =>
      Effect.gen(function*() {
        const run = yield* replay(wire, [wire.pending, wire.denied])
        const error = failure(run.exit)
        assert.strictEqual(error._tag, "AccessDenied")
        if (error._tag !== "AccessDenied") return
        assert.strictEqual(error.error, wire.deniedError)
        assert.strictEqual(error.endpoint, wire.endpoints.token)
        assert.strictEqual(run.polls.length, 2)
      }))

    it.effect("expiry (server): expired_token is DeviceCodeExpired(expired_token)", () =>
      Effect.gen(function*() {
        const run = yield* replay(wire, [wire.pending, wire.expired])
        const error = failure(run.exit)
        assert.strictEqual(error._tag, "DeviceCodeExpired")
        if (error._tag !== "DeviceCodeExpired") return
        assert.strictEqual(error.reason, "expired_token")
      }))

    it.effect("expiry (client): no poll at or after issue time + expires_in, then DeviceCodeExpired(deadline)", () =>
      Effect.gen(function*() {
        const run = yield* replay(wire, [wire.pending], 30)
        const error = failure(run.exit)
        assert.strictEqual(error._tag, "DeviceCodeExpired")
        if (error._tag !== "DeviceCodeExpired") return
        assert.strictEqual(error.reason, "deadline")
        assert.isTrue(run.polls.length > 0)
        assert.isTrue(run.polls.every((p) => p.sentAt < 30_000))
      }))
  })
}

describe("provider specifics", () => {
  it.effect("entra: the server's message is passed through; Entra's error fields are kept", () =>
    Effect.gen(function*() {
      const run = yield* replay(entra, [
        entraError("invalid_grant", 70000, "The provided value for the input parameter 'device_code' is not valid.")
      ])
      assert.strictEqual(run.code?.message, entraMessage)
      const error = failure(run.exit)
      assert.strictEqual(error._tag, "OAuthError")
      if (error._tag !== "OAuthError") return
      assert.deepStrictEqual(error.errorCodes, [70000])
      assert.strictEqual(error.traceId, "0b1f5a3e-0000-0000-0000-000000000000")
    }))

  it.effect("entra-v1: numbers as strings and verification_url are read; resource names the API", () =>
    Effect.gen(function*() {
      const run = yield* replay(entraV1, [entraV1.tokens])
      const result = succeeded(run.exit)
      assert.strictEqual(Duration.toSeconds(run.code!.interval), 5)
      assert.isTrue(Option.isSome(result.expiresOn))
      assert.strictEqual(result.extra.resource, GRAPH)
    }))

  it.effect("github: form-encoded answers (no JSON) and lowercase bearer, no expiry or refresh token", () =>
    Effect.gen(function*() {
      const run = yield* runFlow("github", github.input, {
        deviceAuthorization: () =>
          TestKit.form({
            device_code: DEVICE_CODE,
            user_code: "WDJB-MJHT",
            verification_uri: "https://github.com/login/device",
            expires_in: 900,
            interval: 5
          }),
        token: ({ attempt }) =>
          attempt === 0
            ? TestKit.form({
              error: "authorization_pending",
              error_description: "The authorization request is still pending."
            })
            : TestKit.form({ access_token: ACCESS_TOKEN, token_type: "bearer", scope: "repo" })
      }, github.endpoints)
      const result = succeeded(run.exit)
      assert.strictEqual(result.tokenType, "bearer")
      assert.isTrue(Option.isNone(result.expiresOn))
      assert.isTrue(Option.isNone(result.refreshToken))
    }))

  for (
    const code of [
      "device_flow_disabled",
      "incorrect_client_credentials",
      "incorrect_device_code",
      "unsupported_grant_type"
    ]
  ) {
    it.effect(`github: ${code} (HTTP 200) is a terminal OAuthError`, () =>
      Effect.gen(function*() {
        const run = yield* replay(github, [githubError(code, "GitHub says no")])
        const error = failure(run.exit)
        assert.strictEqual(error._tag, "OAuthError")
        if (error._tag !== "OAuthError") return
        assert.strictEqual(error.error, code)
        assert.strictEqual(error.status, 200)
        assert.strictEqual(run.polls.length, 1)
      }))
  }

  it.effect("auth0: expired_token once, then invalid_grant for the same code (a resumed session)", () =>
    Effect.gen(function*() {
      const script: TestKit.Script = {
        deviceAuthorization: () => auth0.device(900),
        token: ({ attempt }) =>
          attempt === 0
            ? auth0.pending
            : attempt === 1
            ? auth0.expired
            : auth0Error("invalid_grant", "Invalid or expired device code.")
      }
      const program = Effect.gen(function*() {
        const config = yield* Providers.resolve("auth0", auth0.input)
        const session = yield* Ref.make<DeviceSession | undefined>(undefined)
        const first = yield* runVirtual(Stream.runDrain(
          DeviceFlow.events(config).pipe(
            Stream.tap((e) => (e._tag === "CodeIssued" ? Ref.set(session, e.session) : Effect.void))
          )
        ))
        const firstError = failure(first)
        assert.strictEqual(firstError._tag, "DeviceCodeExpired")
        const second = yield* runVirtual(DeviceFlow.resume(config, (yield* Ref.get(session))!))
        const secondError = failure(second)
        assert.strictEqual(secondError._tag, "OAuthError")
        if (secondError._tag === "OAuthError") assert.strictEqual(secondError.error, "invalid_grant")
      })
      yield* program.pipe(Effect.provide(serverLayer(script, auth0.endpoints)))
    }))

  it.effect("okta: a custom authorization server is found through discovery at its issuer", () =>
    Effect.gen(function*() {
      const issuer = "https://login.example.com/oauth2/aus1a2b3c4"
      const run = yield* runFlow(
        "okta",
        { clientId: OKTA_CLIENT, issuer },
        {
          deviceAuthorization: () => okta.device(600),
          token: () => issuedBy(okta.tokens, issuer),
          other: discoveryDocument(issuer, `${issuer}/v1/device/authorize`, `${issuer}/v1/token`)
        },
        { deviceAuthorization: `${issuer}/v1/device/authorize`, token: `${issuer}/v1/token` }
      )
      succeeded(run.exit)
      assert.deepStrictEqual(run.requests.map((r) => r.url), [
        `${issuer}/.well-known/openid-configuration`,
        `${issuer}/v1/device/authorize`,
        `${issuer}/v1/token`
      ])
      // the id_token must name the issuer discovery confirmed (OpenID Connect Core §3.1.3.7)
      assert.strictEqual(run.config?.issuer, issuer)
    }))

  it.effect("okta: discovery metadata naming another issuer is refused before any device request", () =>
    Effect.gen(function*() {
      const run = yield* runFlow("okta", okta.input, {
        deviceAuthorization: () => okta.device(600),
        token: () => okta.tokens,
        // the document is served at the Okta issuer, but names another one
        other: ({ url }) =>
          url.href === `${OKTA_ISSUER}/.well-known/openid-configuration`
            ? TestKit.json({
              issuer: "https://evil.example.com",
              device_authorization_endpoint: "https://evil.example.com/device",
              token_endpoint: "https://evil.example.com/token"
            })
            : TestKit.text("Not Found", "text/plain", { status: 404 })
      }, okta.endpoints)
      const error = failure(run.exit)
      assert.strictEqual(error._tag, "InvalidResponse")
      assert.strictEqual(run.device.length, 0)
    }))
})

describe("aws-sso: registration, camelCase JSON, exception names", () => {
  it.effect("registers a public client first, then uses its id and (Redacted) secret", () =>
    Effect.gen(function*() {
      const run = yield* replay(awsSso, [awsSso.tokens])
      const result = succeeded(run.exit)
      const register = run.requests[0]!
      assert.strictEqual(register.url, `${AWS_BASE}/client/register`)
      assert.strictEqual(register.method, "POST")
      assert.deepStrictEqual(register.params, {
        clientName: "devflow",
        clientType: "public",
        scopes: "[\"sso:account:access\"]"
      })
      const config = run.config!
      assert.strictEqual(config.clientId, AWS_CLIENT_ID)
      assert.isTrue(Redacted.isRedacted(config.clientSecret))
      assert.notInclude(String(config.clientSecret), AWS_CLIENT_SECRET)
      assert.notInclude(JSON.stringify(config), AWS_CLIENT_SECRET)
      assert.strictEqual(config.wire, "aws-sso-oidc")
      // camelCase answers read as RFC fields
      assert.strictEqual(run.code?.userCode, "PQRS-TUVW")
      assert.strictEqual(
        run.code?.verificationUriComplete,
        "https://device.sso.us-east-1.amazonaws.com/?user_code=PQRS-TUVW"
      )
      assert.strictEqual(Duration.toSeconds(run.code!.interval), 1)
      assert.strictEqual(Redacted.value(Option.getOrThrow(result.refreshToken)), REFRESH_TOKEN)
      assert.deepStrictEqual(result.scopes, ["sso:account:access"])
    }))

  it.effect("with a client secret given, the existing registration is used and nothing is registered", () =>
    Effect.gen(function*() {
      const run = yield* runFlow(
        "aws-sso",
        { ...awsSso.input, clientId: AWS_CLIENT_ID, clientSecret: Redacted.make(AWS_CLIENT_SECRET) },
        { deviceAuthorization: () => awsSso.device(600), token: () => awsSso.tokens },
        awsSso.endpoints
      )
      succeeded(run.exit)
      assert.deepStrictEqual(run.requests.map((r) => r.endpoint), ["deviceAuthorization", "token"])
      assert.strictEqual(run.polls[0]!.params.clientSecret, AWS_CLIENT_SECRET)
    }))

  const spellings: ReadonlyArray<readonly [string, TestKit.Reply, string]> = [
    [
      "error: rfc code + header",
      awsException("AuthorizationPendingException", { error: "authorization_pending" }),
      "Pending"
    ],
    ["error: exception name", TestKit.json({ error: "AuthorizationPendingException" }, { status: 400 }), "Pending"],
    [
      "__type with namespace",
      TestKit.json({ __type: "com.amazonaws.ssooidc#SlowDownException" }, { status: 400 }),
      "SlowedDown"
    ],
    ["header only", awsException("SlowDownException", {}), "SlowedDown"],
    [
      "code field",
      TestKit.json({ code: "AuthorizationPendingException", message: "pending" }, { status: 400 }),
      "Pending"
    ]
  ]
  for (const [name, reply, expected] of spellings) {
    it.effect(`exception spelling "${name}" is read as its RFC code`, () =>
      Effect.gen(function*() {
        const script: TestKit.Script = {
          deviceAuthorization: () => awsSso.device(600),
          token: ({ attempt }) => (attempt === 0 ? reply : awsSso.tokens),
          other: awsRegistration
        }
        const events = yield* Effect.gen(function*() {
          const config = yield* Providers.resolve("aws-sso", awsSso.input)
          return yield* runVirtual(Stream.runCollect(DeviceFlow.events(config)))
        }).pipe(Effect.provide(serverLayer(script, awsSso.endpoints)))
        const tags = [...succeeded(events)].map((e) => e._tag)
        assert.deepStrictEqual(tags, ["CodeIssued", expected, "Succeeded"])
      }))
  }

  const terminal: ReadonlyArray<readonly [string, string, string]> = [
    ["InvalidClientException", "OAuthError", "invalid_client"],
    ["InvalidGrantException", "OAuthError", "invalid_grant"],
    ["UnauthorizedClientException", "OAuthError", "unauthorized_client"],
    ["AccessDeniedException", "AccessDenied", "access_denied"],
    ["ExpiredTokenException", "DeviceCodeExpired", "expired_token"]
  ]
  for (const [exception, tag, code] of terminal) {
    it.effect(`${exception} ends the flow as ${tag} (${code})`, () =>
      Effect.gen(function*() {
        const run = yield* replay(awsSso, [awsException(exception, { message: `${exception} happened` })])
        const error = failure(run.exit)
        assert.strictEqual(error._tag, tag)
        if (error._tag === "OAuthError" || error._tag === "AccessDenied") {
          assert.strictEqual(error.error, code)
          assert.strictEqual(error.errorDescription, `${exception} happened`)
        }
      }))
  }

  it.effect("InternalServerException (HTTP 500) is retried like any server failure", () =>
    Effect.gen(function*() {
      const run = yield* replay(awsSso, [
        awsException("InternalServerException", { message: "oops" }, 500),
        awsSso.tokens
      ])
      succeeded(run.exit)
      assert.strictEqual(run.polls.length, 2)
    }))

  it.effect("a refused registration is an OAuthError naming the exception", () =>
    Effect.gen(function*() {
      const run = yield* runFlow("aws-sso", awsSso.input, {
        deviceAuthorization: () => awsSso.device(600),
        token: () => awsSso.tokens,
        other: () =>
          awsException("InvalidClientMetadataException", {
            error: "InvalidClientMetadataException",
            error_description: "bad scopes"
          })
      }, awsSso.endpoints)
      const error = failure(run.exit)
      assert.strictEqual(error._tag, "OAuthError")
      if (error._tag === "OAuthError") assert.strictEqual(error.error, "InvalidClientMetadataException")
      assert.strictEqual(run.device.length, 0)
    }))

  it.effect("registerAwsClient returns the secret Redacted and its expiry", () =>
    Effect.gen(function*() {
      const client = yield* Providers.registerAwsClient({
        base: AWS_BASE,
        clientName: "devflow",
        scopes: ["sso:account:access"]
      })
      assert.strictEqual(client.clientId, AWS_CLIENT_ID)
      assert.strictEqual(Redacted.value(client.clientSecret), AWS_CLIENT_SECRET)
      assert.strictEqual(client.clientSecretExpiresAt?.epochMillis, 1_707_776_000_000)
    }).pipe(Effect.provide(TestKit.layer({
      deviceAuthorization: () => TestKit.hang,
      token: () => TestKit.hang,
      other: awsRegistration
    }))))
})

describe("base-URL override keeps the provider's wire quirks", () => {
  it.effect("entra in a sovereign cloud: the same v2 paths under that cloud's host", () =>
    Effect.gen(function*() {
      const origin = "https://login.microsoftonline.us"
      const endpoints = {
        deviceAuthorization: `${origin}/${ENTRA_TENANT}/oauth2/v2.0/devicecode`,
        token: `${origin}/${ENTRA_TENANT}/oauth2/v2.0/token`
      }
      const run = yield* runFlow("entra", { ...entra.input, authority: origin }, {
        deviceAuthorization: () =>
          TestKit.json({
            user_code: "FJ9XKZ2QN",
            device_code: DEVICE_CODE,
            verification_uri: "https://microsoft.com/deviceloginus",
            expires_in: 900,
            interval: 5,
            message: "use https://microsoft.com/deviceloginus"
          }),
        token: ({ attempt }) => (attempt === 0 ? entra.pending : issuedBy(entra.tokens, `${origin}/${ENTRA_TID}/v2.0`))
      }, endpoints)
      succeeded(run.exit)
      assert.deepStrictEqual(run.requests.map((r) => r.url), [
        endpoints.deviceAuthorization,
        endpoints.token,
        endpoints.token
      ])
      assert.strictEqual(run.code?.message, "use https://microsoft.com/deviceloginus")
      // Entra's issuer is the user's own tenant under the cloud's sign-in host
      assert.strictEqual(run.config?.issuer, `${origin}/{tenantid}/v2.0`)
    }))

  it.effect("entra: the issuer an id_token must name is its tenant under the cloud's issuing host", () =>
    Effect.gen(function*() {
      const issuerAt = (authority: string) =>
        Effect.map(
          Providers.resolve("entra", { clientId: ENTRA_CLIENT, authority: `${authority}/${ENTRA_TENANT}` }),
          (c) => c.issuer
        )
      assert.strictEqual(
        yield* issuerAt("https://login.microsoftonline.com"),
        "https://login.microsoftonline.com/{tenantid}/v2.0"
      )
      // the public cloud's aliases issue as login.microsoftonline.com
      assert.strictEqual(
        yield* issuerAt("https://login.microsoft.com"),
        "https://login.microsoftonline.com/{tenantid}/v2.0"
      )
      assert.strictEqual(
        yield* issuerAt("https://login.windows.net"),
        "https://login.microsoftonline.com/{tenantid}/v2.0"
      )
      assert.strictEqual(
        yield* issuerAt("https://login.microsoftonline.us"),
        "https://login.microsoftonline.us/{tenantid}/v2.0"
      )
      assert.isUndefined(yield* issuerAt("https://login.chinacloudapi.cn"))
    }).pipe(Effect.provide(serverLayer(TestKit.sequence([TestKit.tokens()])))))

  it.effect("entra with the tenant in the authority URL", () =>
    Effect.gen(function*() {
      const run = yield* replay({
        ...entra,
        input: { clientId: ENTRA_CLIENT, authority: `https://login.microsoftonline.com/${ENTRA_TENANT}/v2.0` }
      }, [
        entra.tokens
      ])
      succeeded(run.exit)
    }))

  it.effect("GitHub Enterprise Server: https://HOST/login/device/code, HTTP 200 errors and slow_down interval kept", () =>
    Effect.gen(function*() {
      const host = "https://github.example.com"
      const endpoints = { deviceAuthorization: `${host}/login/device/code`, token: `${host}/login/oauth/access_token` }
      const run = yield* runFlow("github", { clientId: GITHUB_CLIENT, authority: host }, {
        deviceAuthorization: () =>
          TestKit.json({
            device_code: DEVICE_CODE,
            user_code: "WDJB-MJHT",
            verification_uri: `${host}/login/device`,
            expires_in: 900,
            interval: 5
          }),
        token: ({ attempt }) => [github.pending, github.slowDown, github.tokens][Math.min(attempt, 2)]!
      }, endpoints)
      succeeded(run.exit)
      assert.deepStrictEqual(gaps(run.requests), [5, 5, 12])
      assert.isTrue(
        Providers.checkVerificationUri({ provider: "github", input: { authority: host } }, `${host}/login/device`)
          .trusted
      )
    }))

  it.effect("google at a loopback test double: verification_url, the secret and 428/403 kept", () =>
    Effect.gen(function*() {
      const base = "http://127.0.0.1:8931"
      const endpoints = { deviceAuthorization: `${base}/device/code`, token: `${base}/token` }
      const run = yield* runFlow("google", { ...google.input, authority: base }, {
        deviceAuthorization: () => google.device(1800),
        token: ({ attempt }) => [google.pending, google.slowDown, google.tokens][Math.min(attempt, 2)]!
      }, endpoints)
      succeeded(run.exit)
      assert.strictEqual(run.code?.verificationUri, "https://www.google.com/device")
      assert.strictEqual(run.polls[0]!.params.client_secret, GOOGLE_SECRET)
      assert.deepStrictEqual(gaps(run.requests), [5, 5, 10])
    }))

  it.effect("auth0 custom domain: audience and 403/429 kept", () =>
    Effect.gen(function*() {
      const base = "https://login.example.com"
      const endpoints = { deviceAuthorization: `${base}/oauth/device/code`, token: `${base}/oauth/token` }
      const run = yield* runFlow("auth0", { clientId: AUTH0_CLIENT, authority: base, audience: AUTH0_API }, {
        deviceAuthorization: () => auth0.device(900),
        token: ({ attempt }) => [auth0.pending, auth0.slowDown, auth0.tokens][Math.min(attempt, 2)]!
      }, endpoints)
      succeeded(run.exit)
      assert.strictEqual(run.device[0]!.params.audience, AUTH0_API)
      assert.deepStrictEqual(run.polls.map((p) => p.status), [403, 429, 200])
    }))

  it.effect("self-hosted Keycloak before 17 (/auth/realms/…)", () =>
    Effect.gen(function*() {
      const issuer = "https://keycloak.internal.example/auth/realms/ops"
      const endpoints = {
        deviceAuthorization: `${issuer}/protocol/openid-connect/auth/device`,
        token: `${issuer}/protocol/openid-connect/token`
      }
      const run = yield* runFlow("keycloak", { clientId: "devflow-cli", issuer }, {
        deviceAuthorization: () => keycloak.device(600),
        token: () => issuedBy(keycloak.tokens, issuer)
      }, endpoints)
      succeeded(run.exit)
      assert.strictEqual(run.config?.issuer, issuer)
    }))

  it.effect("aws-sso at a loopback test double: registration, JSON and camelCase kept", () =>
    Effect.gen(function*() {
      const base = "http://localhost:4566"
      const endpoints = { deviceAuthorization: `${base}/device_authorization`, token: `${base}/token` }
      const run = yield* runFlow("aws-sso", { ...awsSso.input, authority: base }, {
        deviceAuthorization: () => awsSso.device(600),
        token: ({ attempt }) => (attempt === 0 ? awsSso.pending : awsSso.tokens),
        other: ({ url }) =>
          url.href === `${base}/client/register`
            ? TestKit.json({
              clientId: AWS_CLIENT_ID,
              clientSecret: AWS_CLIENT_SECRET,
              clientSecretExpiresAt: 1_707_776_000
            })
            : TestKit.text("Not Found", "text/plain", { status: 404 })
      }, endpoints)
      succeeded(run.exit)
      assert.deepStrictEqual(run.requests.map((r) => r.url), [
        `${base}/client/register`,
        endpoints.deviceAuthorization,
        endpoints.token,
        endpoints.token
      ])
      assert.strictEqual(run.polls[0]!.params.grantType, DEVICE_GRANT)
    }))
})

/** resolve that must fail with InvalidConfiguration before any request */
const refused = (id: Providers.ProviderId, input: Providers.ProviderInput) =>
  Effect.gen(function*() {
    const exit = yield* Effect.exit(Providers.resolve(id, input))
    const requests = yield* Effect.flatMap(TestKit.FakeServer, (s) => s.requests)
    assert.strictEqual(requests.length, 0)
    const error = failure(exit)
    assert.strictEqual(error._tag, "InvalidConfiguration")
    if (error._tag !== "InvalidConfiguration") throw new Error("unreachable")
    return error
  }).pipe(Effect.provide(serverLayer(TestKit.sequence([TestKit.tokens()]))))

describe("resolve refuses before any request", () => {
  it.effect("entra without a tenant: the AADSTS50059 explanation", () =>
    Effect.gen(function*() {
      for (const id of ["entra", "entra-v1"] as const) {
        const error = yield* refused(id, { clientId: ENTRA_CLIENT, audience: id === "entra-v1" ? GRAPH : undefined })
        assert.strictEqual(error.field, "tenant")
        assert.include(error.message, "AADSTS50059")
        assert.include(error.message, "No tenant-identifying information found")
      }
    }))

  it.effect("google without its client secret", () =>
    Effect.gen(function*() {
      const error = yield* refused("google", { clientId: GOOGLE_CLIENT })
      assert.strictEqual(error.field, "clientSecret")
      assert.include(error.reason, "TVs and Limited Input devices")
    }))

  it.effect("entra-v1 without a resource (audience)", () =>
    Effect.gen(function*() {
      const error = yield* refused("entra-v1", { clientId: ENTRA_CLIENT, tenant: ENTRA_TENANT })
      assert.strictEqual(error.field, "audience")
    }))

  it.effect("an input the preset does not use (a flag that would be silently ignored)", () =>
    Effect.gen(function*() {
      const error = yield* refused("github", { clientId: GITHUB_CLIENT, region: "us-east-1" })
      assert.strictEqual(error.field, "region")
      assert.include(error.reason, "not used by the github preset")
    }))

  it.effect("an unknown preset", () =>
    Effect.gen(function*() {
      const error = yield* refused("gitlab" as Providers.ProviderId, { clientId: "x" })
      assert.strictEqual(error.field, "provider")
    }))

  it.effect("auth0 without tenant or authority, or with both", () =>
    Effect.gen(function*() {
      assert.strictEqual((yield* refused("auth0", { clientId: AUTH0_CLIENT })).field, "tenant")
      assert.strictEqual(
        (yield* refused("auth0", { clientId: AUTH0_CLIENT, tenant: "a", authority: "https://b.example" })).field,
        "tenant"
      )
      assert.strictEqual((yield* refused("auth0", { clientId: AUTH0_CLIENT, tenant: "evil.com/x" })).field, "tenant")
    }))

  it.effect("keycloak: an issuer that is not a realm", () =>
    Effect.gen(function*() {
      const error = yield* refused("keycloak", { clientId: "c", authority: "https://sso.example.com" })
      assert.strictEqual(error.field, "authority")
      assert.include(error.reason, "/realms/")
    }))

  it.effect("okta / generic without an issuer; issuer and authority disagreeing", () =>
    Effect.gen(function*() {
      assert.strictEqual((yield* refused("okta", { clientId: OKTA_CLIENT })).field, "authority")
      assert.strictEqual((yield* refused("generic", { clientId: "c" })).field, "authority")
      const error = yield* refused("generic", {
        clientId: "c",
        authority: "https://a.example",
        issuer: "https://b.example"
      })
      assert.strictEqual(error.field, "issuer")
    }))

  it.effect("aws-sso: region and start URL required and checked; nothing registered", () =>
    Effect.gen(function*() {
      assert.strictEqual((yield* refused("aws-sso", { clientId: "devflow", startUrl: AWS_START_URL })).field, "region")
      assert.strictEqual((yield* refused("aws-sso", { clientId: "devflow", region: "us-east-1" })).field, "startUrl")
      assert.strictEqual((yield* refused("aws-sso", { ...awsSso.input, region: "mars-1" })).field, "region")
      assert.strictEqual(
        (yield* refused("aws-sso", { ...awsSso.input, startUrl: "http://d-1.awsapps.com/start" })).field,
        "startUrl"
      )
      assert.strictEqual((yield* refused("aws-sso", { ...awsSso.input, scopes: ["bad scope"] })).field, "scopes")
    }))

  it.effect("http to a non-loopback host, for any preset", () =>
    Effect.gen(function*() {
      assert.strictEqual(
        (yield* refused("github", { clientId: GITHUB_CLIENT, authority: "http://github.example.com" })).field,
        "authority"
      )
      assert.strictEqual(
        (yield* refused("entra", {
          clientId: ENTRA_CLIENT,
          tenant: ENTRA_TENANT,
          authority: "http://login.example.com"
        })).field,
        "authority"
      )
    }))
})

describe("resolve: configurations", () => {
  const resolved = (id: Providers.ProviderId, input: Providers.ProviderInput) =>
    Providers.resolve(id, input).pipe(Effect.provide(serverLayer(TestKit.sequence([TestKit.tokens()]))))

  it.effect("aws-sso in a China region uses amazonaws.com.cn", () =>
    Effect.gen(function*() {
      const config = yield* resolved("aws-sso", {
        clientId: AWS_CLIENT_ID,
        clientSecret: Redacted.make(AWS_CLIENT_SECRET),
        region: "cn-north-1",
        startUrl: AWS_START_URL
      })
      assert.strictEqual(config.endpoints.token, "https://oidc.cn-north-1.amazonaws.com.cn/token")
      assert.strictEqual(config.deviceAuthorizationParams.start_url, AWS_START_URL)
    }))

  it.effect("keycloak: any relative path before /realms/{realm} (--http-relative-path, reverse proxies)", () =>
    Effect.gen(function*() {
      for (const prefix of ["", "/auth", "/keycloak", "/sso", "/identity/kc"]) {
        const issuer = `https://idp.example.com${prefix}/realms/ops`
        const config = yield* resolved("keycloak", { clientId: "devflow-cli", issuer })
        assert.strictEqual(
          config.endpoints.deviceAuthorization,
          `${issuer}/protocol/openid-connect/auth/device`,
          prefix
        )
        assert.strictEqual(config.endpoints.token, `${issuer}/protocol/openid-connect/token`, prefix)
      }
      // still a realm: a path that does not end in /realms/{realm} is refused
      for (
        const authority of [
          "https://idp.example.com/sso",
          "https://idp.example.com/realms",
          "https://idp.example.com/realms/a/b"
        ]
      ) {
        assert.strictEqual((yield* refused("keycloak", { clientId: "c", authority })).field, "authority", authority)
      }
    }))

  it.effect("every preset with a base address keeps a path prefix (a proxy or test double at https://host/prefix)", () =>
    Effect.gen(function*() {
      const base = "https://gateway.example.com/idp/prefix"
      const github = yield* resolved("github", { clientId: GITHUB_CLIENT, authority: base })
      assert.strictEqual(github.endpoints.token, `${base}/login/oauth/access_token`)
      const google = yield* resolved("google", { clientId: "g", clientSecret: Redacted.make("s"), authority: base })
      assert.strictEqual(google.endpoints.deviceAuthorization, `${base}/device/code`)
      const auth0 = yield* resolved("auth0", { clientId: AUTH0_CLIENT, authority: base })
      assert.strictEqual(auth0.endpoints.token, `${base}/oauth/token`)
      const aws = yield* resolved("aws-sso", {
        ...awsSso.input,
        region: undefined,
        clientSecret: Redacted.make("s"),
        authority: base
      })
      assert.strictEqual(aws.endpoints.token, `${base}/token`)
      // Entra behind a proxy: the tenant in the path or given apart
      const inPath = yield* resolved("entra", { clientId: ENTRA_CLIENT, authority: `${base}/${ENTRA_TENANT}` })
      assert.strictEqual(inPath.endpoints.token, `${base}/${ENTRA_TENANT}/oauth2/v2.0/token`)
      const apart = yield* resolved("entra", { clientId: ENTRA_CLIENT, authority: base, tenant: ENTRA_TENANT })
      assert.strictEqual(apart.endpoints.deviceAuthorization, `${base}/${ENTRA_TENANT}/oauth2/v2.0/devicecode`)
      // Entra's own hosts serve tenants at the root only
      const own = yield* refused("entra", {
        clientId: ENTRA_CLIENT,
        authority: `https://login.microsoftonline.com/x/${ENTRA_TENANT}`
      })
      assert.include(own.reason, "too many path segments")
    }))

  it.effect("aws-sso: --region is not needed when the authority gives the address", () =>
    Effect.gen(function*() {
      const config = yield* resolved("aws-sso", {
        clientId: AWS_CLIENT_ID,
        clientSecret: Redacted.make(AWS_CLIENT_SECRET),
        authority: "https://oidc.eu-west-1.amazonaws.com",
        startUrl: AWS_START_URL
      })
      assert.strictEqual(config.endpoints.token, "https://oidc.eu-west-1.amazonaws.com/token")
      const neither = yield* refused("aws-sso", { clientId: AWS_CLIENT_ID, startUrl: AWS_START_URL })
      assert.strictEqual(neither.field, "region")
      assert.include(neither.reason, "authority")
    }))

  it.effect("scopes replace the preset's defaults; defaults apply otherwise", () =>
    Effect.gen(function*() {
      assert.deepStrictEqual((yield* resolved("entra", { clientId: ENTRA_CLIENT, tenant: "organizations" })).scopes, [
        "openid",
        "profile",
        "offline_access"
      ])
      assert.deepStrictEqual((yield* resolved("github", { clientId: GITHUB_CLIENT, scopes: ["repo"] })).scopes, [
        "repo"
      ])
    }))

  it.effect("auth0 tenant forms: dev-abc, dev-abc.eu, dev-abc.eu.auth0.com", () =>
    Effect.gen(function*() {
      for (
        const [tenant, host] of [["dev-abc", "dev-abc.auth0.com"], ["dev-abc.eu", "dev-abc.eu.auth0.com"], [
          "Dev-Abc.EU.auth0.com",
          "dev-abc.eu.auth0.com"
        ]]
      ) {
        const config = yield* resolved("auth0", { clientId: AUTH0_CLIENT, tenant: tenant! })
        assert.strictEqual(config.endpoints.deviceAuthorization, `https://${host}/oauth/device/code`)
      }
    }))
})

describe("presets are data", () => {
  it("every preset's required inputs are among those it accepts, and its id is its key", () => {
    for (const id of Providers.ids) {
      const preset = Providers.presets[id]
      assert.strictEqual(preset.id, id)
      for (const requirement of preset.requires) {
        for (const field of typeof requirement === "string" ? [requirement] : requirement.anyOf) {
          assert.include(preset.accepts, field, `${id} requires ${field}`)
        }
      }
      assert.isTrue(preset.docs.length > 0)
    }
    assert.deepStrictEqual([...Providers.ids].sort(), Object.keys(Providers.presets).sort())
    assert.isTrue(Providers.isProviderId("aws-sso"))
    assert.isFalse(Providers.isProviderId("gitlab"))
  })
})

describe("checkVerificationUri (RFC 8628 §5.4 remote phishing)", () => {
  const check = Providers.checkVerificationUri
  const cases: ReadonlyArray<readonly [Providers.VerificationTarget, string, boolean]> = [
    ["entra", "https://microsoft.com/devicelogin", true],
    ["entra", "https://login.microsoftonline.com/device", true],
    ["entra", "https://microsoft.com.evil.example/devicelogin", false],
    ["entra", "http://microsoft.com/devicelogin", false],
    [
      { provider: "entra", input: { authority: "https://login.chinacloudapi.cn" } },
      "https://login.chinacloudapi.cn/device",
      true
    ],
    ["entra-v1", "https://microsoft.com/devicelogin", true],
    ["github", "https://github.com/login/device", true],
    ["github", "https://GitHub.com./login/device", true],
    ["github", "https://github.com@evil.example/login/device", false],
    ["github", "https://github.example.com/login/device", false],
    [
      { provider: "github", input: { authority: "https://github.example.com" } },
      "https://github.example.com/login/device",
      true
    ],
    ["google", "https://www.google.com/device", true],
    ["google", "https://google.com/device", true],
    ["google", "https://accounts.google.evil.example/device", false],
    [{ provider: "auth0", input: { tenant: "dev-abc.us" } }, "https://dev-abc.us.auth0.com/activate", true],
    // another tenant on auth0.com is anyone's: not trusted
    [{ provider: "auth0", input: { tenant: "dev-abc.us" } }, "https://attacker.auth0.com/activate", false],
    // a malformed tenant never turns into a trusted host
    [{ provider: "auth0", input: { tenant: "evil.example/x" } }, "https://evil.example/activate", false],
    [
      { provider: "aws-sso", input: { region: "evil.example/x" } },
      "https://device.sso.evil.example/x.amazonaws.com/",
      false
    ],
    [{ provider: "okta", input: { issuer: OKTA_ISSUER } }, "https://dev-123456.okta.com/activate", true],
    [{ provider: "okta", input: { issuer: OKTA_ISSUER } }, "https://dev-999999.okta.com/activate", false],
    [
      { provider: "keycloak", input: { authority: KEYCLOAK_ISSUER } },
      "https://sso.example.com/realms/demo/device",
      true
    ],
    [{ provider: "aws-sso", input: { region: "us-east-1" } }, "https://device.sso.us-east-1.amazonaws.com/", true],
    [{ provider: "aws-sso", input: { region: "us-east-1" } }, "https://d-1234567890.awsapps.com/start/#/device", true],
    [
      { provider: "aws-sso", input: { region: "us-east-1" } },
      "https://device.sso.us-east-1.amazonaws.com.evil.example/",
      false
    ],
    [{ provider: "aws-sso", input: { region: "cn-north-1" } }, "https://device.sso.cn-north-1.amazonaws.com.cn/", true],
    [
      { provider: "aws-sso", input: { region: "us-east-1", startUrl: "https://ssoins-1234.portal.us-east-1.app.aws" } },
      "https://ssoins-1234.portal.us-east-1.app.aws/#/device",
      true
    ],
    ["generic", "https://auth.devflow.test/device", false],
    [{ provider: "generic", input: { issuer: TestKit.ISSUER } }, "https://auth.devflow.test/device", true],
    [{ provider: "generic", input: { issuer: "http://127.0.0.1:4000" } }, "http://127.0.0.1:4000/device", true],
    ["github", "not a url", false],
    ["github", "javascript:alert(1)", false]
  ]
  for (const [target, uri, trusted] of cases) {
    const name = typeof target === "string"
      ? target
      : "provider" in target
      ? `${target.provider} ${JSON.stringify(target.input ?? {})}`
      : "config"
    it(`${name}: ${uri} → ${trusted ? "trusted" : "warn"}`, () => {
      const verdict = check(target, uri)
      assert.strictEqual(verdict.trusted, trusted, verdict.reason)
      assert.isTrue(verdict.reason.length > 0)
    })
  }

  it.effect("a bare configuration trusts its endpoints' hosts, and says why it does not trust others", () =>
    Effect.gen(function*() {
      const config = yield* TestKit.config()
      assert.isTrue(check(config, "https://auth.devflow.test/device").trusted)
      const verdict = check(config, "https://phish.example/device")
      assert.isFalse(verdict.trusted)
      assert.strictEqual(verdict.host, "phish.example")
      assert.include(verdict.reason, "auth.devflow.test")
      assert.include(verdict.reason, "RFC 8628 §5.4")
    }))

  it("the reason names the provider and the expected hosts", () => {
    const verdict = check("github", "https://github.example.com/login/device")
    assert.include(verdict.reason, "GitHub")
    assert.include(verdict.reason, "github.com")
    assert.include(check("github", "https://github.com@evil.example/").reason, "evil.example")
  })
})

describe("aws-sso: the client registration is kept in the token cache, as the AWS CLI keeps it (issue 10.3)", () => {
  const script: TestKit.Script = {
    deviceAuthorization: () => awsSso.device(600),
    token: () => awsSso.tokens,
    other: awsRegistration
  }
  const registrations = Effect.map(
    Effect.flatMap(TestKit.FakeServer, (s) => s.requests),
    (requests) => requests.filter((r) => r.url === `${AWS_BASE}/client/register`).length
  )
  const signIn = Effect.gen(function*() {
    const config = yield* Providers.resolve("aws-sso", awsSso.input)
    const app = yield* PublicClient.make({ config })
    return yield* runVirtual(app.acquireTokenWithDeviceCode({}, { onCode: () => {} }))
  })

  it.effect("a second sign-in registers nothing; a later refresh authenticates with the same registration", () =>
    Effect.gen(function*() {
      const first = succeeded(yield* signIn)
      succeeded(yield* signIn)
      assert.strictEqual(yield* registrations, 1)
      // a later process knows the registered client id (the CLI's profile) but not its secret
      yield* TestClock.adjust("9 hours")
      const config = yield* ClientConfig.make({
        clientId: AWS_CLIENT_ID,
        endpoints: awsSso.endpoints,
        wire: "aws-sso-oidc",
        scopes: ["sso:account:access"]
      })
      const later = yield* PublicClient.make({ config })
      const refreshed = yield* later.acquireTokenSilent([], first.account)
      assert.strictEqual(refreshed.source, "refresh")
      const refresh = (yield* Effect.flatMap(TestKit.FakeServer, (s) => s.polls)).at(-1)!
      assert.strictEqual(refresh.params.grantType, "refresh_token")
      assert.strictEqual(refresh.params.clientId, AWS_CLIENT_ID)
      assert.strictEqual(refresh.params.clientSecret, AWS_CLIENT_SECRET)
      assert.strictEqual(yield* registrations, 1)
    }).pipe(Effect.provide(Layer.merge(TokenCache.layerMemory, serverLayer(script, awsSso.endpoints)))))

  it.effect("a registration past its clientSecretExpiresAt is replaced by a new one", () =>
    Effect.gen(function*() {
      succeeded(yield* signIn)
      yield* TestClock.setTime(1_707_776_000_000 - 30 * 60_000)
      succeeded(yield* signIn)
      assert.strictEqual(yield* registrations, 2)
    }).pipe(Effect.provide(Layer.merge(TokenCache.layerMemory, serverLayer(script, awsSso.endpoints)))))

  it.effect("a kept registration the service refuses on refresh is forgotten and the user asked to sign in again", () =>
    Effect.gen(function*() {
      const first = succeeded(yield* signIn)
      yield* TestClock.adjust("9 hours")
      const config = yield* ClientConfig.make({
        clientId: AWS_CLIENT_ID,
        endpoints: awsSso.endpoints,
        wire: "aws-sso-oidc"
      })
      const later = yield* PublicClient.make({ config })
      const error = failure(yield* Effect.exit(later.acquireTokenSilent(["sso:account:access"], first.account)))
      assert.strictEqual(error._tag, "InteractionRequired")
      const cache = yield* TokenCache.TokenCache
      assert.strictEqual(CacheContent.findClient(yield* cache.read, awsSso.endpoints.token, AWS_CLIENT_ID), undefined)
      succeeded(yield* signIn)
      assert.strictEqual(yield* registrations, 2)
    }).pipe(Effect.provide(Layer.merge(
      TokenCache.layerMemory,
      serverLayer({
        ...script,
        token: ({ params }) =>
          params.grantType === "refresh_token"
            ? awsException("InvalidClientException", { message: "Client registration expired" })
            : awsSso.tokens
      }, awsSso.endpoints)
    ))))
})
