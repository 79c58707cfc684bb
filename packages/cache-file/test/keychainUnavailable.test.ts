/**
 * The file cache where no keychain answers: a headless server or a
 * container without a D-Bus session (the test setup points the keychain
 * binding at a bus that does not exist).
 */
import * as CacheContent from "@devflow/core/CacheContent"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { accountFor, signIn } from "../../core/test/tokenCacheContract.js"
import * as FileTokenCache from "../src/FileTokenCache.js"
import { logged } from "./fixtures/logged.js"

const tempDir = Effect.acquireRelease(
  Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "devflow-nokeychain-test-"))),
  (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
)

const REF = "devflow-keychain:refresh-token/0123456789ab/0123456789abcdef0123456789abcdef"

describe("FileTokenCache without a keychain", () => {
  it.scoped("auto keeps the secrets in the file and says so once, naming the risk and the setting", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const first = yield* logged(Effect.gen(function*() {
        const cache = yield* FileTokenCache.make({ directory: dir })
        yield* cache.save(signIn(accountFor("ada"), { label: "ada" }))
        yield* cache.save(signIn(accountFor("ada"), { label: "ada-rotated" }))
        return cache
      }))
      assert.include(fs.readFileSync(first.result.location, "utf8"), "SECRET-rt-ada-rotated-canary")
      assert.strictEqual(first.warnings.length, 1)
      assert.include(first.warnings[0], "kept in clear")
      // in the library's own words: no CLI flag reaches a library user
      assert.include(first.warnings[0], `set secretStore: "file" to keep secrets in the file on purpose`)
      assert.notInclude(first.warnings[0], "--secret-store")
      // a later process rotating the same token does not repeat it
      const later = yield* logged(Effect.gen(function*() {
        const cache = yield* FileTokenCache.make({ directory: dir })
        yield* cache.save(signIn(accountFor("ada"), { label: "ada-rotated-again" }))
      }))
      assert.deepStrictEqual(later.warnings, [])
    }))

  it.scoped("the warning names the file store as the caller's users choose it (fileStoreSetting: the CLI's flag)", () =>
    Effect.gen(function*() {
      const { warnings } = yield* logged(Effect.gen(function*() {
        const cache = yield* FileTokenCache.make({ directory: yield* tempDir, fileStoreSetting: "--secret-store file" })
        yield* cache.save(signIn(accountFor("cy"), { label: "cy" }))
      }))
      assert.strictEqual(warnings.length, 1)
      assert.include(warnings[0], "or set --secret-store file to keep secrets in the file on purpose")
    }))

  it.scoped("file keeps them in the file without a word, and never asks the keychain", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const { result: cache, warnings } = yield* logged(Effect.gen(function*() {
        const cache = yield* FileTokenCache.make({ directory: dir, secretStore: "file" })
        yield* cache.save(signIn(accountFor("bea"), { label: "bea" }))
        yield* cache.read
        return cache
      }))
      assert.include(fs.readFileSync(cache.location, "utf8"), "SECRET-rt-bea-canary")
      assert.deepStrictEqual(warnings, [])
    }))

  it.scoped("keychain fails with a typed error, reason keychain; the way out is the caller's to name (the CLI's hint does)", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(FileTokenCache.make({ directory: yield* tempDir, secretStore: "keychain" }))
      assert.strictEqual(error._tag, "CacheUnavailable")
      assert.strictEqual(error._tag === "CacheUnavailable" && error.reason, "keychain")
      assert.include(error.message, "OS keychain")
      assert.notInclude(error.message, "--secret-store")
    }))

  it.scoped("a secret kept in an unreachable keychain is 'sign in again' here, and its reference survives other writes", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const ada = accountFor("ada")
      // as a desktop session with a keychain left it
      const seeded = yield* FileTokenCache.make({ directory: dir, secretStore: "file" })
      yield* seeded.save(signIn(ada, { label: "ada" }))
      const file = JSON.parse(fs.readFileSync(seeded.location, "utf8"))
      file.refreshTokens[0].secret = REF
      fs.writeFileSync(seeded.location, JSON.stringify(file), { mode: 0o600 })

      const { result: content, warnings } = yield* logged(Effect.gen(function*() {
        const cache = yield* FileTokenCache.make({ directory: dir })
        const content = yield* cache.read
        yield* cache.save(signIn(accountFor("cy"), { label: "cy" }))
        return content
      }))
      assert.isUndefined(CacheContent.findRefreshToken(content, ada.authority, "client-a", ada.id))
      assert.isDefined(CacheContent.findAccount(content, ada.authority, ada.id))
      assert.isTrue(warnings.some((w) => w.includes("cannot be reached from here") && w.includes("sign in again")))
      const after = JSON.parse(fs.readFileSync(seeded.location, "utf8"))
      assert.includeMembers(after.refreshTokens.map((e: { secret: string }) => e.secret), [REF, "SECRET-rt-cy-canary"])

      // signing out of that account drops its reference with it
      const cache = yield* FileTokenCache.make({ directory: dir })
      yield* cache.removeAccount(ada.authority, ada.id)
      const last = JSON.parse(fs.readFileSync(seeded.location, "utf8"))
      assert.deepStrictEqual(last.refreshTokens.map((e: { secret: string }) => e.secret), ["SECRET-rt-cy-canary"])
      assert.notInclude(JSON.stringify(last), "devflow-keychain:")
      const cy = accountFor("cy")
      const cyRt = CacheContent.findRefreshToken(yield* cache.read, cy.authority, "client-a", cy.id)
      assert.strictEqual(cyRt && Redacted.value(cyRt.secret), "SECRET-rt-cy-canary")
    }))

  it.effect("an unknown secretStore is refused, naming the option", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(FileTokenCache.make({ directory: "/tmp/x", secretStore: "vault" as never }))
      assert.strictEqual(error._tag, "InvalidConfiguration")
      assert.include(error.message, "secretStore")
    }))
})
