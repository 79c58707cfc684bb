/**
 * A scriptable fake authorization server, as an `HttpClient` layer, for
 * devflow's tests and for yours. It answers the device authorization and
 * token endpoints from a {@link Script}, in virtual time (delays go through
 * Effect's `Clock`, so `TestClock` drives them), and records every request
 * with the instant it was sent and how it ended.
 *
 * @example
 * ```ts
 * import { DeviceFlow } from "@devflow/core"
 * import { TestKit } from "@devflow/core/testing"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const config = yield* TestKit.config()
 *   return yield* DeviceFlow.acquireToken(config, {}, { onCode: () => {} })
 * }).pipe(Effect.provide(TestKit.layer(TestKit.scenarios.pendingThenSuccess(2))))
 * ```
 *
 * @since 0.1.0
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientError from "@effect/platform/HttpClientError"
import type * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Encoding from "effect/Encoding"
import * as Layer from "effect/Layer"
import * as Ref from "effect/Ref"
import * as ClientConfig from "./ClientConfig.js"
import type { DeviceCode } from "./DeviceAuthorization.js"
import type { InvalidConfiguration } from "./DeviceFlowError.js"
import * as DpopCrypto from "./internal/dpop.js"
import * as DpopVerify from "./internal/dpopVerify.js"

/**
 * The fake server's address.
 *
 * @since 0.1.0
 * @category constants
 */
export const ISSUER = "https://auth.devflow.test"

/**
 * The fake server's device authorization endpoint.
 *
 * @since 0.1.0
 * @category constants
 */
export const DEVICE_AUTHORIZATION_ENDPOINT = `${ISSUER}/oauth2/device_authorization`

/**
 * The fake server's token endpoint.
 *
 * @since 0.1.0
 * @category constants
 */
export const TOKEN_ENDPOINT = `${ISSUER}/oauth2/token`

/**
 * The client id TestKit.config uses.
 *
 * @since 0.1.0
 * @category constants
 */
export const CLIENT_ID = "devflow-test-client"

/**
 * One answer of the fake server.
 *
 * @since 0.1.0
 * @category models
 */
export type Reply =
  | {
    readonly _tag: "Body"
    readonly status: number
    readonly body: string
    readonly headers: Readonly<Record<string, string>>
    readonly delay: Duration.Duration
  }
  /** the connection fails (reset, refused) after `delay` */
  | { readonly _tag: "TransportFailure"; readonly reason: string; readonly delay: Duration.Duration }
  /** the server accepts the request and never answers */
  | { readonly _tag: "Hang" }

/**
 * Options of a scripted reply: status, headers and a delay in virtual time.
 *
 * @since 0.1.0
 * @category models
 */
export interface ReplyOptions {
  readonly status?: number | undefined
  readonly headers?: Readonly<Record<string, string>> | undefined
  /** how long the server takes to answer (virtual time under TestClock) */
  readonly delay?: Duration.DurationInput | undefined
}

/**
 * A raw body with a content type.
 *
 * @since 0.1.0
 * @category replies
 */
export const text = (body: string, contentType: string, options: ReplyOptions = {}): Reply => ({
  _tag: "Body",
  status: options.status ?? 200,
  body,
  headers: { "content-type": contentType, ...options.headers },
  delay: Duration.decode(options.delay ?? 0)
})

/**
 * A JSON reply.
 *
 * @since 0.1.0
 * @category replies
 */
export const json = (body: unknown, options: ReplyOptions = {}): Reply =>
  text(JSON.stringify(body), "application/json", options)

/**
 * A form-encoded body (GitHub without `Accept: application/json`).
 *
 * @since 0.1.0
 * @category replies
 */
export const form = (body: Readonly<Record<string, string | number>>, options: ReplyOptions = {}): Reply =>
  text(
    new URLSearchParams(Object.entries(body).map(([k, v]) => [k, String(v)])).toString(),
    "application/x-www-form-urlencoded",
    options
  )

/**
 * An RFC 6749 §5.2 error; HTTP 400 unless `status` says otherwise.
 *
 * @since 0.1.0
 * @category replies
 */
export const oauthError = (
  error: string,
  options: ReplyOptions & { readonly fields?: Readonly<Record<string, unknown>> | undefined } = {}
): Reply => json({ error, ...options.fields }, { ...options, status: options.status ?? 400 })

