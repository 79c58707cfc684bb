import { execFile } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
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
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), "devflow-cli-bundle-"))
  await new Promise<void>((resolve, reject) =>
    execFile(process.execPath, [script, "--outdir", outdir], (error, _stdout, stderr) =>
      error === null ? resolve() : reject(new Error(`bundling failed: ${stderr}`))
    )
  )
  project.provide("devflowBin", path.join(outdir, "devflow.mjs"))
  return () => fs.rmSync(outdir, { recursive: true, force: true })
}
