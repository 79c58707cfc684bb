/**
 * `devflow --help` and `devflow <command> --help`: short, wrapped to the
 * terminal, with examples. Rendered by us from the same definitions the
 * parser is built from (the flag table, and the command texts below, which
 * the commands also give @effect/cli as their descriptions): @effect/cli's
 * own help prints every option over five lines, repeats "This setting is
 * optional." for each, breaks words at 80 columns and cannot show examples.
 *
 * @since 0.1.0
 */
import * as ProviderPresets from "@devflow/core/ProviderPresets"
import * as HttpSettings from "@devflow/node-http/HttpSettings"
import * as FlagTable from "./internal/flagTable.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface Example {
  readonly title: string
  /** without the leading `devflow` */
  readonly command: string
  /** an environment assignment shown before `devflow` */
  readonly env?: string
}

/**
 * What `--help` says about a command.
 *
 * @since 0.1.0
 * @category models
 */
export interface CommandHelp {
  /** one line, in the root help's command list */
  readonly summary: string
  /** usage lines, without the leading `devflow <command>` */
  readonly usage: ReadonlyArray<string>
  readonly about: ReadonlyArray<string>
  readonly args?: ReadonlyArray<{ readonly name: string; readonly help: string }>
  readonly examples: ReadonlyArray<Example>
  /**
   * The command also takes this command's server and prompt flags (and means
   * the same by them): its help names them in one line and points there,
   * instead of describing them again.
   */
  readonly signInFlagsOf?: FlagTable.CommandName
}

/**
 * @since 0.1.0
 * @category constants
 */
export const COMMANDS: Readonly<Record<FlagTable.CommandName, CommandHelp>> = {
  login: {
    summary: "Sign in with a device code and remember the settings",
    usage: [
      "--provider <id> --client-id <id> [options]",
      "--issuer <url> --client-id <id> [options]",
      "[options]   (again, with the profile's settings)"
    ],
    about: [
      "Shows a code and a URL (and a QR code) on stderr and waits while you approve on any device with a browser. Then stores the tokens in the cache and remembers the settings as a profile, so that `devflow token` needs no flags."
    ],
    examples: [
      {
        title: "Microsoft Entra ID (your organisation's tenant)",
        command: "login --provider entra --tenant contoso.onmicrosoft.com --client-id <app-id>"
      },
      {
        title: "GitHub (an OAuth App or GitHub App with device flow enabled)",
        command: "login --provider github --client-id <client-id> --scope repo"
      },
      {
        title: "Google (a \"TVs and limited input devices\" client, with its secret)",
        env: "DEVFLOW_CLIENT_SECRET=<secret>",
        command: "login --provider google --client-id <id>.apps.googleusercontent.com"
      },
      {
        title: "Any OpenID Connect issuer (Okta, Keycloak, ...; --issuer alone: --provider generic)",
        command: "login --issuer https://id.example.com/realms/main --client-id <id>"
      }
    ]
  },
  token: {
    summary: "Print an access token (cached, else refreshed); exit 7: sign in again",
    usage: ["[--format raw|json|header|k8s] [--scope <scope>]... [--login] [options]"],
    about: [
      "The only command that prints a token (on stdout). Uses the profile `devflow login` saved; server flags pick (or resolve) another. When the user must sign in (again) it exits with 7 and says why, or with --login runs the device flow."
    ],
    examples: [
      { title: "An Authorization header for curl", command: "token --format header" },
      { title: "As a kubectl exec credential plugin", command: "token --format k8s" },
      { title: "Sign in when needed, then print the token", command: "token --login" }
    ],
    signInFlagsOf: "login"
  },
  exec: {
    summary: "Run a command with an access token in its environment",
    usage: ["[--env <name>] [--header-file <path>] [options] -- <command> [<arg>...]"],
    about: [
      "Gets a token as `devflow token` does (cached, else refreshed; a sign-in when stdin and stderr are a terminal, or with --login; else exit 7), then runs the command with the token in the variable --env names (default DEVFLOW_ACCESS_TOKEN), never on its command line. Exits with the command's exit code (128+n when a signal n ended it); SIGINT and SIGTERM are passed on to it."
    ],
    args: [{
      name: "<command> [<arg>...]",
      help: "The command to run, after `--`; run directly, not through a shell."
    }],
    examples: [
      {
        title: "curl with an Authorization header from a 0600 file",
        command: "exec --header-file ./auth.h -- curl -H @./auth.h https://api.example.com/me"
      },
      { title: "A script that reads the token from its environment", command: "exec -- ./deploy.sh" }
    ]
  },
  "git-credential": {
    summary: "Git credential helper: answers git with the access token",
    usage: ["[--profile <name>] [--username <name>] [--host <host>] [--interactive] get|store|erase"],
    about: [
      "Speaks git's credential protocol on stdin and stdout: `get` answers with the access token as the password (refreshed when due; a device sign-in, shown on stderr, when one is needed and stderr is a terminal or --interactive is given), `store` keeps nothing (the tokens are already in devflow's cache), `erase` forgets the access token git rejected and nothing else. Tokens go only to https URLs, or http on loopback. Configure it per host, so that each host gets its own profile's token."
    ],
    args: [{
      name: "get|store|erase",
      help: "The operation; git adds it. Others are ignored, as git's protocol asks."
    }],
    examples: [
      {
        title: "Sign in once, under a profile for the host",
        command: "login --provider github --client-id <client-id> --scope repo --profile github"
      },
      {
        title:
          "What git runs (the request on stdin) once configured with: git config --global credential.https://github.com.helper '!devflow git-credential --profile github'",
        command: "git-credential --profile github get"
      }
    ]
  },
  accounts: {
    summary: "List the signed-in accounts (never a token)",
    usage: ["[--cache-dir <dir>] [--json]"],
    about: ["Reads the token cache; sends no request."],
    examples: [{ title: "As JSON Lines, one account per line", command: "accounts --json" }]
  },
  logout: {
    summary: "Sign out: revoke at the server where it can, and forget an account and its tokens",
    usage: ["[<account>] [--all] [options]"],
    about: [
      "Revokes the account's refresh token at the server where the provider has a revocation endpoint (RFC 7009; it says so where there is none), then removes the account (default: the profile's) and its tokens from the cache; --all does so for every account. The profile's settings are kept for the next `devflow login`."
    ],
    args: [{ name: "<account>", help: "The account to sign out of: its id or username (see `devflow accounts`)." }],
    examples: [{ title: "Sign out of every account", command: "logout --all" }]
  },
  providers: {
    summary: "List the provider presets and the flags each one needs",
    usage: ["[<id>] [--json]"],
    about: ["Each preset knows its provider's endpoints and quirks; `devflow login --provider <id>` picks one."],
    args: [{ name: "<id>", help: "Show this preset only (e.g. entra)." }],
    examples: [{ title: "Entra's requirements, as JSON", command: "providers entra --json" }]
  },
  demo: {
    summary: "Try it: sign in against a local demo server (no account needed)",
    usage: ["[--auto-approve] [--json]", "--serve [--port <port>]"],
    about: [
      "Starts a real OpenID provider (oidc-provider) on 127.0.0.1 and signs in against it: open the URL, enter the code, sign in with any name and allow access. It keeps nothing. With --serve the server keeps running for `devflow login`, `token` and `accounts` in another terminal."
    ],
    examples: [
      { title: "Sign in, approving automatically", command: "demo --auto-approve" },
      { title: "Keep a demo server running, for devflow login in another terminal", command: "demo --serve" }
    ]
  }
}

