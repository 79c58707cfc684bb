/**
 * One interface over the three device-flow clients, so every benchmark gives
 * each of them exactly the same work.
 */

/** Where a flow talks to. */
export interface Endpoints {
  readonly issuer: string
  readonly deviceAuthorization: string
  readonly token: string
  readonly clientId: string
  readonly scopes: ReadonlyArray<string>
}

export interface FlowOptions {
  /** aborting it cancels the flow (each client's own cancellation mechanism) */
  readonly signal?: AbortSignal | undefined
  /** the user code, as soon as the client hands it to the application */
  readonly onCode?: ((userCode: string) => void) | undefined
}

export interface FlowResult {
  readonly ok: boolean
  /** a short, stable description of the failure (error class / code + message) */
  readonly error?: string | undefined
}

/**
 * `devflow-user` is devflow's client (clients/devflow.ts) loaded from the
 * packages' builds rather than bundled: B2 runs it beside the others.
 */
export type ClientName =
  | "devflow"
  | "devflow-user"
  | "openid-client"
  | "msal-node"
  /** B2 with DPoP: devflow and openid-client, each sign-in proved with a key of its own */
  | "devflow-dpop"
  | "openid-client-dpop"

export const CLIENTS: ReadonlyArray<ClientName> = ["devflow", "openid-client", "msal-node"]

/** B2's clients: every client, and devflow a second time, unbundled. */
export const FLOW_CLIENTS: ReadonlyArray<ClientName> = ["devflow", "devflow-user", "openid-client", "msal-node"]

/** B2's DPoP clients (at N=1,000), each beside the plain client it is the DPoP variant of. */
export const DPOP_CLIENTS: ReadonlyArray<readonly [dpop: ClientName, plain: ClientName]> = [
  ["devflow-dpop", "devflow"],
  ["openid-client-dpop", "openid-client"]
]

export interface DeviceFlowClient {
  readonly name: ClientName
  /** run one device flow to its end; never rejects */
  readonly flow: (options?: FlowOptions) => Promise<FlowResult>
  readonly close: () => Promise<void>
}

/** epoch milliseconds with sub-millisecond resolution, comparable across processes */
export const now = (): number => performance.timeOrigin + performance.now()

export const describeError = (error: unknown): string => {
  if (error instanceof Error) {
    const code = (error as { code?: unknown; errorCode?: unknown }).errorCode ?? (error as { code?: unknown }).code
    const tag = (error as { _tag?: unknown })._tag
    const name = typeof tag === "string" ? tag : error.name
    const message = error.message.split("\n")[0]!.slice(0, 160)
    return typeof code === "string" && !message.includes(code) ? `${name} ${code}: ${message}` : `${name}: ${message}`
  }
  return String(error).slice(0, 160)
}
