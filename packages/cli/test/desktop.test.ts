import { type DevServer, startDevServer } from "@devflow/dev-server"
import * as Effect from "effect/Effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as Desktop from "../src/Desktop.js"
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
 * to it, and a reader that polls for the name alone could read it empty. xdg-open then exits
 * with `openerExit`.
 */
const fakeTools = (dir: string, openerExit = 0) => {
  fs.mkdirSync(dir)
  fs.writeFileSync(
    path.join(dir, "xdg-open"),
    `#!/bin/sh\nprintf '%s' "$1" > "$FAKE_OUT/.opened" && mv "$FAKE_OUT/.opened" "$FAKE_OUT/opened"\nexit ${openerExit}\n`,
    { mode: 0o755 }
  )
  fs.writeFileSync(
    path.join(dir, "xclip"),
    `#!/bin/sh\necho "$@" > "$FAKE_OUT/xclip-args"\ncat > "$FAKE_OUT/.clipboard" && mv "$FAKE_OUT/.clipboard" "$FAKE_OUT/clipboard"\n`,
    { mode: 0o755 }
  )
}

/** The file's content once it exists, or the run's end with its output if that comes first. */
const waitForFile = (run: Devflow, file: string) =>
  run.until(() => (fs.existsSync(file) ? fs.readFileSync(file, "utf8") : undefined))

const login = (cacheDir: string, env: Readonly<Record<string, string | undefined>>) =>
  new Devflow(
    [
      "login",
      "--issuer",
      server.issuer,
      "--client-id",
      "devflow-demo",
      "--scope",
      "openid",
      "--open",
      "--copy",
      "--json",
      "--no-qr",
      "--cache-dir",
      cacheDir
    ],
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

  it("where there is no browser opener, --open says to open the page by hand; a missing clipboard tool is skipped quietly", async () => {
    const empty = path.join(work, "empty")
    fs.mkdirSync(empty)
    const run = login(path.join(work, "cache2"), { PATH: empty })
    const issued = await run.event("code_issued")
    await server.approve(issued.user_code)
    const done = await run.exit
    expect(done.code, done.stderr).toBe(0)
    expect(done.stderr).toContain(
      `Could not open a browser (xdg-open not found): open ${issued.verification_uri_complete} by hand.`
    )
    expect(done.stderr).not.toMatch(/Opened|clipboard|error/i)
  })
})

describe.skipIf(process.platform !== "linux")("Desktop.openUrl on Linux, with a real xdg-open process", () => {
  const HREF = "https://idp.example/device?user_code=WDJB-MJHT&x=|a^b%PATH%"
  const linux = (bin: string) => ({ platform: "linux" as const, env: { PATH: bin } })

  it("runs xdg-open with the href as its one argument, and reports Opened when it exits 0", async () => {
    const dir = path.join(work, "real-0")
    fs.mkdirSync(dir)
    fakeTools(path.join(dir, "bin"), 0)
    const outcome = await Effect.runPromise(
      Desktop.openUrl(HREF, {
        platform: "linux",
        env: { PATH: `${path.join(dir, "bin")}${path.delimiter}${process.env.PATH}`, FAKE_OUT: dir }
      })
    )
    expect(outcome).toEqual({ _tag: "Opened", program: "xdg-open" })
    expect(fs.readFileSync(path.join(dir, "opened"), "utf8")).toBe(HREF)
  })

  it("reports the exit status when xdg-open fails (3: no method available)", async () => {
    const dir = path.join(work, "real-3")
    fs.mkdirSync(dir)
    fakeTools(path.join(dir, "bin"), 3)
    const outcome = await Effect.runPromise(
      Desktop.openUrl(HREF, {
        platform: "linux",
        env: { PATH: `${path.join(dir, "bin")}${path.delimiter}${process.env.PATH}`, FAKE_OUT: dir }
      })
    )
    expect(outcome).toEqual({ _tag: "Failed", program: "xdg-open", detail: "exited with 3" })
  })

  it("reports NotFound when there is no xdg-open on PATH", async () => {
    const empty = path.join(work, "real-none")
    fs.mkdirSync(empty)
    expect(await Effect.runPromise(Desktop.openUrl(HREF, linux(empty)))).toEqual({
      _tag: "NotFound",
      program: "xdg-open"
    })
  })
})