/**
 * The one-line description of a command.
 *
 * @since 0.1.0
 * @category utils
 */
export const summaryOf = (command: FlagTable.CommandName): string => COMMANDS[command].summary

/**
 * @since 0.1.0
 * @category models
 */
export interface Style {
  /** the width to wrap to */
  readonly columns: number
  readonly bold: (s: string) => string
  readonly dim: (s: string) => string
}

/**
 * Words to lines of at most `width` characters (a longer word gets a line of its own).
 *
 * @since 0.1.0
 * @category utils
 */
export const wrap = (text: string, width: number): ReadonlyArray<string> => {
  const lines: Array<string> = []
  let line = ""
  // A word longer than a line (a long URL) is cut: the terminal would cut it anyway, at its own edge.
  const words = text.split(/\s+/).filter((w) => w !== "").flatMap((w) =>
    w.length <= width
      ? [w]
      : Array.from({ length: Math.ceil(w.length / width) }, (_, i) => w.slice(i * width, (i + 1) * width))
  )
  for (const word of words) {
    if (line !== "" && line.length + 1 + word.length > width) {
      lines.push(line)
      line = word
    } else {
      line = line === "" ? word : `${line} ${word}`
    }
  }
  if (line !== "") lines.push(line)
  return lines
}

const indentAll = (indent: string, lines: ReadonlyArray<string>) => lines.map((l) => indent + l)

