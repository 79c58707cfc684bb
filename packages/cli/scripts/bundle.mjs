/* global process, console */
// Bundles the CLI into dist/devflow.mjs plus lazily loaded chunks (esbuild,
// code splitting), and checks what each start-up path loads:
//   - dist/devflow.mjs and its static imports (what every run loads, and all
//     that `devflow token` loads when answered from the cache): no Effect,
//     no @effect/cli, no HTTP stack, no oidc-provider;
//   - the full CLI (main) and its static imports: no undici, no oidc-provider
//     (loaded on first request / by `devflow demo` only).
//
// Two builds. The demo's authorization server (@devflow/dev-server, i.e. oidc-provider) is built
// on its own into dist/chunks/dev-server.mjs with esbuild's `keepNames`: oidc-provider relies on
// function and class names. The rest is built without it: `keepNames` wraps every function and
// class in a `__name(…)` call (Object.defineProperty) that every start-up pays for. The CLI's
// `import("@devflow/dev-server")` becomes `import("./dev-server.mjs")`, relative to the chunk that
// holds it, which the check below keeps under dist/chunks/.
//
// The keychain binding (@napi-rs/keyring, a native module) is not bundled: cache-file imports it by a
// name esbuild leaves alone, and Node resolves it at run time from packages/cli/node_modules (a
// dependency of this package), so an outdir must lie under packages/cli.
//
//   node scripts/bundle.mjs [--outdir DIR] [--sizes]
import * as esbuild from "esbuild"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { parseArgs } from "node:util"

const here = path.dirname(fileURLToPath(import.meta.url))
const root = path.resolve(here, "..")

const DEMO_SERVER = "@devflow/dev-server"
// beside the chunks that import it: the import path stays as written, relative to its importer
const DEMO_FILE = "dev-server.mjs"

// Bundled CommonJS (undici, ini, yaml; oidc-provider's dependencies) calls require() for Node built-ins.
const common = {
  absWorkingDir: root,
  bundle: true,
  minify: true,
  platform: "node",
  format: "esm",
  target: "node20",
  conditions: ["@devflow/source"],
  banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
  metafile: true,
  logLevel: "warning"
}

/** The demo server stays out of the CLI's build: its import points at the separately built file. */
const demoApart = {
  name: "demo-server-apart",
  setup(build) {
    build.onResolve({ filter: /^@devflow\/dev-server$/ }, () => ({ path: `./${DEMO_FILE}`, external: true }))
  }
}

/** Bundle into `outdir` (default: packages/cli/dist); returns the output files and their sizes. */
export const bundle = async (outdir = path.join(root, "dist")) => {
  // Chunk names carry content hashes: clear the old ones so dist holds exactly one build.
  fs.rmSync(path.join(outdir, "chunks"), { recursive: true, force: true })
  fs.rmSync(path.join(outdir, "devflow.mjs"), { force: true })
  const result = await esbuild.build({
    ...common,
    entryPoints: { devflow: "src/bin.ts" },
    splitting: true,
    outdir,
    chunkNames: "chunks/[name]-[hash]",
    outExtension: { ".js": ".mjs" },
    plugins: [demoApart]
  })
  const demo = await esbuild.build({
    ...common,
    entryPoints: [DEMO_SERVER],
    // oidc-provider needs its function and class names (see above)
    keepNames: true,
    outfile: path.join(outdir, "chunks", DEMO_FILE)
  })
  const outputs = result.metafile.outputs
  const rel = (file) => path.relative(root, path.resolve(root, file))
  const closure = (start) => {
    const seen = new Set()
    const visit = (file) => {
      if (seen.has(file)) return
      seen.add(file)
      for (const imp of outputs[file]?.imports ?? []) {
        if (imp.kind === "import-statement" && !imp.external) visit(imp.path)
      }
    }
    visit(start)
    return seen
  }
  const inputsOf = (files) => [...files].flatMap((f) => Object.keys(outputs[f]?.inputs ?? {}))
  const entry = Object.keys(outputs).find((f) => outputs[f].entryPoint === "src/bin.ts")
  const main = Object.keys(outputs).find((f) => Object.keys(outputs[f].inputs).some((i) => i.endsWith("src/main.ts")))
  const forbid = (what, files, patterns) => {
    const bad = inputsOf(files).filter((i) => patterns.some((p) => i.includes(p)))
    if (bad.length > 0) throw new Error(`${what} statically loads ${bad.slice(0, 5).join(", ")}`)
  }
  forbid("dist/devflow.mjs (the token fast path)", closure(entry), [
    "node_modules/effect/",
    "@effect/",
    "undici",
    "oidc-provider"
  ])
  // built-ins only some commands need: loaded where they are used (`exec`, the full CLI), not by every fast path
  const heavyBuiltins = ["node:v8", "v8", "node:child_process", "child_process"]
  const builtins = [...closure(entry)].flatMap((f) => outputs[f]?.imports ?? [])
    .filter((i) => i.external && i.kind === "import-statement" && heavyBuiltins.includes(i.path))
  if (builtins.length > 0) {
    throw new Error(`dist/devflow.mjs (the fast paths) statically loads ${builtins.map((i) => i.path).join(", ")}`)
  }
  forbid("the full CLI's start-up", closure(main), ["undici", "oidc-provider", "@effect/opentelemetry"])
  forbid("the CLI's build (the demo server has its own)", Object.keys(outputs), ["oidc-provider", "dev-server/src"])
  const chunksDir = path.resolve(outdir, "chunks")
  const importers = Object.keys(outputs).filter((f) =>
    outputs[f].imports.some((i) => i.external && i.path === `./${DEMO_FILE}`)
  )
  if (importers.length === 0) {
    throw new Error(`no chunk imports ./${DEMO_FILE}: \`devflow demo\` would not find its server`)
  }
  for (const f of importers) {
    if (path.dirname(path.resolve(root, f)) !== chunksDir) {
      throw new Error(`${rel(f)} imports ./${DEMO_FILE} but is not in ${rel(chunksDir)}`)
    }
  }
  fs.chmodSync(path.resolve(root, entry), 0o755)
  return Object.fromEntries(
    Object.entries({ ...outputs, ...demo.metafile.outputs }).map(([file, out]) => [rel(file), out.bytes])
  )
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { outdir: { type: "string" }, sizes: { type: "boolean" } } })
  const sizes = await bundle(values.outdir === undefined ? undefined : path.resolve(values.outdir))
  if (values.sizes) {
    for (const [file, bytes] of Object.entries(sizes)) console.log(`${String(bytes).padStart(9)}  ${file}`)
  }
}
