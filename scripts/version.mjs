/* global process, console */
// `node scripts/version.mjs [--check]`: the version a package reports (the CLI's `--version`, the
// HTTP layer's User-Agent) is its package.json's, written into src/internal/version.ts — as
// Effect's own packages do — because a bundle and `tsc`'s rootDir cannot read package.json at run
// time. `pnpm version-packages` runs it after `changeset version`; `--check` (in `pnpm test`)
// fails when a file differs, so the two never drift.
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
const PACKAGES = ["cli", "node-http"]
const check = process.argv.includes("--check")
let stale = 0
for (const name of PACKAGES) {
  const dir = path.join(root, "packages", name)
  const { version } = JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8"))
  const file = path.join(dir, "src", "internal", "version.ts")
  const text =
    `/** The package's version, from its package.json (written by scripts/version.mjs). @internal */\nexport const version = ${
      JSON.stringify(version)
    }\n`
  const current = fs.existsSync(file) ? fs.readFileSync(file, "utf8") : ""
  if (current === text) continue
  if (check) {
    console.error(`${path.relative(root, file)} does not say version ${version}: run \`node scripts/version.mjs\``)
    stale++
  } else {
    fs.writeFileSync(file, text)
    console.log(`${path.relative(root, file)}: ${version}`)
  }
}
process.exit(stale === 0 ? 0 : 1)
