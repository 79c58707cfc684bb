import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as TestClock from "effect/TestClock"
import { EventEmitter } from "node:events"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { beforeEach, vi } from "vitest"
import * as Desktop from "./Desktop.js"

/** What the stubbed spawn was asked to run, and how the stand-in child ends. */
const spawned: Array<
  { readonly file: string; readonly args: ReadonlyArray<string>; readonly options: Record<string, unknown> }
> = []
let ending: { readonly code: number | null } | "never" = { code: 0 }

vi.mock("node:child_process", () => ({
  spawn: (file: string, args: ReadonlyArray<string>, options: Record<string, unknown>) => {
    spawned.push({ file, args, options })
    const child = Object.assign(new EventEmitter(), { unref: () => {} })
    const end = ending
    if (end !== "never") setTimeout(() => child.emit("exit", end.code, null), 0)
    return child
  }
}))

beforeEach(() => {
  spawned.length = 0
  ending = { code: 0 }
})

/** an address a hostile server could make pass the host check: every character cmd.exe would act on */
const HREF = "https://idp.example/device?a=1&b=2|calc.exe^%PATH%<in>out"
const windows = { platform: "win32" as const, env: { SystemRoot: "C:\\Windows", PATH: "" } }

describe("Desktop.opener: the address is one argument, never parsed by a shell", () => {
  it("Windows: rundll32 url.dll,FileProtocolHandler <href>, from System32, no cmd", () => {
    assert.deepStrictEqual(Desktop.opener(HREF, "win32", windows.env), {
      file: "C:\\Windows\\System32\\rundll32.exe",
      args: ["url.dll,FileProtocolHandler", HREF]
    })
  })

  it("macOS: open <href>", () => {
    assert.deepStrictEqual(Desktop.opener(HREF, "darwin", {}), { file: "open", args: [HREF] })
  })

  it("Linux and the other Unixes: xdg-open <href>", () => {
    assert.deepStrictEqual(Desktop.opener(HREF, "linux", {}), { file: "xdg-open", args: [HREF] })
  })
})

describe("Desktop.openUrl (platform stubbed): what is spawned, and what is reported", () => {
  it.effect("on Windows spawns rundll32 with the href verbatim, without a shell or verbatim-arguments mode", () =>
    Effect.gen(function*() {
      const outcome = yield* Desktop.openUrl(HREF, windows)
      assert.deepStrictEqual(outcome, { _tag: "Opened", program: "rundll32.exe" })
      assert.strictEqual(spawned.length, 1)
      const [call] = spawned
      assert.strictEqual(call!.file, "C:\\Windows\\System32\\rundll32.exe")
      assert.deepStrictEqual(call!.args, ["url.dll,FileProtocolHandler", HREF])
      assert.notOk(call!.options.shell)
      assert.notOk(call!.options.windowsVerbatimArguments)
      assert.isFalse(spawned.some((c) => /cmd(\.exe)?$/i.test(c.file) || c.args.includes("/c")))
    }))

  it.effect("an opener that exits non-zero is a failure, not \"Opened\"", () =>
    Effect.gen(function*() {
      ending = { code: 3 }
      const outcome = yield* Desktop.openUrl(HREF, windows)
      assert.deepStrictEqual(outcome, { _tag: "Failed", program: "rundll32.exe", detail: "exited with 3" })
      assert.strictEqual(
        Desktop.describeOpen(outcome, HREF),
        `Could not open a browser (rundll32.exe exited with 3): open ${HREF} by hand.`
      )
    }))

  it.effect("an opener that does not finish within OPEN_WAIT is reported as unconfirmed", () =>
    Effect.gen(function*() {
      ending = "never"
      const fiber = yield* Effect.fork(Desktop.openUrl(HREF, windows))
      yield* TestClock.adjust(Desktop.OPEN_WAIT)
      const outcome = yield* Fiber.join(fiber)
      assert.strictEqual(outcome._tag, "Unconfirmed")
      assert.match(Desktop.describeOpen(outcome, HREF), /open .* by hand\.$/)
    }))

  it.effect("macOS: an open that is not on PATH is not spawned, and reported as not found", () =>
    Effect.gen(function*() {
      const outcome = yield* Desktop.openUrl(HREF, { platform: "darwin", env: { PATH: "" } })
      assert.deepStrictEqual(outcome, { _tag: "NotFound", program: "open" })
      assert.strictEqual(spawned.length, 0)
      assert.strictEqual(
        Desktop.describeOpen(outcome, HREF),
        `Could not open a browser (open not found): open ${HREF} by hand.`
      )
    }))

  it.effect("macOS: open found on PATH is spawned with the href as its only argument", () =>
    Effect.gen(function*() {
      const bin = fs.mkdtempSync(path.join(os.tmpdir(), "devflow-desktop-"))
      fs.writeFileSync(path.join(bin, "open"), "#!/bin/sh\n", { mode: 0o755 })
      const outcome = yield* Desktop.openUrl(HREF, { platform: "darwin", env: { PATH: bin } })
      fs.rmSync(bin, { recursive: true, force: true })
      assert.deepStrictEqual(outcome, { _tag: "Opened", program: "open" })
      assert.deepStrictEqual(spawned.map((c) => [c.file, c.args]), [[path.join(bin, "open"), [HREF]]])
      assert.notOk(spawned[0]!.options.shell)
    }))
})