/** A shell command over several lines, each but the last ending in ` \` (so it still pastes); a flag stays with its value. */
const commandLines = (command: string, width: number): ReadonlyArray<string> => {
  const words = command.split(" ")
  const units: Array<string> = []
  for (let i = 0; i < words.length; i++) {
    const word = words[i]!
    const next = words[i + 1]
    if (word.startsWith("--") && next !== undefined && !next.startsWith("-")) {
      units.push(`${word}\u0001${next}`)
      i++
    } else {
      units.push(word)
    }
  }
  const lines = wrap(units.join(" "), Math.max(20, width - 6)).map((line) => line.split("\u0001").join(" "))
  return lines.map((line, i) => (i === 0 ? line : `    ${line}`)).map((
    line,
    i
  ) => (i < lines.length - 1 ? `${line} \\` : line))
}

const choicesOf = (spec: FlagTable.FlagSpec): ReadonlyArray<string> | undefined =>
  spec.kind === "provider" ? ProviderPresets.IDS : spec.choices

const flagText = (spec: FlagTable.FlagSpec): string => {
  const choices = choicesOf(spec)
  const parts = [spec.help]
  if (choices !== undefined) parts.push(`One of: ${choices.join(", ")}.`)
  if (spec.env !== undefined) parts.push(`[env ${spec.env}]`)
  return parts.join(" ")
}

/** Two columns: the names, then the text wrapped beside them (below them when the names are long). */
const leftOf = (names: ReadonlyArray<string>, maxLeft: number) =>
  Math.min(maxLeft, Math.max(...names.map((n) => n.length)) + 4)

const table = (
  rows: ReadonlyArray<readonly [string, string]>,
  style: Style,
  maxLeft = 26,
  wanted = leftOf(rows.map(([name]) => name), maxLeft)
): ReadonlyArray<string> => {
  // On a narrow terminal the text goes below the names rather than into a thin column.
  const left = style.columns - wanted < 30 ? 6 : wanted
  const width = Math.max(20, style.columns - left)
  const out: Array<string> = []
  for (const [name, text] of rows) {
    const lines = wrap(text, width)
    if (name.length + 4 > left) {
      out.push(`  ${style.bold(name)}`)
      out.push(...indentAll(" ".repeat(left), lines))
    } else {
      out.push(`  ${style.bold(name)}${" ".repeat(left - 2 - name.length)}${lines[0] ?? ""}`)
      out.push(...indentAll(" ".repeat(left), lines.slice(1)))
    }
  }
  return out
}

const GROUPS: ReadonlyArray<readonly [FlagTable.FlagSpec["group"], string]> = [
  ["server", "Server and client"],
  ["prompt", "The prompt"],
  ["demo", "Demo"],
  ["other", "Options"],
  ["output", "Output"],
  ["cache", "Cache and profile"]
]

// The server and prompt flags `name` shares with `of`, described in `of`'s help only (`--scope` stays:
// it means something of its own for each command)
const signInFlags = (name: FlagTable.CommandName, of: FlagTable.CommandName): ReadonlyArray<FlagTable.Key> => {
  const shared = new Set(FlagTable.keysOf(of))
  return FlagTable.keysOf(name).filter((k) => {
    const spec: FlagTable.FlagSpec = FlagTable.FLAGS[k]
    return shared.has(k) && (spec.group === "server" || spec.group === "prompt") && spec.kind !== "scopes"
  })
}

const flagName = (spec: FlagTable.FlagSpec): string =>
  `--${spec.name}${spec.value === undefined ? "" : ` ${spec.value}`}`

const section = (title: string, style: Style) => ["", style.bold(`${title}:`)]

/**
 * `devflow <command> --help`.
 *
 * @since 0.1.0
 * @category utils
 */
