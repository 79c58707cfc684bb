/**
 * A minimal RFC 8628 authorization server on loopback (plain `node:http` /
 * `node:https`), for loads the real oidc-provider dev server cannot sustain
 * and for protocol scripts it cannot play (slow_down with a new interval,
 * 429 + Retry-After, dropped connections, requests that never get an answer).
 *
 * Every device code follows the same script: one reply per token request,
 * in order, then tokens. The server records, per device code, when each
 * token request arrived and when its answer was handed to the socket, so the
 * spacing of polls is measured the same way for every client: from outside.
 */
import { createHash, randomBytes } from "node:crypto"
import * as http from "node:http"
import * as https from "node:https"
import type { AddressInfo } from "node:net"
import { checkProof, type ProofCheck } from "./dpopProof.js"

/** One reply of the script. */
export type Step =
  | { readonly kind: "pending" }
  | { readonly kind: "slow_down"; readonly interval?: number | undefined }
  /** HTTP 429 (no OAuth body), optional Retry-After in seconds */
  | { readonly kind: "429"; readonly retryAfter?: number | undefined }
  /** HTTP 503 (no OAuth body), optional Retry-After in seconds */
  | { readonly kind: "503"; readonly retryAfter?: number | undefined }
  /** destroy the connection without an answer: a transport failure */
  | { readonly kind: "drop" }
  /** never answer (the request stays in flight until the client gives up) */
  | { readonly kind: "hang" }
  | { readonly kind: "token" }

export interface ServerConfig {
  /** `interval` of the device authorization response in seconds; `null` leaves it out */
  readonly interval: number | null
  readonly expiresIn: number
  /** replies to token requests, in order; once used up, every poll gets tokens */
  readonly script: ReadonlyArray<Step>
  /** keep per-poll timings (B3, B6); off for the largest loads */
  readonly record: boolean
  readonly tls?: { readonly cert: string; readonly key: string } | undefined
  readonly port?: number | undefined
  /**
   * DPoP (RFC 9449): a token request with a `DPoP` header has its proof checked
   * (server/dpopProof.ts) and gets `token_type: "DPoP"`; one without gets Bearer, as
   * from a server that supports both. `nonce`: the first proof of each key is answered
   * `use_dpop_nonce` with a `DPoP-Nonce` (not counted as a poll of the script).
   */
  readonly dpop?: { readonly nonce: boolean } | undefined
}

/** `pending × k`, then tokens. */
export const pendingThenToken = (k: number): ReadonlyArray<Step> =>
  Array.from({ length: k }, () => ({ kind: "pending" }))

export const CLIENT_ID = "bench-client"
export const SCOPES = ["openid", "profile", "offline_access", "api"] as const

export interface PollRecord {
  /** epoch ms (fractional) the request's first byte was parsed */
  readonly arrivedAt: number
  /** epoch ms the answer was handed to the socket, right after `res.end` (undefined: dropped or hanging) */
  finishedAt: number | undefined
  /** when the client's socket closed while this request had no answer */
  closedAt: number | undefined
  readonly step: Step["kind"]
}

export interface FlowRecord {
  readonly issuedAt: number
  /** when the device authorization answer was handed to the socket (right after `res.end`) */
  issuedFinishedAt: number | undefined
  readonly polls: Array<PollRecord>
}

interface Flow {
  readonly sub: string
  next: number
  /** the thumbprint of the key its first proof was signed with: every later poll must use it */
  jkt: string | undefined
  readonly record: FlowRecord | undefined
}

const stamp = () => performance.timeOrigin + performance.now()

const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url")

/**
 * An unsigned-looking id_token: RS256 header, real claims, a dummy signature.
 * No client here verifies token endpoint id_token signatures (OIDC Core
 * §3.1.3.7 allows TLS server validation instead), but each checks claims.
 */
