/**
 * Every flag of every command, once: its name, its environment variable, the
 * commands that take it and its help text. Plain data (no Effect), because
 * three readers need it and one of them must start fast:
 *
 * - `Flags.ts` builds @effect/cli's options from it (and so the parser);
 * - `Help.ts` renders `--help` from it;
 * - `fastToken.ts` (`devflow token` without Effect) parses its flags with it;
 * - `CliError.ts` names the flag and variable behind a configuration field.
 *
 * Adding a flag is adding one entry here; a command's handler then finds it
 * under the entry's key in its options.
 * @internal
 */
import * as TokenFormat from "./tokenFormat.js"

/** @internal */
export const COMMAND_NAMES = [
  "login",
  "token",
  "exec",
  "git-credential",
  "accounts",
  "logout",
  "providers",
  "demo"
] as const

/** @internal */
export type CommandName = (typeof COMMAND_NAMES)[number]

/**
 * How a flag's value is read:
 * - `text`: one string; `secret`: one string, redacted at once;
 * - `boolean`: a switch (`DEVFLOW_X=true|false|yes|no|on|off|1|0`);
 * - `scopes`: repeatable, its variable holds them space-separated;
 * - `choice`: one of `choices`; `provider`: one of the core presets' ids;
 * - `integer`: a whole number from `min` to `max`.
 * @internal
 */
export type Kind = "text" | "secret" | "boolean" | "scopes" | "choice" | "provider" | "integer"

/** @internal */
export interface FlagSpec {
  /** the flag without `--` */
  readonly name: string
  readonly kind: Kind
  /** the environment fallback; absent for flags that only make sense typed */
  readonly env?: string
  /** the value's placeholder in help, e.g. `<url>` */
  readonly value?: string
  readonly help: string
  readonly commands: ReadonlyArray<CommandName | "devflow">
  /** the section it is listed under in help */
  readonly group: "server" | "prompt" | "output" | "cache" | "demo" | "other"
  readonly choices?: ReadonlyArray<string>
  readonly default?: string | number
  readonly min?: number
  readonly max?: number
  /**
   * What `devflow token`'s fast path does with it: `read` it (it knows what it
   * means for a cached answer), `ignore` it (it changes nothing when the token
   * comes from the cache); absent: leave the command to the full CLI.
   */
  readonly fast?: "read" | "ignore"
  /** kept out of help (still parsed) */
  readonly hidden?: boolean
}

const SIGN_IN = ["login", "token", "exec", "git-credential"] as const
/** the commands that get a token the way `token` does (commands/Token.ts `acquire`) */
const TOKEN_USERS = ["token", "exec", "git-credential"] as const
const ALL = ["devflow", ...COMMAND_NAMES] as const
const CACHED = ["login", "token", "exec", "git-credential", "accounts", "logout"] as const

/** `@devflow/cache-file`'s `FileTokenCache.secretStores`, repeated here to keep this module free of Effect. */
export const SECRET_STORES = ["auto", "keychain", "file"] as const

/**
 * The table. Keys are the option names the commands' handlers read.
 * @internal
 */