export const command = (name: FlagTable.CommandName, style: Style): string => {
  const help = COMMANDS[name]
  const width = Math.max(40, style.columns)
  const out: Array<string> = [...wrap(`devflow ${name}: ${help.summary}.`, width)]
  out.push(...section("Usage", style))
  for (const usage of help.usage) out.push(...indentAll("  ", commandLines(`$ devflow ${name} ${usage}`, width - 2)))
  out.push("")
  for (const paragraph of help.about) out.push(...wrap(paragraph, width))
  out.push(...section("Examples", style))
  for (const example of help.examples) {
    out.push(...indentAll("  # ", wrap(example.title, width - 4)).map(style.dim))
    const line = `${example.env === undefined ? "" : `${example.env} `}devflow ${example.command}`
    out.push(...indentAll("  ", commandLines(`$ ${line}`, width - 2)))
  }
  if (help.args !== undefined) {
    out.push(...section("Arguments", style))
    out.push(
      ...table(
        help.args.map((a) => [a.name, a.help] as const),
        style,
        26,
        leftOf(
          [...FlagTable.keysOf(name).map((k) => flagName(FlagTable.FLAGS[k])), ...help.args.map((a) => a.name)],
          26
        )
      )
    )
  }
  const everywhere = new Set(FlagTable.keysOf("devflow"))
  const keys = FlagTable.keysOf(name).filter((k) => !everywhere.has(k))
  const inherited = help.signInFlagsOf === undefined ? [] : signInFlags(name, help.signInFlagsOf)
  const specs: ReadonlyArray<FlagTable.FlagSpec> = keys.filter((k) => !inherited.includes(k)).map((k) =>
    FlagTable.FLAGS[k]
  )
  const left = leftOf([...specs.map(flagName), ...(help.args ?? []).map((a) => a.name)], 26)
  // a command that takes another's flags lists the groups holding its own flags first
  const of = help.signInFlagsOf
  const holdsOwn = (group: string) =>
    of !== undefined && specs.some((s) => s.group === group && !(s.commands as ReadonlyArray<string>).includes(of))
  const groups = [...GROUPS.filter(([g]) => holdsOwn(g)), ...GROUPS.filter(([g]) => !holdsOwn(g))]
  for (const [group, title] of groups) {
    const inGroup = specs.filter((s) => s.group === group && s.hidden !== true)
    if (inGroup.length === 0) continue
    out.push(...section(title, style))
    out.push(...table(inGroup.map((s) => [flagName(s), flagText(s)] as const), style, 26, left))
  }
  if (help.signInFlagsOf !== undefined) {
    const names = inherited.map((k): FlagTable.FlagSpec => FlagTable.FLAGS[k]).filter((s) => s.hidden !== true).map((
      s
    ) => `--${s.name}`)
    out.push(...section("Sign-in flags", style))
    out.push(
      ...wrap(
        `Also accepted, meaning the same as for \`devflow ${help.signInFlagsOf}\` (see \`devflow ${help.signInFlagsOf} --help\`): ${
          names.join(", ")
        }.`,
        width
      ).map((line) => `  ${line}`)
    )
  }
  out.push(
    "",
    ...wrap("Every command also takes --json, --verbose and -h/--help (see `devflow --help`).", width).map(style.dim)
  )
  return out.join("\n") + "\n"
}

const ENVIRONMENT: ReadonlyArray<readonly [string, string]> = [
  ...HttpSettings.settings.map((setting) => [setting.env, setting.help] as const),
  ["HTTPS_PROXY, NO_PROXY", "The proxy to use, and the hosts to reach without it (also HTTP_PROXY)."],
  ["NODE_EXTRA_CA_CERTS", "A PEM file of extra trusted CA certificates (a TLS-inspecting proxy)."],
  ["NO_COLOR", "No colour in the output."]
]

/**
 * `devflow --help`.
 *
 * @since 0.1.0
 * @category utils
 */
export const root = (version: string, style: Style): string => {
  const width = Math.max(40, style.columns)
  const out: Array<string> = [
    ...wrap(`devflow ${version}: OAuth 2.0 device code sign-in (RFC 8628) from any terminal.`, width)
  ]
  out.push(...section("Usage", style), "  $ devflow <command> [options]")
  out.push(...section("Commands", style))
  out.push(...table(FlagTable.COMMAND_NAMES.map((name) => [name, COMMANDS[name].summary] as const), style))
  out.push(...section("Start here", style))
  out.push(
    ...table([
      ["$ devflow demo", "sign in against a local demo server"],
      ["$ devflow login --help", "how to sign in with Entra, GitHub, Google or any OpenID Connect issuer"],
      ["$ devflow token", "after login: the access token"]
    ], style)
  )
  const global: ReadonlyArray<FlagTable.FlagSpec> = FlagTable.keysOf("devflow").map((k) => FlagTable.FLAGS[k])
  out.push(...section("Options (for every command)", style))
  out.push(
    ...table([
      ...global.map((s) => [flagName(s), flagText(s)] as const),
      ["-h, --help", "Show help; `devflow <command> --help` shows a command's."],
      ["-v, --version", "Show the version."],
      ["--completions <shell>", "Print a completion script: bash, fish, zsh or sh."]
    ], style)
  )
  out.push(...section("Environment (no flag)", style))
  out.push(...table(ENVIRONMENT, style, 36))
  out.push("")
  out.push(
    ...wrap(
      "Exit codes: 0 done, 1 internal, 2 usage, 3 denied, 4 code expired, 5 network, 6 server error, 7 sign-in needed, 130 interrupted. More: docs/cli.md",
      width
    ).map(style.dim)
  )
  return out.join("\n") + "\n"
}