export const idToken = (issuer: string, sub: string, now = Math.floor(Date.now() / 1000)) =>
  `${b64url({ alg: "RS256", typ: "JWT", kid: "bench" })}.${
    b64url({
      iss: issuer,
      sub,
      aud: CLIENT_ID,
      iat: now,
      nbf: now,
      exp: now + 3600,
      name: sub,
      preferred_username: `${sub}@bench.test`,
      tid: "bench"
    })
  }.${Buffer.from("not-a-signature").toString("base64url")}`

export interface RunningServer {
  readonly origin: string
  readonly issuer: string
  readonly port: number
  readonly flows: Map<string, FlowRecord>
  readonly counters: {
    deviceRequests: number
    tokenRequests: number
    tokensIssued: number
    legacyGrantType: number
    other: number
    /** tokens issued as `token_type: "DPoP"` */
    dpopTokens: number
    /** proofs refused (`invalid_dpop_proof`) */
    dpopRejected: number
    /** `use_dpop_nonce` answers */
    dpopNonces: number
  }
  reset(): void
  close(): Promise<void>
}

const readBody = (req: http.IncomingMessage, limit = 64 * 1024): Promise<string> =>
  new Promise((resolve, reject) => {
    let size = 0
    const chunks: Array<Buffer> = []
    req.on("data", (chunk: Buffer) => {
      size += chunk.length
      if (size > limit) {
        reject(new Error("body too large"))
        req.destroy()
      } else chunks.push(chunk)
    })
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")))
    req.on("error", reject)
  })

// What to stamp when an answer's bytes are about to be written (the end of the answer, for the timing records).
const onWrite = new WeakMap<http.ServerResponse, () => void>()

const json = (res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
  const text = JSON.stringify(body)
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text),
    "cache-control": "no-store",
    ...headers
  })
  onWrite.get(res)?.()
  res.end(text)
}

