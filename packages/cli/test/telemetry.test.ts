/**
 * `OTEL_EXPORTER_OTLP_ENDPOINT` set: the bundled CLI exports its spans over
 * OTLP/HTTP (JSON) to a collector — here a loopback server that keeps every
 * export — and nothing it exports carries a token or code. Unset, nothing is
 * sent (and nothing loaded: bundle.mjs forbids the exporter in the CLI's
 * start-up closure).
 */
import { type DevServer, startDevServer } from "@devflow/dev-server"
import * as fs from "node:fs"
import { createServer, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Devflow, devflow, tempDir } from "./helpers.js"

interface Export {
  readonly path: string
  readonly headers: Record<string, string | Array<string> | undefined>
  readonly body: string
}

let dev: DevServer
let collector: Server
let collectorUrl: string
const exports: Array<Export> = []

beforeAll(async () => {
  dev = await startDevServer({ pollIntervalSeconds: 1 })
  collector = createServer((req, res) => {
    let body = ""
    req.setEncoding("utf8").on("data", (d: string) => (body += d)).on("end", () => {
      exports.push({ path: req.url ?? "", headers: req.headers, body })
      res.writeHead(200, { "content-type": "application/json" }).end("{}")
    })
  })
  await new Promise<void>((resolve) => collector.listen(0, "127.0.0.1", resolve))
  collectorUrl = `http://127.0.0.1:${(collector.address() as AddressInfo).port}`
})
afterAll(async () => {
  await dev.close()
  await new Promise<void>((resolve) => collector.close(() => resolve()))
})

interface OtlpSpan {
  readonly name: string
  readonly attributes: Record<string, unknown>
}

const spansOf = (all: ReadonlyArray<Export>): ReadonlyArray<OtlpSpan> =>
  all.flatMap((e) =>
    (JSON.parse(e.body).resourceSpans ?? []).flatMap((rs: any) =>
      (rs.scopeSpans ?? []).flatMap((ss: any) =>
        (ss.spans ?? []).map((s: any) => ({
          name: s.name,
          attributes: Object.fromEntries((s.attributes ?? []).map((a: any) => [a.key, Object.values(a.value ?? {})[0]]))
        }))
      )
    )
  )

describe("OTLP export from the CLI", () => {
  it("login exports device authorization, poll and cache spans to OTEL_EXPORTER_OTLP_ENDPOINT; no secret in them", async () => {
    const dir = tempDir()
    exports.length = 0
    const run = new Devflow(
      [
        "login",
        "--issuer",
        dev.issuer,
        "--client-id",
        dev.clientId,
        "--scope",
        "openid",
        "--scope",
        "offline_access",
        "--no-qr",
        "--cache-dir",
        dir
      ],
      {
        env: {
          OTEL_EXPORTER_OTLP_ENDPOINT: collectorUrl,
          OTEL_EXPORTER_OTLP_HEADERS: "x-tenant=devflow%20tests",
          OTEL_SERVICE_NAME: "devflow-e2e"
        }
      }
    )
    await dev.approve(await run.userCode(), { accountId: "traced" })
    const done = await run.exit
    expect(done.code, done.stderr).toBe(0)
    expect(exports.length).toBeGreaterThan(0)
    expect(exports.every((e) => e.path === "/v1/traces")).toBe(true)
    expect(exports[0]!.headers["x-tenant"]).toBe("devflow tests")
    const spans = spansOf(exports)
    const names = new Set(spans.map((s) => s.name))
    for (const name of ["devflow.device_authorization", "devflow.poll", "devflow.cache.write"]) {
      expect(names).toContain(name)
    }
    const polls = spans.filter((s) => s.name === "devflow.poll")
    expect(polls.at(-1)!.attributes["devflow.outcome"]).toBe("tokens")
    expect(polls[0]!.attributes["devflow.endpoint.host"]).toBe(new URL(dev.issuer).host)
    expect(JSON.parse(exports[0]!.body).resourceSpans[0].resource.attributes).toContainEqual({
      key: "service.name",
      value: { stringValue: "devflow-e2e" }
    })
    // nothing secret: the tokens the login stored appear in no export
    const cache = JSON.parse(fs.readFileSync(path.join(dir, "tokens.json"), "utf8"))
    const secrets = [...cache.accessTokens, ...cache.refreshTokens, ...cache.idTokens].map((e: { secret: string }) =>
      e.secret
    )
    expect(secrets.length).toBeGreaterThan(1)
    for (const e of exports) for (const secret of secrets) expect(e.body).not.toContain(secret)
  })

  it("without an endpoint nothing is exported", async () => {
    exports.length = 0
    const run = await devflow(["providers"])
    expect(run.code).toBe(0)
    expect(exports).toEqual([])
  })
})
