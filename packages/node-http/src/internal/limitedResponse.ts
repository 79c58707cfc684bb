import type * as Cookies from "@effect/platform/Cookies"
import type * as Headers from "@effect/platform/Headers"
import * as HttpClientError from "@effect/platform/HttpClientError"
import type * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as IncomingMessage from "@effect/platform/HttpIncomingMessage"
import * as UrlParams from "@effect/platform/UrlParams"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Inspectable from "effect/Inspectable"
import type * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"

/** @internal */
export interface Limits {
  readonly maxBytes: number
  /** Epoch millis (Effect `Clock`) by which the body must have been read. */
  readonly deadline: number | undefined
  readonly timeout: Duration.Duration | undefined
}

// A response whose body is never read still holds its connection; abort it
// once the response object is garbage collected.
const unreadResponses = new FinalizationRegistry<Scope.CloseableScope>((scope) => {
  Effect.runFork(Scope.close(scope, Exit.void))
})

/** @internal */
export const timeoutDescription = (timeout: Duration.Duration, phase: string): string =>
  `request timed out after ${Duration.format(timeout)} ${phase}`

const declaredLength = (headers: Headers.Headers): number | undefined => {
  const value = headers["content-length"]
  if (value === undefined || !/^\d+$/.test(value.trim())) return undefined
  return Number(value)
}

/**
 * Wraps a response so that every way of reading its body reads at most
 * `maxBytes` bytes and finishes by the request deadline. The wrapped response
 * owns the scope its request's abort controller is attached to: reading the
 * body to the end, failing, or being interrupted closes it, which aborts the
 * request (a no-op once undici has completed it).
 *
 * @internal
 */
export class LimitedResponse extends Inspectable.Class implements HttpClientResponse.HttpClientResponse {
  readonly [IncomingMessage.TypeId]: IncomingMessage.TypeId = IncomingMessage.TypeId
  readonly [HttpClientResponse.TypeId]: HttpClientResponse.TypeId = HttpClientResponse.TypeId

  constructor(
    readonly original: HttpClientResponse.HttpClientResponse,
    private readonly scope: Scope.CloseableScope,
    private readonly limits: Limits
  ) {
    super()
    unreadResponses.register(this, scope, this)
  }

  get request(): HttpClientRequest.HttpClientRequest {
    return this.original.request
  }

  get status(): number {
    return this.original.status
  }

  get headers(): Headers.Headers {
    return this.original.headers
  }

  get cookies(): Cookies.Cookies {
    return this.original.cookies
  }

  get remoteAddress(): Option.Option<string> {
    return this.original.remoteAddress
  }

  private decodeError(description: string | undefined, cause: unknown): HttpClientError.ResponseError {
    return new HttpClientError.ResponseError({
      request: this.request,
      response: this,
      reason: "Decode",
      cause,
      ...(description !== undefined ? { description } : {})
    })
  }

  private tooLarge(contentLength?: number): HttpClientError.ResponseError {
    const description = `response body exceeded ${this.limits.maxBytes} bytes` +
      (contentLength !== undefined ? ` (Content-Length: ${contentLength})` : "")
    return this.decodeError(description, new Cause.ExceededCapacityException(description))
  }

  /** The body is known to be too large from its Content-Length alone. */
  private declaredTooLarge(): HttpClientError.ResponseError | undefined {
    if (this.request.method === "HEAD" || this.status === 204 || this.status === 304) return undefined
    const length = declaredLength(this.headers)
    return length !== undefined && length > this.limits.maxBytes ? this.tooLarge(length) : undefined
  }

  private readonly release: Effect.Effect<void> = Effect.suspend(() => {
    unreadResponses.unregister(this)
    return Scope.close(this.scope, Exit.void)
  })

  private timedOut(): HttpClientError.ResponseError {
    const description = timeoutDescription(this.limits.timeout!, "while reading the response body")
    return this.decodeError(description, new Cause.TimeoutException(description))
  }

  /** Runs `effect`, failing it when the request deadline passes. */
  private withinDeadline<A>(
    effect: Effect.Effect<A, HttpClientError.ResponseError>
  ): Effect.Effect<A, HttpClientError.ResponseError> {
    const deadline = this.limits.deadline
    if (deadline === undefined) return effect
    return Effect.flatMap(Clock.currentTimeMillis, (now) =>
      now >= deadline
        ? Effect.fail(this.timedOut())
        : Effect.timeoutFail(effect, {
          duration: Duration.millis(deadline - now),
          onTimeout: () => this.timedOut()
        }))
  }

