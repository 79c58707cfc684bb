/**
 * Start-up (issue 23): help, the version, `providers`, `accounts` and git's
 * `store` are answered before the full CLI (Effect, @effect/cli) loads, and
 * say exactly what the full CLI says. How fast that is belongs to `pnpm bench` (B7), never to a test.
 */
import * as SecretPlacement from "@devflow/cache-file/SecretPlacement"
import { type DevServer, startDevServer } from "@devflow/dev-server"
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest"
import * as AccountList from "../src/internal/accountList.js"
import { cleanEnv, devflow, Proc, signIn, tempDir } from "./helpers.js"

/** Answered by the fast paths; each must agree with the full CLI. */
const FAST: ReadonlyArray<ReadonlyArray<string>> = [
  [],
  ["--help"],
  ["help"],
  ["help", "login"],
  ["login", "--help"],
  ["providers", "-h"],
  ["-v"],
  ["--version"],
  ["providers"],
  ["providers", "github"],
  ["providers", "--json"],
  ["providers", "--verbose", "okta", "--json"]
]

let copy: string
beforeAll(() => {
  // the bundle without the chunk that holds the full CLI (main.ts): what still answers never loaded it
  copy = fs.mkdtempSync(path.join(path.dirname(path.dirname(inject("devflowBin"))), "startup-"))
  fs.cpSync(path.dirname(inject("devflowBin")), copy, { recursive: true })
  const chunks = path.join(copy, "chunks")
  const main = fs.readdirSync(chunks).filter((f) => f.startsWith("main-"))
  expect(main).toHaveLength(1)
  fs.rmSync(path.join(chunks, main[0]!))
})
afterAll(() => fs.rmSync(copy, { recursive: true, force: true }))

const withoutMain = (args: ReadonlyArray<string>, env: Readonly<Record<string, string>> = {}) =>
  spawnSync(process.execPath, [path.join(copy, "devflow.mjs"), ...args], {
    env: cleanEnv(env),
    encoding: "utf8",
    timeout: 20_000
  })

describe("start-up: answers given before the full CLI loads", () => {
  it("help, the version and `providers` never load the full CLI", () => {
    for (const args of FAST) {
      const run = withoutMain(args)
      expect(run.status, args.join(" ")).toBe(0)
      expect(run.stdout, args.join(" ")).not.toBe("")
      expect(run.stderr, args.join(" ")).toBe("")
    }
    expect(withoutMain(["--version"]).stdout).toMatch(/^\d+\.\d+\.\d+\n$/)
    expect(withoutMain(["providers", "github", "--json"]).stdout).toMatch(/^\{"id":"github",.*\}\n$/)
  })

  it("what the fast paths leave to the full CLI needs it (the copy without it cannot answer)", () => {
    for (
      const args of [["providers", "nope"], ["providers", "github", "okta"], ["accounts"], ["--json", "providers"]]
    ) {
      const run = withoutMain(args, { DEVFLOW_CACHE_DIR: copy })
      expect(run.status, args.join(" ")).not.toBe(0)
      expect(run.stderr, args.join(" ")).toMatch(/ERR_MODULE_NOT_FOUND|Cannot find module/)
    }
    // a malformed variable is a usage error the full CLI reports
    expect(withoutMain(["providers"], { DEVFLOW_JSON: "maybe" }).stderr).toMatch(
      /ERR_MODULE_NOT_FOUND|Cannot find module/
    )
  })

  it(
    "say exactly what the full CLI says (DEVFLOW_FAST_PATH=0), output and exit code",
    { timeout: 120_000 },
    async () => {
      for (const args of FAST) {
        for (const env of [{}, { DEVFLOW_JSON: "yes" }]) {
          const fast = await devflow(args, { env })
          const full = await devflow(args, { env: { ...env, DEVFLOW_FAST_PATH: "0" } })
          const what = `${JSON.stringify(env)} ${args.join(" ")}`
          expect(fast.code, what).toBe(full.code)
          expect(fast.stdout, what).toBe(full.stdout)
          expect(fast.stderr, what).toBe(full.stderr)
        }
      }
    }
  )
})

