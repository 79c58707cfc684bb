/**
 * An example sign-in service running as several instances behind a load
 * balancer, sharing flows and tokens through one Redis.
 *
 *   POST   /flows                    start a device flow → 201 { id, userCode, verificationUri, ... }
 *                                    (body: optional { scopes: [..], params: { extra device authorization params } })
 *   GET    /flows/:id?wait=S&since=T  the flow's state; with `wait`, long-poll up to S seconds for a
 *                                    final state or one whose nextPollAt is after T
 *   DELETE /flows/:id                cancel
 *   POST   /flows/:id/token          for a succeeded flow: a fresh access token for its account (the
 *                                    flow's tokens are filed in the shared cache the first time; then
 *                                    cache, else refresh, single-flight across instances)
 *                                    → { account, source, expiresOn } (never the token)
 *   GET    /stats                    Redis commands sent by this instance
 *
 * A flow's id (128 random bits) is its only handle, and it is given to the
 * caller who started the flow and nobody else: no route lists flows, since a
 * list would hand out other people's user codes (RFC 8628 §5.1 keeps them
 * from being guessed: whoever enters one completes that sign-in with their
 * own account) and the ids that read, cancel and use their flows.
 *
 * This is an example, not a deployment. A real service must add:
 * - authentication of its callers, and bind each flow to the caller who
 *   started it (store the caller with the id; check it on every route);
 * - CSRF protection on any page or route through which a signed-in user
 *   approves or cancels (a same-site cookie alone is not enough for a GET);
 * - TLS in front of it, rate limits on `POST /flows`, and `/stats` for
 *   operators only.
 *
 * Configuration (environment): PORT (0 = any; the chosen port is printed as
 * `listening <port>`), REDIS_URL (or REDIS_CLUSTER: `host:port,...` of a Redis
 * Cluster's nodes), DEVFLOW_REDIS_KEYS (`id:base64key,...`,
 * current first), CLIENT_ID, DEVICE_AUTHORIZATION_ENDPOINT, TOKEN_ENDPOINT,
 * SCOPES (space separated), INSTANCE (a name sent as `x-devflow-instance`
 * on every request to the authorization server), LEASE_MS, REQUEST_TIMEOUT_MS, REDIS_PREFIX.
 *
 * Run: `node --import tsx --conditions=@devflow/source example/service.ts`.
 */
import * as Account from "@devflow/core/Account"
import * as CacheContent from "@devflow/core/CacheContent"
import * as ClientConfig from "@devflow/core/ClientConfig"
import * as FlowStore from "@devflow/core/FlowStore"
import * as Silent from "@devflow/core/Silent"
import * as TokenCache from "@devflow/core/TokenCache"
import { NodeOAuthHttp } from "@devflow/node-http"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import { Cluster } from "ioredis"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import { Keyring, RedisConnection, RedisFlowStore, RedisTokenCache } from "../src/index.js"

const env = (name: string, fallback?: string): string => {
  const value = process.env[name] ?? fallback
  if (value === undefined || value === "") {
    process.stderr.write(`missing environment variable ${name}\n`)
    process.exit(2)
  }
  return value
}

const instance = env("INSTANCE", "service")
const config = Effect.runSync(
  ClientConfig.make({
    clientId: env("CLIENT_ID"),
    endpoints: { deviceAuthorization: env("DEVICE_AUTHORIZATION_ENDPOINT"), token: env("TOKEN_ENDPOINT") },
    scopes: env("SCOPES", "openid offline_access").split(" ")
  }).pipe(Effect.orDie)
)
const authority = config.endpoints.token

const Http = Layer.effect(
  HttpClient.HttpClient,
  Effect.map(HttpClient.HttpClient, HttpClient.mapRequest(HttpClientRequest.setHeader("x-devflow-instance", instance)))
).pipe(Layer.provide(NodeOAuthHttp.layer()))

