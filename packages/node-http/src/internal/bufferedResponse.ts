import * as Cookies from "@effect/platform/Cookies"
import type * as Headers from "@effect/platform/Headers"
import * as HttpClientError from "@effect/platform/HttpClientError"
import type * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as IncomingMessage from "@effect/platform/HttpIncomingMessage"
import * as UrlParams from "@effect/platform/UrlParams"
import * as Effect from "effect/Effect"
import * as Inspectable from "effect/Inspectable"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"

/**
 * Why a response has no body to give: it was refused (too large), cut off,
 * or not complete by the deadline. Every read of the body fails with it.
 *
 * @internal
 */
export interface BodyFailure {
  readonly description: string | undefined
  readonly cause: unknown
}

const decoder = new TextDecoder()

/**
 * A response whose body has already been read whole into memory (or refused):
 * status and headers converted once, every body accessor a cheap effect over
 * the bytes, and nothing left to abort or release.
 *
 * @internal
 */
export class BufferedResponse extends Inspectable.Class implements HttpClientResponse.HttpClientResponse {
  readonly [IncomingMessage.TypeId]: IncomingMessage.TypeId = IncomingMessage.TypeId
  readonly [HttpClientResponse.TypeId]: HttpClientResponse.TypeId = HttpClientResponse.TypeId

  constructor(
    readonly request: HttpClientRequest.HttpClientRequest,
    readonly status: number,
    readonly headers: Headers.Headers,
    private readonly setCookie: string | ReadonlyArray<string> | undefined,
    /** The whole body (its `buffer` is exactly the body), or why there is none. */
    private readonly body: Uint8Array<ArrayBuffer> | BodyFailure
  ) {
    super()
  }

  get remoteAddress(): Option.Option<string> {
    return Option.none()
  }

  private cachedCookies: Cookies.Cookies | undefined

  get cookies(): Cookies.Cookies {
    return this.cachedCookies ??= this.setCookie === undefined
      ? Cookies.empty
      : Cookies.fromSetCookie(typeof this.setCookie === "string" ? [this.setCookie] : this.setCookie)
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

  private get bytes(): Effect.Effect<Uint8Array<ArrayBuffer>, HttpClientError.ResponseError> {
    const body = this.body
    return body instanceof Uint8Array
      ? Effect.succeed(body)
      : Effect.fail(this.decodeError(body.description, body.cause))
  }

  private decode<A>(f: (bytes: Uint8Array<ArrayBuffer>) => A): Effect.Effect<A, HttpClientError.ResponseError> {
    const body = this.body
    if (!(body instanceof Uint8Array)) return Effect.fail(this.decodeError(body.description, body.cause))
    return Effect.try({ try: () => f(body), catch: (cause) => this.decodeError(undefined, cause) })
  }

  get arrayBuffer(): Effect.Effect<ArrayBuffer, HttpClientError.ResponseError> {
    return Effect.map(this.bytes, (bytes) => bytes.buffer)
  }

  get text(): Effect.Effect<string, HttpClientError.ResponseError> {
    return this.decode((bytes) => decoder.decode(bytes))
  }

  get json(): Effect.Effect<unknown, HttpClientError.ResponseError> {
    return this.decode((bytes) => bytes.byteLength === 0 ? null : JSON.parse(decoder.decode(bytes)) as unknown)
  }

  get urlParamsBody(): Effect.Effect<UrlParams.UrlParams, HttpClientError.ResponseError> {
    return this.decode((bytes) => UrlParams.fromInput(new URLSearchParams(decoder.decode(bytes))))
  }

  get formData(): Effect.Effect<FormData, HttpClientError.ResponseError> {
    return Effect.flatMap(this.bytes, (bytes) =>
      Effect.tryPromise({
        try: () => new Response(bytes, { headers: { "content-type": this.headers["content-type"] ?? "" } }).formData(),
        catch: (cause) => this.decodeError(undefined, cause)
      }))
  }

  get stream(): Stream.Stream<Uint8Array, HttpClientError.ResponseError> {
    const body = this.body
    if (!(body instanceof Uint8Array)) return Stream.fail(this.decodeError(body.description, body.cause))
    return body.byteLength === 0 ? Stream.empty : Stream.succeed(body)
  }

  // Never the body: an OAuth answer carries tokens, and a response is logged with its errors.
  override toJSON(): unknown {
    return {
      _id: "@effect/platform/HttpClientResponse",
      request: this.request.toJSON(),
      status: this.status,
      headers: Inspectable.redact(this.headers),
      remoteAddress: this.remoteAddress.toJSON()
    }
  }
}
