/**
 * Every CLI flag (and its DEVFLOW_* variable) with bad values: malformed
 * URLs, http to remote hosts, empty or control-character client ids, unknown
 * providers and formats, scopes with spaces or control characters, malformed
 * tenants, regions and start URLs, out-of-range numbers, a cache directory
 * that is a file or read-only. Each is refused before any request, with the
 * right exit code and one line naming the flag or field (plus at most one
 * hint line) on stderr — never a stack trace, never "internal error".
 *
 * (test/outcomes.test.ts covers unknown flags and commands, a missing preset
 * input, an unused flag, --json against --format, a bad profile name.)
 */
import { json, startFaultServer } from "@devflow/dev-server/faults"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest"
import { cleanEnv, devflow, type Run, tempDir } from "./helpers.js"

/** a stack frame line, as Node prints them */
const STACK = /^\s+at .*(:\d+:\d+\)?|\(native\))$/m

let dir: string
beforeAll(() => {
  dir = tempDir("devflow-validation-")
})
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

/** The error line and at most one hint, nothing else; no stack, no internal error. */
const expectOneLine = (run: Run, names: ReadonlyArray<string>) => {
  const lines = run.stderr.trimEnd().split("\n")
  expect(lines[0], run.stderr).toMatch(/^devflow: /)
  expect(lines.length, run.stderr).toBeLessThanOrEqual(2)
  if (lines.length === 2) expect(lines[1]).toMatch(/^ {2}hint: /)
  expect(run.stderr, run.stderr).not.toMatch(/internal error/)
  expect(run.stderr + run.stdout).not.toMatch(STACK)
  // the message (or its hint) names the flag or the configuration field
  expect(names.some((name) => run.stderr.includes(name)), `${run.stderr} should name one of ${names.join(", ")}`).toBe(
    true
  )
}

type Case = readonly [
  what: string,
  args: ReadonlyArray<string>,
  names: ReadonlyArray<string>,
  env?: Readonly<Record<string, string>>,
  /** a known bug: the case's test fails (`it.fails`) until it is fixed */
  bug?: string
]

const issuerFlags = (issuer: string) => ["login", "--issuer", issuer, "--client-id", "devflow-cli"]

