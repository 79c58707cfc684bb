/**
 * The loopback server's DPoP proof check (src/server/dpopProof.ts): it takes
 * the proofs of both libraries B2 compares and refuses the broken ones; and
 * both DPoP clients get through its nonce mode.
 */
import { Dpop } from "@devflow/core"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as client from "openid-client"
import { describe, expect, it, onTestFinished } from "vitest"
import { endpointsOf, withServer } from "../src/benchmarks/common.js"
import { buildWorkers } from "../src/build.js"
import { runEntry } from "../src/runner.js"
import { checkProof } from "../src/server/dpopProof.js"
import { pendingThenToken } from "../src/server/loopbackServer.js"
import { makeCertificate } from "../src/tls.js"
import type { FlowsReport } from "../src/workers/worker.js"

const TOKEN_URL = "https://127.0.0.1:8443/bench/token"
const now = () => Math.floor(Date.now() / 1000)

const devflowProof = (input: Partial<Dpop.ProofInput> = {}) =>
  Effect.runPromise(
    Effect.flatMap(Dpop.generateKeyPair(), (key) => Dpop.proof(key, { method: "POST", url: TOKEN_URL, ...input }))
  )

const openidProof = async () => {
  const config = new client.Configuration({ issuer: "https://127.0.0.1:8443/bench", token_endpoint: TOKEN_URL }, "c")
  const handle = client.getDPoPHandle(config, await client.randomDPoPKeyPair("ES256")) as unknown as {
    addProof: (url: URL, headers: Headers, htm: string) => Promise<void>
  }
  const headers = new Headers()
  await handle.addProof(new URL(TOKEN_URL), headers, "POST")
  return headers.get("dpop")!
}

const check = (proof: string, seen = new Set<string>(), url = TOKEN_URL) =>
  checkProof(proof, { method: "POST", url, now: now(), seen })

describe("the loopback server's DPoP proof check", () => {
  it("takes devflow's and openid-client's proofs, each once", async () => {
    for (const proof of [await devflowProof(), await openidProof()]) {
      const seen = new Set<string>()
      const first = check(proof, seen)
      expect(first.ok, JSON.stringify(first)).toBe(true)
      if (first.ok) expect(first.jkt).toMatch(/^[A-Za-z0-9_-]{43}$/)
      expect(check(proof, seen)).toEqual({ ok: false, reason: "jti seen before" })
    }
  })

  it("refuses a proof for another URL, a stale one, a forged signature, a private jwk", async () => {
    const proof = await devflowProof()
    expect(check(proof, new Set(), "https://127.0.0.1:8443/other/token").ok).toBe(false)
    expect(checkProof(proof, { method: "POST", url: TOKEN_URL, now: now() + 600, seen: new Set() })).toEqual({
      ok: false,
      reason: "iat is not fresh"
    })
    const [header, claims] = proof.split(".")
    const other = (await devflowProof()).split(".")[2]
    expect(check(`${header}.${claims}.${other}`)).toEqual({ ok: false, reason: "the signature does not verify" })
    const h = JSON.parse(Buffer.from(header!, "base64url").toString()) as { jwk: Record<string, string> }
    const withD = Buffer.from(JSON.stringify({ ...h, jwk: { ...h.jwk, d: "x" } })).toString("base64url")
    expect(check(`${withD}.${claims}.${proof.split(".")[2]}`)).toEqual({
      ok: false,
      reason: "the jwk header holds a private key"
    })
    expect(check("a.b")).toEqual({ ok: false, reason: "not a compact JWS" })
  })

  it("both DPoP clients get DPoP tokens through its nonce mode", { timeout: 90_000 }, async () => {
    await buildWorkers()
    const cert = makeCertificate()
    onTestFinished(() => fs.rmSync(cert.dir, { recursive: true, force: true }))
    const ctx = { quick: true, cert, env: { NODE_EXTRA_CA_CERTS: cert.certFile }, log: () => {} }
    // each key's first proof is answered use_dpop_nonce; then one pending poll, then tokens
    const config = { interval: 1, expiresIn: 600, script: pendingThenToken(1), record: false, dpop: { nonce: true } }
    for (const name of ["devflow-dpop", "openid-client-dpop"] as const) {
      await withServer(ctx, config, async (server) => {
        const report = await runEntry<FlowsReport>(`flows-${name}`, {
          kind: "flows",
          endpoints: endpointsOf(server),
          n: 3
        }, { env: ctx.env, timeoutMs: 60_000 })
        expect(report.ok, `${name}: ${JSON.stringify(report.errors)}`).toBe(3)
        expect(server.counters.dpopNonces, name).toBe(3)
        expect(server.counters.dpopTokens, name).toBe(3)
        expect(server.counters.dpopRejected, name).toBe(0)
      })
    }
  })
})
