import { randomBytes } from "node:crypto"
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import type { ClientMetadata, Configuration, JWK, KoaContextWithOIDC } from "oidc-provider"
import { MemoryStore } from "./adapter.js"
import { type ApproveOptions, approveOverHttp } from "./agent.js"
import { makeInteractionHandler } from "./interactions.js"
import { loadOidcProvider, rsaSigningKey } from "./load.js"
import { PollPacer } from "./pacing.js"
import { errorPage, successPage, userCodeConfirmPage, userCodeInputPage } from "./pages.js"

export const DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
export const DEFAULT_CLIENT_ID = "devflow-demo"
export const SCOPES = ["openid", "profile", "email", "offline_access", "api"] as const

export interface DevServerClient {
  readonly client_id: string
  /** present: a confidential client (default auth method client_secret_basic); absent: a public client (auth method none) */
  readonly client_secret?: string
  readonly token_endpoint_auth_method?: "none" | "client_secret_basic" | "client_secret_post"
  readonly client_name?: string
}

export interface DevServerOptions {
  /** TCP port on 127.0.0.1; default 0 = a random free port */
  readonly port?: number
  /** device_code / user_code lifetime (RFC 8628 `expires_in`); default 600 */
  readonly deviceCodeTtlSeconds?: number
  /** the `interval` advertised in the device authorization response and enforced with `slow_down`; default 5 */
  readonly pollIntervalSeconds?: number
  /** access token and id_token lifetime; default 3600 */
  readonly accessTokenTtlSeconds?: number
  /** registered clients; default one public client "devflow-demo" */
  readonly clients?: ReadonlyArray<DevServerClient>
  /** issuer path such as "/realms/demo" (exercises RFC 8414 path-insertion discovery); default none */
  readonly issuerPath?: string
  /**
   * DPoP (RFC 9449): oidc-provider accepts proofs at the token endpoint and
   * `/me` in any case; with `requireNonce`, every proof must carry the
   * server's nonce (§8), which it hands out with `use_dpop_nonce`.
   */
  readonly dpop?: { readonly requireNonce?: boolean }
}

export interface DevServer {
  /** e.g. http://127.0.0.1:54321 (plus `issuerPath`) */
  readonly issuer: string
  readonly port: number
  /** the first registered client (by default the public "devflow-demo") */
  readonly clientId: string
  readonly deviceAuthorizationEndpoint: string
  readonly tokenEndpoint: string
  /** the page where a person types the user code (RFC 8628 `verification_uri`) */
  readonly verificationUri: string
  /**
   * Scripted approval over plain HTTP: opens the verification page, submits
   * the user code, confirms, signs in as `accountId` (default "devflow-user"),
   * then allows (or, with `deny`, denies) consent. After a denial the next
   * token poll answers `access_denied`.
   */
  approve(userCode: string, opts?: ApproveOptions): Promise<void>
  /** Stops listening and closes every open connection. Idempotent. */
  close(): Promise<void>
}

const positiveInt = (name: string, value: number): number => {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new RangeError(`${name} must be a positive integer, got ${value}`)
  }
  return value
}

const normalizePath = (path: string | undefined): string => {
  if (path === undefined || path === "" || path === "/") return ""
  if (!/^(\/[\w.~-]+)+\/?$/.test(path)) throw new RangeError(`issuerPath must look like "/realms/demo", got ${path}`)
  return path.endsWith("/") ? path.slice(0, -1) : path
}

/** The claims of an account named `accountId` ("sign in with any name"). */
export const accountClaims = (accountId: string) => {
  const local = accountId.toLowerCase().replace(/[^a-z0-9._-]+/g, "-").replace(/^[-.]+|[-.]+$/g, "") || "user"
  return {
    sub: accountId,
    name: accountId,
    preferred_username: accountId,
    email: `${local}@devflow.test`,
    email_verified: false
  }
}

const clientNameOf = (ctx: KoaContextWithOIDC): string => {
  const client = ctx.oidc.client
  return client?.clientName ?? client?.clientId ?? "a device"
}

