/**
 * The HTTP client, loaded on first use. `@devflow/node-http` brings undici
 * (about half a megabyte of JavaScript); commands that may not send a request
 * at all (`token` answered from the cache, `accounts`, `logout`,
 * `providers`) should not pay for loading it.
 *
 * The client honours the settings `@devflow/node-http` reads from the
 * environment (`HttpOptions.fromEnv`): `DEVFLOW_HTTP_CONNECT_TIMEOUT`,
 * `DEVFLOW_HTTP_REQUEST_TIMEOUT`, `DEVFLOW_HTTP_MAX_RESPONSE_BYTES`,
 * `DEVFLOW_HTTP_USER_AGENT`; proxies (`HTTPS_PROXY`, `NO_PROXY`) and extra
 * CAs (`NODE_EXTRA_CA_CERTS`) are read by undici and Node themselves.
 *
 * @since 0.1.0
 */
import * as RequestLimits from "@devflow/core/RequestLimits"
import * as HttpOptions from "@devflow/node-http/HttpOptions"
import * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientError from "@effect/platform/HttpClientError"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { UsageError } from "./CliError.js"

// `(Invalid data at DEVFLOW.HTTP.REQUEST_TIMEOUT: "Expected …")` → `DEVFLOW_HTTP_REQUEST_TIMEOUT: Expected …`
const configMessage = (text: string): string => {
  const match = /^\(?(?:Invalid|Missing) data at ([\w.]+): "([\s\S]*)"\)?$/.exec(text.trim())
  return match === null ? text : `${match[1]!.replace(/\./g, "_")}: ${match[2]}`
}

/**
 * An `HttpClient` that loads and builds `NodeOAuthHttp.layer()` at its first
 * request, inside this layer's scope (which closes its connections).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerLazy: Layer.Layer<HttpClient.HttpClient, UsageError> = Layer.scoped(
  HttpClient.HttpClient,
  Effect.gen(function*() {
    const scope = yield* Effect.scope
    // Read now, so that a malformed setting is refused before anything else happens.
    const options = yield* Effect.mapError(
      HttpOptions.fromEnv,
      (error) =>
        new UsageError({
          message: `The HTTP settings in the environment cannot be used: ${configMessage(String(error))}`,
          hint:
            "DEVFLOW_HTTP_CONNECT_TIMEOUT and DEVFLOW_HTTP_REQUEST_TIMEOUT take a duration (\"10 seconds\") or milliseconds; `devflow --help` lists the variables."
        })
    )
    const real = yield* Effect.cached(
      Effect.promise(() => import("@devflow/node-http")).pipe(
        Effect.flatMap(({ NodeOAuthHttp }) => Layer.buildWithScope(NodeOAuthHttp.layer(options), scope)),
        Effect.map((context) => Context.get(context, HttpClient.HttpClient))
      )
    )
    // Every request goes to node-http's client, which enforces devflow's RequestLimits itself: say so,
    // or core would add a timer and a stream read of its own around each one.
    return RequestLimits.enforcing(
      HttpClient.makeWith<HttpClientError.HttpClientError, never, HttpClientError.HttpClientError, never>(
        (request) => Effect.flatMap(real, (client) => Effect.flatMap(request, (r) => client.execute(r))),
        Effect.succeed
      ) as HttpClient.HttpClient
    )
  })
)