const Connection = Layer.unwrapEffect(Effect.map(
  Keyring.parse(Redacted.make(env("DEVFLOW_REDIS_KEYS"))),
  (keyring) => {
    const cluster = process.env.REDIS_CLUSTER
    if (cluster === undefined || cluster === "") {
      return RedisConnection.layer({ url: env("REDIS_URL"), keyring, prefix: env("REDIS_PREFIX", "devflow") })
    }
    const nodes = cluster.split(",").map((node) => ({ host: node.split(":")[0]!, port: Number(node.split(":")[1]) }))
    // no auto-pipelining on a Cluster: ioredis refuses an automatic pipeline spanning nodes
    const options = { redisOptions: { maxRetriesPerRequest: 1 } }
    return RedisConnection.layer({
      url: `redis://${cluster.split(",")[0]}`,
      keyring,
      prefix: env("REDIS_PREFIX", "devflow"),
      connect: () => ({ client: new Cluster(nodes, options), subscriber: new Cluster(nodes, options) })
    })
  }
))

const Stores = Layer.mergeAll(
  RedisFlowStore.layer(config, {
    lease: Duration.millis(Number(env("LEASE_MS", "10000"))),
    requestTimeout: Duration.millis(Number(env("REQUEST_TIMEOUT_MS", "30000")))
  }),
  RedisTokenCache.layer()
).pipe(Layer.provideMerge(Connection), Layer.provideMerge(Http))

const runtime = ManagedRuntime.make(Stores)

// ---------------------------------------------------------------------------

const accountOf = (result: FlowStore.Succeeded["result"]) =>
  Account.fromResult(authority, config.clientId, Option.getOrUndefined(result.idTokenClaims))

/** What a client sees of a flow: never a token or a device code. */
const view = (update: FlowStore.FlowUpdate) => {
  switch (update._tag) {
    case "Pending":
      return { status: "pending", ...update, _tag: undefined }
    case "Succeeded": {
      const account = accountOf(update.result)
      return {
        id: update.id,
        status: "succeeded",
        account: { id: account.id, username: account.username },
        tokenType: update.result.tokenType,
        scopes: update.result.scopes,
        expiresOn: Option.getOrUndefined(Option.map(update.result.expiresOn, DateTime.toEpochMillis))
      }
    }
    case "Failed":
      return {
        id: update.id,
        status: "failed",
        error: {
          tag: update.error._tag,
          message: update.error.message,
          code: "error" in update.error ? update.error.error : undefined
        }
      }
    case "Cancelled":
      return { id: update.id, status: "cancelled" }
  }
}

// The first instance to show a success files the tokens; later ones must not overwrite a refreshed token with them.
const remember = (update: FlowStore.Succeeded) =>
  Effect.gen(function*() {
    const cache = yield* TokenCache.TokenCache
    const account = accountOf(update.result)
    const now = Date.now()
    yield* cache.modify((content) =>
      CacheContent.findAccount(content, authority, account.id) !== undefined
        ? [undefined, content] as const
        : [
          undefined,
          CacheContent.withTokens(content, {
            authority,
            clientId: config.clientId,
            account,
            accessToken: {
              secret: update.result.accessToken,
              tokenType: update.result.tokenType,
              scopes: update.result.scopes,
              expiresOn: Option.getOrUndefined(Option.map(update.result.expiresOn, DateTime.toEpochMillis))
            },
            refreshToken: Option.getOrUndefined(update.result.refreshToken),
            idToken: Option.getOrUndefined(update.result.idToken),
            now
          })
        ] as const
    )
    return account
  })

const isStringRecord = (u: unknown): u is Record<string, string> =>
  typeof u === "object" && u !== null && !Array.isArray(u) && Object.values(u).every((v) => typeof v === "string")

type Reply = { readonly status: number; readonly body: unknown }
const reply = (status: number, body: unknown): Reply => ({ status, body })

const failure = (error: { readonly _tag: string; readonly message: string }): Reply => {
  const status = error._tag === "FlowNotFound"
    ? 404
    : error._tag === "FlowStoreUnavailable" || error._tag === "CacheUnavailable"
    ? 503
    : error._tag === "InteractionRequired"
    ? 401
    : 502
  return reply(status, { error: { tag: error._tag, message: error.message } })
}

const readJson = (req: http.IncomingMessage): Promise<unknown> =>
  new Promise((resolve) => {
    let text = ""
    req.on("data", (chunk: Buffer) => {
      text += chunk.toString()
      if (text.length > 64 * 1024) req.destroy()
    })
    req.on("end", () => {
      try {
        resolve(text === "" ? {} : JSON.parse(text))
      } catch {
        resolve(undefined)
      }
    })
    req.on("error", () => resolve(undefined))
  })

