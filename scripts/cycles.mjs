/* global process, console */
// `node scripts/cycles.mjs`: fails when modules import each other's values in a cycle (type-only
// imports are erased and do not count). A cycle between a public module and its internal/ twin
// makes the evaluation order decide whether a class exists yet when it is used; the fix is to
// define the value in internal/ and re-export it. Run by `pnpm lint`.
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
const packagesDir = path.join(root, "packages")
const sources = []
const walk = (dir) => {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name)
    if (entry.isDirectory()) walk(full)
    else if (entry.name.endsWith(".ts") && !entry.name.endsWith(".test.ts") && !entry.name.endsWith(".d.ts")) {
      sources.push(full)
    }
  }
}
for (const pkg of fs.readdirSync(packagesDir)) {
  const src = path.join(packagesDir, pkg, "src")
  if (fs.existsSync(src)) walk(src)
}

// import … from "x" / export … from "x" / import "x" (a clause of names, braces, commas and `*` only)
const STATEMENT = /(?:^|\n)\s*(import|export)\s+(?:([\w\s{},*$]+?)\s+from\s+)?["']([^"']+)["']/g
const valueLevel = (clause) => {
  if (clause === undefined) return true // import "x": evaluated for its effects
  if (/^type\b/.test(clause)) return false
  const braces = clause.match(/\{([^}]*)\}/)
  if (braces === null) return true // default, namespace (* as X) or side-effect import
  const outside = clause.replace(/\{[^}]*\}/, "").replace(/[\s,]/g, "")
  const names = braces[1].split(",").map((s) => s.trim()).filter((s) => s !== "")
  return outside !== "" || names.some((name) => !name.startsWith("type "))
}
const resolve = (from, spec) => {
  let target
  if (spec.startsWith(".")) target = path.resolve(path.dirname(from), spec)
  else {
    const m = spec.match(/^@devflow\/([^/]+)(?:\/(.+))?$/)
    if (m === null) return undefined
    target = path.join(packagesDir, m[1], "src", m[2] ?? "index")
  }
  const ts = target.replace(/\.js$/, ".ts")
  for (const candidate of [ts, `${target}.ts`, path.join(target, "index.ts")]) {
    if (fs.existsSync(candidate) && fs.statSync(candidate).isFile()) return candidate
  }
  return undefined
}

const graph = new Map()
for (const file of sources) {
  const text = fs.readFileSync(file, "utf8").replace(/\/\*[\s\S]*?\*\//g, "").replace(/(^|\s)\/\/.*$/gm, "$1")
  const edges = new Set()
  for (const [, , clause, spec] of text.matchAll(STATEMENT)) {
    if (!valueLevel(clause)) continue
    const target = resolve(file, spec)
    if (target !== undefined && target !== file) edges.add(target)
  }
  graph.set(file, edges)
}

// Tarjan's strongly connected components: every component of more than one module is a cycle.
let counter = 0
const index = new Map()
const low = new Map()
const stack = []
const onStack = new Set()
const cycles = []
const connect = (v) => {
  index.set(v, counter)
  low.set(v, counter++)
  stack.push(v)
  onStack.add(v)
  for (const w of graph.get(v) ?? []) {
    if (!graph.has(w)) continue
    if (!index.has(w)) {
      connect(w)
      low.set(v, Math.min(low.get(v), low.get(w)))
    } else if (onStack.has(w)) low.set(v, Math.min(low.get(v), index.get(w)))
  }
  if (low.get(v) === index.get(v)) {
    const component = []
    let w
    do {
      w = stack.pop()
      onStack.delete(w)
      component.push(w)
    } while (w !== v)
    if (component.length > 1) cycles.push(component)
  }
}
for (const v of graph.keys()) if (!index.has(v)) connect(v)

if (cycles.length > 0) {
  for (const component of cycles) {
    console.error(`value-level import cycle: ${component.map((f) => path.relative(root, f)).sort().join(" ⇄ ")}`)
  }
  process.exit(1)
}
console.log(`no value-level import cycle in ${graph.size} modules`)