const usageCases: ReadonlyArray<Case> = [
  ["--issuer: not a URL", issuerFlags("not a url"), ["issuer"]],
  ["--issuer: no scheme", issuerFlags("idp.example/realms/x"), ["issuer"]],
  ["--issuer: http to a remote host", issuerFlags("http://idp.example"), ["issuer"]],
  ["--issuer: http to localhost.evil.example", issuerFlags("http://localhost.evil.example"), ["issuer"]],
  ["--issuer: ftp", issuerFlags("ftp://idp.example"), ["issuer"]],
  ["--issuer: credentials in the URL", issuerFlags("https://user:pass@idp.example"), ["issuer"]],
  ["--issuer: a query", issuerFlags("https://idp.example/?tenant=x"), ["issuer"]],
  ["--issuer: a space inside", issuerFlags("https://idp.example/realms/my realm"), ["issuer"]],
  ["--authority: http to a remote host (entra)", [
    "login",
    "--provider",
    "entra",
    "--tenant",
    "common",
    "--client-id",
    "x",
    "--authority",
    "http://login.example.com"
  ], ["authority"]],
  ["--authority: no scheme (entra)", [
    "login",
    "--provider",
    "entra",
    "--client-id",
    "x",
    "--authority",
    "login.microsoftonline.com/common"
  ], ["authority"]],
  ["--authority: http to a remote host (github)", [
    "login",
    "--provider",
    "github",
    "--client-id",
    "x",
    "--authority",
    "http://github.example"
  ], ["authority"]],
  ["--client-id: empty", ["login", "--provider", "github", "--client-id", ""], ["clientId", "--client-id"]],
  ["--client-id: blank", ["login", "--provider", "github", "--client-id", "   "], ["clientId", "--client-id"]],
  ["--client-id: a control character", ["login", "--provider", "github", "--client-id", "cli\u0007ent"], [
    "clientId",
    "--client-id"
  ]],
  ["--provider: unknown", ["login", "--provider", "gitlab", "--client-id", "x"], ["--provider", "gitlab"]],
  ["--provider: wrong case", ["login", "--provider", "GitHub", "--client-id", "x"], ["--provider", "GitHub"]],
  ["--scope: a space", ["login", "--provider", "github", "--client-id", "x", "--scope", "repo user"], ["scope"]],
  ["--scope: a control character", ["login", "--provider", "github", "--client-id", "x", "--scope", "repo\u001b[31m"], [
    "scope"
  ]],
  ["--scope: a quote", ["login", "--provider", "github", "--client-id", "x", "--scope", "a\"b"], ["scope"]],
  // @effect/cli drops empty arguments; the CLI refuses them (it once went ahead without the --scope)
  ["--scope: empty", [...issuerFlags("http://127.0.0.2:9"), "--scope", ""], ["scope"]],
  ["--tenant: a space (entra)", ["login", "--provider", "entra", "--client-id", "x", "--tenant", "contoso evil"], [
    "tenant"
  ]],
  ["--tenant: a URL (auth0)", ["login", "--provider", "auth0", "--client-id", "x", "--tenant", "evil.example/x"], [
    "tenant"
  ]],
  ["--region: not a region (aws-sso)", [
    "login",
    "--provider",
    "aws-sso",
    "--client-id",
    "x",
    "--region",
    "moon-1",
    "--start-url",
    "https://d-1.awsapps.com/start"
  ], ["region"]],
  ["--start-url: http to a remote host (aws-sso)", [
    "login",
    "--provider",
    "aws-sso",
    "--client-id",
    "x",
    "--region",
    "us-east-1",
    "--start-url",
    "http://d-1.awsapps.com/start"
  ], ["startUrl", "--start-url"]],
  ["--issuer with a path Keycloak does not have (keycloak)", [
    "login",
    "--provider",
    "keycloak",
    "--client-id",
    "x",
    "--issuer",
    "https://kc.example/auth"
  ], ["issuer"]],
  ["--format: unknown", ["token", "--format", "yaml"], ["--format", "yaml"]],
  ["--secret-store: unknown", ["accounts", "--secret-store", "vault"], ["--secret-store", "vault"]],
  ["DEVFLOW_SECRET_STORE: unknown (token)", ["token"], ["--secret-store", "DEVFLOW_SECRET_STORE"], {
    DEVFLOW_SECRET_STORE: "Keychain"
  }],
  ["--profile: empty", ["token", "--profile", ""], ["profile"]],
  ["DEVFLOW_ISSUER: http to a remote host", ["login", "--client-id", "x"], ["issuer", "DEVFLOW_ISSUER"], {
    DEVFLOW_ISSUER: "http://idp.example"
  }],
  ["DEVFLOW_CLIENT_ID: empty", ["login", "--provider", "github"], ["clientId", "--client-id", "DEVFLOW_CLIENT_ID"], {
    DEVFLOW_CLIENT_ID: ""
  }],
  ["DEVFLOW_SCOPE: a control character", ["login", "--provider", "github", "--client-id", "x"], [
    "scope",
    "DEVFLOW_SCOPE"
  ], { DEVFLOW_SCOPE: "repo \u0007" }],
  ["DEVFLOW_PROVIDER: unknown", ["login", "--client-id", "x"], ["provider", "DEVFLOW_PROVIDER"], {
    DEVFLOW_PROVIDER: "gitlab"
  }]
]

describe.concurrent("CLI flags with bad values → exit 2, one line naming the flag", () => {
  for (const [what, args, names, env, bug] of usageCases) {
    const test = bug === undefined ? it : it.fails
    test(what, async () => {
      const run = await devflow([...args, "--cache-dir", dir], { env: env ?? {} })
      expect(run.code, run.stderr).toBe(2)
      expect(run.stdout).toBe("")
      expectOneLine(run, names)
    })
  }

  it("--json: the same refusal is also the last JSON line", async () => {
    const run = await devflow([...issuerFlags("http://idp.example"), "--json", "--cache-dir", dir])
    expect(run.code).toBe(2)
    const last = JSON.parse(run.stdout.trim().split("\n").at(-1)!) as Record<string, unknown>
    expect(last).toMatchObject({ event: "error", exit_code: 2 })
    expect(String(last.message)).toMatch(/issuer/)
  })

  // `devflow demo` once passed --port and --interval to the dev server unchecked (an "internal error", exit 1).
  for (
    const [what, args, names] of [
      ["demo --interval 0", ["demo", "--interval", "0", "--no-qr"], ["interval"]],
      ["demo --port 70000", ["demo", "--port", "70000", "--no-qr"], ["port"]]
    ] as const
  ) {
    it(what, async () => {
      const run = await devflow(args)
      expect(run.code, run.stderr).toBe(2)
      expectOneLine(run, names)
    })
  }
})