export const FLAGS = {
  provider: {
    name: "provider",
    kind: "provider",
    env: "DEVFLOW_PROVIDER",
    value: "<id>",
    help: "Provider preset (`devflow providers` shows what each needs); generic when only --issuer is given.",
    commands: SIGN_IN,
    group: "server",
    fast: "read"
  },
  issuer: {
    name: "issuer",
    kind: "text",
    env: "DEVFLOW_ISSUER",
    value: "<url>",
    help: "OpenID Connect / RFC 8414 issuer, found by discovery (okta, keycloak, generic).",
    commands: SIGN_IN,
    group: "server",
    fast: "read"
  },
  authority: {
    name: "authority",
    kind: "text",
    env: "DEVFLOW_AUTHORITY",
    value: "<url>",
    help:
      "entra: the cloud's host (default https://login.microsoftonline.com); okta, keycloak, generic: the issuer; github, google, auth0, aws-sso: a base address replacing the public one.",
    commands: SIGN_IN,
    group: "server",
    fast: "read"
  },
  clientId: {
    name: "client-id",
    kind: "text",
    env: "DEVFLOW_CLIENT_ID",
    value: "<id>",
    help: "The OAuth client (application) id (aws-sso: the name to register a client under).",
    commands: SIGN_IN,
    group: "server",
    fast: "read"
  },
  tenant: {
    name: "tenant",
    kind: "text",
    env: "DEVFLOW_TENANT",
    value: "<tenant>",
    help: "entra: tenant id or domain, or organizations, common, consumers; auth0: the tenant name.",
    commands: SIGN_IN,
    group: "server",
    fast: "read"
  },
  scope: {
    name: "scope",
    kind: "scopes",
    env: "DEVFLOW_SCOPE",
    value: "<scope>",
    help:
      "A scope to request; repeat for several (the variable: space-separated). Default: the profile's, else the preset's.",
    commands: SIGN_IN,
    group: "server",
    fast: "read"
  },
  audience: {
    name: "audience",
    kind: "text",
    env: "DEVFLOW_AUDIENCE",
    value: "<api>",
    help: "auth0: the API audience; entra-v1: the resource.",
    commands: SIGN_IN,
    group: "server",
    fast: "read"
  },
  startUrl: {
    name: "start-url",
    kind: "text",
    env: "DEVFLOW_START_URL",
    value: "<url>",
    help: "aws-sso: the AWS access portal URL (https://d-….awsapps.com/start).",
    commands: SIGN_IN,
    group: "server",
    fast: "read"
  },
  region: {
    name: "region",
    kind: "text",
    env: "DEVFLOW_REGION",
    value: "<region>",
    help: "aws-sso: the IAM Identity Center region, e.g. eu-west-1.",
    commands: SIGN_IN,
    group: "server",
    fast: "read"
  },
  clientSecret: {
    name: "client-secret",
    kind: "secret",
    env: "DEVFLOW_CLIENT_SECRET",
    value: "<secret>",
    help: "Client secret, for providers that require one (google). Prefer the variable: a flag shows in `ps`.",
    commands: SIGN_IN,
    group: "server"
  },
  dpop: {
    name: "dpop",
    kind: "boolean",
    env: "DEVFLOW_DPOP",
    help: "DPoP-bound tokens (RFC 9449).",
    commands: SIGN_IN,
    group: "server",
    fast: "ignore"
  },
  format: {
    name: "format",
    kind: "choice",
    env: "DEVFLOW_FORMAT",
    value: "<format>",
    choices: TokenFormat.FORMATS,
    help:
      "raw: the token alone; json: token, expiry, scopes, account; header: an Authorization header; k8s: a kubectl ExecCredential.",
    commands: ["token"],
    group: "output",
    fast: "read"
  },
  method: {
    name: "method",
    kind: "text",
    value: "<method>",
    default: "GET",
    help: "The request's method, for a DPoP proof (default GET).",
    commands: ["token"],
    group: "output"
  },
  url: {
    name: "url",
    kind: "text",
    value: "<url>",
    help: "The request's URL, for a DPoP token's header lines.",
    commands: ["token"],
    group: "output"
  },
  account: {
    name: "account",
    kind: "text",
    env: "DEVFLOW_ACCOUNT",
    value: "<account>",
    help: "The account, by id or username (see `devflow accounts`). Default: the profile's.",
    commands: TOKEN_USERS,
    group: "other",
    fast: "read"
  },
  login: {
    name: "login",
    kind: "boolean",
    env: "DEVFLOW_LOGIN",
    help:
      "When the user must sign in (again), run the device flow instead of exiting with 7 (exec: the default when stdin and stderr are a terminal).",
    commands: ["token", "exec"],
    group: "other",
    fast: "ignore"
  },
  open: {
    name: "open",
    kind: "boolean",
    env: "DEVFLOW_OPEN",
    help: "Open the verification page in the default browser.",
    commands: SIGN_IN,
    group: "prompt",
    fast: "ignore"
  },
  copy: {
    name: "copy",
    kind: "boolean",
    env: "DEVFLOW_COPY",
    help: "Copy the user code to the clipboard (OSC 52, and wl-copy/xclip/xsel/pbcopy/clip when present).",
    commands: SIGN_IN,
    group: "prompt",
    fast: "ignore"
  },
  noStoreSecret: {
    name: "no-store-secret",
    kind: "boolean",
    env: "DEVFLOW_NO_STORE_SECRET",
    help: "Do not keep the client secret in the 0600 cache (and forget a kept one): refreshes need it given.",
    commands: SIGN_IN,
    group: "server",
    fast: "ignore"
  },
  noQr: {
    name: "no-qr",
    kind: "boolean",
    env: "DEVFLOW_NO_QR",
    help: "Do not draw the QR code.",
    commands: [...SIGN_IN, "demo"],
    group: "prompt",
    fast: "ignore"
  },
  profile: {
    name: "profile",
    kind: "text",
    env: "DEVFLOW_PROFILE",
    value: "<name>",
    default: "default",
    help: "The name login remembers its settings under, and that token and logout use.",
    commands: ["login", ...TOKEN_USERS, "logout"],
    group: "cache",
    fast: "read"
  },
  cacheDir: {
    name: "cache-dir",
    kind: "text",
    env: "DEVFLOW_CACHE_DIR",
    value: "<dir>",
    help: "Directory of the token cache and the profiles. Default: ~/.cache/devflow (the platform's per-user cache).",
    commands: CACHED,
    group: "cache",
    fast: "read"
  },
  secretStore: {
    name: "secret-store",
    kind: "choice",
    env: "DEVFLOW_SECRET_STORE",
    value: "<store>",
    choices: SECRET_STORES,
    help: "Where refresh tokens and client secrets are kept.",
    commands: CACHED,
    group: "cache",
    // access tokens stay in the file whichever store keeps the long-lived secrets
    fast: "read"
  },
  env: {
    name: "env",
    kind: "text",
    value: "<name>",
    default: "DEVFLOW_ACCESS_TOKEN",
    help: "The environment variable the command receives the access token in.",
    commands: ["exec"],
    group: "other",
    fast: "read"
  },
  headerFile: {
    name: "header-file",
    kind: "text",
    value: "<path>",
    help:
      "Also write `Authorization: Bearer <token>` to this new file (0600) for `curl -H @<path>`; removed when the command ends.",
    commands: ["exec"],
    group: "other"
  },
  username: {
    name: "username",
    kind: "text",
    value: "<name>",
    help: "The username given to git with the token. Default: x-access-token for github, else oauth2.",
    commands: ["git-credential"],
    group: "other",
    fast: "read"
  },
  host: {
    name: "host",
    kind: "text",
    value: "<host>",
    help: "Answer only for this host (host or host:port, as in the remote's URL); git asks others elsewhere.",
    commands: ["git-credential"],
    group: "other",
    fast: "read"
  },
  interactive: {
    name: "interactive",
    kind: "boolean",
    help:
      "Start a device sign-in (its code on stderr) when one is needed even if stderr is not a terminal; default: only on a terminal, and never with GIT_TERMINAL_PROMPT=0.",
    commands: ["git-credential"],
    group: "other",
    fast: "ignore"
  },
  all: {
    name: "all",
    kind: "boolean",
    help: "Sign out of every account (empties the token cache).",
    commands: ["logout"],
    group: "other"
  },
  serve: {
    name: "serve",
    kind: "boolean",
    help:
      "Keep the demo server running (until Ctrl-C) for `devflow login` in another terminal, instead of signing in here.",
    commands: ["demo"],
    group: "demo"
  },
  port: {
    name: "port",
    kind: "integer",
    value: "<port>",
    min: 0,
    max: 65535,
    help: "Port of the demo server on 127.0.0.1. Default: 8628 with --serve, else a free port.",
    commands: ["demo"],
    group: "demo"
  },
  interval: {
    name: "interval",
    kind: "integer",
    value: "<seconds>",
    default: 5,
    min: 1,
    max: 600,
    help: "Polling interval the demo server asks for.",
    commands: ["demo"],
    group: "demo"
  },
  autoApprove: {
    name: "auto-approve",
    kind: "boolean",
    help: "Approve the code automatically (as user demo-user), for unattended runs.",
    commands: ["demo"],
    group: "demo"
  },
  json: {
    name: "json",
    kind: "boolean",
    env: "DEVFLOW_JSON",
    help: "JSON Lines on stdout (one event per line, the result last); messages stay on stderr.",
    commands: ALL,
    group: "output",
    fast: "read"
  },
  verbose: {
    name: "verbose",
    kind: "boolean",
    env: "DEVFLOW_VERBOSE",
    help: "On failure, also show the error's details and causes (secrets stay redacted).",
    commands: ALL,
    group: "output",
    fast: "ignore"
  }
} as const satisfies Readonly<Record<string, FlagSpec>>

