import * as FileTokenCache from "@devflow/cache-file/FileTokenCache"
import * as Account from "@devflow/core/Account"
import * as CacheContent from "@devflow/core/CacheContent"
import * as ClientConfig from "@devflow/core/ClientConfig"
import * as Silent from "@devflow/core/Silent"
import * as TokenCache from "@devflow/core/TokenCache"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientError from "@effect/platform/HttpClientError"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Redacted from "effect/Redacted"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import * as FastToken from "../src/internal/fastToken.js"
import * as FlagTable from "../src/internal/flagTable.js"
import { defaultCacheDirectory } from "../src/internal/paths.js"
import * as ProfileFile from "../src/internal/profileFile.js"
import { tempDir } from "./helpers.js"

const authority = "https://login.example.com/token"
const clientId = "cli"
const account = new Account.Account({
  id: "https://login.example.com#alice",
  kind: "oidc",
  authority,
  issuer: "https://login.example.com",
  subject: "alice",
  username: "alice@example.com",
  name: "Alice"
})

const client: ProfileFile.Client = {
  clientId,
  authority,
  endpoints: { deviceAuthorization: "https://login.example.com/device", token: authority },
  clientAuthMethod: "none",
  wire: "oauth",
  scopes: ["openid", "offline_access", "api"],
  deviceAuthorizationParams: {},
  tokenParams: {}
}

interface Token {
  readonly secret: string
  readonly scopes: ReadonlyArray<string>
  readonly expiresOn: number | undefined
  /** default Bearer */
  readonly tokenType?: string
}

/** The cache content as core writes it, for `tokens`. */
const contentWith = (tokens: ReadonlyArray<Token>, storedAt = 1_000): CacheContent.CacheContent =>
  tokens.reduce(
    (content, t, i) =>
      CacheContent.withTokens(content, {
        authority,
        clientId,
        account,
        accessToken: {
          secret: Redacted.make(t.secret),
          tokenType: t.tokenType ?? "Bearer",
          scopes: t.scopes,
          expiresOn: t.expiresOn
        },
        now: storedAt + i
      }),
    CacheContent.empty
  )

const dirs: Array<string> = []
afterEach(() => {
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true })
})

/** A cache directory as login leaves it: tokens.json (0600) and profiles.json. */
const cacheDir = (
  tokens: ReadonlyArray<Token>,
  profile: Partial<ProfileFile.Profile> = {},
  storedAt?: number
): string => {
  const dir = tempDir("devflow-fast-")
  dirs.push(dir)
  fs.writeFileSync(path.join(dir, "tokens.json"), CacheContent.toJson(contentWith(tokens, storedAt)), { mode: 0o600 })
  ProfileFile.writeSync(dir, {
    version: 1,
    profiles: {
      default: {
        inputs: { provider: "generic", clientId, issuer: "https://login.example.com" },
        client,
        accountId: account.id,
        updatedAt: new Date().toISOString(),
        ...profile
      }
    }
  })
  return dir
}

const fast = (args: ReadonlyArray<string>, env: Readonly<Record<string, string>> = {}) => {
  let out = ""
  const code = FastToken.run(args, env, (text) => {
    out += text
  })
  return { code, out }
}

const hour = 3_600_000

