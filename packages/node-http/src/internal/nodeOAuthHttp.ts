import * as RequestLimits from "@devflow/core/RequestLimits"
import type * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as NodeStream from "@effect/platform-node/NodeStream"
import type * as Undici from "@effect/platform-node/Undici"
import * as Headers from "@effect/platform/Headers"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientError from "@effect/platform/HttpClientError"
import type * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as UrlParams from "@effect/platform/UrlParams"
import * as Cause from "effect/Cause"
import type * as ConfigError from "effect/ConfigError"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"
import * as FiberRef from "effect/FiberRef"
import * as Layer from "effect/Layer"
import type * as HttpOptions from "../HttpOptions.js"
import { type BodyFailure, BufferedResponse } from "./bufferedResponse.js"
import * as dispatcher from "./dispatcher.js"
import * as httpOptions from "./httpOptions.js"
import * as UndiciParts from "./undici.js"

// Effect's own tracer: its spans are kept by nobody, so a request makes none while it is in place.
const defaultTracer = Effect.runSync(Effect.tracer)

// The limits of a request sent through platform's (span-making) client, which copies the request.
const tracedLimits = FiberRef.unsafeMake<RequestLimits.RequestLimits | undefined>(undefined)

/** @internal */
export const describeCause = (cause: unknown): string | undefined => {
  if (!(cause instanceof Error)) return undefined
  const code = (cause as { readonly code?: unknown }).code
  return typeof code === "string" && !cause.message.includes(code) ? `${cause.message} (${code})` : cause.message
}

/** @internal */
export const timeoutDescription = (timeoutMs: number, phase: string): string =>
  `request timed out after ${Duration.format(Duration.millis(timeoutMs))} ${phase}`

const declaredLength = (headers: Headers.Headers): number | undefined => {
  const value = headers["content-length"]
  return value === undefined || !/^\d+$/.test(value.trim()) ? undefined : Number(value)
}

const tooLarge = (maxBytes: number, contentLength?: number): BodyFailure => {
  const description = `response body exceeded ${maxBytes} bytes` +
    (contentLength !== undefined ? ` (Content-Length: ${contentLength})` : "")
  return { description, cause: new Cause.ExceededCapacityException(description) }
}

type Resume = (effect: Effect.Effect<HttpClientResponse.HttpClientResponse, HttpClientError.HttpClientError>) => void

const onDeadline = (exchange: Exchange): void => exchange.timedOut()

/**
 * One request on the wire, as an undici dispatch handler: it collects the
 * answer into memory, counting bytes against the limit, and resumes the
 * waiting fiber exactly once — with the whole response, with a response
 * whose body failed (refused, cut off, or late), or with a transport error.
 * Whatever ends it first (the answer, the limit, the deadline, an
 * interruption) aborts the rest.
 */
class Exchange implements Undici.Dispatcher.DispatchHandler {
  private controller: Undici.Dispatcher.DispatchController | undefined
  private abortReason: Error | undefined
  private timer: ReturnType<typeof setTimeout> | undefined
  private settled = false
  private status = 0
  private headers: Headers.Headers | undefined
  private setCookie: string | Array<string> | undefined
  private chunks: Array<Buffer> = []
  private received = 0

  constructor(
    private readonly request: HttpClientRequest.HttpClientRequest,
    private readonly maxBytes: number,
    private readonly timeoutMs: number,
    private readonly resume: Resume
  ) {
    // One timer for connect, headers and body alike.
    if (timeoutMs !== Infinity) this.timer = setTimeout(onDeadline, timeoutMs, this)
  }

  /** Ends the exchange: the first caller wins, and whatever is still on the wire is aborted. */
  private settle(reason: Error | undefined): boolean {
    if (this.settled) return false
    this.settled = true
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.chunks = []
    if (reason !== undefined) {
      // Before the request reaches a connection there is no controller yet: abort it as it starts.
      if (this.controller !== undefined) this.controller.abort(reason)
      else this.abortReason = reason
    }
    return true
  }

  private respond(body: Uint8Array<ArrayBuffer> | BodyFailure): void {
    this.resume(Effect.succeed(new BufferedResponse(this.request, this.status, this.headers!, this.setCookie, body)))
  }

  private refuse(failure: BodyFailure): void {
    if (this.settle(new Error(failure.description))) this.respond(failure)
  }