/**
 * An authorization_pending error reply (RFC 8628 §3.5).
 *
 * @since 0.1.0
 * @category replies
 */
export const pending = (options: ReplyOptions = {}): Reply => oauthError("authorization_pending", options)

/**
 * slow_down, optionally with the new interval in seconds (as GitHub sends it).
 *
 * @since 0.1.0
 * @category replies
 */
export const slowDown = (options: ReplyOptions & { readonly interval?: number | undefined } = {}): Reply =>
  oauthError("slow_down", { ...options, fields: options.interval === undefined ? {} : { interval: options.interval } })

/**
 * An access_denied error reply (RFC 8628 §3.5).
 *
 * @since 0.1.0
 * @category replies
 */
export const denied = (options: ReplyOptions = {}): Reply =>
  oauthError("access_denied", { ...options, fields: { error_description: "The user denied the request" } })

/**
 * An expired_token error reply (RFC 8628 §3.5).
 *
 * @since 0.1.0
 * @category replies
 */
export const expired = (options: ReplyOptions = {}): Reply => oauthError("expired_token", options)

/**
 * A reply that never arrives: the request fails as a network error would.
 *
 * @since 0.1.0
 * @category replies
 */
export const transportFailure = (reason = "connection reset by peer", delay: Duration.DurationInput = 0): Reply => ({
  _tag: "TransportFailure",
  reason,
  delay: Duration.decode(delay)
})

/**
 * A reply that never comes: the request waits until it is interrupted or times out.
 *
 * @since 0.1.0
 * @category replies
 */
export const hang: Reply = { _tag: "Hang" }

/**
 * An unsigned JWT carrying `claims`, good enough for code that reads id_token claims.
 *
 * @since 0.1.0
 * @category replies
 */
export const idToken = (claims: Readonly<Record<string, unknown>>): string =>
  `${Encoding.encodeBase64Url(JSON.stringify({ alg: "none", typ: "JWT" }))}.${
    Encoding.encodeBase64Url(JSON.stringify(claims))
  }.c2ln`

/**
 * Canonical secret values the kit hands out, so tests can check they never
 * leak into logs, errors or output.
 *
 * @since 0.1.0
 * @category constants
 */
export const secrets = {
  deviceCode: "DEVICE-CODE-CANARY-7f3a9c",
  accessToken: "ACCESS-TOKEN-CANARY-51be02",
  refreshToken: "REFRESH-TOKEN-CANARY-0c44d1",
  idTokenSubject: "user-123"
} as const

/**
 * A successful token response (RFC 6749 §5.1).
 *
 * @since 0.1.0
 * @category replies
 */
export const tokens = (
  fields: Readonly<Record<string, unknown>> = {},
  options: ReplyOptions = {}
): Reply =>
  json({
    access_token: secrets.accessToken,
    token_type: "Bearer",
    expires_in: 3600,
    refresh_token: secrets.refreshToken,
    scope: "openid profile offline_access",
    id_token: idToken({ iss: ISSUER, sub: secrets.idTokenSubject, aud: CLIENT_ID, name: "Test User" }),
    ...fields
  }, options)

/**
 * A device authorization response (RFC 8628 §3.2).
 *
 * @since 0.1.0
 * @category replies
 */
export const deviceCode = (
  fields: Readonly<Record<string, unknown>> = {},
  options: ReplyOptions = {}
): Reply =>
  json({
    device_code: secrets.deviceCode,
    user_code: "WDJB-MJHT",
    verification_uri: `${ISSUER}/device`,
    verification_uri_complete: `${ISSUER}/device?user_code=WDJB-MJHT`,
    expires_in: 900,
    interval: 5,
    ...fields
  }, options)

/**
 * What a script sees of a request.
 *
 * @since 0.1.0
 * @category models
 */
export interface RequestContext {
  /** 0 for the first request to this endpoint */
  readonly attempt: number
  /** when the request arrived, epoch ms */
  readonly now: number
  /** when the last device code was issued, epoch ms */
  readonly codeIssuedAt: number | undefined
  readonly params: Readonly<Record<string, string>>
  readonly headers: Readonly<Record<string, string>>
}