  private readBytes(): Effect.Effect<Uint8Array<ArrayBuffer>, HttpClientError.ResponseError> {
    return Effect.suspend(() => {
      const declared = this.declaredTooLarge()
      if (declared !== undefined) return Effect.fail(declared)
      // A body whose Content-Length is within the limit cannot exceed it: the
      // HTTP/1.1 parser stops at the declared length (RFC 9112 §6.3), and an
      // HTTP/2 body longer than its content-length is malformed (RFC 9113 §8.1.1).
      // The client's own reader is then far cheaper than an Effect stream.
      if (declaredLength(this.headers) !== undefined) {
        return Effect.map(this.original.arrayBuffer, (buffer) => new Uint8Array(buffer))
      }
      const chunks: Array<Uint8Array> = []
      let total = 0
      return Stream.runForEachChunk(this.original.stream, (chunk) =>
        Effect.suspend(() => {
          for (const bytes of chunk) {
            total += bytes.byteLength
            if (total > this.limits.maxBytes) return Effect.fail(this.tooLarge())
            chunks.push(bytes)
          }
          return Effect.void
        })).pipe(Effect.map(() => {
          const body = new Uint8Array(total)
          let offset = 0
          for (const bytes of chunks) {
            body.set(bytes, offset)
            offset += bytes.byteLength
          }
          return body
        }))
    })
  }

  private bytesCache: Effect.Effect<Uint8Array<ArrayBuffer>, HttpClientError.ResponseError> | undefined

  /** The whole body, read once (bounded, within the deadline) and cached. */
  get bytes(): Effect.Effect<Uint8Array<ArrayBuffer>, HttpClientError.ResponseError> {
    return this.bytesCache ??= this.withinDeadline(this.readBytes()).pipe(
      Effect.ensuring(this.release),
      Effect.cached,
      Effect.runSync
    )
  }

  get arrayBuffer(): Effect.Effect<ArrayBuffer, HttpClientError.ResponseError> {
    return Effect.map(this.bytes, (bytes) => bytes.buffer)
  }

  get text(): Effect.Effect<string, HttpClientError.ResponseError> {
    return Effect.flatMap(this.bytes, (bytes) =>
      Effect.try({
        try: () => new TextDecoder().decode(bytes),
        catch: (cause) => this.decodeError(undefined, cause)
      }))
  }

  get json(): Effect.Effect<unknown, HttpClientError.ResponseError> {
    return Effect.flatMap(this.text, (text) =>
      Effect.try({
        try: () => text === "" ? null : JSON.parse(text) as unknown,
        catch: (cause) => this.decodeError(undefined, cause)
      }))
  }

  get urlParamsBody(): Effect.Effect<UrlParams.UrlParams, HttpClientError.ResponseError> {
    return Effect.flatMap(this.text, (text) =>
      Effect.try({
        try: () => UrlParams.fromInput(new URLSearchParams(text)),
        catch: (cause) => this.decodeError(undefined, cause)
      }))
  }

  get formData(): Effect.Effect<FormData, HttpClientError.ResponseError> {
    return Effect.flatMap(this.bytes, (bytes) =>
      Effect.tryPromise({
        try: () => new Response(bytes, { headers: { "content-type": this.headers["content-type"] ?? "" } }).formData(),
        catch: (cause) => this.decodeError(undefined, cause)
      }))
  }

  get stream(): Stream.Stream<Uint8Array, HttpClientError.ResponseError> {
    return Stream.suspend(() => {
      const declared = this.declaredTooLarge()
      if (declared !== undefined) return Stream.fail(declared)
      let total = 0
      const limited = Stream.mapChunksEffect(this.original.stream, (chunk) =>
        Effect.suspend(() => {
          for (const bytes of chunk) total += bytes.byteLength
          return total > this.limits.maxBytes ? Effect.fail(this.tooLarge()) : Effect.succeed(chunk)
        }))
      const deadline = this.limits.deadline
      return deadline === undefined ? limited : Stream.interruptWhen(
        limited,
        Effect.flatMap(Clock.currentTimeMillis, (now) =>
          Effect.zipRight(
            Effect.sleep(Duration.millis(Math.max(0, deadline - now))),
            Effect.fail(this.timedOut())
          ))
      )
    }).pipe(Stream.ensuring(this.release))
  }

  override toJSON(): unknown {
    return this.original.toJSON()
  }
}
