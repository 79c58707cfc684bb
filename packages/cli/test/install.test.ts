/**
 * devflow as users meet it: from a fresh clone, with the commands the READMEs
 * give, not the ones a developer of this repository would type. The
 * repository's files are copied to a scratch clone with nothing built (no
 * dist/, no bundle); the root README's "Install from a clone" block runs there
 * verbatim (`pnpm install`, `pnpm pack:all`: each public package builds itself
 * in its `prepack`); then, in a scratch app outside the repository, every
 * README's install line runs verbatim with plain npm (no workspace links;
 * Effect and its peers from the registry), and
 * - every install line pins the Effect 3 peers (npm's `latest` for effect is 4.x),
 * - the README's library example runs as pasted against the dev server (oidc-provider),
 * - the globally installed `devflow` binary runs `--help`, `login`, `token` and
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
const LIBRARIES = PUBLIC.filter((p) => p !== "cli")

const readme = (file: string) => fs.readFileSync(path.join(repo, file), "utf8")

/** The commands of the first ```sh block after `heading` (comments and blank lines left out). */
const shBlock = (text: string, heading: string): ReadonlyArray<string> => {
  const block = new RegExp(`${heading}\\n[\\s\\S]*?\`\`\`sh\\n([\\s\\S]*?)\`\`\``).exec(text)?.[1]
  if (block === undefined) throw new Error(`no sh block after ${heading}`)
  return block.split("\n").map((line) => line.trim()).filter((line) => line !== "" && !line.startsWith("#"))
}

