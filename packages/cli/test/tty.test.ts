import { type DevServer, startDevServer } from "@devflow/dev-server"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest"
import { cleanEnv, tempDir } from "./helpers.js"

// util-linux `script` runs the CLI on a pseudo-terminal: stdout and stderr are a TTY.
const hasScript = fs.existsSync("/usr/bin/script")

let server: DevServer
const caches: Array<string> = []
beforeAll(async () => {
  server = await startDevServer({ pollIntervalSeconds: 1 })
})
afterAll(async () => {
  await server.close()
  for (const cache of caches) fs.rmSync(cache, { recursive: true, force: true })
})

const quote = (s: string) => `'${s.replace(/'/g, "'\\''")}'`

/** Sign in on a pseudo-terminal, approving after `waitMs` so that the spinner turns a few times. */
const onTerminal = (env: Readonly<Record<string, string>>, waitMs: number) =>
  new Promise<{ code: number | null; output: string }>((resolve, reject) => {
    const cache = tempDir()
    caches.push(cache)
    const command = [
      process.execPath,
      inject("devflowBin"),
      "login",
      "--issuer",
      server.issuer,
      "--client-id",
      "devflow-demo",
      "--scope",
      "openid",
      "--cache-dir",
      cache
    ].map(quote).join(" ")
    const child = spawn("script", ["-qfec", `stty cols 100 rows 40; ${command}`, "/dev/null"], {
      env: cleanEnv(env),
      stdio: ["pipe", "pipe", "pipe"]
    })
    let output = ""
    let approving = false
    const timer = setTimeout(() => {
      child.kill("SIGKILL")
      reject(new Error(`timed out:\n${output}`))
    }, 30_000)
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      output += d
      // eslint-disable-next-line no-control-regex
      const code = /enter the code (?:\x1b\[[0-9;]*m)*([A-Z]{4}-[A-Z]{4})/.exec(output)?.[1]
      if (code !== undefined && !approving) {
        approving = true
        setTimeout(() => void server.approve(code, { accountId: "tty-user" }).catch(reject), waitMs)
      }
    })
    child.on("close", (code) => {
      clearTimeout(timer)
      resolve({ code, output })
    })
  })

describe.skipIf(!hasScript).concurrent("on a terminal (pseudo-terminal via script(1))", () => {
  it("draws the QR code, a spinner with a live countdown, colour; clears the line when done", async () => {
    const { code, output } = await onTerminal({}, 1500)
    expect(code, output).toBe(0)
    expect(output).toMatch(/[▀▄█]{10,}/) // the QR code
    expect(output).toMatch(/[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] Waiting for approval — code expires in \d+:\d\d/)
    expect(output).toContain("\r\x1b[2K") // the spinner redraws its line
    expect(output).toContain("\x1b[1m") // bold code and URL
    expect(output).toMatch(/Signed in.* as .*tty-user/)
  })

  it("NO_COLOR: no colour, the spinner still turns", async () => {
    const { code, output } = await onTerminal({ NO_COLOR: "1" }, 400)
    expect(code, output).toBe(0)
    // eslint-disable-next-line no-control-regex
    expect(output).not.toMatch(/\x1b\[[0-9;]*m/)
    expect(output).toMatch(/code expires in \d+:\d\d/)
  })
})
