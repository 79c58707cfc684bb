/**
 * A TypeScript entry of a test bundled into one ESM file (esbuild), so that
 * the real processes a test starts load in a fraction of a second instead of
 * the seconds a TypeScript loader takes. The file is removed when the test
 * process exits.
 */
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

export interface BundleOptions {
  /** where the bundle goes (default: the OS temp directory); under a package, it can load that package's native modules */
  readonly outdir?: string
  /** the bundle's file name prefix */
  readonly prefix?: string
}

/** Bundle `entry` (a file path) for Node 20, resolving workspace packages to their sources. */
export const bundleForTest = async (entry: string, options: BundleOptions = {}): Promise<string> => {
  const esbuild = await import("esbuild")
  const outdir = options.outdir ?? os.tmpdir()
  fs.mkdirSync(outdir, { recursive: true })
  const outfile = path.join(
    outdir,
    `${options.prefix ?? "devflow-test"}-${process.pid}-${crypto.randomBytes(4).toString("hex")}.mjs`
  )
  await esbuild.build({
    entryPoints: [entry],
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    conditions: ["@devflow/source"],
    outfile,
    logLevel: "warning",
    // bundled CommonJS calls require() for Node built-ins
    banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" }
  })
  process.once("exit", () => fs.rmSync(outfile, { force: true }))
  return outfile
}
