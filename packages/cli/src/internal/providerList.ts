/**
 * What `devflow providers` prints: the presets and the flags each needs,
 * from core's plain preset data and the one flag table. Plain Node: the
 * command (commands/Providers.ts) prints through {@link print}, and bin.ts
 * answers a plain `devflow providers [id] [--json]` through {@link fast}
 * before Effect loads, leaving anything else (an unknown id, a flag it does
 * not know, a malformed variable) to the full CLI, which says what is wrong.
 * @internal
 */
import * as ProviderPresets from "@devflow/core/ProviderPresets"
import type * as Providers from "@devflow/core/Providers"
import * as Setting from "@devflow/core/Setting"
import type * as Output from "../Output.js"
import * as FastToken from "./fastToken.js"
import * as FlagTable from "./flagTable.js"
import * as Terminal from "./terminal.js"

const FLAG = (field: Providers.InputField): string => `--${FlagTable.FLAGS[field === "scopes" ? "scope" : field].name}`

const requirement = (r: Providers.Requirement): string =>
  typeof r === "string" ? FLAG(r) : r.anyOf.map(FLAG).join(" or ")

const required = (p: Providers.Provider): ReadonlyArray<string> => p.requires.map(requirement)

const optional = (p: Providers.Provider): ReadonlyArray<string> => {
  const needed = new Set(p.requires.flatMap((r) => (typeof r === "string" ? [r] : r.anyOf)))
  return p.accepts.filter((f) => !needed.has(f)).map(FLAG)
}

const wrap = (text: string, width: number, indent: string): ReadonlyArray<string> => {
  const lines: Array<string> = []
  let line = ""
  for (const word of text.split(/\s+/)) {
    if (line !== "" && indent.length + line.length + 1 + word.length > width) {
      lines.push(indent + line)
      line = word
    } else {
      line = line === "" ? word : `${line} ${word}`
    }
  }
  if (line !== "") lines.push(indent + line)
  return lines
}

/**
 * The presets `ids` (all of them when `all`), one JSON line each or for people.
 * @internal
 */
export const print = (
  ids: ReadonlyArray<Providers.ProviderId>,
  options: { readonly json: boolean; readonly all: boolean },
  stdout: Output.Stream
): void => {
  for (const id of ids) {
    const p = ProviderPresets.presets[id]
    if (options.json) {
      stdout.line(JSON.stringify({
        id: p.id,
        title: p.title,
        description: p.describe,
        requires: required(p),
        accepts: optional(p),
        client_secret: p.clientSecret,
        default_authority: p.defaults.authority ?? null,
        default_scopes: p.defaults.scopes,
        discovery: p.endpoints._tag === "Discovery",
        docs: p.docs
      }))
      continue
    }
    stdout.line(`${stdout.bold(p.id)} — ${p.title}`)
    stdout.line(`  needs:    ${required(p).join(", ")}`)
    const extra = optional(p)
    if (extra.length > 0) stdout.line(`  optional: ${extra.join(", ")}`)
    if (p.defaults.scopes.length > 0) stdout.line(`  scopes:   ${p.defaults.scopes.join(" ")} (default)`)
    for (const line of wrap(p.describe, Math.min(process.stdout.columns ?? 100, 100), "  ")) stdout.line(line)
    stdout.line("")
  }
  if (!options.json && options.all) {
    stdout.line("Example: devflow login --provider entra --tenant contoso.onmicrosoft.com --client-id <app id>")
  }
}

const { json: JSON_FLAG, verbose: VERBOSE_FLAG } = FlagTable.FLAGS

/**
 * `devflow providers` (the arguments after it) answered without Effect: true
 * when it printed, false to leave the command to the full CLI. Flags and
 * variables as the full CLI reads them: `--json` and `--verbose` anywhere,
 * DEVFLOW_JSON and DEVFLOW_VERBOSE in core's yes/no spellings.
 * @internal
 */
export const fast = (args: ReadonlyArray<string>, env: Readonly<Record<string, string | undefined>>): boolean => {
  if (!FastToken.enabled(env)) return false
  let json = false
  const ids: Array<Providers.ProviderId> = []
  for (const arg of args) {
    if (arg === `--${JSON_FLAG.name}`) json = true
    else if (arg === `--${VERBOSE_FLAG.name}`) continue
    else if (ProviderPresets.isProviderId(arg) && ids.length === 0) ids.push(arg)
    else return false
  }
  const jsonEnv = env[JSON_FLAG.env]
  const verboseEnv = env[VERBOSE_FLAG.env]
  const fromEnv = jsonEnv === undefined ? false : Setting.boolean(jsonEnv)
  // a malformed variable is a usage error, for the full CLI to report
  if (fromEnv === undefined || (verboseEnv !== undefined && Setting.boolean(verboseEnv) === undefined)) return false
  print(
    ids.length === 0 ? ProviderPresets.IDS : ids,
    { json: json || fromEnv, all: ids.length === 0 },
    Terminal.stdout()
  )
  return true
}
