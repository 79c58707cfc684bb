import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import type * as Undici from "@effect/platform-node/Undici"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import type * as ConfigError from "effect/ConfigError"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import type * as HttpOptions from "../HttpOptions.js"
import * as dispatcher from "./dispatcher.js"
import * as httpOptions from "./httpOptions.js"
import { LimitedResponse, timeoutDescription } from "./limitedResponse.js"

const describeCause = (cause: unknown): string | undefined => {
  if (!(cause instanceof Error)) return undefined
  const code = (cause as { readonly code?: unknown }).code
  return typeof code === "string" && !cause.message.includes(code) ? `${cause.message} (${code})` : cause.message
}

// undici's errors say what went wrong ("connect ECONNREFUSED 127.0.0.1:1"); surface that in the message.
const withDescription = (error: HttpClientError.HttpClientError): HttpClientError.HttpClientError => {
  if (error._tag !== "RequestError" || error.reason !== "Transport" || error.description !== undefined) return error
  const description = describeCause(error.cause)
  return description === undefined
    ? error
    : new HttpClientError.RequestError({ request: error.request, reason: error.reason, cause: error.cause, description })
}

/** @internal */
export const fromDispatcher = (
  undici: Undici.Dispatcher,
  options?: Partial<HttpOptions.HttpOptions>
): HttpClient.HttpClient => {
  const resolved = httpOptions.resolve(options)
  const timeout = resolved.requestTimeout
  const limits = (startedAt: number) => ({
    maxBytes: resolved.maxResponseBytes,
    deadline: timeout === undefined ? undefined : startedAt + Duration.toMillis(timeout),
    timeout
  })

  // Each request's abort controller is tied to a scope of ours (`withScope`),
  // so a response can abort its connection as soon as its body is refused or read.
  const scoped = HttpClient.withScope(NodeHttpClient.makeUndici(undici))

  const limited = HttpClient.transformResponse(scoped, (send) =>
    Effect.uninterruptibleMask((restore) =>
      Effect.gen(function*() {
        const startedAt = yield* Clock.currentTimeMillis
        const scope = yield* Scope.make()
        const exit = yield* Effect.exit(restore(Scope.extend(send, scope)))
        if (Exit.isFailure(exit)) {
          // Aborts the request: this is what closes the socket on interruption and timeout.
          yield* Scope.close(scope, exit)
          return yield* exit
        }
        return new LimitedResponse(exit.value, scope, limits(startedAt))
      })
    ))

  const timed = HttpClient.transform(limited, (send, request) => {
    const described = Effect.mapError(send, withDescription)
    if (timeout === undefined) return described
    return Effect.timeoutFail(described, {
      duration: timeout,
      onTimeout: () => {
        const description = timeoutDescription(timeout, "waiting for the response")
        return new HttpClientError.RequestError({
          request,
          reason: "Transport",
          description,
          cause: new Cause.TimeoutException(description)
        })
      }
    })
  })

  return HttpClient.mapRequest(timed, (request) =>
    request.headers["user-agent"] === undefined
      ? HttpClientRequest.setHeader(request, "user-agent", resolved.userAgent)
      : request)
}

/** @internal */
export const make = (
  options?: Partial<HttpOptions.HttpOptions>
): Effect.Effect<HttpClient.HttpClient, never, NodeHttpClient.Dispatcher> =>
  Effect.flatMap(NodeHttpClient.Dispatcher, (undici) => Effect.sync(() => fromDispatcher(undici, options)))

/** @internal */
export const layerDispatcher = (options?: Partial<HttpOptions.HttpOptions>): Layer.Layer<NodeHttpClient.Dispatcher> =>
  Layer.scoped(NodeHttpClient.Dispatcher, dispatcher.makeDispatcher(options))

/** @internal */
export const layerWithoutDispatcher = (
  options?: Partial<HttpOptions.HttpOptions>
): Layer.Layer<HttpClient.HttpClient, never, NodeHttpClient.Dispatcher> =>
  HttpClient.layerMergedContext(make(options))

/** @internal */
export const layer = (options?: Partial<HttpOptions.HttpOptions>): Layer.Layer<HttpClient.HttpClient> =>
  Layer.provide(layerWithoutDispatcher(options), layerDispatcher(options))

/** @internal */
export const layerConfig: Layer.Layer<HttpClient.HttpClient, ConfigError.ConfigError> = Layer.unwrapEffect(
  Effect.map(httpOptions.fromEnv, layer)
)
