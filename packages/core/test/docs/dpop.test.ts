/**
 * docs/dpop.md's library snippets are the code of dpopSnippets.ts (type-checked
 * with the tests), and they work: a DPoP sign-in, then an API call whose proof
 * verifies against the key kept with the tokens and carries the token's `ath`.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as fs from "node:fs"
import * as CacheContent from "../../src/CacheContent.js"
import * as TestKit from "../../src/TestKit.js"
import { runVirtual, success } from "../virtual.js"
import { runAll } from "./dpopSnippets.js"

const page = fs.readFileSync(new URL("../../../../docs/dpop.md", import.meta.url), "utf8")
const source = fs.readFileSync(new URL("./dpopSnippets.ts", import.meta.url), "utf8")

const blocks = [...page.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!)

describe("docs/dpop.md", () => {
  it("every TypeScript block of the page is type-checked code of dpopSnippets.ts", () => {
    assert.isAbove(blocks.length, 0)
    const snippet = /\/\/ snippet: [\w-]+\n([\s\S]*?)\/\/ end\n/.exec(source)![1]!
    for (const block of blocks) assert.include(snippet, block, block.slice(0, 80))
    // and the page leaves none of it out
    const shown = new Set(blocks.flatMap((b) => b.split("\n")))
    assert.deepStrictEqual(snippet.split("\n").filter((line) => line.trim() !== "" && !shown.has(line)), [])
  })

  it.effect("the snippets sign in with DPoP and call an API with a proof of the kept key", () =>
    Effect.gen(function*() {
      const api = `${TestKit.ISSUER}/api/me`
      const r = success(yield* runVirtual(runAll(api)))
      assert.strictEqual(r.signedIn.tokenType, "DPoP")
      assert.strictEqual(r.status, 200)
      const call = r.requests.find((q) => q.url === api)!
      const [kept] = r.cache.dpopKeys.values()
      assert.strictEqual(call.headers.authorization, `DPoP ${Redacted.value(r.signedIn.accessToken)}`)
      const verified = yield* TestKit.verifyDpopProof(call.headers.dpop!, {
        method: "GET",
        url: api,
        accessToken: Redacted.value(r.signedIn.accessToken)
      })
      assert.strictEqual(verified._tag === "Right" ? verified.right.jkt : verified.left, kept!.jkt)
      assert.isDefined(CacheContent.findDpopKey(r.cache, kept!.authority, kept!.clientId, kept!.accountId))
    }))
})