  private failRequest(cause: unknown, description: string | undefined): void {
    this.resume(Effect.fail(
      new HttpClientError.RequestError({
        request: this.request,
        reason: "Transport",
        cause,
        ...(description !== undefined ? { description } : {})
      })
    ))
  }

  /** The async's canceler: interruption aborts the request at once. */
  readonly interrupt: Effect.Effect<void> = Effect.sync(() => {
    this.settle(new Error("request interrupted"))
  })

  timedOut(): void {
    const phase = this.headers === undefined ? "waiting for the response" : "while reading the response body"
    const description = timeoutDescription(this.timeoutMs, phase)
    const cause = new Cause.TimeoutException(description)
    if (!this.settle(cause)) return
    if (this.headers === undefined) this.failRequest(cause, description)
    else this.respond({ description, cause })
  }

  onRequestStart(controller: Undici.Dispatcher.DispatchController): void {
    this.controller = controller
    if (this.abortReason !== undefined) controller.abort(this.abortReason)
  }

  onResponseStart(
    _controller: Undici.Dispatcher.DispatchController,
    statusCode: number,
    headers: Record<string, string | Array<string> | undefined>
  ): void {
    if (this.settled || statusCode < 200) return
    this.status = statusCode
    this.headers = Headers.fromInput(headers)
    this.setCookie = headers["set-cookie"]
    if (this.request.method === "HEAD" || statusCode === 204 || statusCode === 304) return
    const length = declaredLength(this.headers)
    // Refused from the Content-Length alone: the connection is aborted rather than drained.
    if (length !== undefined && length > this.maxBytes) this.refuse(tooLarge(this.maxBytes, length))
  }

  onResponseData(_controller: Undici.Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.settled) return
    this.received += chunk.byteLength
    if (this.received > this.maxBytes) return this.refuse(tooLarge(this.maxBytes))
    this.chunks.push(chunk)
  }

  onResponseEnd(): void {
    const chunks = this.chunks
    if (!this.settle(undefined)) return
    // One exact copy: the chunks are views into undici's read buffers.
    const body = new Uint8Array(this.received)
    let offset = 0
    for (const chunk of chunks) {
      body.set(chunk, offset)
      offset += chunk.byteLength
    }
    this.respond(body)
  }

  onResponseError(_controller: Undici.Dispatcher.DispatchController, error: Error): void {
    if (!this.settle(undefined)) return
    const description = describeCause(error)
    if (this.headers === undefined) this.failRequest(error, description)
    else this.respond({ description, cause: error })
  }
}

type DispatchBody = Exclude<Undici.Dispatcher.DispatchOptions["body"], undefined>

const requestBody = (body: HttpClientRequest.HttpClientRequest["body"]): DispatchBody => {
  switch (body._tag) {
    case "Empty":
      return null
    case "Uint8Array":
    case "Raw":
      return body.body as DispatchBody
    case "FormData":
      return body.formData as unknown as DispatchBody
    case "Stream": // converted to a Readable by the caller
      return null
  }
}