/**
 * How the fake server answers each endpoint.
 *
 * @since 0.1.0
 * @category models
 */
export interface Script {
  readonly deviceAuthorization: (context: RequestContext) => Reply
  readonly token: (context: RequestContext) => Reply
  /** any other URL (discovery documents, other servers); 404 when absent */
  readonly other?: ((context: RequestContext & { readonly url: URL; readonly method: string }) => Reply) | undefined
}

/**
 * A script answering the token endpoint with `replies` in order, then
 * repeating the last one.
 *
 * @since 0.1.0
 * @category scripts
 */
export const sequence = (
  replies: ReadonlyArray<Reply>,
  device: Reply = deviceCode()
): Script => ({
  deviceAuthorization: () => device,
  token: ({ attempt }) => replies[Math.min(attempt, replies.length - 1)] ?? hang
})

/**
 * The scenarios every device-flow client meets, one script each.
 *
 * @since 0.1.0
 * @category scripts
 */
export const scenarios = {
  /** `n` × authorization_pending, then tokens */
  pendingThenSuccess: (n: number, device: Reply = deviceCode()): Script =>
    sequence([...Array.from({ length: n }, () => pending()), tokens()], device),
  /** slow_down (with the server's new interval when given), then pending, then tokens */
  slowDown: (options: { readonly interval?: number | undefined } = {}): Script =>
    sequence([pending(), slowDown(options), pending(), tokens()]),
  /** GitHub: every error comes with HTTP 200; slow_down carries the new interval */
  githubHttp200: (): Script =>
    sequence(
      [
        oauthError("authorization_pending", { status: 200 }),
        oauthError("slow_down", { status: 200, fields: { interval: 10 } }),
        oauthError("authorization_pending", { status: 200 }),
        tokens({
          token_type: "bearer",
          scope: "repo,gist",
          expires_in: undefined,
          refresh_token: undefined,
          id_token: undefined
        })
      ],
      deviceCode({ verification_uri: "https://github.com/login/device", verification_uri_complete: undefined })
    ),
  /** GitHub without `Accept: application/json`: form-encoded answers */
  githubForm: (): Script =>
    sequence(
      [
        form({ error: "authorization_pending", error_description: "The authorization request is still pending." }),
        form({ access_token: secrets.accessToken, token_type: "bearer", scope: "repo" })
      ],
      form({
        device_code: secrets.deviceCode,
        user_code: "WDJB-MJHT",
        verification_uri: "https://github.com/login/device",
        expires_in: 900,
        interval: 5
      })
    ),
  /** Google: pending as HTTP 428, slow_down as HTTP 403, `verification_url` */
  google: (): Script =>
    sequence(
      [pending({ status: 428 }), slowDown({ status: 403 }), pending({ status: 428 }), tokens()],
      deviceCode({
        verification_uri: undefined,
        verification_url: "https://www.google.com/device",
        verification_uri_complete: undefined
      })
    ),
  /** Auth0: pending as HTTP 403, slow_down as HTTP 429 */
  auth0: (): Script =>
    sequence([pending({ status: 403 }), slowDown({ status: 429 }), pending({ status: 403 }), tokens()]),
  /** Entra v1 / ADFS: numbers as strings, `verification_url`, a ready-made message */
  entraV1: (): Script =>
    sequence(
      [
        oauthError("authorization_pending", { fields: { error_codes: [70016] } }),
        tokens({ expires_in: "3599" })
      ],
      deviceCode({
        verification_uri: undefined,
        verification_uri_complete: undefined,
        verification_url: "https://microsoft.com/devicelogin",
        expires_in: "900",
        interval: "5",
        message:
          "To sign in, use a web browser to open the page https://microsoft.com/devicelogin and enter the code WDJB-MJHT to authenticate."
      })
    ),
  /** the server is overloaded: `status` (429 or 503) with Retry-After, then pending, then tokens */
  retryAfter: (status: 429 | 503, retryAfterSeconds: number): Script =>
    sequence([
      text("<html>busy</html>", "text/html", { status, headers: { "retry-after": String(retryAfterSeconds) } }),
      pending(),
      tokens()
    ]),
  /** HTTP 5xx without an OAuth body, `n` times, then tokens */
  serverErrors: (n: number, status = 502): Script =>
    sequence([...Array.from({ length: n }, () => text("Bad Gateway", "text/plain", { status })), tokens()]),
  /** the network fails `n` times, then tokens */
  transportFailures: (n: number): Script =>
    sequence([...Array.from({ length: n }, () => transportFailure()), tokens()]),
  /** pending, then the user declines */
  denied: (): Script => sequence([pending(), denied()]),
  /**
   * the server ends the code's life after `lifetime` seconds, earlier than the
   * `advertised` expires_in (Auth0 and others expire codes on their own terms):
   * pending until then, expired_token after
   */
  serverExpiry: (lifetime: number, advertised = 900): Script => ({
    deviceAuthorization: () => deviceCode({ expires_in: advertised }),
    token: ({ codeIssuedAt, now }) =>
      codeIssuedAt !== undefined && now - codeIssuedAt >= lifetime * 1000 ? expired() : pending()
  }),
  /** pending forever: the client's own deadline must end the flow */
  neverApproved: (expiresIn = 900): Script => sequence([pending()], deviceCode({ expires_in: expiresIn }))
} as const

