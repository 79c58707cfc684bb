/**
 * The commands the documentation shows do what it says.
 */
import { execFile } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { promisify } from "node:util"
import { describe, expect, it } from "vitest"
import { cleanEnv } from "./helpers.js"

const run = promisify(execFile)
const repo = path.resolve(fileURLToPath(new URL("../../..", import.meta.url)))

const pages = (): ReadonlyArray<string> =>
  [
    "README.md",
    ...fs.readdirSync(path.join(repo, "packages")).map((p) => path.join("packages", p, "README.md")),
    ...fs.readdirSync(path.join(repo, "docs"), { recursive: true, encoding: "utf8" }).filter((f) =>
      f.endsWith(".md") && !f.startsWith("api")
    )
      .map((f) => path.join("docs", f))
  ].filter((file) => fs.existsSync(path.join(repo, file)))

describe("pnpm devflow in the docs", () => {
  it("is always `pnpm -s devflow`: without -s, pnpm's banner on stdout breaks the JSON a command prints", async () => {
    for (const file of pages()) {
      const text = fs.readFileSync(path.join(repo, file), "utf8")
      expect(text.split("\n").filter((line) => /\bpnpm devflow\b/.test(line)), file).toEqual([])
    }
    // what -s is for: the documented form's stdout is the command's own
    const quiet = await run("pnpm", ["-s", "devflow", "providers", "entra", "--json"], { cwd: repo, env: cleanEnv() })
    expect(JSON.parse(quiet.stdout)).toMatchObject({ id: "entra" })
  })
})