const route = (
  method: string,
  url: URL,
  body: unknown
): Effect.Effect<
  Reply,
  never,
  FlowStore.FlowStore | TokenCache.TokenCache | HttpClient.HttpClient | RedisConnection.RedisConnection
> =>
  Effect.gen(function*() {
    const store = yield* FlowStore.FlowStore
    const parts = url.pathname.split("/").filter((p) => p !== "")
    if (method === "POST" && url.pathname === "/flows") {
      const scopes = typeof body === "object" && body !== null && Array.isArray((body as { scopes?: unknown }).scopes)
        ? ((body as { scopes: Array<string> }).scopes)
        : undefined
      const params = typeof body === "object" && body !== null ? (body as { params?: unknown }).params : undefined
      const flow = yield* store.start({
        ...(scopes === undefined ? {} : { scopes }),
        ...(isStringRecord(params) ? { extraParams: params } : {})
      })
      return reply(201, flow)
    }
    if (method === "GET" && url.pathname === "/stats") {
      const connection = yield* RedisConnection.RedisConnection
      return reply(200, { instance, ...connection.stats })
    }
    if (parts[0] === "flows" && parts.length === 2) {
      const id = parts[1]!
      if (method === "DELETE") return reply(200, { cancelled: yield* store.cancel(id) })
      if (method === "GET") {
        const wait = Math.min(Number(url.searchParams.get("wait") ?? 0) || 0, 60)
        const since = Number(url.searchParams.get("since") ?? -Infinity)
        const update = wait <= 0 ? yield* store.get(id) : yield* store.watch(id).pipe(
          Stream.filter((u) => FlowStore.isFinal(u) || u.nextPollAt > since),
          Stream.runHead,
          Effect.timeout(Duration.seconds(wait)),
          Effect.catchTag("TimeoutException", () => Effect.succeed(Option.none<FlowStore.FlowUpdate>())),
          Effect.flatMap((found): Effect.Effect<FlowStore.FlowUpdate, FlowStore.FlowStoreError> =>
            Option.isSome(found) ? Effect.succeed(found.value) : store.get(id)
          )
        )
        return reply(200, view(update))
      }
    }
    if (method === "POST" && parts[0] === "flows" && parts[2] === "token" && parts.length === 3) {
      const update = yield* store.get(parts[1]!)
      if (update._tag !== "Succeeded") {
        return reply(409, { error: { tag: "NotSignedIn", message: `the flow is ${update._tag}` } })
      }
      const account = yield* remember(update)
      const token = yield* Silent.acquireSilent({ config, account, scopes: config.scopes })
      return reply(200, {
        account: account.id,
        source: token.source,
        expiresOn: Option.getOrUndefined(Option.map(token.expiresOn, DateTime.toEpochMillis))
      })
    }
    return reply(404, { error: { tag: "NotFound", message: `${method} ${url.pathname}` } })
  }).pipe(
    Effect.catchAll((error) => Effect.succeed(failure(error))),
    Effect.catchAllDefect((defect) =>
      Effect.succeed(reply(500, { error: { tag: "Defect", message: String(defect).slice(0, 200) } }))
    )
  )

const server = http.createServer((req, res) => {
  void (async () => {
    const body = req.method === "POST" ? await readJson(req) : undefined
    const url = new URL(req.url ?? "/", "http://service")
    const out = body === undefined && req.method === "POST"
      ? reply(400, { error: { tag: "BadRequest", message: "body is not JSON" } })
      : await runtime.runPromise(route(req.method ?? "GET", url, body))
    const text = JSON.stringify(out.body)
    res.writeHead(out.status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) })
    res.end(text)
  })().catch(() => {
    if (!res.headersSent) res.writeHead(500)
    res.end()
  })
})
server.keepAliveTimeout = 65_000

await runtime.runPromise(Effect.void)
server.listen(Number(env("PORT", "0")), "127.0.0.1", () => {
  process.stdout.write(`listening ${(server.address() as AddressInfo).port}\n`)
})

const shutdown = () => {
  server.close()
  server.closeAllConnections()
  // releases every lease this instance holds, so the others take its flows over at once
  void runtime.dispose().then(() => process.exit(0))
}
process.once("SIGTERM", shutdown)
process.once("SIGINT", shutdown)
