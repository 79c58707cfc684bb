/**
 * Secret canaries through the shipped CLI: `devflow login`, `token`,
 * `accounts` and `logout` against a scripted server whose device code,
 * tokens and expected client secret are canaries — successes, and servers
 * that echo the secrets back in errors, quote them in HTML, cut them off in
 * truncated JSON, put them in a redirect — each run plain, with `--json`,
 * with `--verbose`, and with the debug log level (`devflow --log-level all`).
 * No canary may appear in any stdout or stderr, nor in any file but the
 * token cache, except on `devflow token`'s own stdout. With the OS keychain
 * (a private Secret Service), the refresh token and the client secret are
 * in no file at all, the token cache included, nor in a keychain item's name.
 */
import { type FaultRequest, type Handler, json, redirect, reply, startFaultServer } from "@devflow/dev-server/faults"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as SecretService from "../../cache-file/test/secretService.js"
import { devflow, type Run, tempDir } from "./helpers.js"

/** a stack frame line, as Node prints them */
const STACK = /^\s+at .*(:\d+:\d+\)?|\(native\))$/m

const jwt = (claims: Readonly<Record<string, unknown>>, signature: string) =>
  `${Buffer.from(JSON.stringify({ alg: "none", typ: "JWT" })).toString("base64url")}.${
    Buffer.from(JSON.stringify(claims)).toString("base64url")
  }.${signature}`

const C = {
  deviceCode: "DC-CANARY-cli-5d17a0",
  accessToken: "AT-CANARY-cli-93be4c",
  refreshToken: "RT-CANARY-cli-0e6f21",
  idTokenSignature: "IDT-CANARY-SIG-cli-7a2c",
  clientSecret: "CS-CANARY-cli-41f8d3"
}

let server: Awaited<ReturnType<typeof startFaultServer>>
let idToken = ""

/** what the server can echo of a request: the secrets it carried */
const echoOf = (request: FaultRequest) => {
  const params = new URLSearchParams(request.body)
  return [params.get("device_code"), params.get("refresh_token"), params.get("client_secret")].filter((v) => v !== null)
    .join(" ")
}

// the clients whose sign-in succeeds: an id_token names its audience (OpenID Connect Core §3.1.3.7)
const AUDIENCE = ["ok", "refresh-refused"]

const tokens = (origin: string, fields: Readonly<Record<string, unknown>> = {}) => ({
  access_token: C.accessToken,
  token_type: "Bearer",
  // below the CLI's five-minute skew: every `token` refreshes
  expires_in: 60,
  refresh_token: C.refreshToken,
  id_token: jwt(
    { iss: origin, sub: "canary-user", aud: AUDIENCE, preferred_username: "canary@devflow.test" },
    C.idTokenSignature
  ),
  ...fields
})

/** Each client id is a scenario. */
const scenarios: Readonly<Record<string, (request: FaultRequest, grant: string) => ReturnType<Handler>>> = {
  ok: (request) => json(tokens(request.origin)),
  "refresh-refused": (request, grant) =>
    grant === "refresh_token"
      ? json({ error: "invalid_grant", error_description: `refresh token revoked: ${echoOf(request)}` }, {
        status: 400
      })
      : json(tokens(request.origin)),
  "echo-grant": (request) =>
    json({
      error: "invalid_grant",
      error_description: `bad code ${echoOf(request)}`,
      error_uri: `https://idp.example/e?${echoOf(request)}`
    }, { status: 400 }),
  "echo-denied": (request) =>
    json({ error: "access_denied", error_description: `denied ${echoOf(request)}` }, { status: 400 }),
  "echo-own-code": (request) =>
    json({ error: `bad_${C.deviceCode}`, error_description: echoOf(request) }, { status: 400 }),
  html: () => reply(`<html><body>${C.accessToken} ${C.refreshToken} ${C.deviceCode}</body></html>`, "text/html"),
  truncated: (request) => json(JSON.stringify(tokens(request.origin)).slice(0, 60)),
  "no-token-type": (request) => json(tokens(request.origin, { token_type: undefined })),
  "bad-id-token": (request) => json(tokens(request.origin, { id_token: `x${C.idTokenSignature}` })),
  redirect: () => redirect(302, `https://evil.example/cb?device_code=${C.deviceCode}`)
}