/**
 * One request the fake server saw.
 *
 * @since 0.1.0
 * @category models
 */
export interface RecordedRequest {
  readonly endpoint: "deviceAuthorization" | "token" | "unknown"
  readonly url: string
  readonly method: string
  /** form fields; for a JSON body (AWS SSO-OIDC) its top-level fields, non-strings as JSON text */
  readonly params: Readonly<Record<string, string>>
  readonly headers: Readonly<Record<string, string>>
  /** when the request was sent, epoch ms */
  readonly sentAt: number
  /** when it ended, epoch ms; undefined while in flight */
  readonly endedAt: number | undefined
  readonly outcome: "in-flight" | "answered" | "failed" | "interrupted"
  /** the HTTP status answered, if any */
  readonly status: number | undefined
  /** with {@link LayerOptions.dpop}: the thumbprint of the valid proof's key, or why the proof was refused */
  readonly dpop?: { readonly jkt: string } | { readonly refused: string } | undefined
}

/**
 * The fake server's record, for assertions.
 *
 * @since 0.1.0
 * @category models
 */
export interface FakeServer {
  readonly requests: Effect.Effect<ReadonlyArray<RecordedRequest>>
  /** token requests only */
  readonly polls: Effect.Effect<ReadonlyArray<RecordedRequest>>
  /** with `requireNonce`: issue a new nonce, as a server does from time to time (RFC 9449 §8.2) */
  readonly rotateDpopNonce: Effect.Effect<string>
}

/**
 * The {@link FakeServer} record's tag.
 *
 * @since 0.1.0
 * @category tags
 */
export const FakeServer: Context.Tag<FakeServer, FakeServer> = Context.GenericTag<FakeServer>(
  "@devflow/core/TestKit/FakeServer"
)

/**
 * Options of {@link layer}.
 *
 * @since 0.1.0
 * @category models
 */
export interface LayerOptions {
  /**
   * The URLs answered by `script.deviceAuthorization` and `script.token`
   * (default {@link DEVICE_AUTHORIZATION_ENDPOINT} and {@link TOKEN_ENDPOINT}),
   * e.g. a provider's real endpoints. Query strings are ignored.
   */
  readonly endpoints?: {
    readonly deviceAuthorization?: string | undefined
    readonly token?: string | undefined
  } | undefined
  /**
   * Make the token endpoint a DPoP server (RFC 9449): every proof is checked
   * and a bad one answered `invalid_dpop_proof`; tokens issued to a proof
   * are `token_type: DPoP`; a refresh with another key than the sign-in's
   * is `invalid_grant`. With `requireNonce`, a proof without the current
   * nonce is answered `use_dpop_nonce` with a `DPoP-Nonce` header. These
   * answers do not consume the script: scripts read the same with DPoP on.
   * Without this option the fake server ignores DPoP, as Bearer-only servers do.
   */
  readonly dpop?: DpopOptions | undefined
}

/**
 * How the fake token endpoint treats DPoP (see {@link LayerOptions.dpop}).
 *
 * @since 0.1.0
 * @category models
 */
export interface DpopOptions {
  /** refuse token requests without a proof (default: Bearer tokens for them) */
  readonly required?: boolean | undefined
  /** demand the server's current nonce in every proof (RFC 9449 §8) */
  readonly requireNonce?: boolean | undefined
}

