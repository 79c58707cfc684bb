/**
 * devflow as users meet it: packages from the registry, not a clone. Every
 * public package is packed with `pnpm pack` (workspace and catalog versions
 * rewritten), a scratch project outside the repository installs the tarballs
 * with plain `npm install` (no workspace links; Effect and its peers come from
 * the registry), and then
 * - the README's library example runs against the dev server (oidc-provider),
 * - the installed `devflow` binary runs `--help`, `login`, `token` and
 *   `demo --auto-approve`,
 * - the app has one copy of `effect`, and nothing private was installed.
 *
 * Prints each tarball's size and the installed dependency count.
 */
import { type DevServer, startDevServer } from "@devflow/dev-server"
import { execFile, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { promisify } from "node:util"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { cleanEnv, STACK } from "./helpers.js"

const run = promisify(execFile)
const repo = path.resolve(fileURLToPath(new URL("../../..", import.meta.url)))
const PUBLIC = ["core", "node-http", "cache-file", "store-redis", "cli"] as const

let scratch: string
let packs: string
let server: DevServer
const tarballs: Record<string, { readonly file: string; readonly bytes: number }> = {}

beforeAll(async () => {
  packs = fs.mkdtempSync(path.join(os.tmpdir(), "devflow-packs-"))
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), "devflow-install-"))
  // dist/ of the libraries (a no-op after `pnpm check`)
  await run(path.join(repo, "node_modules/.bin/tsc"), ["-b", "tsconfig.json"], { cwd: repo })
  for (const name of PUBLIC) {
    // the cli's prepack bundles dist/devflow.mjs
    await run("pnpm", ["pack", "--pack-destination", packs], { cwd: path.join(repo, "packages", name) })
  }
  for (const file of fs.readdirSync(packs)) {
    const name = PUBLIC.find((p) => file === `devflow-${p}-0.1.0.tgz`)
    if (name !== undefined) tarballs[name] = { file: path.join(packs, file), bytes: fs.statSync(path.join(packs, file)).size }
  }
  fs.writeFileSync(path.join(scratch, "package.json"), JSON.stringify({ name: "scratch-app", private: true, type: "module" }))
  await run(
    "npm",
    ["install", "--no-audit", "--no-fund", "--loglevel=error", "--prefer-offline", ...PUBLIC.map((p) => tarballs[p]!.file)],
    { cwd: scratch, timeout: 300_000, env: cleanEnv({ npm_config_workspaces: undefined }) }
  )
  server = await startDevServer({ pollIntervalSeconds: 1 })
}, 420_000)

afterAll(async () => {
  await server?.close()
  for (const dir of [scratch, packs]) if (dir !== undefined) fs.rmSync(dir, { recursive: true, force: true })
})

