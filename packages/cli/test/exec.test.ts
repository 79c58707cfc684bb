import { type DevServer, startDevServer } from "@devflow/dev-server"
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest"
import * as FastExec from "../src/internal/fastExec.js"
import {
  cachedSecrets,
  cleanEnv,
  Devflow,
  devflow,
  HAS_SCRIPT,
  onTerminal,
  shQuote,
  signIn,
  STACK,
  tempDir
} from "./helpers.js"

let server: DevServer
let cache: string
let work: string

/** A node script as the command devflow runs; what it prints goes to devflow's stdout (inherited). */
const script = (name: string, source: string): string => {
  const file = path.join(work, `${name}.mjs`)
  fs.writeFileSync(file, source)
  return file
}

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex")

beforeAll(async () => {
  server = await startDevServer({ pollIntervalSeconds: 1 })
  cache = tempDir()
  work = tempDir("devflow-exec-test-")
  await signIn(server, cache)
}, 60_000)
afterAll(async () => {
  await server.close()
  fs.rmSync(cache, { recursive: true, force: true })
  fs.rmSync(work, { recursive: true, force: true })
})

/** The access token devflow keeps (the child's must be one the server accepts). */
const accessToken = () => {
  const file = JSON.parse(fs.readFileSync(path.join(cache, "tokens.json"), "utf8"))
  return file.accessTokens[0].secret as string
}

