/**
 * Bundles the child-process entries with esbuild (ESM, Node 20, workspace
 * packages from source), so every client starts from one file and pays the
 * same loading costs. Not minified and without esbuild's `keepNames`: its
 * `__name` wrapper runs `Object.defineProperty` on every closure created,
 * which costs an Effect program about 15 % of its CPU (measured here), and a
 * library user running from node_modules pays neither.
 */
import * as esbuild from "esbuild"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

export const packageDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
export const repoRoot = path.resolve(packageDir, "../..")
// under dist/: ignored by git and eslint like every build output
export const buildDir = path.join(packageDir, "dist/bundles")

export const ENTRIES = [
  "flows-devflow",
  "flows-devflow-user",
  "flows-openid-client",
  "flows-msal-node",
  "flows-devflow-dpop",
  "flows-openid-client-dpop",
  "dpop-proofs",
  "silent-devflow",
  "silent-msal-node",
  "token-msal-node",
  "login-msal-node"
] as const
export type Entry = (typeof ENTRIES)[number]

export const entryFile = (entry: Entry): string => path.join(buildDir, `${entry}.mjs`)

/**
 * Entries whose packages Node loads from node_modules at run time, as in a user's application:
 * only the entry's own files are bundled, and the workspace packages resolve to their `dist`.
 */
const UNBUNDLED: ReadonlyArray<Entry> = ["flows-devflow-user"]

let built: Promise<void> | undefined

/** Build every entry once per process (esbuild takes about a second for all). */
export const buildWorkers = (): Promise<void> =>
  built ??= (async () => {
    fs.mkdirSync(buildDir, { recursive: true })
    const build = (entries: ReadonlyArray<Entry>, options: esbuild.BuildOptions) =>
      esbuild.build({
        entryPoints: Object.fromEntries(entries.map((e) => [e, path.join(packageDir, "src/workers", `${e}.ts`)])),
        bundle: true,
        platform: "node",
        format: "esm",
        target: "node20",
        outdir: buildDir,
        outExtension: { ".js": ".mjs" },
        banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
        logLevel: "warning",
        ...options
      })
    await Promise.all([
      build(ENTRIES.filter((e) => !UNBUNDLED.includes(e)), { conditions: ["@devflow/source"] }),
      build(UNBUNDLED, { packages: "external" })
    ])
  })()
