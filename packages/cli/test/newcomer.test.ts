/**
 * The small things a newcomer trips on: each mistake answers with one line
 * that names the likely fix, and the short forms people try work.
 */
import { describe, expect, it } from "vitest"
import * as Invocation from "../src/internal/invocation.js"
import { asRun, devflow, STACK } from "./helpers.js"

describe.concurrent("did you mean", () => {
  it("a mistyped command names the command: logni → login (exit 2)", async () => {
    const run = await devflow(["logni"])
    expect(run.code).toBe(2)
    expect(run.stderr).toMatch(/^devflow: Unknown command 'logni': did you mean 'login'\?/)
  })

  it("a mistyped flag names the flag: --clientid → --client-id (exit 2)", async () => {
    const run = await devflow(["login", "--issuer", "http://127.0.0.1:1", "--clientid", "x"])
    expect(run.code).toBe(2)
    expect(run.stderr).toMatch(/^devflow: Unknown flag --clientid: did you mean --client-id\?/)
  })

  it("a flag with no likely meaning keeps the parser's own message", async () => {
    const run = await devflow(["login", "--bogus"])
    expect(run.code).toBe(2)
    expect(run.stderr).toMatch(/unknown argument: '--bogus'/)
  })

  it("a provider spelled in another case names the preset: --provider Entra → entra (exit 2)", async () => {
    const run = await devflow(["login", "--provider", "Entra", "--client-id", "x"])
    expect(run.code).toBe(2)
    expect(run.stderr).toMatch(/"Entra" is not one of: entra, .*; did you mean entra\?/)
  })
})

describe.concurrent("short forms and one preset", () => {
  it("-v and --version print one line: the version", async () => {
    for (const flag of ["-v", "--version"]) {
      const run = await devflow([flag])
      expect(run.code).toBe(0)
      expect(run.stdout).toMatch(/^\d+\.\d+\.\d+\n$/)
    }
  })

  it("devflow providers entra shows the entra preset only; an unknown id is a usage error with a guess", async () => {
    const one = await devflow(["providers", "entra"])
    expect(one.code).toBe(0)
    expect(one.stdout).toMatch(/^entra — Microsoft Entra ID/)
    expect(one.stdout).not.toMatch(/^github/m)
    const json = await devflow(["providers", "entra", "--json"])
    expect(json.stdout.trim().split("\n").map((line) => JSON.parse(line).id)).toEqual(["entra"])
    const wrong = await devflow(["providers", "entrra"])
    expect(wrong.code).toBe(2)
    expect(wrong.stderr).toMatch(/^devflow: Unknown provider "entrra": did you mean entra\?/)
  })

  it("token --help lists its own flags first and names the sign-in flags in one line, not described again", async () => {
    const run = await devflow(["token", "--help"])
    expect(run.code).toBe(0)
    const sections = [...run.stdout.matchAll(/^([A-Z][\w -]+):$/gm)].map((m) => m[1])
    expect(sections.slice(0, 3)).toEqual(["Usage", "Examples", "Options"])
    expect(sections).toContain("Sign-in flags")
    expect(run.stdout).toMatch(/Also accepted, meaning the same as for `devflow login`/)
    // described in login's help, named here once
    expect(run.stdout).not.toMatch(/^ {2}--tenant </m)
    expect(run.stdout).toMatch(/--tenant,/)
    expect(run.stdout.split("\n").length).toBeLessThan(60)
  })
})

describe.concurrent("messages worded for a person", () => {
  it("--issuer 127.0.0.1:8628 suggests http://127.0.0.1:8628", async () => {
    const run = await devflow(["login", "--issuer", "127.0.0.1:8628", "--client-id", "x"])
    expect(run.code).toBe(2)
    expect(run.stderr).toMatch(/^ {2}hint: Did you mean http:\/\/127\.0\.0\.1:8628\?/m)
    expect(run.stderr).not.toMatch(STACK)
  })

  it("the alternative to a missing input is named as a flag: (or --issuer)", async () => {
    const run = await devflow(["login", "--provider", "generic", "--client-id", "x"])
    expect(run.code).toBe(2)
    expect(run.stderr).toMatch(
      /^devflow: --authority \(DEVFLOW_AUTHORITY\) \(or --issuer\) is required by the generic preset/
    )
  })

  it("a number that is not whole is refused like every other value: the flag, the range, the value", async () => {
    const run = await devflow(["demo", "--interval", "0.3"])
    expect(run.code).toBe(2)
    expect(run.stderr).toMatch(/^devflow: --interval must be a whole number from 1 to 600, got "0\.3"/)
    expect(run.stderr).not.toMatch(/is not a integer/)
  })
})

describe.concurrent("hints name the command as it was run", () => {
  it("the bundle run by path: node <path> login …", async () => {
    const run = await devflow(["token", "--cache-dir", "/nonexistent/devflow-hint-test"])
    expect(run.code).toBe(7)
    expect(run.stderr).toContain(`hint: Run \`${asRun()} login --provider <id>`)
    expect(run.stderr).toMatch(/^ {2}hint: Run `node \S*devflow\.mjs login/m)
  })

  it("as pnpm's script in a clone (pnpm -s devflow …), and as the installed binary (devflow …)", async () => {
    const pnpm = await devflow(["token", "--cache-dir", "/nonexistent/devflow-hint-test"], {
      env: { npm_lifecycle_event: "devflow" }
    })
    expect(pnpm.stderr).toContain("hint: Run `pnpm -s devflow login --provider <id>")
    expect(Invocation.of({}, "/usr/local/bin/devflow", "/home/me").devflow).toBe("devflow")
    expect(Invocation.of({}, "/home/me/devflow/packages/cli/dist/devflow.mjs", "/home/me/devflow").devflow)
      .toBe("node packages/cli/dist/devflow.mjs")
    expect(Invocation.of({ npm_lifecycle_event: "start" }, "/x/devflow.mjs", "/x")).toEqual({
      devflow: "pnpm -s devflow",
      demo: "pnpm start"
    })
  })
})