/** An issuer that answers with tokens at once, so that a login reaches the point of saving them. */
const tokenServer = () =>
  startFaultServer({
    "/.well-known/openid-configuration": ({ origin }) =>
      json({
        issuer: origin,
        device_authorization_endpoint: `${origin}/device/auth`,
        token_endpoint: `${origin}/token`
      }),
    "/device/auth": ({ origin }) =>
      json({
        device_code: "dc-validation",
        user_code: "BCDF-GHJK",
        verification_uri: `${origin}/device`,
        expires_in: 60,
        interval: 1
      }),
    "/token": () => json({ access_token: "at-validation", token_type: "Bearer", expires_in: 3600 })
  })

describe("--cache-dir that cannot be used → one line naming it", () => {
  it("a file", async () => {
    const file = path.join(dir, "a-file")
    fs.writeFileSync(file, "not a directory")
    const run = await devflow([...issuerFlags("http://127.0.0.2:9"), "--cache-dir", file])
    expect(run.code, run.stderr).not.toBe(0)
    expectOneLine(run, [file])
  })

  it("under a file", async () => {
    const file = path.join(dir, "another-file")
    fs.writeFileSync(file, "not a directory")
    const run = await devflow([...issuerFlags("http://127.0.0.2:9"), "--cache-dir", path.join(file, "cache")])
    expect(run.code, run.stderr).not.toBe(0)
    expectOneLine(run, [file])
  })

  it("shared with other users (/tmp, sticky bit)", async () => {
    const run = await devflow([...issuerFlags("http://127.0.0.2:9"), "--cache-dir", os.tmpdir()])
    expect(run.code, run.stderr).not.toBe(0)
    expectOneLine(run, [os.tmpdir()])
  })

  it(
    "read-only: the sign-in succeeds, saving it fails with one line saying permission denied",
    { timeout: 60_000 },
    async () => {
      const server = await tokenServer()
      const base = fs.mkdtempSync(path.join(os.tmpdir(), "devflow-validation-ro-"))
      try {
        const readOnly = path.join(base, "cache")
        fs.mkdirSync(readOnly, { mode: 0o500 })
        const args = [...issuerFlags(server.origin), "--no-qr", "--cache-dir", readOnly]
        let run: Run
        if (process.getuid?.() !== 0) {
          run = await devflow(args)
        } else {
          // root writes anywhere: run the CLI as nobody, from a copy of the bundle it can read
          fs.chmodSync(base, 0o755)
          fs.chownSync(readOnly, 65534, 65534)
          const bundle = path.join(base, "bundle")
          fs.cpSync(path.dirname(inject("devflowBin")), bundle, { recursive: true })
          fs.chmodSync(bundle, 0o755)
          run = await new Promise<Run>((resolve) => {
            const started = Date.now()
            const child = spawn(process.execPath, [path.join(bundle, "devflow.mjs"), ...args], {
              env: cleanEnv({ HOME: base }),
              uid: 65534,
              gid: 65534,
              stdio: ["ignore", "pipe", "pipe"]
            })
            let stdout = ""
            let stderr = ""
            child.stdout!.setEncoding("utf8").on("data", (d: string) => (stdout += d))
            child.stderr!.setEncoding("utf8").on("data", (d: string) => (stderr += d))
            child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr, ms: Date.now() - started }))
          })
        }
        expect(run.code, run.stderr).not.toBe(0)
        // the prompt came first; the failure is the last line or two
        const failure = run.stderr.slice(run.stderr.indexOf("devflow: "))
        expectOneLine({ ...run, stderr: failure }, [readOnly])
        expect(failure).toMatch(/permission denied/)
        expect(fs.readdirSync(readOnly)).toEqual([])
      } finally {
        await server.close()
        fs.rmSync(base, { recursive: true, force: true })
      }
    }
  )
})
