/**
 * Silent acquisition with 10,000 cached access tokens: median time per call,
 * in process, for the memory cache and for the file cache (warm: the file is
 * unchanged, one stat per call; cold: load and parse the file, then look up).
 *
 *   pnpm --filter @devflow/cache-file bench
 *
 * A script, not a timed test: the figures depend on the machine.
 */
import { PublicClient, TestKit, TestKitCache } from "@devflow/core"
import * as Account from "@devflow/core/Account"
import * as TokenCache from "@devflow/core/TokenCache"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { performance } from "node:perf_hooks"
import * as FileTokenCache from "../src/FileTokenCache.js"

const ACCOUNTS = 1_000
const RESOURCES = 10 // access tokens per account: 10,000 in all
const CALLS = 20_000

const authority = TestKit.TOKEN_ENDPOINT
const clientId = TestKit.CLIENT_ID
const now = Date.now()

const accounts = Array.from({ length: ACCOUNTS }, (_, i) =>
  Account.fromClaims(authority, { iss: TestKit.ISSUER, sub: `user-${i}`, preferred_username: `user-${i}@devflow.test` })!)

const content = TokenCache.fromFile({
  version: 1,
  accounts,
  accessTokens: accounts.flatMap((account, i) =>
    Array.from({ length: RESOURCES }, (_, r) => ({
      authority,
      clientId,
      accountId: account.id,
      scopes: [`https://api-${r}.devflow.test/.default`, "offline_access", "openid", "profile"],
      secret: Redacted.make(`access-token-${i}-${r}-${"x".repeat(1_000)}`),
      tokenType: "Bearer",
      expiresOn: now + 3_600_000,
      cachedAt: now
    }))
  ),
  refreshTokens: accounts.map((account, i) => ({
    authority,
    clientId,
    accountId: account.id,
    secret: Redacted.make(`refresh-token-${i}-${"y".repeat(500)}`),
    cachedAt: now
  })),
  idTokens: accounts.map((account, i) => ({
    authority,
    clientId,
    accountId: account.id,
    secret: Redacted.make(TestKit.idToken({ iss: TestKit.ISSUER, sub: `user-${i}` })),
    cachedAt: now
  }))
})

const median = (xs: Array<number>): number => {
  const sorted = [...xs].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)]!
}
const p99 = (xs: Array<number>): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length * 0.99)]!
const us = (ms: number) => `${(ms * 1000).toFixed(1)} µs`

// Deterministic pseudo-random picks, the same for every run.
let seed = 42
const pick = (n: number) => {
  seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31
  return seed % n
}

/** Time `calls` silent hits inside one running program; every call must come from the cache. */
const silentHits = (client: PublicClient.PublicClient, calls: number) =>
  Effect.gen(function*() {
    const times: Array<number> = []
    for (let i = 0; i < calls; i++) {
      const account = accounts[pick(ACCOUNTS)]!
      const scopes = [`https://api-${pick(RESOURCES)}.devflow.test/.default`]
      const t = performance.now()
      const result = yield* client.acquireTokenSilent(scopes, account)
      times.push(performance.now() - t)
      if (result.source !== "cache") throw new Error("expected a cache hit")
    }
    return times
  })

const clientOn = (cache: TokenCache.TokenCache) =>
  PublicClient.make({ config: Effect.runSync(TestKit.config()) }).pipe(
    Effect.provide(Layer.merge(Layer.succeed(TokenCache.TokenCache, cache), TestKit.layer(TestKitCache.refreshServer().script)))
  )

const main = Effect.gen(function*() {
  console.log(`devflow silent acquisition — ${TokenCache.size(content)} cache entries (${content.accessTokens.size} access tokens), node ${process.version}, ${os.cpus()[0]?.model ?? "?"} × ${os.cpus().length}`)

  // memory
  const memory = yield* clientOn(yield* TokenCache.makeMemory(content))
  yield* silentHits(memory, 5_000) // warm-up (JIT)
  const inMemory = yield* silentHits(memory, CALLS)
  console.log(`memory cache, silent hit inside a program:   median ${us(median(inMemory))}, p99 ${us(p99(inMemory))} (${CALLS} calls)`)

  const perRun: Array<number> = []
  for (let i = 0; i < 5_000; i++) {
    const account = accounts[pick(ACCOUNTS)]!
    const t = performance.now()
    yield* Effect.promise(() => Effect.runPromise(memory.acquireTokenSilent([`https://api-${pick(RESOURCES)}.devflow.test/.default`], account)))
    perRun.push(performance.now() - t)
  }
  console.log(`memory cache, one Effect.runPromise per call: median ${us(median(perRun))}, p99 ${us(p99(perRun))} (5000 calls)`)

  // file
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "devflow-bench-"))
  try {
    const writer = yield* FileTokenCache.make({ directory: dir })
    const writes: Array<number> = []
    for (let i = 0; i < 5; i++) {
      const t = performance.now()
      yield* writer.update(() => (i % 2 === 0 ? content : TokenCache.withTokens(content, {
        authority,
        clientId,
        account: accounts[0]!,
        refreshToken: Redacted.make(`rotated-${i}`),
        now
      })))
      writes.push(performance.now() - t)
    }
    const size = fs.statSync(path.join(dir, "tokens.json")).size
    console.log(`file cache, write (lock + read + encode + temp + fsync + rename): median ${(median(writes)).toFixed(1)} ms for ${(size / 1e6).toFixed(1)} MB`)

    const cold: Array<number> = []
    for (let i = 0; i < 15; i++) {
      const t = performance.now()
      const cache = yield* FileTokenCache.make({ directory: dir })
      const client = yield* clientOn(cache)
      yield* client.acquireTokenSilent(["https://api-3.devflow.test/.default"], accounts[pick(ACCOUNTS)]!)
      cold.push(performance.now() - t)
    }
    console.log(`file cache, load + parse + first silent hit:  median ${median(cold).toFixed(1)} ms (15 runs)`)

    const file = yield* clientOn(yield* FileTokenCache.make({ directory: dir }))
    yield* silentHits(file, 2_000)
    const warm = yield* silentHits(file, CALLS)
    console.log(`file cache, silent hit, file unchanged:       median ${us(median(warm))}, p99 ${us(p99(warm))} (${CALLS} calls; one stat each)`)
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
})

Effect.runPromise(main).catch((error) => {
  console.error(error)
  process.exit(1)
})
