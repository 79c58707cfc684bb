import { spawn } from "node:child_process"
import * as fs from "node:fs"
import { describe, expect, inject, it } from "vitest"
import { FLAGS, type FlagSpec, keysOf } from "../src/internal/flagTable.js"
import { cleanEnv, devflow, ESCAPE } from "./helpers.js"

// util-linux `script` runs the CLI on a pseudo-terminal of a chosen width.
const hasScript = fs.existsSync("/usr/bin/script")

const quote = (s: string) => `'${s.replace(/'/g, "'\\''")}'`

/** `devflow …args` on a pseudo-terminal `columns` wide; the output with escape codes removed. */
const onTerminal = (args: ReadonlyArray<string>, columns: number) =>
  new Promise<{ code: number | null; text: string; raw: string }>((resolve, reject) => {
    const command = [process.execPath, inject("devflowBin"), ...args].map(quote).join(" ")
    const child = spawn("script", ["-qfec", `stty cols ${columns} rows 50; ${command}`, "/dev/null"], {
      env: cleanEnv(),
      stdio: ["pipe", "pipe", "pipe"]
    })
    let raw = ""
    const timer = setTimeout(() => {
      child.kill("SIGKILL")
      reject(new Error(`timed out:\n${raw}`))
    }, 20_000)
    child.stdout.setEncoding("utf8").on("data", (d: string) => void (raw += d))
    child.on("close", (code) => {
      clearTimeout(timer)
      // eslint-disable-next-line no-control-regex
      resolve({ code, raw, text: raw.replace(/\x1b\[[0-9;]*m/g, "").replace(/\r/g, "") })
    })
  })

const longest = (text: string) => Math.max(...text.split("\n").map((l) => [...l].length))

describe("help that teaches", () => {
  it("devflow --help: short, every command on one line, where to start, no built-in noise", async () => {
    const run = await devflow(["--help"])
    expect(run.code).toBe(0)
    const lines = run.stdout.trimEnd().split("\n")
    expect(lines.length).toBeLessThanOrEqual(50)
    for (const command of ["login", "token", "accounts", "logout", "providers", "demo"]) {
      expect(run.stdout).toMatch(new RegExp(`^  ${command} +\\S`, "m"))
    }
    expect(run.stdout).toContain("$ devflow demo")
    expect(run.stdout).toContain("$ devflow login --help")
    // settings without a flag are named, once
    expect(run.stdout).toContain("DEVFLOW_HTTP_REQUEST_TIMEOUT")
    expect(run.stdout).toContain("HTTPS_PROXY")
    for (
      const noise of [
        "--wizard",
        "--log-level",
        "This setting is optional",
        "A user-defined piece of text",
        "A true or false value"
      ]
    ) {
      expect(run.stdout).not.toContain(noise)
    }
    // `devflow` alone and `devflow help` say the same
    const [bare, word] = await Promise.all([devflow([]), devflow(["help"])])
    expect(bare.stdout).toBe(run.stdout)
    expect(word.stdout).toBe(run.stdout)
  })

  it("login --help: `$ devflow login` usage, examples for Entra, GitHub, Google and any issuer, each variable once, the choices", async () => {
    const run = await devflow(["login", "--help"])
    expect(run.code).toBe(0)
    expect(run.stdout).not.toMatch(ESCAPE)
    const text = run.stdout
    expect(text).toMatch(/^ {2}\$ devflow login --provider <id> --client-id <id>/m)
    expect(text).not.toMatch(/^\s*\$ login/m)
    const examples = text.slice(text.indexOf("Examples:"), text.indexOf("Server and client:"))
    expect(examples).toContain("devflow login --provider entra --tenant")
    expect(examples).toContain("devflow login --provider github")
    expect(examples).toMatch(/DEVFLOW_CLIENT_SECRET=<secret> devflow login --provider google/)
    expect(examples).toContain("devflow login --issuer https://")
    // the examples come within the first 30 lines
    expect(text.split("\n").slice(0, 30).join("\n")).toContain("--provider github")
    const everywhere = new Set(keysOf("devflow"))
    for (const key of keysOf("login").filter((k) => !everywhere.has(k))) {
      const spec: FlagSpec = FLAGS[key]
      expect(text, spec.name).toMatch(new RegExp(`^  --${spec.name}\\b`, "m"))
      if (spec.env !== undefined) {
        expect(text.split(spec.env).length - 1, spec.env).toBe(spec.name === "client-secret" ? 2 : 1)
      }
    }
    expect(text.replace(/\s+/g, " ")).toContain(
      "One of: entra, entra-v1, github, google, okta, auth0, keycloak, aws-sso, generic."
    )
    expect(text).not.toContain("This option can be set from environment variables")
    expect(text.split("\n").length).toBeLessThanOrEqual(80)
  })

  it("token --help lists the --format choices; every command has its own help", async () => {
    const runs = await Promise.all(
      ["token", "accounts", "logout", "providers", "demo"].map((c) => devflow([c, "--help"]))
    )
    for (const run of runs) expect(run.code).toBe(0)
    expect(runs[0]!.stdout.replace(/\s+/g, " ")).toMatch(
      /--format <format> raw: [^[]*One of: raw, json, header, k8s\. \[env DEVFLOW_FORMAT\]/
    )
    expect(runs[2]!.stdout).toMatch(/^ {2}<account> +The account to sign out of/m)
    expect(runs[4]!.stdout).toMatch(/^ {2}--serve +Keep the demo server running/m)
  })

  describe.skipIf(!hasScript)("on a terminal (pseudo-terminal)", () => {
    it("wraps to the terminal's width, words whole; colour for headings", async () => {
      for (const columns of [60, 100]) {
        const { code, text, raw } = await onTerminal(["login", "--help"], columns)
        expect(code).toBe(0)
        expect(longest(text), text).toBeLessThan(columns)
        expect(raw).toContain("\x1b[1mExamples:")
        // a wrapped example still pastes: continued lines end in a backslash
        if (columns === 60) expect(text).toMatch(/\$ devflow login --provider .* \\\n {6}--/)
      }
      const root = await onTerminal(["--help"], 60)
      expect(longest(root.text), root.text).toBeLessThan(60)
    })
  })
})

describe("flags without their value", () => {
  it("--client-id at the end says it needs a value (not 'unknown argument')", async () => {
    const [last, beforeFlag] = await Promise.all([
      devflow(["login", "--issuer", "https://id.example.com", "--client-id"]),
      devflow(["login", "--client-id", "--issuer", "https://id.example.com"])
    ])
    for (const run of [last, beforeFlag]) {
      expect(run.code).toBe(2)
      expect(run.stderr).toContain("--client-id needs a value: --client-id <id> (or set DEVFLOW_CLIENT_ID)")
      expect(run.stderr).not.toContain("unknown argument")
    }
  })
})
