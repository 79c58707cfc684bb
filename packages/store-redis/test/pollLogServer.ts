/**
 * A light RFC 8628 authorization server on loopback that logs every poll:
 * when it arrived, which instance sent it (`x-devflow-instance`), and
 * whether it came sooner than the interval in force after the previous
 * answer for the same device code. It also serves the refresh-token grant
 * with rotation and counts refreshes per account, so a duplicate refresh
 * (two instances refreshing one account, or a refresh token used twice)
 * shows.
 *
 * Each device code follows the plan named by the flow's `plan` parameter:
 * `approve:N` (N × authorization_pending, then tokens), `deny:N`,
 * `slow:N` (slow_down first, then N × pending, then tokens) and `expire`
 * (a code that lives `expireSeconds`, answered with pending).
 */
import * as crypto from "node:crypto"
import * as http from "node:http"
import type { AddressInfo } from "node:net"

export interface Poll {
  readonly at: number
  readonly instance: string
  readonly answer: string
}

export interface CodeRecord {
  readonly n: number
  readonly plan: string
  /** the instance that requested the code */
  readonly issuedBy: string
  readonly expiresAt: number
  intervalMs: number
  /** when the previous answer was about to be written to the socket */
  lastAnsweredAt: number | undefined
  pendings: number
  tokensIssued: number
  readonly polls: Array<Poll>
}

export interface Violation {
  readonly code: number
  readonly gapMs: number
  readonly intervalMs: number
  readonly instances: readonly [string, string]
}

/** What `GET /__log` answers (the part the tests read). */
export interface ServerLog {
  readonly codes: ReadonlyArray<CodeRecord>
  readonly violations: ReadonlyArray<Violation>
}

export interface PollLogServer {
  readonly origin: string
  readonly codes: Map<string, CodeRecord>
  readonly violations: Array<Violation>
  readonly counters: { polls: number; refreshes: number; refreshReuse: number; afterAnswer: number }
  readonly refreshesBySubject: Map<string, number>
  close(): Promise<void>
}

// The wall clock, as the clients read it (Effect's Clock is Date.now): a monotonic reading in
// another process can differ from it by a few ms when the system clock is being slewed.
const now = () => Date.now()

const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url")

export const CLIENT_ID = "scale-client"