const paramsOf = (request: FaultRequest) => new URLSearchParams(request.body)

beforeAll(async () => {
  server = await startFaultServer({
    "/.well-known/openid-configuration": ({ origin }) =>
      json({
        issuer: origin,
        device_authorization_endpoint: `${origin}/device/auth`,
        token_endpoint: `${origin}/token`,
        grant_types_supported: ["urn:ietf:params:oauth:grant-type:device_code", "refresh_token"]
      }),
    "/device/auth": (request) => {
      const params = paramsOf(request)
      if (params.get("client_id") === "bad-client") {
        return json({ error: "invalid_client", error_description: `unknown client ${echoOf(request)}` }, {
          status: 401
        })
      }
      return json({
        device_code: C.deviceCode,
        user_code: "BCDF-GHJK",
        verification_uri: `${request.origin}/device`,
        expires_in: 60,
        interval: 1
      })
    },
    "/token": (request) => {
      const params = paramsOf(request)
      const scenario = scenarios[params.get("client_id") ?? ""] ?? scenarios.ok!
      return scenario(request, params.get("grant_type") ?? "")
    }
  })
  idToken = jwt(
    { iss: server.origin, sub: "canary-user", aud: AUDIENCE, preferred_username: "canary@devflow.test" },
    C.idTokenSignature
  )
})
afterAll(() => server.close())

const secretForms = (clientId: string): ReadonlyArray<readonly [string, string]> => [
  ["device code", C.deviceCode],
  ["access token", C.accessToken],
  ["refresh token", C.refreshToken],
  ["id_token", idToken],
  ["id_token signature", C.idTokenSignature],
  ["client secret", C.clientSecret],
  ["Basic credentials", Buffer.from(`${clientId}:${C.clientSecret}`).toString("base64")]
]

interface Output {
  readonly what: string
  readonly text: string
}

const leaksIn = (outputs: ReadonlyArray<Output>, clientId: string) =>
  outputs.flatMap(({ text, what }) =>
    secretForms(clientId).filter(([, value]) => text.includes(value)).map(([name]) => `${name} in ${what}`)
  )

/** Every file the CLI wrote besides the token cache (profiles, leftovers). */
const otherFiles = (dir: string): ReadonlyArray<Output> =>
  fs.readdirSync(dir).filter((name) => name !== "tokens.json").flatMap((name) => {
    const file = path.join(dir, name)
    return fs.statSync(file).isFile() ? [{ what: `file ${name}`, text: fs.readFileSync(file, "utf8") }] : []
  })

const outputsOf = (what: string, run: Run, options: { readonly tokenStdout?: boolean } = {}): ReadonlyArray<Output> => [
  ...(options.tokenStdout === true && run.code === 0 ? [] : [{ what: `${what} stdout`, text: run.stdout }]),
  { what: `${what} stderr`, text: run.stderr }
]

/** the ways to run a command: plain (people's text), and everything at once (JSON, verbose details, debug logs) */
const variants: ReadonlyArray<readonly [string, ReadonlyArray<string>, ReadonlyArray<string>]> = [
  ["plain", [], []],
  ["--log-level all --json --verbose", ["--log-level", "all"], ["--json", "--verbose"]]
]

const login = (
  clientId: string,
  dir: string,
  root: ReadonlyArray<string>,
  flags: ReadonlyArray<string>,
  env: Readonly<Record<string, string>> = {}
) =>
  devflow([
    ...root,
    "login",
    "--issuer",
    server.origin,
    "--client-id",
    clientId,
    "--scope",
    "openid",
    "--scope",
    "offline_access",
    "--no-qr",
    "--cache-dir",
    dir,
    ...flags
  ], {
    env: { DEVFLOW_CLIENT_SECRET: C.clientSecret, ...env }
  })

/** Run `jobs` at most `n` at a time (each is a process: the machine has few cores). */
const pool = async <A>(n: number, jobs: ReadonlyArray<() => Promise<A>>): Promise<Array<A>> => {
  const out: Array<A> = []
  let next = 0
  await Promise.all(Array.from({ length: n }, async () => {
    while (next < jobs.length) {
      const i = next++
      out[i] = await jobs[i]!()
    }
  }))
  return out
}