/**
 * An `HttpClient` answering from `script`, plus the {@link FakeServer} record.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (script: Script, options: LayerOptions = {}): Layer.Layer<HttpClient.HttpClient | FakeServer> =>
  Layer.effectContext(Effect.gen(function*() {
    const deviceAuthorizationUrl = withoutQuery(options.endpoints?.deviceAuthorization ?? DEVICE_AUTHORIZATION_ENDPOINT)
    const tokenUrl = withoutQuery(options.endpoints?.token ?? TOKEN_ENDPOINT)
    const log = yield* Ref.make<ReadonlyArray<RecordedRequest>>([])
    const counts = yield* Ref.make({ deviceAuthorization: 0, token: 0, unknown: 0 })
    const codeIssuedAt = yield* Ref.make<number | undefined>(undefined)
    const dpop = yield* makeDpopServer(options.dpop)

    const update = (index: number, f: (r: RecordedRequest) => RecordedRequest) =>
      Ref.update(log, (all) => all.map((r, i) => (i === index ? f(r) : r)))

    const client = HttpClient.make((request, url) =>
      Effect.gen(function*() {
        const sentAt = yield* Clock.currentTimeMillis
        const endpoint = url.origin + url.pathname === deviceAuthorizationUrl
          ? "deviceAuthorization"
          : url.origin + url.pathname === tokenUrl
          ? "token"
          : "unknown"
        const params = {
          ...readParams(request),
          ...(request.method === "GET" ? Object.fromEntries(url.searchParams) : {})
        }
        const headers = { ...request.headers }
        const index = yield* Ref.modify(log, (all) =>
          [all.length, [
            ...all,
            {
              endpoint,
              url: url.href,
              method: request.method,
              params,
              headers,
              sentAt,
              endedAt: undefined,
              outcome: "in-flight",
              status: undefined
            } satisfies RecordedRequest
          ]] as const)
        const verdict = endpoint === "token" && dpop !== undefined
          ? yield* dpop.check(request.method, url.href, headers, params, sentAt)
          : undefined
        if (verdict !== undefined) {
          yield* update(
            index,
            (r) => ({ ...r, dpop: verdict._tag === "Refused" ? { refused: verdict.reason } : { jkt: verdict.jkt } })
          )
        }
        // a refusal of the proof is the DPoP layer's answer, not the script's: the script's attempt is not used up
        const refusal = verdict?._tag === "Refused" ? verdict.reply : undefined
        const attempt = refusal !== undefined
          ? 0
          : yield* Ref.modify(counts, (c) => [c[endpoint], { ...c, [endpoint]: c[endpoint] + 1 }] as const)
        const context: RequestContext = {
          attempt,
          now: sentAt,
          codeIssuedAt: yield* Ref.get(codeIssuedAt),
          params,
          headers
        }
        const scripted = refusal ?? (endpoint === "deviceAuthorization"
          ? script.deviceAuthorization(context)
          : endpoint === "token"
          ? script.token(context)
          : script.other?.({ ...context, url, method: request.method }) ??
            text("Not Found", "text/plain", { status: 404 }))
        const reply = verdict?._tag === "Accepted" && dpop !== undefined
          ? yield* dpop.answer(scripted, verdict.jkt, params)
          : scripted
        if (endpoint === "deviceAuthorization") yield* Ref.set(codeIssuedAt, sentAt)
        const ended = (outcome: RecordedRequest["outcome"], status?: number) =>
          Effect.flatMap(
            Clock.currentTimeMillis,
            (endedAt) => update(index, (r) => ({ ...r, endedAt, outcome, status }))
          )
        switch (reply._tag) {
          case "Hang":
            return yield* Effect.never.pipe(Effect.onInterrupt(() => ended("interrupted")))
          case "TransportFailure":
            yield* Effect.sleep(reply.delay).pipe(Effect.onInterrupt(() => ended("interrupted")))
            yield* ended("failed")
            return yield* new HttpClientError.RequestError({ request, reason: "Transport", description: reply.reason })
          case "Body":
            yield* Effect.sleep(reply.delay).pipe(Effect.onInterrupt(() => ended("interrupted")))
            yield* ended("answered", reply.status)
            return HttpClientResponse.fromWeb(
              request,
              // 204, 205 and 304 have no body (the Fetch API refuses one)
              new Response(nullBodyStatuses.has(reply.status) ? null : reply.body, {
                status: reply.status,
                headers: reply.headers
              })
            )
        }
      })
    )

    const requests = Ref.get(log)
    return Context.make(HttpClient.HttpClient, client).pipe(
      Context.add(FakeServer, {
        requests,
        polls: Effect.map(requests, (all) => all.filter((r) => r.endpoint === "token")),
        rotateDpopNonce: dpop?.rotateNonce ?? Effect.dieMessage("TestKit.layer was given no dpop option")
      })
    )
  }))

const nullBodyStatuses: ReadonlySet<number> = new Set([204, 205, 304])

type DpopVerdict =
  | { readonly _tag: "Accepted"; readonly jkt: string }
  | { readonly _tag: "Refused"; readonly reason: string; readonly reply: Reply }
  | undefined

// The fake token endpoint's DPoP rules (RFC 9449 §5, §8), kept apart from the script.
const makeDpopServer = (options: DpopOptions | undefined) =>
  options === undefined ? Effect.succeed(undefined) : Effect.gen(function*() {
    const nonces = yield* Ref.make(1)
    const nonce = Effect.map(Ref.get(nonces), (n) => `devflow-test-nonce-${n}`)
    // the key each refresh token is bound to (RFC 9449 §5: a public client's refresh token is bound)
    const boundRefreshTokens = yield* Ref.make<ReadonlyMap<string, string>>(new Map())
    const withNonce = (reply: Reply): Effect.Effect<Reply> =>
      options.requireNonce && reply._tag === "Body"
        ? Effect.map(nonce, (n) => ({ ...reply, headers: { ...reply.headers, "dpop-nonce": n } }))
        : Effect.succeed(reply)
    const refuse = (reason: string, reply: Reply): Effect.Effect<DpopVerdict> =>
      Effect.map(withNonce(reply), (reply) => ({ _tag: "Refused", reason, reply }))
    const check = (
      method: string,
      url: string,
      headers: Readonly<Record<string, string>>,
      params: Readonly<Record<string, string>>,
      now: number
    ): Effect.Effect<DpopVerdict> =>
      Effect.gen(function*() {
        const proof = headers.dpop
        if (proof === undefined) {
          return options.required
            ? yield* refuse(
              "no proof",
              oauthError("invalid_dpop_proof", { fields: { error_description: "DPoP proof required" } })
            )
            : undefined
        }
        const current = yield* nonce
        const verified = yield* DpopVerify.verify(proof, { method, url, now: Math.floor(now / 1000) })
        if (verified._tag === "Left") {
          return yield* refuse(
            verified.left,
            oauthError("invalid_dpop_proof", { fields: { error_description: `the DPoP proof ${verified.left}` } })
          )
        }
        // RFC 9449 §8: "use_dpop_nonce" with the nonce to use in a DPoP-Nonce header
        if (options.requireNonce && verified.right.claims.nonce !== current) {
          return yield* refuse(
            "no current nonce",
            oauthError("use_dpop_nonce", {
              fields: { error_description: "Authorization server requires nonce in DPoP proof" }
            })
          )
        }
        const bound = params.grant_type === "refresh_token" && params.refresh_token !== undefined
          ? (yield* Ref.get(boundRefreshTokens)).get(params.refresh_token)
          : undefined
        if (bound !== undefined && bound !== verified.right.jkt) {
          return yield* refuse(
            "another key than the refresh token's",
            oauthError("invalid_grant", { fields: { error_description: "failed jkt verification" } })
          )
        }
        return { _tag: "Accepted", jkt: verified.right.jkt }
      })
    // A token answer to a valid proof is bound to its key: token_type DPoP (RFC 9449 §5).
    const answer = (reply: Reply, jkt: string, params: Readonly<Record<string, string>>): Effect.Effect<Reply> =>
      Effect.gen(function*() {
        if (reply._tag !== "Body" || reply.status !== 200) return yield* withNonce(reply)
        let body: Record<string, unknown>
        try {
          body = JSON.parse(reply.body)
        } catch {
          return yield* withNonce(reply)
        }
        if (typeof body.access_token !== "string") return yield* withNonce(reply)
        const refreshToken = typeof body.refresh_token === "string" ? body.refresh_token : params.refresh_token
        if (refreshToken !== undefined) yield* Ref.update(boundRefreshTokens, (m) => new Map(m).set(refreshToken, jkt))
        return yield* withNonce({ ...reply, body: JSON.stringify({ ...body, token_type: "DPoP" }) })
      })
    return {
      check,
      answer,
      rotateNonce: Effect.zipRight(Ref.update(nonces, (n) => n + 1), nonce)
    }
  })

/**
 * Check a DPoP proof as a server does (RFC 9449 §4.3): for fakes of your
 * own resource servers. The proof's key thumbprint, or why it is refused.
 *
 * @see https://www.rfc-editor.org/rfc/rfc9449.html#section-4.3
 * @since 0.1.0
 * @category utils
 */
