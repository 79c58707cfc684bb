/**
 * The HTTP client, loaded on first use. `@devflow/node-http` brings undici
 * (about half a megabyte of JavaScript); commands that may not send a request
 * at all (`token` answered from the cache, `accounts`, `logout`,
 * `providers`) should not pay for loading it.
 *
 * @since 0.1.0
 */
import * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientError from "@effect/platform/HttpClientError"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"

/**
 * An `HttpClient` that loads and builds `NodeOAuthHttp.layer()` at its first
 * request, inside this layer's scope (which closes its connections).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerLazy: Layer.Layer<HttpClient.HttpClient> = Layer.scoped(
  HttpClient.HttpClient,
  Effect.gen(function*() {
    const scope = yield* Effect.scope
    const real = yield* Effect.cached(
      Effect.promise(() => import("@devflow/node-http")).pipe(
        Effect.flatMap(({ NodeOAuthHttp }) => Layer.buildWithScope(NodeOAuthHttp.layer(), scope)),
        Effect.map((context) => Context.get(context, HttpClient.HttpClient))
      )
    )
    return HttpClient.makeWith<HttpClientError.HttpClientError, never, HttpClientError.HttpClientError, never>(
      (request) => Effect.flatMap(real, (client) => Effect.flatMap(request, (r) => client.execute(r))),
      Effect.succeed
    ) as HttpClient.HttpClient
  })
)