export const startPollLogServer = async (
  options: { readonly intervalSeconds?: number; readonly expireSeconds?: number } = {}
): Promise<PollLogServer> => {
  const interval = options.intervalSeconds ?? 1
  const codes = new Map<string, CodeRecord>()
  const refreshTokens = new Map<string, { sub: string; used: boolean }>()
  const refreshesBySubject = new Map<string, number>()
  const violations: Array<Violation> = []
  const counters = { polls: 0, refreshes: 0, refreshReuse: 0, afterAnswer: 0 }
  let serial = 0
  let origin = ""

  const tokens = (sub: string, expiresIn: number) => {
    const rt = `RT-CANARY-${crypto.randomBytes(12).toString("hex")}`
    refreshTokens.set(rt, { sub, used: false })
    const t = Math.floor(Date.now() / 1000)
    return {
      access_token: `AT-CANARY-${crypto.randomBytes(12).toString("hex")}`,
      token_type: "Bearer",
      expires_in: expiresIn,
      refresh_token: rt,
      scope: "openid offline_access api",
      id_token: `${b64url({ alg: "none", typ: "JWT" })}.${
        b64url({ iss: origin, sub, aud: CLIENT_ID, iat: t, exp: t + 3600, preferred_username: `${sub}@scale.test` })
      }.sig`
    }
  }

  const send = (res: http.ServerResponse, status: number, body: unknown, record?: CodeRecord) => {
    const text = JSON.stringify(body)
    res.writeHead(status, { "content-type": "application/json", "cache-control": "no-store" })
    // Read before the answer is written: no client can have it sooner. Read after, it was late by
    // however long this process was descheduled in between (7 ms once, at load 10: a poll on time
    // looked early).
    if (record !== undefined) record.lastAnsweredAt = now()
    res.end(text)
  }

  const server = http.createServer((req, res) => {
    const arrived = now()
    let text = ""
    req.on("data", (c: Buffer) => (text += c.toString()))
    req.on("end", () => {
      const params = new URLSearchParams(text)
      if (req.url === "/device") {
        const n = ++serial
        const code = `DC-CANARY-${n}-${crypto.randomBytes(8).toString("hex")}`
        const plan = params.get("plan") ?? "approve:1"
        const life = plan === "expire" ? options.expireSeconds ?? 3 : 300
        codes.set(code, {
          n,
          plan,
          issuedBy: String(req.headers["x-devflow-instance"] ?? "?"),
          expiresAt: Date.now() + life * 1000,
          intervalMs: interval * 1000,
          lastAnsweredAt: undefined,
          pendings: 0,
          tokensIssued: 0,
          polls: []
        })
        return send(res, 200, {
          device_code: code,
          user_code: `U-${n}`,
          verification_uri: `${origin}/verify`,
          expires_in: life,
          interval
        })
      }
      if (req.url === "/__counters") return send(res, 200, counters)
      if (req.url === "/__log") {
        return send(res, 200, {
          codes: [...codes.values()],
          violations,
          counters,
          refreshesBySubject: Object.fromEntries(refreshesBySubject)
        })
      }
      if (req.url !== "/token") return send(res, 404, { error: "not_found" })
      const grant = params.get("grant_type")
      if (grant === "refresh_token") {
        const entry = refreshTokens.get(params.get("refresh_token") ?? "")
        if (entry === undefined) return send(res, 400, { error: "invalid_grant" })
        if (entry.used) {
          counters.refreshReuse++
          return send(res, 400, { error: "invalid_grant", error_description: "refresh token already used" })
        }
        entry.used = true
        counters.refreshes++
        refreshesBySubject.set(entry.sub, (refreshesBySubject.get(entry.sub) ?? 0) + 1)
        return send(res, 200, tokens(entry.sub, 3600))
      }
      const record = codes.get(params.get("device_code") ?? "")
      if (record === undefined) return send(res, 400, { error: "invalid_grant" })
      counters.polls++
      const instance = String(req.headers["x-devflow-instance"] ?? "?")
      const previous = record.polls.at(-1)
      // RFC 8628 §3.5: the client waits the interval between polls, measured here from our previous answer
      if (record.lastAnsweredAt !== undefined && arrived - record.lastAnsweredAt < record.intervalMs - 5) {
        violations.push({
          code: record.n,
          gapMs: Math.round(arrived - record.lastAnsweredAt),
          intervalMs: record.intervalMs,
          instances: [previous?.instance ?? "?", instance]
        })
      }
      const answer = (kind: string, status: number, body: unknown) => {
        record.polls.push({ at: arrived, instance, answer: kind })
        send(res, status, body, record)
      }
      if (record.tokensIssued > 0) {
        counters.afterAnswer++
        return answer("invalid_grant", 400, { error: "invalid_grant", error_description: "code already used" })
      }
      const [kind, count] = record.plan.split(":") as [string, string | undefined]
      const n = Number(count ?? 1)
      if (kind === "expire") {
        if (Date.now() >= record.expiresAt) return answer("expired_token", 400, { error: "expired_token" })
        return answer("pending", 400, { error: "authorization_pending" })
      }
      if (kind === "slow" && record.polls.length === 0) {
        record.intervalMs += 5_000
        return answer("slow_down", 400, { error: "slow_down" })
      }
      if (record.pendings < n) {
        record.pendings++
        return answer("pending", 400, { error: "authorization_pending" })
      }
      if (kind === "deny") return answer("access_denied", 400, { error: "access_denied" })
      record.tokensIssued++
      return answer("tokens", 200, tokens(`user-${record.n}`, 60))
    })
  })
  server.keepAliveTimeout = 65_000
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return {
    origin,
    codes,
    violations,
    counters,
    refreshesBySubject,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      })
  }
}
