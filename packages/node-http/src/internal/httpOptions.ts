import * as Cause from "effect/Cause"
import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as Duration from "effect/Duration"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import type * as HttpOptions from "../HttpOptions.js"

/** @internal */
export const version = "0.1.0"

/** @internal */
export const defaultUserAgent = `devflow/${version} (+https://github.com/devflow)`

/** @internal */
export const defaults: HttpOptions.HttpOptions = {
  connectTimeout: Duration.seconds(10),
  requestTimeout: Duration.seconds(30),
  maxResponseBytes: 1_048_576,
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
  const maxConnectionsPerOrigin = merged.maxConnectionsPerOrigin ?? 128
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

// "10 seconds" / "500 millis" (Effect's duration syntax) or a bare number of milliseconds.
const positiveDuration = (name: string): Config.Config<Duration.Duration> =>
  Config.mapOrFail(Config.string(name), (text) => {
    const trimmed = text.trim()
    const duration = /^\d+$/.test(trimmed) ? Option.some(Duration.millis(Number(trimmed))) : Duration.decodeUnknown(trimmed)
    return Option.isSome(duration) && Duration.isFinite(duration.value) && Duration.toMillis(duration.value) > 0
      ? Either.right(duration.value)
      : Either.left(ConfigError.InvalidData(
        [],
        `Expected a positive duration such as "10 seconds" or a number of milliseconds, got ${JSON.stringify(text)}`
      ))
  })

/** @internal */
export const fromEnv: Config.Config<HttpOptions.HttpOptions> = Config.all({
  connectTimeout: positiveDuration("CONNECT_TIMEOUT").pipe(Config.withDefault(defaults.connectTimeout)),
  requestTimeout: positiveDuration("REQUEST_TIMEOUT").pipe(Config.withDefault(defaults.requestTimeout)),
  maxResponseBytes: Config.integer("MAX_RESPONSE_BYTES").pipe(
    Config.validate({ message: "Expected a positive integer", validation: (n) => n > 0 }),
    Config.withDefault(defaults.maxResponseBytes)
  ),
  userAgent: Config.nonEmptyString("USER_AGENT").pipe(Config.withDefault(defaults.userAgent)),
  maxConnectionsPerOrigin: Config.integer("MAX_CONNECTIONS").pipe(
    Config.validate({ message: "Expected a positive integer", validation: (n) => n > 0 }),
    Config.withDefault(128)
  )
}).pipe(
  Config.nested("HTTP"),
  Config.nested("DEVFLOW"),
  // Proxy variables are read by undici's EnvHttpProxyAgent itself; extra roots by Node (NODE_EXTRA_CA_CERTS).
  Config.map((options): HttpOptions.HttpOptions => ({ ...options, proxy: {}, ca: undefined }))
)
