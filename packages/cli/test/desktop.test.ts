import { type DevServer, startDevServer } from "@devflow/dev-server"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Devflow, ESCAPE, tempDir } from "./helpers.js"

let server: DevServer
let work: string
beforeAll(async () => {
  server = await startDevServer({ pollIntervalSeconds: 1 })
  work = tempDir()
})
afterAll(async () => {
  await server.close()
  fs.rmSync(work, { recursive: true, force: true })
})

/**
 * Stand-ins for xdg-open and xclip that record what they were given. Each record is written
 * to a temporary name and renamed: a shell's `>` creates the file before anything is written
 * to it, and a reader that polls for the name alone could read it empty.
 */
const fakeTools = (dir: string) => {
  fs.mkdirSync(dir)
  fs.writeFileSync(path.join(dir, "xdg-open"), `#!/bin/sh\nprintf '%s' "$1" > "$FAKE_OUT/.opened" && mv "$FAKE_OUT/.opened" "$FAKE_OUT/opened"\n`, { mode: 0o755 })
  fs.writeFileSync(
    path.join(dir, "xclip"),
    `#!/bin/sh\necho "$@" > "$FAKE_OUT/xclip-args"\ncat > "$FAKE_OUT/.clipboard" && mv "$FAKE_OUT/.clipboard" "$FAKE_OUT/clipboard"\n`,
    { mode: 0o755 }
  )
}

/** The file's content once it exists, or the run's end with its output if that comes first. */
const waitForFile = (run: Devflow, file: string) => run.until(() => (fs.existsSync(file) ? fs.readFileSync(file, "utf8") : undefined))

const login = (cacheDir: string, env: Readonly<Record<string, string | undefined>>) =>
  new Devflow(
    ["login", "--issuer", server.issuer, "--client-id", "devflow-demo", "--scope", "openid", "--open", "--copy", "--json", "--no-qr", "--cache-dir", cacheDir],
    { env: { WAYLAND_DISPLAY: undefined, DISPLAY: undefined, ...env } }
  )

describe.skipIf(process.platform !== "linux").concurrent("--open and --copy", () => {
  it("open the verification page with xdg-open and put the code on the clipboard with xclip", async () => {
    const bin = path.join(work, "bin")
    const out = path.join(work, "out")
    fakeTools(bin)
    fs.mkdirSync(out)
    const run = login(path.join(work, "cache1"), { PATH: `${bin}${path.delimiter}${process.env.PATH}`, FAKE_OUT: out })
    const issued = await run.event("code_issued")
    expect(await waitForFile(run, path.join(out, "opened"))).toBe(issued.verification_uri_complete)
    expect(await waitForFile(run, path.join(out, "clipboard"))).toBe(issued.user_code)
    expect(fs.readFileSync(path.join(out, "xclip-args"), "utf8").trim()).toBe("-selection clipboard")
    await server.approve(issued.user_code)
    const done = await run.exit
    expect(done.code, done.stderr).toBe(0)
    expect(done.stderr).toMatch(/Opened the verification page/)
    expect(done.stderr).toMatch(/The code is on the clipboard/)
    expect(done.stderr).not.toMatch(ESCAPE) // no OSC 52 when stderr is not a terminal
  })

  it("are quietly skipped where there is no browser opener or clipboard tool", async () => {
    const empty = path.join(work, "empty")
    fs.mkdirSync(empty)
    const run = login(path.join(work, "cache2"), { PATH: empty })
    await server.approve(await run.userCode())
    const done = await run.exit
    expect(done.code, done.stderr).toBe(0)
    expect(done.stderr).not.toMatch(/Opened|clipboard|error/i)
  })
})
