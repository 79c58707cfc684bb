/**
 * How the person started devflow, so that the commands we suggest (hints,
 * the demo's next steps) can be typed as they are: `pnpm -s devflow …` in a
 * clone, `node packages/cli/dist/devflow.mjs …` when the bundle was run by
 * path, `devflow …` for the installed binary.
 * @internal
 */
import * as path from "node:path"

/** @internal */
export interface Invocation {
  /** what to type for `devflow` */
  readonly devflow: string
  /** what to type for `devflow demo` */
  readonly demo: string
}

/** @internal */
export const of = (
  env: Readonly<Record<string, string | undefined>>,
  script: string | undefined,
  cwd: string
): Invocation => {
  // the clone's package.json scripts: `pnpm start` is `devflow demo`, `pnpm devflow` the command
  const lifecycle = env.npm_lifecycle_event
  if (lifecycle === "start" || lifecycle === "devflow") return { devflow: "pnpm -s devflow", demo: "pnpm start" }
  // a bin link keeps its own name (process.argv[1] is not resolved): `devflow` on the PATH or in node_modules/.bin
  if (script === undefined || path.basename(script) === "devflow") return { devflow: "devflow", demo: "devflow demo" }
  const relative = path.relative(cwd, script)
  const file = relative.startsWith("..") || path.isAbsolute(relative) ? script : relative
  const devflow = `node ${/[\s"'$`\\]/.test(file) ? JSON.stringify(file) : file}`
  return { devflow, demo: `${devflow} demo` }
}

/** This process's invocation. @internal */
export const current = (): Invocation => of(process.env, process.argv[1], process.cwd())

/**
 * `text` with every quoted `devflow …` command (`` `devflow login` ``) spelled as this process was started.
 * @internal
 */
export const respell = (text: string, invocation: Invocation = current()): string =>
  invocation.devflow === "devflow" ? text : text.replaceAll("`devflow ", `\`${invocation.devflow} `)