/** @internal */
export const fromDispatcher = (
  undici: Undici.Dispatcher,
  options?: Partial<HttpOptions.HttpOptions>
): HttpClient.HttpClient => {
  const resolved = httpOptions.resolve(options)
  const optionTimeoutMs = resolved.requestTimeout === undefined ? Infinity : Duration.toMillis(resolved.requestTimeout)

  const send = (
    request: HttpClientRequest.HttpClientRequest,
    url: URL,
    body: DispatchBody,
    maxBytes: number,
    timeoutMs: number,
    extra: Undici.Dispatcher.RequestOptions | undefined
  ) =>
    Effect.async<HttpClientResponse.HttpClientResponse, HttpClientError.HttpClientError>((resume) => {
      const exchange = new Exchange(request, maxBytes, timeoutMs, resume)
      const headers = request.headers["user-agent"] === undefined
        ? { ...request.headers, "user-agent": resolved.userAgent }
        : request.headers
      try {
        undici.dispatch({
          ...extra,
          origin: url.origin,
          path: url.pathname + url.search, // a fragment is never sent (RFC 9110 §4.2.4)
          method: request.method,
          headers,
          body,
          // our one timer covers headers and body; without it, undici's hour-long wait for headers as before
          headersTimeout: timeoutMs === Infinity ? 60 * 60 * 1000 : 0,
          bodyTimeout: 0
        }, exchange)
      } catch (error) {
        exchange.onResponseError(undefined as never, error instanceof Error ? error : new Error(String(error)))
      }
      return exchange.interrupt
    })

  const execute = (
    request: HttpClientRequest.HttpClientRequest,
    url: URL,
    fiber: Fiber.RuntimeFiber<unknown, unknown>
  ) => {
    // the limits devflow attached to this request, if any: the tighter of them and ours apply
    const limits = RequestLimits.get(request) ?? fiber.getFiberRef(tracedLimits)
    const timeoutMs = limits === undefined ? optionTimeoutMs : Math.max(0, Math.min(optionTimeoutMs, limits.timeoutMs))
    const maxBytes = limits === undefined
      ? resolved.maxResponseBytes
      : Math.min(resolved.maxResponseBytes, limits.maxBodyBytes)
    const extra = fiber.getFiberRef(FiberRef.currentContext).unsafeMap.get(UndiciParts.REQUEST_OPTIONS_KEY) as
      | Undici.Dispatcher.RequestOptions
      | undefined
    return request.body._tag === "Stream"
      ? Effect.flatMap(
        NodeStream.toReadable(request.body.stream),
        (readable) => send(request, url, readable, maxBytes, timeoutMs, extra)
      )
      : send(request, url, requestBody(request.body), maxBytes, timeoutMs, extra)
  }
  // With a tracer of the application's: platform's client, which makes a span per request.
  const traced = HttpClient.make((request, url, _signal, fiber) => execute(request, url, fiber))
  // Without one, none of its wrapping — an AbortController, a FinalizationRegistry entry and a
  // response wrapper per request, and a span nobody reads. The abort signal is not needed:
  // interruption reaches the request through the async's canceler, and a response owns no
  // connection once it is returned.
  const client = HttpClient.makeWith(
    (effect) =>
      Effect.flatMap(
        effect,
        (request) =>
          Effect.withFiberRuntime<HttpClientResponse.HttpClientResponse, HttpClientError.HttpClientError>((fiber) => {
            if (fiber.currentTracer !== defaultTracer && fiber.getFiberRef(FiberRef.currentTracerEnabled)) {
              // platform's client hands `execute` a copy of the request (with trace headers): the limits go alongside
              return Effect.locally(traced.execute(request), tracedLimits, RequestLimits.get(request))
            }
            const url = UrlParams.makeUrl(request.url, request.urlParams, request.hash)
            return url._tag === "Left"
              ? Effect.fail(new HttpClientError.RequestError({ request, reason: "InvalidUrl", cause: url.left }))
              : execute(request, url.right, fiber)
          })
      ),
    Effect.succeed as HttpClient.HttpClient.Preprocess<never, never>
  )
  return RequestLimits.enforcing(client)
}

/** @internal */
export const make = (
  options?: Partial<HttpOptions.HttpOptions>
): Effect.Effect<HttpClient.HttpClient, never, NodeHttpClient.Dispatcher> =>
  Effect.flatMap(UndiciParts.Dispatcher, (agent) => Effect.sync(() => fromDispatcher(agent, options)))

/** @internal */
export const layerDispatcher = (options?: Partial<HttpOptions.HttpOptions>): Layer.Layer<NodeHttpClient.Dispatcher> =>
  Layer.scoped(UndiciParts.Dispatcher, dispatcher.makeDispatcher(options))

/** @internal */
export const layerWithoutDispatcher = (
  options?: Partial<HttpOptions.HttpOptions>
): Layer.Layer<HttpClient.HttpClient, never, NodeHttpClient.Dispatcher> =>
  // Not `HttpClient.layerMergedContext`: the client needs nothing from the context per request, and a
  // derived client would lose the mark that tells core this one enforces RequestLimits.
  Layer.effect(HttpClient.HttpClient, make(options))

/** @internal */
export const layer = (options?: Partial<HttpOptions.HttpOptions>): Layer.Layer<HttpClient.HttpClient> =>
  Layer.provide(layerWithoutDispatcher(options), layerDispatcher(options))

/** @internal */
export const layerConfig: Layer.Layer<HttpClient.HttpClient, ConfigError.ConfigError> = Layer.unwrapEffect(
  Effect.map(httpOptions.fromEnv, layer)
)
