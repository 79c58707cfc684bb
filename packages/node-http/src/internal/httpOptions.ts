import * as RequestLimits from "@devflow/core/RequestLimits"
import * as Setting from "@devflow/core/Setting"
import * as Cause from "effect/Cause"
import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as Duration from "effect/Duration"
import * as Either from "effect/Either"
import type * as HttpOptions from "../HttpOptions.js"
import * as HttpSettings from "../HttpSettings.js"

import { version } from "./version.js"

/** @internal */
export { version } from "./version.js"

/** @internal */
export const defaultUserAgent = `devflow/${version} (+https://github.com/devflow)`

/** @internal */
export const defaults: HttpOptions.HttpOptions & { readonly maxConnectionsPerOrigin: number } = {
  connectTimeout: Duration.seconds(10),
  requestTimeout: Duration.millis(RequestLimits.DEFAULT_TIMEOUT_MS),
  maxResponseBytes: RequestLimits.MAX_BODY_BYTES,
  userAgent: defaultUserAgent,
  proxy: {},
  ca: undefined,
  maxConnectionsPerOrigin: 128
}

/**
 * Options after defaults are applied and every value is checked; timeouts are
 * in milliseconds, `undefined` meaning "no limit".
 *
 * @internal
 */
export interface Resolved {
  readonly connectTimeoutMillis: number | undefined
  readonly requestTimeout: Duration.Duration | undefined
  readonly maxResponseBytes: number
  readonly userAgent: string
  readonly proxy: HttpOptions.ProxyOptions
  readonly ca: ReadonlyArray<string> | undefined
  readonly maxConnectionsPerOrigin: number
}

const timeout = (name: string, input: Duration.DurationInput): Duration.Duration | undefined => {
  const duration = Duration.decode(input)
  if (!Duration.isFinite(duration)) return undefined
  if (Duration.toMillis(duration) <= 0) {
    throw new Cause.IllegalArgumentException(`HttpOptions.${name} must be positive, got ${Duration.format(duration)}`)
  }
  return duration
}

/**
 * Applies the defaults and validates the options. Invalid options are a
 * programming error, so this throws `IllegalArgumentException`.
 *
 * @internal
 */
export const resolve = (options?: Partial<HttpOptions.HttpOptions>): Resolved => {
  const merged: HttpOptions.HttpOptions = { ...defaults, ...options }
  const connectTimeout = timeout("connectTimeout", merged.connectTimeout)
  if (!Number.isSafeInteger(merged.maxResponseBytes) || merged.maxResponseBytes <= 0) {
    throw new Cause.IllegalArgumentException(
      `HttpOptions.maxResponseBytes must be a positive integer, got ${merged.maxResponseBytes}`
    )
  }
  const maxConnectionsPerOrigin = merged.maxConnectionsPerOrigin ?? defaults.maxConnectionsPerOrigin
  if (!Number.isSafeInteger(maxConnectionsPerOrigin) || maxConnectionsPerOrigin <= 0) {
    throw new Cause.IllegalArgumentException(
      `HttpOptions.maxConnectionsPerOrigin must be a positive integer, got ${maxConnectionsPerOrigin}`
    )
  }
  if (merged.userAgent.trim() === "" || /[\r\n]/.test(merged.userAgent)) {
    throw new Cause.IllegalArgumentException("HttpOptions.userAgent must be a non-empty single-line string")
  }
  return {
    connectTimeoutMillis: connectTimeout === undefined ? undefined : Math.ceil(Duration.toMillis(connectTimeout)),
    requestTimeout: timeout("requestTimeout", merged.requestTimeout),
    maxResponseBytes: merged.maxResponseBytes,
    userAgent: merged.userAgent,
    proxy: merged.proxy,
    ca: merged.ca,
    maxConnectionsPerOrigin
  }
}

// One variable of the table, parsed by the rule every path applies (HttpSettings.problem, core's Setting).
const fromSetting = (setting: HttpSettings.HttpSetting): Config.Config<Duration.Duration | number | string> =>
  Config.mapOrFail(Config.string(setting.env), (text) => {
    const problem = HttpSettings.problem(setting, text)
    if (problem !== undefined) return Either.left(ConfigError.InvalidData([], problem))
    return Either.right(
      setting.kind === "duration"
        ? Duration.millis(Setting.durationMillis(text)!)
        : setting.kind === "positiveInteger"
        ? Setting.positiveInteger(text)!
        : text
    )
  })

/** @internal */
export const fromEnv: Config.Config<HttpOptions.HttpOptions> = Config.all(
  Object.fromEntries(
    HttpSettings.settings.map((setting) => [
      setting.option,
      fromSetting(setting).pipe(Config.withDefault(defaults[setting.option]))
    ])
  ) as { readonly [K in HttpSettings.HttpSetting["option"]]: Config.Config<HttpOptions.HttpOptions[K]> }
).pipe(
  // Proxy variables are read by undici's EnvHttpProxyAgent itself; extra roots by Node (NODE_EXTRA_CA_CERTS).
  Config.map((options): HttpOptions.HttpOptions => ({ ...options, proxy: {}, ca: undefined }))
)