describe("devflow token's fast path", () => {
  it("answers from the cache, in every format, without loading anything", () => {
    const expiresOn = Date.now() + hour
    const dir = cacheDir([{ secret: "at-1", scopes: ["api"], expiresOn }])
    expect(fast(["--cache-dir", dir])).toEqual({ code: 0, out: "at-1\n" })
    expect(fast([`--cache-dir=${dir}`, "--format", "header"])).toEqual({ code: 0, out: "Authorization: Bearer at-1\n" })
    expect(JSON.parse(fast(["--json"], { DEVFLOW_CACHE_DIR: dir }).out)).toEqual({
      access_token: "at-1",
      token_type: "Bearer",
      expires_on: new Date(expiresOn).toISOString(),
      scopes: ["api"],
      account: { id: account.id, username: "alice@example.com", name: "Alice", authority },
      source: "cache"
    })
    expect(fast(["--account", "alice@example.com", "--cache-dir", dir]).code).toBe(0)
    // flags naming the profile's server and client: still the fast path
    expect(fast(["--issuer", "https://login.example.com", "--client-id", clientId, "--cache-dir", dir]).code).toBe(0)
  })

  it("a DPoP token: raw and json as the full CLI prints them; a header, which needs a proof per request, is the full CLI's", () => {
    const dir = cacheDir([{ secret: "at-dpop", scopes: ["api"], expiresOn: Date.now() + hour, tokenType: "DPoP" }])
    expect(fast(["--cache-dir", dir])).toEqual({ code: 0, out: "at-dpop\n" })
    expect(JSON.parse(fast(["--format", "json", "--cache-dir", dir]).out)).toMatchObject({
      access_token: "at-dpop",
      token_type: "DPoP"
    })
    expect(fast(["--format", "header", "--cache-dir", dir]).code).toBeUndefined()
    expect(fast(["--format", "header", "--method", "GET", "--url", "https://api.example/x", "--cache-dir", dir]).code)
      .toBeUndefined()
  })

  it("declines whenever the full CLI has something to do or to say", () => {
    const good = [{ secret: "at-1", scopes: ["api"], expiresOn: Date.now() + hour }]
    const dir = cacheDir(good)
    const declines: ReadonlyArray<readonly [string, ReadonlyArray<string>, Readonly<Record<string, string>>?]> = [
      ["turned off", ["--cache-dir", dir], { DEVFLOW_FAST_PATH: "0" }],
      ["--help", ["--help", "--cache-dir", dir]],
      ["an unknown flag", ["--bogus", "--cache-dir", dir]],
      ["a flag without its value", ["--cache-dir"]],
      ["an empty value (the full CLI refuses it)", ["--cache-dir", ""]],
      ["--json against --format", ["--json", "--format", "raw", "--cache-dir", dir]],
      ["an unknown format", ["--format", "yaml", "--cache-dir", dir]],
      ["a malformed boolean in the environment", ["--cache-dir", dir], { DEVFLOW_NO_QR: "maybe" }],
      // the full CLI refuses each of these before it reads the cache (HttpSettings, core's Setting)
      ["a malformed HTTP timeout in the environment", ["--cache-dir", dir], { DEVFLOW_HTTP_REQUEST_TIMEOUT: "soon" }],
      ["a zero HTTP timeout in the environment", ["--cache-dir", dir], { DEVFLOW_HTTP_CONNECT_TIMEOUT: "0" }],
      ["a malformed HTTP size in the environment", ["--cache-dir", dir], { DEVFLOW_HTTP_MAX_RESPONSE_BYTES: "1e6" }],
      ["a malformed connection cap in the environment", ["--cache-dir", dir], { DEVFLOW_HTTP_MAX_CONNECTIONS: "-1" }],
      ["an empty User-Agent in the environment", ["--cache-dir", dir], { DEVFLOW_HTTP_USER_AGENT: " " }],
      ["another server", ["--issuer", "https://other.example.com", "--client-id", clientId, "--cache-dir", dir]],
      ["server flags without a provider", ["--client-id", clientId, "--cache-dir", dir]],
      ["an account not in the cache", ["--account", "bob", "--cache-dir", dir]],
      ["a scope the token lacks", ["--scope", "write", "--cache-dir", dir]],
      ["a malformed scope", ["--scope", "a\"b", "--cache-dir", dir]],
      ["another profile", ["--profile", "work", "--cache-dir", dir]],
      ["no cache directory", ["--cache-dir", path.join(dir, "missing")]]
    ]
    for (const [what, args, env] of declines) expect(fast(args, env ?? {}).code, what).toBeUndefined()
  })

  it("reads its flags from the one flag table: a flag it ignores still answers, a flag it does not know declines", () => {
    const dir = cacheDir([{ secret: "at-1", scopes: ["api"], expiresOn: Date.now() + hour }])
    const specs: ReadonlyArray<FlagTable.FlagSpec> = FlagTable.keysOf("token").map((key) => FlagTable.FLAGS[key])
    for (const spec of specs.filter((s) => s.fast === "ignore")) {
      const args = spec.kind === "boolean" ? [`--${spec.name}`] : [`--${spec.name}`, "x"]
      expect(fast([...args, "--cache-dir", dir]), spec.name).toEqual({ code: 0, out: "at-1\n" })
    }
    const unread = specs.filter((s) => s.fast === undefined)
    // --client-secret: a refresh may need it, which only the full CLI does
    expect(unread.map((s) => s.name)).toContain("client-secret")
    for (const spec of unread) {
      const args = spec.kind === "boolean" ? [`--${spec.name}`] : [`--${spec.name}`, "x"]
      expect(fast([...args, "--cache-dir", dir]).code, spec.name).toBeUndefined()
    }
  })

  it("declines when the token is within 5 minutes of expiry, or the cache is not as the file cache would accept it", () => {
    expect(
      fast(["--cache-dir", cacheDir([{ secret: "at", scopes: ["api"], expiresOn: Date.now() + 4 * 60_000 }])]).code
    )
      .toBeUndefined()
    const loose = cacheDir([{ secret: "at", scopes: ["api"], expiresOn: undefined }])
    expect(fast(["--cache-dir", loose]).code).toBe(0)
    fs.chmodSync(path.join(loose, "tokens.json"), 0o644)
    expect(fast(["--cache-dir", loose]).code).toBeUndefined()

    const linked = cacheDir([{ secret: "at", scopes: ["api"], expiresOn: undefined }])
    fs.renameSync(path.join(linked, "tokens.json"), path.join(linked, "real.json"))
    fs.symlinkSync(path.join(linked, "real.json"), path.join(linked, "tokens.json"))
    expect(fast(["--cache-dir", linked]).code).toBeUndefined()

    const newer = cacheDir([{ secret: "at", scopes: ["api"], expiresOn: undefined }])
    const file = path.join(newer, "tokens.json")
    fs.writeFileSync(file, JSON.stringify({ ...JSON.parse(fs.readFileSync(file, "utf8")), version: 2 }))
    expect(fast(["--cache-dir", newer]).code).toBeUndefined()

    const noAccount = cacheDir([{ secret: "at", scopes: ["api"], expiresOn: undefined }], { accountId: undefined })
    expect(fast(["--cache-dir", noAccount]).code).toBeUndefined()
  })

  it("declines, as core's Silent does, a token stored later than the clock now reads (the clock went back)", async () => {
    const now = Date.now()
    const tokens = [{ secret: "at", scopes: ["api"], expiresOn: now + 2 * hour }]
    // stored an hour "from now": the clock has gone back an hour since; the token's real age is unknown
    expect(fast(["--cache-dir", cacheDir(tokens, {}, now + hour)]).code).toBeUndefined()
    // within the 5-minute skew it is still handed out
    expect(fast(["--cache-dir", cacheDir(tokens, {}, now + 4 * 60_000)]).code).toBe(0)
    const config = await Effect.runPromise(
      ClientConfig.make({ clientId, endpoints: client.endpoints, scopes: client.scopes })
    )
    const offline = HttpClient.make((request) =>
      Effect.fail(new HttpClientError.RequestError({ request, reason: "Transport", description: "offline" }))
    )
    const silent = await Effect.runPromiseExit(
      Silent.acquireSilent({ config, authority, account, scopes: ["api"] }).pipe(
        Effect.provideServiceEffect(TokenCache.TokenCache, TokenCache.makeMemory(contentWith(tokens, now + hour))),
        Effect.provideService(HttpClient.HttpClient, offline)
      )
    )
    expect(Exit.isSuccess(silent) && silent.value.source === "cache").toBe(false)
  })

  it("agrees with core's Silent on which cached token to hand out, and when", async () => {
    const now = Date.now()
    const config = await Effect.runPromise(
      ClientConfig.make({ clientId, endpoints: client.endpoints, scopes: client.scopes })
    )
    const offline = HttpClient.make((request) =>
      Effect.fail(new HttpClientError.RequestError({ request, reason: "Transport", description: "offline" }))
    )
    const expiries = [undefined, now + hour, now + 6 * 60_000, now + 4 * 60_000]
    const grants: ReadonlyArray<ReadonlyArray<string>> = [["api"], ["api", "read"], ["read"]]
    // OpenID Connect scopes never decide whether a token fits (ScopeForm.OIDC_SCOPES): on both paths
    const requests: ReadonlyArray<ReadonlyArray<string>> = [
      [],
      ["api"],
      ["read"],
      ["openid", "api"],
      ["offline_access", "profile", "read"],
      ["openid"],
      ["write"]
    ]
    let answered = 0
    for (const a of expiries) {
      for (const b of expiries) {
        for (const grantA of grants) {
          for (const request of requests) {
            const tokens = [
              { secret: "token-a", scopes: grantA, expiresOn: a },
              { secret: "token-b", scopes: ["read"], expiresOn: b }
            ]
            const dir = cacheDir(tokens)
            const answer = fast(["--format", "json", ...request.flatMap((s) => ["--scope", s]), "--cache-dir", dir])
            const silent = await Effect.runPromiseExit(
              Silent.acquireSilent({ config, authority, account, scopes: request.length > 0 ? request : client.scopes })
                .pipe(
                  Effect.provideServiceEffect(TokenCache.TokenCache, TokenCache.makeMemory(contentWith(tokens))),
                  Effect.provideService(HttpClient.HttpClient, offline)
                )
            )
            const fromCache = Exit.isSuccess(silent) && silent.value.source === "cache"
            const what = JSON.stringify({ a, b, grantA, request })
            expect(answer.code === 0, what).toBe(fromCache)
            if (fromCache && Exit.isSuccess(silent)) {
              answered++
              expect(JSON.parse(answer.out).access_token, what).toBe(Redacted.value(silent.value.accessToken))
            }
          }
        }
      }
    }
    expect(answered).toBeGreaterThan(20)
  })

  it("finds the cache where @devflow/cache-file puts it", () => {
    const environments = [
      { platform: "linux", env: {}, home: "/home/a" },
      { platform: "linux", env: { XDG_CACHE_HOME: "/xdg" }, home: "/home/a" },
      { platform: "linux", env: { XDG_CACHE_HOME: "relative" }, home: "/home/a" },
      { platform: "darwin", env: {}, home: "/Users/a" },
      { platform: "win32", env: { LOCALAPPDATA: "C:\\Users\\a\\AppData\\Local" }, home: "C:\\Users\\a" },
      { platform: "win32", env: {}, home: "C:\\Users\\a" },
      { platform: "freebsd", env: {}, home: "/home/a" }
    ] as const
    for (const e of environments) {
      expect(defaultCacheDirectory(e.platform, e.env, e.home)).toBe(FileTokenCache.defaultDirectoryFor(e))
    }
  })
})