describe("devflow exec -- <command>", () => {
  it("runs the command with a valid access token in DEVFLOW_ACCESS_TOKEN; the token is in no argv and in none of devflow's output", async () => {
    // the child proves the token is real (the server's userinfo accepts it) and reports only its hash
    const child = script(
      "whoami",
      `const token = process.env.DEVFLOW_ACCESS_TOKEN
const res = await fetch(process.argv[2] + "/me", { headers: { authorization: "Bearer " + token } })
console.log(JSON.stringify({ status: res.status, sub: (await res.json()).sub, sha: (await import("node:crypto")).createHash("sha256").update(token).digest("hex"), argv: process.argv.slice(2) }))`
    )
    const run = await devflow(["exec", "--cache-dir", cache, "--", process.execPath, child, server.issuer])
    expect(run.code, run.stderr).toBe(0)
    const seen = JSON.parse(run.stdout)
    expect(seen).toMatchObject({ status: 200, sub: "alice", sha: sha256(accessToken()), argv: [server.issuer] })
    for (const secret of cachedSecrets(cache)) {
      expect(run.stdout).not.toContain(secret)
      expect(run.stderr).not.toContain(secret)
    }
    expect(run.stderr).toBe("")
  })

  it("with a valid cached token (and no --header-file) the fast path runs the command, without loading Effect: same status, same variable", async () => {
    // in this process: the lean module alone runs it
    const status = await FastExec.run([
      "--cache-dir",
      cache,
      "--",
      process.execPath,
      "-e",
      "process.exit(process.env.DEVFLOW_ACCESS_TOKEN ? 5 : 1)"
    ], cleanEnv())
    expect(status).toBe(5)
    expect(await FastExec.run(["--header-file", path.join(work, "h"), "--cache-dir", cache, "--", "true"], cleanEnv()))
      .toBeUndefined()
    expect(await FastExec.run(["--cache-dir", cache, "--", "true"], cleanEnv({ DEVFLOW_FAST_PATH: "0" })))
      .toBeUndefined()
    const child = script("status", `console.log(process.env.DEVFLOW_ACCESS_TOKEN.length > 0); process.exit(9)`)
    const [fast, full] = await Promise.all([
      devflow(["exec", "--cache-dir", cache, "--", process.execPath, child]),
      devflow(["exec", "--cache-dir", cache, "--", process.execPath, child], { env: { DEVFLOW_FAST_PATH: "0" } })
    ])
    expect(fast).toMatchObject({ code: 9, stdout: "true\n", stderr: "" })
    expect(full).toMatchObject({ code: 9, stdout: "true\n", stderr: "" })
  })

  it("--env NAME names the variable; a name that is no variable name is a usage error (exit 2) and nothing runs", async () => {
    const child = script(
      "env",
      `console.log(process.env.GITHUB_TOKEN === undefined ? "unset" : "set", process.env.DEVFLOW_ACCESS_TOKEN === undefined ? "unset" : "set")`
    )
    const run = await devflow(["exec", "--env", "GITHUB_TOKEN", "--cache-dir", cache, "--", process.execPath, child])
    expect(run.code, run.stderr).toBe(0)
    expect(run.stdout).toBe("set unset\n")

    const bad = await devflow(["exec", "--env", "1X=Y", "--cache-dir", cache, "--", process.execPath, child])
    expect(bad.code).toBe(2)
    expect(bad.stdout).toBe("")
    expect(bad.stderr).toMatch(/^devflow: --env "1X=Y" is not a variable name\n {2}hint: /)
  })

  it("--header-file writes `Authorization: Bearer <token>` to a new 0600 file for curl's -H @file, and removes it when the command ends", async () => {
    const header = path.join(work, "auth.h")
    // what curl -H @auth.h does: each line of the file is a header
    const child = script(
      "header",
      `import * as fs from "node:fs"
const file = process.argv[2]
const [name, value] = fs.readFileSync(file, "utf8").trimEnd().split(": ")
const res = await fetch(process.argv[3] + "/me", { headers: { [name]: value } })
console.log(JSON.stringify({ mode: (fs.statSync(file).mode & 0o777).toString(8), status: res.status, lines: fs.readFileSync(file, "utf8").split("\\n").length }))`
    )
    const run = await devflow([
      "exec",
      "--header-file",
      header,
      "--cache-dir",
      cache,
      "--",
      process.execPath,
      child,
      header,
      server.issuer
    ])
    expect(run.code, run.stderr).toBe(0)
    expect(JSON.parse(run.stdout)).toEqual({ mode: "600", status: 200, lines: 2 })
    expect(fs.existsSync(header)).toBe(false)
  })

  it("--header-file never overwrites a file: exit 2, the file untouched, nothing run", async () => {
    const header = path.join(work, "mine.h")
    fs.writeFileSync(header, "keep me\n")
    const marker = path.join(work, "ran")
    const child = script("marker", `import * as fs from "node:fs"; fs.writeFileSync(${JSON.stringify(marker)}, "")`)
    const run = await devflow(["exec", "--header-file", header, "--cache-dir", cache, "--", process.execPath, child])
    expect(run.code).toBe(2)
    expect(run.stderr).toMatch(/--header-file .*mine\.h already exists/)
    expect(fs.readFileSync(header, "utf8")).toBe("keep me\n")
    expect(fs.existsSync(marker)).toBe(false)
    // said first, before any sign-in is looked for
    const signedOut = await devflow([
      "exec",
      "--header-file",
      header,
      "--cache-dir",
      work,
      "--",
      process.execPath,
      child
    ])
    expect(signedOut.code).toBe(2)
    expect(signedOut.stderr).toMatch(/--header-file .*mine\.h already exists/)
  })

  it("passes the command's exit code through; a death by signal n is 128+n; a command not found is 127", async () => {
    const exit42 = await devflow(["exec", "--cache-dir", cache, "--", process.execPath, "-e", "process.exit(42)"])
    expect(exit42.code, exit42.stderr).toBe(42)
    expect(exit42.stderr).toBe("")

    const killed = await devflow([
      "exec",
      "--cache-dir",
      cache,
      "--",
      process.execPath,
      "-e",
      "process.kill(process.pid, 'SIGKILL')"
    ])
    expect(killed.code, killed.stderr).toBe(137)

    const missing = await devflow(["exec", "--cache-dir", cache, "--", path.join(work, "no-such-command")])
    expect(missing.code).toBe(127)
    expect(missing.stderr).toMatch(/^devflow: could not run ".*no-such-command": ENOENT\n$/)
    expect(missing.stderr).not.toMatch(STACK)
  })

  it("arguments after -- are the command's, flags and empty ones included", async () => {
    const child = script("argv", "console.log(JSON.stringify(process.argv.slice(2)))")
    const run = await devflow(["exec", "--cache-dir", cache, "--", process.execPath, child, "--help", "", "--scope"])
    expect(run.code, run.stderr).toBe(0)
    expect(JSON.parse(run.stdout)).toEqual(["--help", "", "--scope"])
  })

  for (const [signal, number] of [["SIGTERM", 15], ["SIGINT", 2]] as const) {
    it(`forwards ${signal} to the command and exits as it does (a handler: its code; none: 128+${number})`, async () => {
      const handles = script(
        `handles-${signal}`,
        `process.on(${
          JSON.stringify(signal)
        }, () => { console.log("got ${signal}"); process.exit(3) }); console.log("ready"); setInterval(() => {}, 1000)`
      )
      const withHandler = new Devflow(["exec", "--cache-dir", cache, "--", process.execPath, handles])
      await withHandler.until((self) => (self.stdout.includes("ready") ? true : undefined))
      withHandler.child.kill(signal)
      const handled = await withHandler.exit
      expect(handled.stdout).toBe(`ready\ngot ${signal}\n`)
      expect(handled.code, handled.stderr).toBe(3)
      expect(handled.stderr).toBe("")

      const plain = script(`plain-${signal}`, `console.log("ready"); setInterval(() => {}, 1000)`)
      const withoutHandler = new Devflow(["exec", "--cache-dir", cache, "--", process.execPath, plain])
      await withoutHandler.until((self) => (self.stdout.includes("ready") ? true : undefined))
      withoutHandler.child.kill(signal)
      const ended = await withoutHandler.exit
      expect(ended.code, ended.stderr).toBe(128 + number)
      expect(ended.stderr).toBe("")
    })
  }

  it("without a token and without a terminal (a CI job): exit 7 with one line and a hint, and the command does not run", async () => {
    const empty = tempDir()
    const marker = path.join(work, "ran-without-token")
    const child = script("marker2", `import * as fs from "node:fs"; fs.writeFileSync(${JSON.stringify(marker)}, "")`)
    try {
      // the profile is there, the tokens are not: as after `devflow logout`
      fs.copyFileSync(path.join(cache, "profiles.json"), path.join(empty, "profiles.json"))
      const run = await devflow(["exec", "--cache-dir", empty, "--", process.execPath, child])
      expect(run.code).toBe(7)
      expect(run.stdout).toBe("")
      expect(run.stderr).toMatch(
        /^devflow: .*\n {2}hint: Run `[^`]*devflow(?:\.mjs)? login` \(or `[^`]*devflow(?:\.mjs)? token --login`\) to sign in\.\n$/
      )
      expect(fs.existsSync(marker)).toBe(false)
    } finally {
      fs.rmSync(empty, { recursive: true, force: true })
    }
  })

  it.runIf(HAS_SCRIPT)(
    "on a terminal without a token: the device sign-in runs first, then the command, with the new token",
    async () => {
      const empty = tempDir()
      try {
        fs.copyFileSync(path.join(cache, "profiles.json"), path.join(empty, "profiles.json"))
        const child = script(
          "after-sign-in",
          `console.log("token:", process.env.DEVFLOW_ACCESS_TOKEN === undefined ? "none" : "set")`
        )
        const run = onTerminal(
          [
            process.execPath,
            inject("devflowBin"),
            "exec",
            "--no-qr",
            "--cache-dir",
            empty,
            "--",
            process.execPath,
            child
          ].map(shQuote).join(" "),
          { cwd: work, env: cleanEnv() }
        )
        await server.approve(await run.userCode(), { accountId: "alice" })
        const done = await run.exit
        expect(done.code, done.stdout).toBe(0)
        expect(done.stdout).toMatch(/Signed in\S* as \S*http:\/\/127.0.0.1:\d+#alice[\s\S]*token: set/)
        for (const secret of cachedSecrets(empty)) expect(done.stdout).not.toContain(secret)
      } finally {
        fs.rmSync(empty, { recursive: true, force: true })
      }
    }
  )

  it("--help: the usage and the variable", async () => {
    const run = await devflow(["exec", "--help"])
    expect(run.code).toBe(0)
    expect(run.stdout).toMatch(/\$ devflow exec \[--env <name>\] \[--header-file <path>\] \[options\]/)
    expect(run.stdout).toMatch(/DEVFLOW_ACCESS_TOKEN/)
  })

  it("with no command: a usage error (exit 2)", async () => {
    const run = await devflow(["exec", "--cache-dir", cache])
    expect(run.code).toBe(2)
    expect(run.stderr).toMatch(/^devflow: No command to run\n {2}hint: Give it after `--`/)
  })
})