const refusals = Object.keys(scenarios).filter((id) => id !== "ok" && id !== "refresh-refused").concat("bad-client")

describe("secret canaries through the CLI", () => {
  it(
    `login refused by ${refusals.length} kinds of hostile server, plain and with --json --verbose --log-level all: no secret in stdout, stderr or files`,
    {
      timeout: 180_000
    },
    async () => {
      const outputs: Array<Output> = []
      const jobs = refusals.flatMap((clientId) =>
        variants.map(([name, root, flags]) => async () => {
          const dir = tempDir("devflow-canaries-")
          try {
            const run = await login(clientId, dir, root, flags)
            outputs.push(...outputsOf(`login (${clientId}) ${name}`, run), ...otherFiles(dir))
            return { clientId, name, run }
          } finally {
            fs.rmSync(dir, { recursive: true, force: true })
          }
        })
      )
      const runs = await pool(4, jobs)
      for (const { clientId, name, run } of runs) {
        expect(run.code, `${clientId} ${name}: ${run.stderr}`).not.toBe(0)
        expect(run.code, `${clientId} ${name}: ${run.stderr}`).not.toBe(1)
        expect(run.stderr).toMatch(/^devflow: /m)
        if (name === "plain") expect(run.stderr + run.stdout, `${clientId} ${name}`).not.toMatch(STACK)
        // the verbose runs did add the error's details: the search covered them
        else expect(run.stderr, `${clientId} ${name}`).toMatch(/details:/)
      }
      expect([...new Set(refusals.flatMap((id) => leaksIn(outputs, id)))]).toEqual([])
    }
  )

  // Was a bug: with the debug log level, Effect's "Fiber terminated with an unhandled error" reached stdout through
  // runMain's pretty logger, with a stack trace. Fixed in src/main.ts (both default loggers replaced by the one-line
  // stderr logger; the runtime's unhandled-error log turned off, CliError.report reports failures).
  it(
    "--log-level all: no stack trace and nothing but JSON Lines on stdout under --json",
    { timeout: 60_000 },
    async () => {
      const dir = tempDir("devflow-canaries-")
      try {
        const run = await login("bad-client", dir, ["--log-level", "all"], ["--json"])
        expect(run.stdout + run.stderr).not.toMatch(STACK)
        for (const line of run.stdout.trim().split("\n")) expect(() => JSON.parse(line), line).not.toThrow()
      } finally {
        fs.rmSync(dir, { recursive: true, force: true })
      }
    }
  )

  it(
    "login, token (every format), accounts, logout: the token only on token's stdout",
    { timeout: 180_000 },
    async () => {
      const dir = tempDir("devflow-canaries-")
      try {
        const outputs: Array<Output> = []
        for (const [name, root, flags] of variants) {
          const run = await login("ok", dir, root, flags)
          expect(run.code, run.stderr).toBe(0)
          outputs.push(...outputsOf(`login ${name}`, run))
        }
        const env = { env: { DEVFLOW_CLIENT_SECRET: C.clientSecret } }
        const tokenRuns: ReadonlyArray<ReadonlyArray<string>> = [
          ["token"],
          ["token", "--format", "json"],
          ["token", "--format", "header"],
          ["token", "--format", "k8s"],
          ["token", "--json", "--verbose"],
          ["--log-level", "all", "token", "--verbose"]
        ]
        for (const args of tokenRuns) {
          const run = await devflow([...args, "--cache-dir", dir], env)
          expect(run.code, run.stderr).toBe(0)
          // the one place a token is printed
          expect(run.stdout).toContain(C.accessToken)
          outputs.push(...outputsOf(args.join(" "), run, { tokenStdout: true }))
        }
        for (const args of [["accounts"], ["accounts", "--json", "--verbose"], ["logout", "--verbose"]]) {
          const run = await devflow([...args, "--cache-dir", dir], env)
          expect(run.code, run.stderr).toBe(0)
          outputs.push(...outputsOf(args.join(" "), run))
        }
        // signed out: token fails, and says so without a secret
        const after = await devflow(["token", "--cache-dir", dir, "--verbose"], env)
        expect(after.code).toBe(7)
        outputs.push(...outputsOf("token after logout", after))
        outputs.push(...otherFiles(dir))
        expect(leaksIn(outputs, "ok")).toEqual([])
      } finally {
        fs.rmSync(dir, { recursive: true, force: true })
      }
    }
  )

  it("a refresh the server refuses, echoing the refresh token and the client secret: token exits 7, nothing leaks", {
    timeout: 120_000
  }, async () => {
    const dir = tempDir("devflow-canaries-")
    try {
      const env = { env: { DEVFLOW_CLIENT_SECRET: C.clientSecret } }
      const signedIn = await login("refresh-refused", dir, [], [])
      expect(signedIn.code, signedIn.stderr).toBe(0)
      const outputs: Array<Output> = [...outputsOf("login", signedIn)]
      const first = await devflow(["--log-level", "all", "token", "--cache-dir", dir, "--json", "--verbose"], env)
      expect(first.code, first.stderr).toBe(7)
      expect(first.stderr).toMatch(/invalid_grant/)
      outputs.push(...outputsOf("token (refused)", first))
      // the dead refresh token was forgotten: no second attempt, the same exit code
      const second = await devflow(["token", "--cache-dir", dir], env)
      expect(second.code, second.stderr).toBe(7)
      outputs.push(...outputsOf("token (again)", second))
      outputs.push(...otherFiles(dir))
      expect(leaksIn(outputs, "refresh-refused")).toEqual([])
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe.skipIf(!SecretService.available())("secret canaries with the OS keychain (GNOME Keyring over D-Bus)", () => {
  let service: SecretService.SecretService
  beforeAll(async () => {
    service = await SecretService.start()
  }, 30_000)
  afterAll(() => service?.stop())

  it(
    "login, token (refreshing), accounts, logout: no secret in any output; the refresh token and client secret in no file and no item name",
    {
      timeout: 120_000
    },
    async () => {
      const dir = tempDir("devflow-canaries-keychain-")
      try {
        const env = { DEVFLOW_CLIENT_SECRET: C.clientSecret, DBUS_SESSION_BUS_ADDRESS: service.address }
        const outputs: Array<Output> = []
        for (const [name, root, flags] of variants) {
          const run = await login("ok", dir, root, flags, { DBUS_SESSION_BUS_ADDRESS: service.address })
          expect(run.code, run.stderr).toBe(0)
          outputs.push(...outputsOf(`login ${name}`, run))
        }
        const items = await service.items()
        expect(items.map((i) => i.secret).sort()).toEqual([C.clientSecret, C.refreshToken].sort())
        // every file, the token cache included: the long-lived secrets are not there
        const files = fs.readdirSync(dir).map((name) => ({
          what: `file ${name}`,
          text: fs.readFileSync(path.join(dir, name), "utf8")
        }))
        const longLived = files.flatMap(({ text, what }) =>
          [C.refreshToken, C.clientSecret].filter((secret) => text.includes(secret)).map((secret) =>
            `${secret} in ${what}`
          )
        )
        expect(longLived).toEqual([])
        outputs.push(...items.map((i) => ({ what: `keychain item name ${i.account}`, text: i.account })))
        for (const args of [["token", "--json", "--verbose"], ["--log-level", "all", "token", "--verbose"]]) {
          // every `token` refreshes (expires_in 60): the refresh token comes from the keychain
          const run = await devflow([...args, "--cache-dir", dir], { env })
          expect(run.code, run.stderr).toBe(0)
          expect(run.stdout).toContain(C.accessToken)
          outputs.push(...outputsOf(args.join(" "), run, { tokenStdout: true }))
        }
        for (const args of [["accounts", "--json", "--verbose"], ["--log-level", "all", "logout", "--verbose"]]) {
          const run = await devflow([...args, "--cache-dir", dir], { env })
          expect(run.code, run.stderr).toBe(0)
          outputs.push(...outputsOf(args.join(" "), run))
        }
        expect(await service.items()).toEqual([])
        outputs.push(...otherFiles(dir))
        expect(leaksIn(outputs, "ok")).toEqual([])
      } finally {
        fs.rmSync(dir, { recursive: true, force: true })
      }
    }
  )
})