export const startServer = async (config: ServerConfig): Promise<RunningServer> => {
  const flows = new Map<string, Flow>()
  const records = new Map<string, FlowRecord>()
  const counters = {
    deviceRequests: 0,
    tokenRequests: 0,
    tokensIssued: 0,
    legacyGrantType: 0,
    other: 0,
    dpopTokens: 0,
    dpopRejected: 0,
    dpopNonces: 0
  }
  // every proof's jti this run (RFC 9449 §11.1: a proof is used once); bounded by the run's requests
  const jtis = new Set<string>()
  // nonce mode: the key thumbprints that were given the nonce, and the nonce
  const nonced = new Set<string>()
  const nonce = randomBytes(16).toString("base64url")
  let serial = 0
  let origin = ""
  const issuer = () => `${origin}/bench`
  const hanging = new Set<http.ServerResponse>()

  const metadata = () => ({
    issuer: issuer(),
    authorization_endpoint: `${issuer()}/authorize`,
    device_authorization_endpoint: `${issuer()}/device_authorization`,
    token_endpoint: `${issuer()}/token`,
    jwks_uri: `${issuer()}/jwks`,
    response_types_supported: ["code"],
    subject_types_supported: ["public"],
    id_token_signing_alg_values_supported: ["RS256"],
    grant_types_supported: ["urn:ietf:params:oauth:grant-type:device_code", "refresh_token"],
    token_endpoint_auth_methods_supported: ["none"],
    scopes_supported: [...SCOPES]
  })

  const deviceAuthorization = (req: http.IncomingMessage, res: http.ServerResponse, body: string) => {
    counters.deviceRequests++
    const params = new URLSearchParams(body)
    if (params.get("client_id") !== CLIENT_ID) return json(res, 401, { error: "invalid_client" })
    const id = ++serial
    const deviceCode = `dc-${id}-${randomBytes(12).toString("base64url")}`
    const record: FlowRecord | undefined = config.record
      ? { issuedAt: stamp(), issuedFinishedAt: undefined, polls: [] }
      : undefined
    flows.set(deviceCode, { sub: `user-${id}`, next: 0, jkt: undefined, record })
    if (record !== undefined) records.set(deviceCode, record)
    const userCode = createHash("sha256").update(deviceCode).digest("hex").slice(0, 8).toUpperCase()
    const verification = `${issuer()}/device`
    if (record !== undefined) onWrite.set(res, () => (record.issuedFinishedAt = stamp()))
    json(res, 200, {
      device_code: deviceCode,
      user_code: `${userCode.slice(0, 4)}-${userCode.slice(4)}`,
      verification_uri: verification,
      verification_uri_complete: `${verification}?user_code=${userCode}`,
      expires_in: config.expiresIn,
      ...(config.interval === null ? {} : { interval: config.interval }),
      message: `Open ${verification} and enter ${userCode}`
    })
    void req
  }

  const token = (req: http.IncomingMessage, res: http.ServerResponse, body: string) => {
    counters.tokenRequests++
    const arrivedAt = stamp()
    const params = new URLSearchParams(body)
    if (params.get("client_id") !== CLIENT_ID) return json(res, 401, { error: "invalid_client" })
    if (params.get("grant_type") === "refresh_token") {
      counters.tokensIssued++
      return json(res, 200, {
        access_token: `at-refresh-${randomBytes(16).toString("base64url")}`,
        token_type: "Bearer",
        expires_in: 3600,
        scope: SCOPES.join(" ")
      })
    }
    const grantType = params.get("grant_type")
    // msal-node sends Entra's legacy `grant_type=device_code` instead of the
    // RFC 8628 URN; Entra accepts both, and so does this server (counted).
    if (grantType === "device_code") counters.legacyGrantType++
    else if (grantType !== "urn:ietf:params:oauth:grant-type:device_code") {
      return json(res, 400, { error: "unsupported_grant_type" })
    }
    const deviceCode = params.get("device_code") ?? ""
    const flow = flows.get(deviceCode)
    if (flow === undefined) return json(res, 400, { error: "invalid_grant" })
    const proof = req.headers.dpop
    let bound = false
    if (config.dpop !== undefined && proof !== undefined) {
      const checked = checkDpop(proof, flow)
      if (checked !== undefined) return checked(res)
      bound = true
    }
    const step: Step = config.script[flow.next] ?? { kind: "token" }
    flow.next++
    const poll: PollRecord | undefined = flow.record === undefined
      ? undefined
      : { arrivedAt, finishedAt: undefined, closedAt: undefined, step: step.kind }
    if (poll !== undefined) {
      flow.record!.polls.push(poll)
      res.once("close", () => {
        if (poll.finishedAt === undefined) poll.closedAt = stamp()
      })
    }
    // The end of the answer is stamped right before its bytes are written: no client can
    // have read them earlier, so a poll measured early from this stamp really was early.
    // (Stamped after the write, a server preempted between the write and the stamp makes
    // a client that waited its full interval look early; on "finish", later still.)
    if (poll !== undefined) onWrite.set(res, () => (poll.finishedAt = stamp()))
    answer(req, res, flow, deviceCode, step, bound)
  }

  /** The answer to a token request whose proof does not pass, or undefined when it does. */
  const checkDpop = (
    proof: string | Array<string>,
    flow: Flow
  ): ((res: http.ServerResponse) => void) | undefined => {
    const refuse = (why: string) => (res: http.ServerResponse) => {
      counters.dpopRejected++
      json(res, 400, { error: "invalid_dpop_proof", error_description: why })
    }
    if (typeof proof !== "string") return refuse("more than one DPoP header")
    const checked: ProofCheck = checkProof(proof, {
      method: "POST",
      url: `${issuer()}/token`,
      now: Math.floor(Date.now() / 1000),
      seen: jtis
    })
    if (!checked.ok) return refuse(checked.reason)
    if (flow.jkt !== undefined && flow.jkt !== checked.jkt) return refuse("another key than this flow's earlier proofs")
    if (config.dpop?.nonce === true && !nonced.has(checked.jkt)) {
      nonced.add(checked.jkt)
      return (res) => {
        counters.dpopNonces++
        json(res, 400, { error: "use_dpop_nonce", error_description: "a nonce is required" }, { "dpop-nonce": nonce })
      }
    }
    if (config.dpop?.nonce === true && checked.nonce !== nonce) return refuse("not the server's nonce")
    flow.jkt = checked.jkt
    return undefined
  }

  const answer = (
    req: http.IncomingMessage,
    res: http.ServerResponse,
    flow: Flow,
    deviceCode: string,
    step: Step,
    bound: boolean
  ) => {
    switch (step.kind) {
      case "pending":
        return json(res, 400, { error: "authorization_pending", error_description: "the user has not yet approved" })
      case "slow_down":
        return json(res, 400, {
          error: "slow_down",
          error_description: "polling too fast",
          ...(step.interval === undefined ? {} : { interval: step.interval })
        })
      case "429":
      case "503":
        return json(
          res,
          Number(step.kind),
          { message: step.kind === "429" ? "too many requests" : "unavailable" },
          step.retryAfter === undefined ? {} : { "retry-after": String(step.retryAfter) }
        )
      case "drop":
        req.socket.destroy()
        return
      case "hang":
        hanging.add(res)
        res.once("close", () => hanging.delete(res))
        return
      case "token": {
        flows.delete(deviceCode)
        counters.tokensIssued++
        if (bound) counters.dpopTokens++
        return json(res, 200, {
          access_token: `at-${flow.sub}-${randomBytes(16).toString("base64url")}`,
          token_type: bound ? "DPoP" : "Bearer",
          expires_in: 3600,
          refresh_token: `rt-${flow.sub}-${randomBytes(16).toString("base64url")}`,
          scope: SCOPES.join(" "),
          id_token: idToken(issuer(), flow.sub)
        })
      }
    }
  }

  const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const url = req.url ?? "/"
    const path = url.split("?")[0]!
    if (req.method === "GET") {
      if (
        path.endsWith("/.well-known/openid-configuration") || path.endsWith("/.well-known/oauth-authorization-server")
      ) {
        return json(res, 200, metadata())
      }
      if (path.endsWith("/jwks")) return json(res, 200, { keys: [] })
      counters.other++
      return json(res, 404, { error: "not_found" })
    }
    readBody(req).then(
      (body) => {
        // msal-node derives the device code endpoint from the token endpoint
        // ("/token" → "/devicecode", Entra's path); answer both spellings.
        if (path.endsWith("/device_authorization") || path.endsWith("/devicecode")) {
          return deviceAuthorization(req, res, body)
        }
        if (path.endsWith("/token")) return token(req, res, body)
        counters.other++
        json(res, 404, { error: "not_found" })
      },
      () => res.destroy()
    )
  }

  const server = config.tls === undefined
    ? http.createServer({ keepAliveTimeout: 30_000 }, handler)
    : https.createServer({ cert: config.tls.cert, key: config.tls.key, keepAliveTimeout: 30_000 }, handler)
  server.maxConnections = 25_000
  // thousands of clients connect at once
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject)
    server.listen({ port: config.port ?? 0, host: "127.0.0.1", backlog: 16_384 }, () => resolve())
  })
  const port = (server.address() as AddressInfo).port
  origin = `${config.tls === undefined ? "http" : "https"}://127.0.0.1:${port}`
  return {
    origin,
    issuer: issuer(),
    port,
    flows: records,
    counters,
    reset: () => {
      records.clear()
      flows.clear()
      jtis.clear()
      nonced.clear()
      counters.deviceRequests =
        counters.tokenRequests =
        counters.tokensIssued =
        counters.legacyGrantType =
        counters.other =
        counters.dpopTokens =
        counters.dpopRejected =
        counters.dpopNonces =
          0
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const res of hanging) res.destroy()
        server.close(() => resolve())
        server.closeAllConnections()
      })
  }
}
