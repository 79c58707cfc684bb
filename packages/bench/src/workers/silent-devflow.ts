/**
 * B4, devflow side: silent acquisition with 10,000 cached access tokens
 * (1,000 accounts × 10 resources), in process: the memory cache inside one
 * program, the same with one `Effect.runPromise` per call (how a Promise
 * caller pays), and the file cache (write, cold load, warm hit).
 * (Moved here from packages/cache-file/bench/silent.ts.)
 */
import * as FileTokenCache from "@devflow/cache-file/FileTokenCache"
import * as Account from "@devflow/core/Account"
import * as CacheContent from "@devflow/core/CacheContent"
import * as PublicClient from "@devflow/core/PublicClient"
import * as TestKit from "@devflow/core/TestKit"
import * as TestKitCache from "@devflow/core/TestKitCache"
import * as TokenCache from "@devflow/core/TokenCache"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { performance } from "node:perf_hooks"
import {
  ACCOUNTS,
  emitResult,
  picker,
  resource,
  RESOURCES,
  type SilentJob,
  type Timing,
  timing
} from "./silentCommon.js"

const job = JSON.parse(process.argv[2]!) as SilentJob
const accountCount = job.accounts ?? ACCOUNTS
const authority = TestKit.TOKEN_ENDPOINT
const clientId = TestKit.CLIENT_ID
const now = Date.now()

const accounts = Array.from(
  { length: accountCount },
  (_, i) =>
    Account.fromClaims(authority, {
      iss: TestKit.ISSUER,
      sub: `user-${i}`,
      preferred_username: `user-${i}@devflow.test`
    })!
)

/** 10,000 access tokens, one refresh token and one id_token per account. */
export const content = CacheContent.fromFile({
  version: 1,
  accounts,
  accessTokens: accounts.flatMap((account, i) =>
    Array.from({ length: RESOURCES }, (_, r) => ({
      authority,
      clientId,
      accountId: account.id,
      scopes: [resource(r), "offline_access", "openid", "profile"],
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

const clientOn = (cache: TokenCache.TokenCache) =>
  PublicClient.make({ config: Effect.runSync(TestKit.config()) }).pipe(
    Effect.provide(
      Layer.merge(Layer.succeed(TokenCache.TokenCache, cache), TestKit.layer(TestKitCache.refreshServer().script))
    )
  )

/** Silent hits inside one running program; every call must come from the cache. */
const hits = (client: PublicClient.PublicClient, calls: number, budgetMs: number) =>
  Effect.gen(function*() {
    const pick = picker()
    const times: Array<number> = []
    const end = performance.now() + budgetMs
    for (let i = 0; i < calls && performance.now() < end; i++) {
      const account = accounts[pick(accountCount)]!
      const scopes = [resource(pick(RESOURCES))]
      const t = performance.now()
      const result = yield* client.acquireTokenSilent(scopes, account)
      times.push(performance.now() - t)
      if (result.source !== "cache") throw new Error("expected a cache hit")
    }
    return timing(times)
  })

const main = Effect.gen(function*() {
  const memory = yield* clientOn(yield* TokenCache.makeMemory(content))
  yield* hits(memory, job.warmup, job.budgetMs / 4)
  const inProgram = yield* hits(memory, job.calls, job.budgetMs)

  const pick = picker()
  const perRun: Array<number> = []
  const runEnd = performance.now() + job.budgetMs / 2
  for (let i = 0; i < Math.min(job.calls, 5_000) && performance.now() < runEnd; i++) {
    const account = accounts[pick(accountCount)]!
    const t = performance.now()
    yield* Effect.promise(() => Effect.runPromise(memory.acquireTokenSilent([resource(pick(RESOURCES))], account)))
    perRun.push(performance.now() - t)
  }
  const perRunPromise: Timing = timing(perRun)

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "devflow-bench-"))
  // the file cache itself, secrets included: 1,000 refresh tokens must not go to the keychain of whoever runs this
  try {
    const writer = yield* FileTokenCache.make({ directory: dir, secretStore: "file" })
    const writes: Array<number> = []
    for (let i = 0; i < 2; i++) {
      const t = performance.now()
      yield* writer.update(() => (i % 2 === 0 ? content : CacheContent.withTokens(content, {
        authority,
        clientId,
        account: accounts[0]!,
        refreshToken: Redacted.make(`rotated-${i}`),
        now
      })))
      writes.push(performance.now() - t)
    }
    const fileBytes = fs.statSync(path.join(dir, "tokens.json")).size
    const cold: Array<number> = []
    for (let i = 0; i < 3; i++) {
      const t = performance.now()
      const client = yield* clientOn(yield* FileTokenCache.make({ directory: dir, secretStore: "file" }))
      yield* client.acquireTokenSilent([resource(3)], accounts[pick(accountCount)]!)
      cold.push(performance.now() - t)
    }
    const file = yield* clientOn(yield* FileTokenCache.make({ directory: dir, secretStore: "file" }))
    yield* hits(file, job.warmup, job.budgetMs / 4)
    const warmFile = yield* hits(file, job.calls, job.budgetMs)
    return {
      entries: CacheContent.size(content),
      accessTokens: content.accessTokens.size,
      inProgram,
      perRunPromise,
      file: { writeMs: timing(writes).medianUs / 1000, coldMs: timing(cold).medianUs / 1000, fileBytes, warm: warmFile }
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
})

Effect.runPromise(main).then(emitResult, (error: unknown) => {
  console.error(error)
  process.exit(1)
})