/** @internal */
export type Table = typeof FLAGS

/** @internal */
export type Key = keyof Table

/** @internal */
export const KEYS = Object.keys(FLAGS) as ReadonlyArray<Key>

/**
 * The keys of the flags `command` takes, in table order.
 * @internal
 */
export const keysOf = (command: CommandName | "devflow"): ReadonlyArray<Key> =>
  KEYS.filter((key) => (FLAGS[key].commands as ReadonlyArray<string>).includes(command))

/**
 * The spec behind `--name` (or `name`), if there is one.
 * @internal
 */
export const byName = (flag: string): { readonly key: Key; readonly spec: FlagSpec } | undefined => {
  const name = flag.startsWith("--") ? flag.slice(2) : flag
  const key = KEYS.find((k) => FLAGS[k].name === name)
  return key === undefined ? undefined : { key, spec: FLAGS[key] }
}

/**
 * `--client-id (DEVFLOW_CLIENT_ID)`: how messages name a flag.
 * @internal
 */
export const label = (key: Key): string => {
  const spec: FlagSpec = FLAGS[key]
  return spec.env === undefined ? `--${spec.name}` : `--${spec.name} (${spec.env})`
}

/**
 * Whether a flag takes a value.
 * @internal
 */
export const takesValue = (spec: FlagSpec): boolean => spec.kind !== "boolean"

/**
 * `--secret-store file (DEVFLOW_SECRET_STORE=file)`: how messages tell a person to keep secrets
 * in the cache file; the cache library is given it for its warning (it names no flags itself).
 * @internal
 */
export const FILE_STORE_SETTING = `--${FLAGS.secretStore.name} file (${FLAGS.secretStore.env}=file)`
