/* global process, console */
// `pnpm pack:all`: every public package as the tarball npm would install, in
// one folder (the clone's packs/ unless --out DIR). Each package builds itself in its
// `prepack` (the libraries compile dist/, the CLI bundles), so this works in a
// fresh clone with nothing built; `pnpm pack` rewrites workspace: and catalog:
// versions into real ranges. Until the packages are on the registry, this is
// how an app installs them (README.md, "Install from a clone").
//
//   node scripts/pack.mjs [--out DIR]
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { parseArgs } from "node:util"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
const { values } = parseArgs({ options: { out: { type: "string" } } })
// --out is relative to where `pnpm pack:all` was typed, not to the root pnpm runs scripts in
const out = values.out === undefined
  ? path.join(root, "packs")
  : path.resolve(process.env.INIT_CWD ?? process.cwd(), values.out)
fs.mkdirSync(out, { recursive: true })
// The READMEs' install lines name tarballs by glob (devflow-core-*.tgz): an older version left here would match too.
for (const file of fs.readdirSync(out)) {
  if (/^devflow-.*\.tgz$/.test(file)) fs.rmSync(path.join(out, file))
}

const packages = fs.readdirSync(path.join(root, "packages")).sort().filter((name) => {
  const file = path.join(root, "packages", name, "package.json")
  return fs.existsSync(file) && JSON.parse(fs.readFileSync(file, "utf8")).private !== true
})
for (const name of packages) {
  execFileSync("pnpm", ["pack", "--pack-destination", out], {
    cwd: path.join(root, "packages", name),
    // pnpm prints the file list; only the tarball's name matters here
    stdio: ["ignore", "ignore", "inherit"]
  })
}
for (const file of fs.readdirSync(out).filter((f) => f.endsWith(".tgz")).sort()) {
  console.log(path.join(out, file))
}
