import { type DevServer, startDevServer } from "@devflow/dev-server"
import * as fs from "node:fs"
import * as net from "node:net"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { asRun, Devflow, devflow, ESCAPE, literally, type Run, STACK, tempDir } from "./helpers.js"

let server: DevServer
let cache: string

beforeAll(async () => {
  server = await startDevServer({ pollIntervalSeconds: 1 })
  cache = tempDir()
})
afterAll(async () => {
  await server.close()
  fs.rmSync(cache, { recursive: true, force: true })
})

/** One line saying what happened, at most one hint line, no stack trace, no escape codes. */
const expectOneLine = (run: Run) => {
  const lines = run.stderr.trimEnd().split("\n")
  expect(lines[0]).toMatch(/^devflow: /)
  expect(lines.length, run.stderr).toBeLessThanOrEqual(2)
  if (lines.length === 2) expect(lines[1]).toMatch(/^ {2}hint: /)
  expect(run.stderr + run.stdout).not.toMatch(STACK)
  expect(run.stderr + run.stdout).not.toMatch(ESCAPE)
}

const closedPort = () =>
  new Promise<number>((resolve) => {
    const s = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address() as net.AddressInfo
      s.close(() => resolve(port))
    })
  })

const generic = (
  issuer: string,
  dir = cache
) => ["login", "--issuer", issuer, "--client-id", "devflow-demo", "--cache-dir", dir]

describe.concurrent("one exit code per outcome", () => {
  it("denied at the verification page → 3, and a JSON error event last", async () => {
    const run = new Devflow([...generic(server.issuer), "--json"])
    await server.approve(await run.userCode(), { deny: true })
    const done = await run.exit
    expect(done.code).toBe(3)
    expect(done.stderr).toMatch(/^devflow: Sign-in was declined: access_denied/m)
    expect(JSON.parse(done.stdout.trim().split("\n").at(-1)!)).toMatchObject({
      event: "error",
      error: "AccessDenied",
      exit_code: 3
    })
    expect(
      fs.existsSync(path.join(cache, "tokens.json"))
        ? JSON.parse(fs.readFileSync(path.join(cache, "tokens.json"), "utf8")).accessTokens
        : []
    ).toEqual([])
  })

  it("the code expires before approval → 4", async () => {
    const short = await startDevServer({ pollIntervalSeconds: 1, deviceCodeTtlSeconds: 2 })
    try {
      const run = await devflow(generic(short.issuer))
      expect(run.code).toBe(4)
      expect(run.stderr).toMatch(/devflow: Sign-in was not completed in time|expired/)
      // the client's own deadline or the server's expired_token, whichever comes first (a busy machine decides): both are exit 4
      expect(run.stderr).toMatch(
        new RegExp(`hint: (Run \`${literally(asRun())} login\` again|The server no longer accepts this code)`)
      )
    } finally {
      await short.close()
    }
  })

  it("connection refused → 5, one line and a hint", async () => {
    const run = await devflow(generic(`http://127.0.0.1:${await closedPort()}`))
    expect(run.code).toBe(5)
    expect(run.stderr).toMatch(/^devflow: Network failure talking to .*ECONNREFUSED/)
    expectOneLine(run)
  })

  it("the server refuses the client → 6 (server/protocol error)", async () => {
    const run = await devflow([
      "login",
      "--issuer",
      server.issuer,
      "--client-id",
      "no-such-client",
      "--cache-dir",
      cache
    ])
    expect(run.code).toBe(6)
    expect(run.stderr).toMatch(/invalid_client/)
    expectOneLine(run)
  })

  it("--verbose adds the error's details and keeps one line per item, still no stack trace", async () => {
    const run = await devflow([
      "login",
      "--issuer",
      server.issuer,
      "--client-id",
      "no-such-client",
      "--verbose",
      "--cache-dir",
      cache
    ])
    expect(run.code).toBe(6)
    expect(run.stderr).toMatch(/details: \{.*"error":"invalid_client"/)
    expect(run.stderr).not.toMatch(STACK)
  })
})

describe.concurrent("usage errors → 2, one line", () => {
  const cases: ReadonlyArray<readonly [string, ReadonlyArray<string>, Readonly<Record<string, string>>?]> = [
    ["an unknown flag", ["login", "--bogus"]],
    ["an unknown command", ["lgoin"]],
    ["a provider that does not exist", ["login", "--provider", "nope", "--client-id", "x"]],
    ["a preset without its required input", ["login", "--provider", "github"]],
    ["server flags without --provider or --issuer", ["login", "--client-id", "x"]],
    ["a flag the preset does not use", ["login", "--provider", "github", "--client-id", "x", "--tenant", "t"]],
    ["--json against --format", ["token", "--json", "--format", "raw"]],
    ["a malformed environment value", ["token"], { DEVFLOW_FORMAT: "yaml" }],
    ["an account and --all", ["logout", "someone", "--all"]],
    ["a bad profile name", ["token", "--profile", "../etc"]],
    ["nothing to sign in to (no flags, no profile)", ["login"]]
  ]
  for (const [what, args, env] of cases) {
    it(what, async () => {
      const dir = tempDir()
      try {
        const run = await devflow([...args, "--cache-dir", dir], { env: env ?? {} })
        expect(run.code, run.stderr).toBe(2)
        if (!args.includes("--json")) expect(run.stdout).toBe("")
        expectOneLine(run)
      } finally {
        fs.rmSync(dir, { recursive: true, force: true })
      }
    })
  }

  it("--json: the usage error is also the last JSON line", async () => {
    const run = await devflow(["token", "--json", "--bogus"])
    expect(run.code).toBe(2)
    expect(JSON.parse(run.stdout)).toMatchObject({ event: "error", exit_code: 2 })
  })
})

describe("providers, help", () => {
  it("providers --json: every preset and the flags it needs", async () => {
    const run = await devflow(["providers", "--json"])
    expect(run.code).toBe(0)
    const presets = run.stdout.trim().split("\n").map((l) => JSON.parse(l))
    expect(presets.map((p) => p.id)).toEqual([
      "entra",
      "entra-v1",
      "github",
      "google",
      "okta",
      "auth0",
      "keycloak",
      "aws-sso",
      "generic"
    ])
    expect(presets.find((p) => p.id === "google")).toMatchObject({ requires: ["--client-id", "--client-secret"] })
    expect(presets.find((p) => p.id === "aws-sso")).toMatchObject({
      requires: ["--client-id", "--region or --authority", "--start-url"]
    })
    expect(presets.find((p) => p.id === "generic")).toMatchObject({
      requires: ["--client-id", "--authority or --issuer"],
      discovery: true
    })
  })

  it("providers (for people), --help and --version: no escape codes when not a terminal", async () => {
    const [providers, help, loginHelp, version] = await Promise.all([
      devflow(["providers"]),
      devflow(["--help"]),
      devflow(["login", "--help"]),
      devflow(["--version"])
    ])
    for (const run of [providers, help, loginHelp, version]) {
      expect(run.code).toBe(0)
      expect(run.stdout).not.toMatch(ESCAPE)
    }
    expect(providers.stdout).toMatch(/^entra — Microsoft Entra ID/m)
    expect(help.stdout).toMatch(/^ {2}token +Print an access token/m)
    expect(loginHelp.stdout).toMatch(/DEVFLOW_CLIENT_SECRET/)
    // the version is package.json's (scripts/version.mjs writes it into the source)
    const { version: published } = JSON.parse(fs.readFileSync(new URL("../package.json", import.meta.url), "utf8")) as {
      version: string
    }
    expect(version.stdout.trim()).toBe(published)
  })
})
