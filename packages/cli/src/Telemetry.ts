/**
 * Traces for operators: when the standard `OTEL_EXPORTER_OTLP_ENDPOINT` (or
 * `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set, devflow's spans — device
 * authorization request, each poll, refresh, cache reads and writes, HTTP
 * requests — are exported over OTLP/HTTP (JSON) with `@effect/opentelemetry`'s
 * OTLP tracer. `OTEL_EXPORTER_OTLP_HEADERS` (`key=value,…`) and
 * `OTEL_SERVICE_NAME` are honoured. Spans never carry a token, code or
 * secret (see `@devflow/core`'s internal telemetry).
 *
 * When no endpoint is set nothing is loaded: the exporter is a chunk of its
 * own, imported on first use, so start-up pays nothing.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"

/**
 * Where traces go, from the environment; `undefined` when tracing is off.
 *
 * @since 0.1.0
 * @category utils
 */
export const tracesUrl = (env: Readonly<Record<string, string | undefined>>): string | undefined => {
  const traces = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim()
  if (traces !== undefined && traces !== "") return traces
  const base = env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim()
  if (base === undefined || base === "") return undefined
  // OTLP/HTTP: the signal's path is appended to the base endpoint
  return `${base.replace(/\/+$/, "")}/v1/traces`
}

/**
 * `OTEL_EXPORTER_OTLP_HEADERS`: `key=value` pairs separated by commas, values URL-encoded.
 *
 * @since 0.1.0
 * @category utils
 */
export const headers = (value: string | undefined): Record<string, string> => {
  const out: Record<string, string> = {}
  for (const pair of (value ?? "").split(",")) {
    const eq = pair.indexOf("=")
    if (eq <= 0) continue
    try {
      out[pair.slice(0, eq).trim()] = decodeURIComponent(pair.slice(eq + 1).trim())
    } catch {
      out[pair.slice(0, eq).trim()] = pair.slice(eq + 1).trim()
    }
  }
  return out
}

/**
 * The tracer layer for this process: an OTLP exporter when an endpoint is
 * configured, else nothing at all. Spans still buffered are sent when the
 * command ends (the layer's scope closes).
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  env: Readonly<Record<string, string | undefined>>,
  version: string
): Layer.Layer<never> => {
  const url = tracesUrl(env)
  if (url === undefined) return Layer.empty
  return Layer.unwrapEffect(
    Effect.promise(async () => {
      const [{ layer: otlp }, { layerJson }, { layer: fetchLayer }] = await Promise.all([
        import("@effect/opentelemetry/OtlpTracer"),
        import("@effect/opentelemetry/OtlpSerialization"),
        import("@effect/platform/FetchHttpClient")
      ])
      return otlp({
        url,
        headers: headers(env.OTEL_EXPORTER_OTLP_HEADERS),
        resource: { serviceName: env.OTEL_SERVICE_NAME?.trim() || "devflow", serviceVersion: version },
        shutdownTimeout: "3 seconds"
      }).pipe(Layer.provide(Layer.merge(layerJson, fetchLayer)))
    })
  )
}
