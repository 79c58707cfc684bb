import type { Endpoints } from "../clients/types.js"
import { load } from "../machine.js"
import type { BenchResult } from "../report.js"
import { CLIENT_ID, type RunningServer, SCOPES, type ServerConfig, startServer } from "../server/loopbackServer.js"
import type { Certificate } from "../tls.js"

export interface Context {
  /** a few flows per benchmark: proves the harness works, in seconds */
  readonly quick: boolean
  readonly cert: Certificate
  /** environment for every child (trusts the loopback certificate) */
  readonly env: Readonly<Record<string, string>>
  readonly log: (line: string) => void
}

export const endpointsOf = (server: RunningServer): Endpoints => ({
  issuer: server.issuer,
  deviceAuthorization: `${server.issuer}/device_authorization`,
  token: `${server.issuer}/token`,
  clientId: CLIENT_ID,
  scopes: [...SCOPES]
})

/** A loopback server over TLS with this run's certificate, for the duration of `f`. */
export const withServer = async <A>(
  ctx: Context,
  config: Omit<ServerConfig, "tls">,
  f: (server: RunningServer) => Promise<A>
): Promise<A> => {
  const server = await startServer({ ...config, tls: { cert: ctx.cert.cert, key: ctx.cert.key } })
  try {
    return await f(server)
  } finally {
    await server.close()
  }
}

type Body = Omit<BenchResult, "id" | "title" | "wallMs" | "loadBefore" | "loadAfter">

/** Runs one benchmark, timing it and noting the load around it; a crash becomes a result that says so. */
export const bench = async (
  ctx: Context,
  id: BenchResult["id"],
  title: string,
  f: () => Promise<Body>
): Promise<BenchResult> => {
  const loadBefore = load()
  const t0 = performance.now()
  ctx.log(`${id} ${title}: running (load ${loadBefore})`)
  let body: Body
  try {
    body = await f()
  } catch (error) {
    body = {
      rows: [],
      targets: [],
      notes: [],
      pending: `the harness failed: ${
        error instanceof Error ? error.message.split("\n").slice(0, 6).join(" ") : String(error)
      }`
    }
  }
  const wallMs = performance.now() - t0
  ctx.log(`${id}: done in ${(wallMs / 1000).toFixed(1)} s`)
  return { id, title, ...body, wallMs, loadBefore, loadAfter: load() }
}

export const round = (x: number, digits = 1): number => Math.round(x * 10 ** digits) / 10 ** digits
