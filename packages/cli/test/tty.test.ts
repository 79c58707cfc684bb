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

/** the spinner's line, each time it is drawn */
const SPINNER = /[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] Waiting for approval/g
/** Approve once the spinner has been drawn `frames` times: what the test needs to see, however slow the machine. */
const afterSpinner = (frames: number) => (output: string) => (output.match(SPINNER)?.length ?? 0) >= frames

/** Sign in on a pseudo-terminal, approving as soon as `ready` holds for what the terminal shows. */
const onTerminal = (env: Readonly<Record<string, string>>, ready: (output: string) => boolean) =>
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
      if (code !== undefined && !approving && ready(output)) {
        approving = true
        server.approve(code, { accountId: "tty-user" }).catch(reject)
      }
    })
    child.on("close", (code) => {
      clearTimeout(timer)
      resolve({ code, output })
    })
  })

describe.skipIf(!hasScript).concurrent("on a terminal (pseudo-terminal via script(1))", () => {
  it("draws the QR code, a spinner with a live countdown, colour; clears the line when done", async () => {
    const { code, output } = await onTerminal({}, afterSpinner(3))
    expect(code, output).toBe(0)
    // the QR code: rows of blocks and spaces (a row need not hold ten blocks in a row: it depends on the code)
    expect(output).toMatch(/[▀▄█][ ▀▄█]{20,}/)
    expect(output).toMatch(/[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] Waiting for approval — code expires in \d+:\d\d/)
    expect(output).toContain("\r\x1b[2K") // the spinner redraws its line
    expect(output).toContain("\x1b[1m") // bold code and URL
    expect(output).toMatch(/Signed in.* as .*tty-user/)
  })

  it("NO_COLOR: no colour, the spinner still turns", async () => {
    const { code, output } = await onTerminal({ NO_COLOR: "1" }, afterSpinner(2))
    expect(code, output).toBe(0)
    // eslint-disable-next-line no-control-regex
    expect(output).not.toMatch(/\x1b\[[0-9;]*m/)
    expect(output).toMatch(/code expires in \d+:\d\d/)
  })

  it("the QR code in fixed black-on-white colours; times for people in local time", async () => {
    const { code, output } = await onTerminal({ TZ: "Asia/Tokyo" }, afterSpinner(1))
    expect(code, output).toBe(0)
    // the 256-colour cube's black on white, which themes do not remap: the same code on light and dark themes
    // eslint-disable-next-line no-control-regex
    expect(output).toMatch(/\x1b\[38;5;16;48;5;231m[ ▀▄█]{20,}\x1b\[39;49m/)
    // a time on another day than today in Tokyo (e.g. an hour after 14:00 UTC) carries its date
    expect(output).toMatch(/The code expires at (?:\d{4}-\d\d-\d\d )?\d\d:\d\d:\d\d GMT\+9\./)
    expect(output).toMatch(/the access token is valid until (?:\d{4}-\d\d-\d\d )?\d\d:\d\d:\d\d GMT\+9/)
    expect(output).not.toMatch(/\d{4}-\d\d-\d\dT\d\d:\d\d/)
  })

  it("without colour, the QR code follows the background COLORFGBG names: dark modules as blocks on a light one", async () => {
    const qrOf = (output: string) => {
      const lines = output.replace(/\r/g, "").split("\n")
      const start = lines.findIndex((l) => l.includes("Or scan this")) + 2
      return lines.slice(start, start + 4).map((l) => l.slice(2))
    }
    const [light, dark] = await Promise.all([
      onTerminal({ NO_COLOR: "1", COLORFGBG: "0;15" }, afterSpinner(1)),
      onTerminal({ NO_COLOR: "1", COLORFGBG: "15;0" }, afterSpinner(1))
    ])
    // the quiet zone (4 modules = 2 rows) is background: blank on a light terminal, blocks (light text) on a dark one
    expect(qrOf(light.output).slice(0, 2)).toEqual([
      expect.stringMatching(/^ {29,}$/),
      expect.stringMatching(/^ {29,}$/)
    ])
    expect(qrOf(dark.output).slice(0, 2)).toEqual([
      expect.stringMatching(/^█{29,}$/),
      expect.stringMatching(/^█{29,}$/)
    ])
    // the finder pattern's dark top edge starts after the 4-module quiet zone
    expect(qrOf(light.output)[2]).toMatch(/^ {4}[▀█]{7}/)
  })
})