export const verifyDpopProof = (
  proof: string,
  expected: {
    readonly method: string
    readonly url: string
    readonly nonce?: string | undefined
    readonly accessToken?: string | undefined
  }
): Effect.Effect<Either.Either<{ readonly jkt: string; readonly claims: Readonly<Record<string, unknown>> }, string>> =>
  Effect.flatMap(Clock.currentTimeMillis, (now) =>
    Effect.map(
      DpopVerify.verify(proof, { ...expected, now: Math.floor(now / 1000) }),
      Either.map((v) => ({ jkt: v.jkt, claims: v.claims }))
    ))

const withoutQuery = (endpoint: string): string => {
  const url = new URL(endpoint)
  return url.origin + url.pathname
}

// Form bodies as they are; JSON bodies (AWS SSO-OIDC) with non-string values as JSON text.
const readParams = (request: HttpClientRequest.HttpClientRequest): Record<string, string> => {
  const body = request.body
  if (body._tag !== "Uint8Array") return {}
  const text = new TextDecoder().decode(body.body)
  if (body.contentType.includes("json")) {
    try {
      const value: unknown = JSON.parse(text)
      if (typeof value !== "object" || value === null || Array.isArray(value)) return {}
      return Object.fromEntries(
        Object.entries(value).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)])
      )
    } catch {
      return {}
    }
  }
  return Object.fromEntries(new URLSearchParams(text))
}