/** Every `npm install` line of every Markdown page a user reads (not the generated API reference). */
const installLines = (): ReadonlyArray<{ readonly file: string; readonly line: string }> => {
  const pages = ["README.md", ...PUBLIC.map((p) => `packages/${p}/README.md`)]
  const walk = (dir: string): void => {
    for (const entry of fs.readdirSync(path.join(repo, dir), { withFileTypes: true })) {
      const rel = path.join(dir, entry.name)
      if (entry.isDirectory() && rel !== path.join("docs", "api")) walk(rel)
      else if (entry.name.endsWith(".md")) pages.push(rel)
    }
  }
  walk("docs")
  return pages.flatMap((file) =>
    [...readme(file).matchAll(/npm (?:install|i) [^\n`]*/g)].map((m) => ({ file, line: m[0] }))
  )
}

const peersOf = (name: string): Record<string, string> =>
  JSON.parse(readme(`packages/${name}/package.json`)).peerDependencies ?? {}

let clone: string
let scratch: string
let prefix: string
let server: DevServer
const tarballs: Record<string, { readonly file: string; readonly bytes: number }> = {}

describe("every install line", () => {
  it("installs devflow packages from packed tarballs and pins each library's Effect peers to their ranges", () => {
    const lines = installLines().filter(({ line }) => /devflow/.test(line))
    expect(lines.length).toBeGreaterThanOrEqual(PUBLIC.length)
    for (const { file, line } of lines) {
      const words = line.split(/\s+/)
      // the packages are not on the registry: a name there is somebody else's package, or nothing
      expect(words.filter((w) => w.startsWith("@devflow/")), `${file}: ${line}`).toEqual([])
      const libraries = LIBRARIES.filter((p) => line.includes(`/devflow-${p}-`))
      const wanted = Object.assign({}, ...libraries.map(peersOf)) as Record<string, string>
      for (const [peer, range] of Object.entries(wanted)) {
        expect(words, `${file}: ${line} (npm would take ${peer}@latest, Effect 4)`).toContain(`${peer}@${range}`)
      }
      // an Effect package without a range resolves npm's latest: Effect 4
      for (const w of words.filter((w) => /^(effect|@effect\/)/.test(w))) {
        expect(Object.values(wanted), `${file}: ${w}`).toContain(w.slice(w.lastIndexOf("@") + 1))
      }
    }
  })

  it("of a package's README installs every devflow package its examples import", () => {
    for (const name of PUBLIC) {
      const text = readme(`packages/${name}/README.md`)
      const line = shBlock(text, "## Install").join(" ")
      const imported = new Set([...text.matchAll(/from "@devflow\/([\w-]+)"/g)].map((m) => m[1]!))
      for (const dep of imported) {
        expect(line, `packages/${name}/README.md imports @devflow/${dep}`).toContain(`/devflow-${dep}-`)
      }
    }
  })
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

/** `devflow` as `npm install -g` put it on the PATH */
const bin = () => path.join(prefix, "bin", "devflow")

// ~90 s of packing and installing: out of `pnpm test`, run by .ci/run's long step (DEVFLOW_LONG_TESTS=1)
describe.runIf(process.env.DEVFLOW_LONG_TESTS === "1")(
  "from a fresh clone, with the READMEs' commands, outside the workspace",
  () => {
    beforeAll(async () => {
      clone = fs.mkdtempSync(path.join(os.tmpdir(), "devflow-clone-"))
      scratch = fs.mkdtempSync(path.join(os.tmpdir(), "devflow-install-"))
      prefix = fs.mkdtempSync(path.join(os.tmpdir(), "devflow-global-"))
      // what a clone has: the repository's files (committed or new, not ignored), so no dist/ and no bundle
      const listed =
        (await run("git", ["ls-files", "-co", "--exclude-standard", "-z"], { cwd: repo, maxBuffer: 64 << 20 })).stdout
      for (const file of listed.split("\0")) {
        if (file === "" || !fs.existsSync(path.join(repo, file))) continue
        fs.cpSync(path.join(repo, file), path.join(clone, file))
      }
      expect(fs.existsSync(path.join(clone, "packages/core/dist"))).toBe(false)
      fs.writeFileSync(
        path.join(scratch, "package.json"),
        JSON.stringify({ name: "scratch-app", private: true, type: "module" })
      )
      const fromClone = shBlock(readme("README.md"), "## Install from a clone")
      const inClone = fromClone.filter((line) => !line.startsWith("npm "))
      const inApp = [
        ...fromClone.filter((line) => line.startsWith("npm ")),
        ...LIBRARIES.flatMap((p) => shBlock(readme(`packages/${p}/README.md`), "## Install"))
      ]
      const script = ["set -e", `cd "${clone}"`, ...inClone, `cd "${scratch}"`, ...inApp].join("\n")
      await run("sh", ["-c", script], {
        timeout: 600_000,
        maxBuffer: 64 << 20,
        env: cleanEnv({
          // `npm install -g` goes to a scratch prefix; quiet, and from npm's cache when it can
          npm_config_prefix: prefix,
          npm_config_audit: "false",
          npm_config_fund: "false",
          npm_config_loglevel: "error",
          npm_config_prefer_offline: "true",
          npm_config_workspaces: undefined
        })
      })
      const packs = path.join(clone, "packs")
      for (const file of fs.readdirSync(packs)) {
        const name = PUBLIC.find((p) => file === `devflow-${p}-0.1.0.tgz`)
        if (name !== undefined) {
          tarballs[name] = { file: path.join(packs, file), bytes: fs.statSync(path.join(packs, file)).size }
        }
      }
      server = await startDevServer({ pollIntervalSeconds: 1 })
    }, 900_000)

    afterAll(async () => {
      await server?.close()
      for (const dir of [clone, scratch, prefix]) {
        if (dir !== undefined) fs.rmSync(dir, { recursive: true, force: true })
      }
      // the clone holds a whole pnpm install: removing it takes a while on a busy machine
    }, 120_000)

    it("every public package packs, and the install has one effect and no private package", async () => {
      expect(Object.keys(tarballs).sort()).toEqual([...PUBLIC].sort())
      // what is published is the package, not the tests' build output (test bundles, workers)
      for (const name of PUBLIC) {
        const listing = (await run("tar", ["tzf", tarballs[name]!.file])).stdout
        expect(listing, name).not.toMatch(/test-workers|test-bundle|\.test\.(ts|js)/)
      }
      const installed = fs.readdirSync(path.join(scratch, "node_modules", "@devflow")).sort()
      expect(installed).toEqual(["cache-file", "core", "node-http", "store-redis"])
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
      for (const name of LIBRARIES) {
        const loaded = await run(process.execPath, [
          "--input-type=module",
          "-e",
          `const m = await import("@devflow/${name}"); console.log(Object.keys(m).join(","))`
        ], { cwd: scratch })
        expect(loaded.stdout.trim().length, name).toBeGreaterThan(0)
        const pkg = JSON.parse(
          fs.readFileSync(path.join(scratch, "node_modules/@devflow", name, "package.json"), "utf8")
        )
        expect(
          fs.existsSync(path.join(scratch, "node_modules/@devflow", name, pkg.exports["."].types)),
          `${name} types`
        ).toBe(true)
      }
      // the CLI is one self-contained bundle: it installs nothing of its own but the OS keychain's native
      // binding, which no bundle can hold (optional: without it, secrets stay in the cache file)
      const cli = JSON.parse(fs.readFileSync(path.join(prefix, "lib/node_modules/@devflow/cli/package.json"), "utf8"))
      expect(cli.dependencies ?? {}).toEqual({})
      expect(Object.keys(cli.optionalDependencies ?? {})).toEqual(["@napi-rs/keyring"])
      const count =
        (await run("npm", ["ls", "--all", "--parseable"], { cwd: scratch })).stdout.trim().split("\n").length - 1
      console.log(
        `[install] tarballs: ${PUBLIC.map((p) => `${p} ${(tarballs[p]!.bytes / 1024).toFixed(1)} KiB`).join(", ")}; ` +
          `installed packages in the scratch app: ${count}`
      )
    })

    it("the README's library example runs as pasted against the demo server's endpoints", async () => {
      const example = /## Using the core[\s\S]*?```ts\n([\s\S]*?)```/.exec(readme("README.md"))?.[1]
      expect(example).toBeDefined()
      // the demo server `pnpm start --serve` starts listens on 8628; this one on a port of its own
      expect(example).toContain("http://127.0.0.1:8628/")
      fs.writeFileSync(path.join(scratch, "example.mjs"), example!.replaceAll("http://127.0.0.1:8628", server.issuer))
      const result = await approving(process.execPath, ["example.mjs"])
      expect(result.stderr).toMatch(/enter the code/)
      expect(result.code, result.stderr).toBe(0)
      expect(result.stdout).toMatch(/^Signed in; granted scopes: .*openid/)
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
  }
)
