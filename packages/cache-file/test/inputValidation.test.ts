/**
 * Input validation of the file cache's options: a cache directory that is a
 * file, under a file, empty, read-only, shared (/tmp), a file name with a
 * path in it, durations that are not positive and finite. Each is a typed
 * error — `InvalidConfiguration` naming the option, or `CacheUnavailable`
 * naming the directory — with a one-line message; never a defect, never a
 * file written outside the directory.
 */
import * as Account from "@devflow/core/Account"
import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as FileTokenCache from "../src/FileTokenCache.js"
import { spawnWorker, workerBundle } from "./fixtures/processes.js"

const AUTHORITY = "https://login.devflow.test/validation/token"

const openAndSave = (options: FileTokenCache.Options) =>
  Effect.flatMap(FileTokenCache.make(options), (cache) =>
    cache.save({
      authority: AUTHORITY,
      clientId: "validation",
      account: Account.supplied(AUTHORITY, { id: "someone" }),
      accessToken: { secret: Redacted.make("at"), tokenType: "Bearer", scopes: ["x"], expiresOn: undefined },
      now: Date.now()
    }))

interface Outcome {
  readonly tag: string
  readonly field?: string | undefined
  readonly reason?: string | undefined
  readonly message: string
}

const typedFailure = async (options: FileTokenCache.Options): Promise<Outcome> => {
  const exit = await Effect.runPromiseExit(openAndSave(options))
  if (Exit.isSuccess(exit)) throw new Error(`accepted: ${JSON.stringify(options)}`)
  const failure = Cause.failureOption(exit.cause)
  if (Option.isNone(failure)) throw new Error(`a defect, not a typed error: ${Cause.pretty(exit.cause)}`)
  const error = failure.value
  return {
    tag: error._tag,
    field: "field" in error ? error.field : undefined,
    reason: "reason" in error ? String(error.reason) : undefined,
    message: error.message
  }
}

const oneLine = (message: string) => {
  assert.notMatch(message, /[\n\r]/)
  assert.notMatch(message, /\.(ts|js):\d+/)
  assert.isBelow(message.length, 600, message)
}

const withDir = async (f: (dir: string) => Promise<void>) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "devflow-cache-validation-"))
  try {
    await f(dir)
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

describe("input validation: FileTokenCache options", () => {
  const invalid: ReadonlyArray<readonly [string, (dir: string) => FileTokenCache.Options, string]> = [
    ["an empty directory (it would be the working directory)", () => ({ directory: "" }), "directory"],
    ["a directory that is a number", () => ({ directory: 5 as never }), "directory"],
    [
      "a file name that climbs out of the directory",
      (dir) => ({ directory: dir, fileName: "../escape.json" }),
      "fileName"
    ],
    ["a file name with a directory", (dir) => ({ directory: dir, fileName: "sub/tokens.json" }), "fileName"],
    ["an empty file name", (dir) => ({ directory: dir, fileName: "" }), "fileName"],
    ["the file name \".\"", (dir) => ({ directory: dir, fileName: "." }), "fileName"],
    ["lockTimeout that is not a duration", (dir) => ({ directory: dir, lockTimeout: "soon" as never }), "lockTimeout"],
    ["lockTimeout negative", (dir) => ({ directory: dir, lockTimeout: -5 }), "lockTimeout"],
    ["refreshLockTimeout NaN", (dir) => ({ directory: dir, refreshLockTimeout: Number.NaN }), "refreshLockTimeout"],
    [
      "staleLockAfter zero (every live lock would be broken)",
      (dir) => ({ directory: dir, staleLockAfter: 0 }),
      "staleLockAfter"
    ],
    ["staleLockAfter infinite", (dir) => ({ directory: dir, staleLockAfter: "Infinity" as never }), "staleLockAfter"]
  ]
  for (const [label, options, field] of invalid) {
    it(`${label} → InvalidConfiguration on ${field}`, () =>
      withDir(async (dir) => {
        const outcome = await typedFailure(options(dir))
        assert.strictEqual(outcome.tag, "InvalidConfiguration", outcome.message)
        assert.strictEqual(outcome.field, field)
        assert.include(outcome.message, field)
        oneLine(outcome.message)
        // nothing was written anywhere
        assert.deepStrictEqual(fs.readdirSync(dir), [])
        assert.isFalse(fs.existsSync(path.join(dir, "..", "escape.json")))
      }))
  }

  it("a cache directory that is a file → CacheUnavailable naming it", () =>
    withDir(async (dir) => {
      const file = path.join(dir, "not-a-dir")
      fs.writeFileSync(file, "x")
      const outcome = await typedFailure({ directory: file })
      assert.strictEqual(outcome.tag, "CacheUnavailable")
      assert.include(outcome.message, file)
      oneLine(outcome.message)
      const under = await typedFailure({ directory: path.join(file, "cache") })
      assert.strictEqual(under.tag, "CacheUnavailable")
      assert.include(under.message, "wrong type")
      oneLine(under.message)
    }))

  it("a shared directory (/tmp, sticky bit) → CacheUnavailable(insecure), never used", async () => {
    const outcome = await typedFailure({ directory: os.tmpdir() })
    assert.strictEqual(outcome.tag, "CacheUnavailable")
    assert.strictEqual(outcome.reason, "insecure")
    oneLine(outcome.message)
  })

  it(
    "a read-only cache directory → CacheUnavailable(io) saying permission denied",
    { timeout: 30_000 },
    () =>
      withDir(async (dir) => {
        const readOnly = path.join(dir, "read-only")
        fs.mkdirSync(readOnly, { mode: 0o500 })
        const root = process.getuid?.() === 0
        if (!root) {
          const outcome = await typedFailure({ directory: readOnly })
          assert.strictEqual(outcome.tag, "CacheUnavailable")
          assert.strictEqual(outcome.reason, "io")
          assert.include(outcome.message, "permission denied")
          oneLine(outcome.message)
          return
        }
        // root writes anywhere: check as an unprivileged user (nobody), in a process of its own
        fs.chmodSync(dir, 0o755)
        fs.chownSync(readOnly, 65534, 65534)
        await workerBundle()
        const worker = await spawnWorker(["open", readOnly], { uid: 65534, gid: 65534 })
        const line = await worker.waitFor((l) => l.startsWith("{"), 20_000)
        await worker.exited
        const outcome = JSON.parse(line) as Outcome & { readonly ok: boolean }
        assert.isFalse(outcome.ok, line)
        assert.strictEqual(outcome.tag, "CacheUnavailable")
        assert.strictEqual(outcome.reason, "io")
        assert.include(outcome.message, "permission denied")
        oneLine(outcome.message)
        assert.deepStrictEqual(fs.readdirSync(readOnly), [])
      })
  )
})