/**
 * A validated configuration pointing at the fake server.
 *
 * @since 0.1.0
 * @category constructors
 */
export const config = (
  overrides: Partial<ClientConfig.ClientConfigInput> = {}
): Effect.Effect<ClientConfig.ClientConfig, InvalidConfiguration> =>
  ClientConfig.make({
    clientId: CLIENT_ID,
    endpoints: { deviceAuthorization: DEVICE_AUTHORIZATION_ENDPOINT, token: TOKEN_ENDPOINT },
    scopes: ["openid", "profile", "offline_access"],
    ...overrides
  })

/**
 * An `onCode` callback that records the codes it is shown.
 *
 * @since 0.1.0
 * @category constructors
 */
export const recordingPrompt: Effect.Effect<{
  readonly onCode: (code: DeviceCode) => Effect.Effect<void>
  readonly shown: Effect.Effect<ReadonlyArray<DeviceCode>>
}> = Effect.map(Ref.make<ReadonlyArray<DeviceCode>>([]), (ref) => ({
  onCode: (code) => Ref.update(ref, (all) => [...all, code]),
  shown: Ref.get(ref)
}))

/**
 * Wait until no DPoP key generation or signing is in flight. Web Crypto is
 * real asynchronous work that Effect's `Clock` does not see: a test that
 * moves a `TestClock` while a proof is being signed would pass a request's
 * timeout during it. Call this before each `TestClock.adjust` in DPoP tests.
 *
 * @since 0.1.0
 * @category utils
 */
export const awaitWebCrypto: Effect.Effect<void> = Effect.suspend(function loop(): Effect.Effect<void> {
  if (DpopCrypto.webCryptoInFlight() === 0) return Effect.void
  return Effect.zipRight(
    Effect.promise(() => new Promise<void>((resolve) => setTimeout(resolve, 0))),
    Effect.zipRight(Effect.yieldNow(), Effect.suspend(loop))
  )
})
