import { execFile } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import type { TestProject } from "vitest/node"

declare module "vitest" {
  export interface ProvidedContext {
    /** the bundled CLI: `node <devflowBin> …` */
    readonly devflowBin: string
  }
}

const script = fileURLToPath(new URL("../scripts/bundle.mjs", import.meta.url))

export default async function setup(project: TestProject) {
  // Under packages/cli (dist/ is ignored by git and eslint), not the system's temp directory: the bundle
  // loads the keychain's native module (@napi-rs/keyring) at run time from packages/cli/node_modules.
  const dist = fileURLToPath(new URL("../dist", import.meta.url))
  fs.mkdirSync(dist, { recursive: true })
  const outdir = fs.mkdtempSync(path.join(dist, "test-bundle-"))
  await new Promise<void>((resolve, reject) =>
    execFile(
      process.execPath,
      [script, "--outdir", outdir],
      (error, _stdout, stderr) => error === null ? resolve() : reject(new Error(`bundling failed: ${stderr}`))
    )
  )
  project.provide("devflowBin", path.join(outdir, "devflow.mjs"))
  return () => fs.rmSync(outdir, { recursive: true, force: true })
}