/** Run a process in the scratch project; approve the first user code it prints on stderr (unless it approves itself). */
const approving = (command: string, args: ReadonlyArray<string>, approve = true) =>
  new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(command, args, { cwd: scratch, env: cleanEnv(), stdio: ["ignore", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    let approved = false
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000)
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d))
    child.stderr.setEncoding("utf8").on("data", (d: string) => {
      stderr += d
      // eslint-disable-next-line no-control-regex
      const code = /enter the code (?:\x1b\[[0-9;]*m)*([A-Z]{4}-[A-Z]{4})/.exec(stderr)?.[1]
      if (approve && code !== undefined && !approved) {
        approved = true
        void server.approve(code, { accountId: "installed" })
      }
    })
    child.on("close", (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
  })

const bin = () => path.join(scratch, "node_modules", ".bin", "devflow")

describe("packed and installed with npm, outside the workspace", () => {
  it("every public package packs, and the install has one effect and no private package", async () => {
    expect(Object.keys(tarballs).sort()).toEqual([...PUBLIC].sort())
    // what is published is the package, not the tests' build output (test bundles, workers)
    for (const name of PUBLIC) {
      const listing = (await run("tar", ["tzf", tarballs[name]!.file])).stdout
      expect(listing, name).not.toMatch(/test-workers|test-bundle|\.test\.(ts|js)/)
    }
    const installed = fs.readdirSync(path.join(scratch, "node_modules", "@devflow")).sort()
    expect(installed).toEqual(["cache-file", "cli", "core", "node-http", "store-redis"])
    const { stdout } = await run("npm", ["ls", "effect", "--all", "--json"], { cwd: scratch })
    const versions = new Set<string>()
    const walk = (deps: Record<string, { version?: string; dependencies?: Record<string, unknown> }> | undefined) => {
      for (const [name, dep] of Object.entries(deps ?? {})) {
        if (name === "effect" && dep.version !== undefined) versions.add(dep.version)
        walk(dep.dependencies as never)
      }
    }
    walk(JSON.parse(stdout).dependencies)
    expect([...versions]).toHaveLength(1)
    expect([...versions][0]).toMatch(/^3\./)
    // every library loads from its installed dist/ (ESM, exports map, types next to it)
    for (const name of ["core", "node-http", "cache-file", "store-redis"]) {
      const loaded = await run(process.execPath, ["--input-type=module", "-e", `const m = await import("@devflow/${name}"); console.log(Object.keys(m).join(","))`], { cwd: scratch })
      expect(loaded.stdout.trim().length, name).toBeGreaterThan(0)
      const pkg = JSON.parse(fs.readFileSync(path.join(scratch, "node_modules/@devflow", name, "package.json"), "utf8"))
      expect(fs.existsSync(path.join(scratch, "node_modules/@devflow", name, pkg.exports["."].types)), `${name} types`).toBe(true)
    }
    // the CLI is one self-contained bundle: it installs nothing of its own but the OS keychain's native
    // binding, which no bundle can hold (optional: without it, secrets stay in the cache file)
    const cli = JSON.parse(fs.readFileSync(path.join(scratch, "node_modules/@devflow/cli/package.json"), "utf8"))
    expect(cli.dependencies ?? {}).toEqual({})
    expect(Object.keys(cli.optionalDependencies ?? {})).toEqual(["@napi-rs/keyring"])
    const count = (await run("npm", ["ls", "--all", "--parseable"], { cwd: scratch })).stdout.trim().split("\n").length - 1
    console.log(
      `[install] tarballs: ${PUBLIC.map((p) => `${p} ${(tarballs[p]!.bytes / 1024).toFixed(1)} KiB`).join(", ")}; ` +
        `installed packages in the scratch app: ${count}`
    )
  })

  it("the README's library example runs against the dev server", async () => {
    const readme = fs.readFileSync(path.join(repo, "README.md"), "utf8")
    const example = /## Using the core\s+```ts\n([\s\S]*?)```/.exec(readme)?.[1]
    expect(example).toBeDefined()
    const code = example!
      .replace("\"my-cli\"", JSON.stringify(server.clientId))
      .replace("\"https://auth.example.com/oauth/device/code\"", JSON.stringify(server.deviceAuthorizationEndpoint))
      .replace("\"https://auth.example.com/oauth/token\"", JSON.stringify(server.tokenEndpoint))
    expect(code).not.toContain("auth.example.com")
    fs.writeFileSync(
      path.join(scratch, "example.mjs"),
      `${code}\nEffect.runPromise(program).then(() => console.log("example: signed in"), (e) => { console.error(e); process.exit(1) })\n`
    )
    const result = await approving(process.execPath, ["example.mjs"])
    expect(result.stderr).toMatch(/enter the code/)
    expect(result.code, result.stderr).toBe(0)
    expect(result.stdout).toContain("example: signed in")
  })

  it("the installed devflow binary: --help, login, token, demo --auto-approve", async () => {
    const help = await run(bin(), ["--help"], { cwd: scratch, env: cleanEnv() })
    expect(help.stdout).toMatch(/login/)
    const cache = fs.mkdtempSync(path.join(os.tmpdir(), "devflow-install-cache-"))
    try {
      const login = await approving(bin(), [
        "login",
        "--issuer",
        server.issuer,
        "--client-id",
        server.clientId,
        "--scope",
        "openid",
        "--scope",
        "offline_access",
        "--no-qr",
        "--cache-dir",
        cache
      ])
      expect(login.code, login.stderr).toBe(0)
      expect(login.stderr).not.toMatch(STACK)
      const token = await run(bin(), ["token", "--cache-dir", cache], { cwd: scratch, env: cleanEnv() })
      expect(token.stdout.trim().length).toBeGreaterThan(20)
      const demo = await approving(bin(), ["demo", "--auto-approve", "--no-qr"], false)
      expect(demo.code, demo.stderr).toBe(0)
      expect(demo.stderr).toMatch(/Signed in/)
    } finally {
      fs.rmSync(cache, { recursive: true, force: true })
    }
  })
})
