/**
 * The `DEVFLOW_HTTP_*` environment variables: their names, what each takes
 * and what it is for, in one table. `HttpOptions.fromEnv` reads them from it,
 * `devflow --help` lists them from it, and the CLI's `devflow token` fast path
 * checks them against it (a malformed setting is refused on every path).
 *
 * Pure: no Effect, no undici (the fast path imports it).
 *
 * @since 0.1.0
 */
import * as Setting from "@devflow/core/Setting"

/**
 * One variable: its name, the `HttpOptions` field it sets, the kind of text
 * it takes, and one line for `--help`.
 *
 * @since 0.1.0
 * @category models
 */
export interface HttpSetting {
  readonly env: string
  readonly option: "connectTimeout" | "requestTimeout" | "maxResponseBytes" | "userAgent" | "maxConnectionsPerOrigin"
  readonly kind: "duration" | "positiveInteger" | "text"
  readonly help: string
}

/**
 * Every `DEVFLOW_HTTP_*` variable.
 *
 * @since 0.1.0
 * @category constants
 */
export const settings: ReadonlyArray<HttpSetting> = [
  {
    env: "DEVFLOW_HTTP_CONNECT_TIMEOUT",
    option: "connectTimeout",
    kind: "duration",
    help: "Connect + TLS timeout, e.g. \"5 seconds\" or milliseconds (default 10 s)."
  },
  {
    env: "DEVFLOW_HTTP_REQUEST_TIMEOUT",
    option: "requestTimeout",
    kind: "duration",
    help: "Timeout of one whole request (default 30 s)."
  },
  {
    env: "DEVFLOW_HTTP_MAX_RESPONSE_BYTES",
    option: "maxResponseBytes",
    kind: "positiveInteger",
    help: "Largest response body read (default 1 MiB)."
  },
  { env: "DEVFLOW_HTTP_USER_AGENT", option: "userAgent", kind: "text", help: "The User-Agent sent." },
  {
    env: "DEVFLOW_HTTP_MAX_CONNECTIONS",
    option: "maxConnectionsPerOrigin",
    kind: "positiveInteger",
    help: "Most connections kept open to one server (default 128)."
  }
]

/**
 * What is wrong with a setting's text, or `undefined` when it can be used.
 *
 * @since 0.1.0
 * @category utils
 */
export const problem = (setting: HttpSetting, text: string): string | undefined => {
  switch (setting.kind) {
    case "duration":
      return Setting.durationMillis(text) === undefined
        ? `Expected a positive duration such as "10 seconds" or a number of milliseconds, got ${JSON.stringify(text)}`
        : undefined
    case "positiveInteger":
      return Setting.positiveInteger(text) === undefined
        ? `Expected a positive integer, got ${JSON.stringify(text)}`
        : undefined
    case "text":
      return text.trim() === "" || /[\r\n]/.test(text)
        ? `Expected one line of text, got ${JSON.stringify(text)}`
        : undefined
  }
}

/**
 * The first variable of an environment that is set but cannot be used, with
 * what is wrong with it.
 *
 * @since 0.1.0
 * @category utils
 */
export const firstProblem = (
  env: Readonly<Record<string, string | undefined>>
): { readonly env: string; readonly problem: string } | undefined => {
  for (const setting of settings) {
    const text = env[setting.env]
    const found = text === undefined ? undefined : problem(setting, text)
    if (found !== undefined) return { env: setting.env, problem: found }
  }
  return undefined
}