export const startDevServer = async (options: DevServerOptions = {}): Promise<DevServer> => {
  const port = options.port ?? 0
  const deviceCodeTtl = positiveInt("deviceCodeTtlSeconds", options.deviceCodeTtlSeconds ?? 600)
  const interval = positiveInt("pollIntervalSeconds", options.pollIntervalSeconds ?? 5)
  const accessTokenTtl = positiveInt("accessTokenTtlSeconds", options.accessTokenTtlSeconds ?? 3600)
  const prefix = normalizePath(options.issuerPath)
  const clients = options.clients ?? [{ client_id: DEFAULT_CLIENT_ID, client_name: "devflow demo" }]
  const firstClient = clients[0]
  if (firstClient === undefined) throw new RangeError("clients must not be empty")

  const [{ default: Provider, errors }, jwk] = await Promise.all([loadOidcProvider(), rsaSigningKey()])

  // Listen first: with port 0 the issuer is only known once the socket is bound.
  let handler: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => {
    res.statusCode = 503
    res.end()
  }
  const server = createServer((req, res) => handler(req, res))
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject)
    server.listen(port, "127.0.0.1", () => {
      server.off("error", reject)
      resolve()
    })
  })
  const boundPort = (server.address() as AddressInfo).port
  const origin = `http://127.0.0.1:${boundPort}`
  const issuer = `${origin}${prefix}`

  const pacer = new PollPacer(interval)
  const pacedRequests = new WeakSet<object>()
  const store = new MemoryStore((model, id) => {
    // The device_code grant looks its code up exactly once per token request:
    // the place to pace polls (after client authentication, before expiry checks).
    if (model !== "DeviceCode") return
    const ctx = Provider.ctx
    if (ctx === undefined || ctx.oidc.route !== "token" || pacedRequests.has(ctx)) return
    pacedRequests.add(ctx)
    const verdict = pacer.poll(id)
    if (!verdict.ok) {
      throw new errors.SlowDown(`polling too fast: wait at least ${verdict.interval} seconds between token requests`)
    }
  })

  const clientMetadata = clients.map((c): ClientMetadata => ({
    client_id: c.client_id,
    ...(c.client_secret === undefined ? {} : { client_secret: c.client_secret }),
    ...(c.client_name === undefined ? {} : { client_name: c.client_name }),
    token_endpoint_auth_method: c.token_endpoint_auth_method ??
      (c.client_secret === undefined ? "none" : "client_secret_basic"),
    grant_types: [DEVICE_CODE_GRANT, "refresh_token"],
    response_types: [],
    redirect_uris: []
  }))

  const configuration: Configuration = {
    adapter: (name: string) => store.adapterFor(name),
    clients: clientMetadata,
    jwks: { keys: [jwk as JWK] },
    // Static keys: signed cookies stay valid across restarts of a dev server.
    cookies: { keys: ["devflow-dev-server-cookie-key-not-a-secret"] },
    routes: {
      device_authorization: "/device/auth",
      code_verification: "/device",
      token: "/token",
      userinfo: "/me",
      jwks: "/jwks",
      revocation: "/token/revocation"
    },
    scopes: [...SCOPES],
    claims: {
      openid: ["sub"],
      profile: ["name", "preferred_username"],
      email: ["email", "email_verified"]
    },
    // Put the scope-granted claims (name, email, ...) into the id_token, not only /me.
    conformIdTokenClaims: false,
    findAccount: (_ctx, sub) => ({ accountId: sub, claims: () => accountClaims(sub) }),
    interactions: { url: (_ctx, interaction) => `${prefix}/interaction/${interaction.uid}` },
    features: {
      devInteractions: { enabled: false },
      deviceFlow: {
        enabled: true,
        userCodeInputSource: (ctx, form, _out, err) => {
          ctx.type = "html"
          ctx.body = userCodeInputPage(
            form,
            err === undefined ? undefined : { name: err.name, message: err.message }
          )
        },
        userCodeConfirmSource: (ctx, form, client, _deviceInfo, userCode) => {
          ctx.type = "html"
          ctx.body = userCodeConfirmPage(form, client.clientName ?? client.clientId, userCode)
        },
        successSource: (ctx) => {
          ctx.type = "html"
          ctx.body = successPage(clientNameOf(ctx))
        }
      },
      // RFC 9449: nonces need a secret to be issued at all; required only when asked
      dPoP: {
        enabled: true,
        nonceSecret: randomBytes(32),
        requireNonce: () => options.dpop?.requireNonce === true
      },
      revocation: {
        enabled: true,
        allowedPolicy: (_ctx, client, token) => token.clientId === client.clientId
      }
    },
    ttl: {
      DeviceCode: deviceCodeTtl,
      AccessToken: accessTokenTtl,
      IdToken: accessTokenTtl,
      RefreshToken: 14 * 24 * 60 * 60,
      AuthorizationCode: 60,
      ClientCredentials: accessTokenTtl,
      BackchannelAuthenticationRequest: deviceCodeTtl,
      PreAuthorizedCode: deviceCodeTtl,
      Interaction: 60 * 60,
      Session: 24 * 60 * 60,
      Grant: 14 * 24 * 60 * 60
    },
    clientBasedCORS: () => true,
    renderError: (ctx, out) => {
      ctx.type = "html"
      ctx.body = errorPage("Something went wrong", String(out.error), out.error_description)
    }
  }

  let provider
  try {
    provider = new Provider(issuer, configuration)
  } catch (cause) {
    server.close()
    throw cause
  }
  provider.proxy = false
  // RFC 8628 §3.2: advertise the polling interval the pacer enforces.
  provider.on("device_authorization.success", (_ctx, body) => {
    body.interval = interval
  })
  provider.on("server_error", (_ctx, error) => {
    console.error("[@devflow/dev-server] server_error:", error)
  })

  const oidc = provider.callback()
  const interactions = makeInteractionHandler({ provider, prefix, secret: randomBytes(32) })
  // RFC 8414 §3.1 path insertion (and its OpenID variant) for issuers with a path.
  const insertedDiscovery = new Map(
    prefix === ""
      ? []
      : ["/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"].map(
        (wk) => [`${wk}${prefix}`, wk] as const
      )
  )

  handler = (req, res) => {
    const url = req.url ?? "/"
    const q = url.indexOf("?")
    const pathname = q === -1 ? url : url.slice(0, q)
    const query = q === -1 ? "" : url.slice(q)
    let path: string
    const inserted = insertedDiscovery.get(pathname)
    if (inserted !== undefined) path = inserted
    else if (prefix === "") path = pathname
    else if (pathname === prefix || pathname.startsWith(`${prefix}/`)) path = pathname.slice(prefix.length) || "/"
    else {
      res.statusCode = 404
      res.end()
      return
    }
    if (path === "/" && (req.method === "GET" || req.method === "HEAD")) {
      // a person who opens the issuer URL lands on the verification page
      res.statusCode = 302
      res.setHeader("location", `${prefix}/device`)
      res.end()
      return
    }
    if (path.startsWith("/interaction/")) {
      void interactions(req, res, path)
      return
    }
    // Mount oidc-provider under the issuer path the way it expects (it derives
    // its URLs from req.originalUrl minus req.url).
    Object.assign(req, { originalUrl: `${prefix}${path}${query}` })
    req.url = `${path}${query}`
    void oidc(req, res)
  }

  let closing: Promise<void> | undefined
  const verificationUri = `${issuer}/device`
  return {
    issuer,
    port: boundPort,
    clientId: firstClient.client_id,
    deviceAuthorizationEndpoint: `${issuer}/device/auth`,
    tokenEndpoint: `${issuer}/token`,
    verificationUri,
    approve: (userCode, opts) => approveOverHttp(verificationUri, userCode, opts),
    close: () => (closing ??= new Promise<void>((resolve) => {
      server.close(() => resolve())
      server.closeAllConnections()
    }))
  }
}