describe("start-up: `devflow accounts` from the cache file", () => {
  let server: DevServer
  let cache: string
  const dirs: Array<string> = []
  beforeAll(async () => {
    server = await startDevServer({ pollIntervalSeconds: 1 })
    cache = tempDir("devflow-startup-")
    dirs.push(cache)
    await signIn(server, cache, "alice")
    await signIn(server, cache, "bob")
  }, 60_000)
  afterAll(async () => {
    await server.close()
    for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true })
  })

  /** A copy of the signed-in cache, changed by `change`. */
  const copyOf = (change: (dir: string) => void): string => {
    const dir = tempDir("devflow-startup-")
    dirs.push(dir)
    fs.cpSync(cache, dir, { recursive: true })
    change(dir)
    return dir
  }

  it(
    "says exactly what the full CLI says (DEVFLOW_FAST_PATH=0), for people and in JSON",
    { timeout: 60_000 },
    async () => {
      const cases: ReadonlyArray<readonly [ReadonlyArray<string>, Record<string, string>]> = [
        [["accounts", "--cache-dir", cache], {}],
        [["accounts", "--cache-dir", cache, "--json"], {}],
        [["accounts", "--verbose", "--secret-store", "file"], { DEVFLOW_CACHE_DIR: cache, DEVFLOW_JSON: "yes" }]
      ]
      for (const [args, env] of cases) {
        const fast = await devflow(args, { env })
        const full = await devflow(args, { env: { ...env, DEVFLOW_FAST_PATH: "0" } })
        const what = `${JSON.stringify(env)} ${args.join(" ")}`
        expect(fast.code, what).toBe(0)
        expect(fast.stdout, what).toBe(full.stdout)
        expect(fast.stderr, what).toBe(full.stderr)
      }
      expect(withoutMain(["accounts", "--cache-dir", cache]).stdout).toBe(
        (await devflow(["accounts", "--cache-dir", cache])).stdout
      )
      const listed = (await devflow(["accounts", "--cache-dir", cache, "--json"])).stdout.trim().split("\n").map((l) =>
        JSON.parse(l)
      )
      expect(listed.map((a) => String(a.id).split("#").pop()).sort()).toEqual(["alice", "bob"])
    }
  )

  it("declines whenever the full CLI would do more than list, or say what is wrong", () => {
    const declines: ReadonlyArray<readonly [string, ReadonlyArray<string>, Record<string, string>]> = [
      ["an unknown flag", ["--cache-dir", cache, "--all"], {}],
      ["an argument", ["--cache-dir", cache, "alice"], {}],
      ["a malformed yes/no variable", ["--cache-dir", cache], { DEVFLOW_JSON: "maybe" }],
      ["an unknown secret store", ["--cache-dir", cache, "--secret-store", "vault"], {}],
      ["turned off", ["--cache-dir", cache], { DEVFLOW_FAST_PATH: "0" }],
      ["no cache file", ["--cache-dir", tempDir("devflow-startup-empty-")], {}],
      ["a cache file others can read (the file cache restricts it, and warns)", [
        "--cache-dir",
        copyOf((d) => fs.chmodSync(path.join(d, "tokens.json"), 0o644))
      ], {}],
      ["a record it does not recognise", [
        "--cache-dir",
        copyOf((d) => {
          const file = path.join(d, "tokens.json")
          const content = JSON.parse(fs.readFileSync(file, "utf8"))
          content.accounts.push({ id: "", authority: "x", kind: "oidc" })
          fs.writeFileSync(file, JSON.stringify(content))
        })
      ], {}],
      ["a refresh token in the keychain", [
        "--cache-dir",
        copyOf((d) => {
          const file = path.join(d, "tokens.json")
          const content = JSON.parse(fs.readFileSync(file, "utf8"))
          content.refreshTokens[0].secret = `${SecretPlacement.REFERENCE_PREFIX}refresh-token/${"0".repeat(12)}/${
            "0".repeat(32)
          }`
          fs.writeFileSync(file, JSON.stringify(content))
        })
      ], {}]
    ]
    for (const [what, args, env] of declines) {
      expect(AccountList.fast(args, { ...cleanEnv(), ...env }), what).toBe(false)
    }
  })
})

describe("start-up: git's `store`, after every request the `get` answer served", () => {
  const request = "protocol=https\nhost=git.example.com\nusername=oauth2\npassword=token\n\n"
  const store = (flags: ReadonlyArray<string>, env: Readonly<Record<string, string>>, bin = inject("devflowBin")) =>
    new Proc(process.execPath, [bin, "git-credential", ...flags, "store"], {
      cwd: path.dirname(bin),
      env: cleanEnv(env),
      input: request
    }).exit

  it(
    "is done without the full CLI, and what it leaves to it, the full CLI refuses as before",
    { timeout: 120_000 },
    async () => {
      const done = await store(["--cache-dir", copy, "--host", "git.example.com"], {}, path.join(copy, "devflow.mjs"))
      expect(done).toEqual({ code: 0, stdout: "", stderr: "" })
      const cases: ReadonlyArray<readonly [ReadonlyArray<string>, Record<string, string>]> = [
        [[], {}],
        [["--cache-dir", copy, "--json", "--provider", "github", "--scope", "repo"], {
          DEVFLOW_VERBOSE: "yes",
          DEVFLOW_HTTP_CONNECT_TIMEOUT: "soon"
        }],
        [[], { DEVFLOW_SECRET_STORE: "vault" }],
        [[], { DEVFLOW_PROVIDER: "nope" }],
        [[], { DEVFLOW_JSON: "maybe" }],
        [["--provider", "githbu"], {}],
        [["--bogus"], {}],
        [["--host"], {}]
      ]
      for (const [flags, env] of cases) {
        const fast = await store(flags, env)
        const full = await store(flags, { ...env, DEVFLOW_FAST_PATH: "0" })
        const what = `${JSON.stringify(env)} ${flags.join(" ")}`
        expect(fast, what).toEqual(full)
      }
    }
  )
})
