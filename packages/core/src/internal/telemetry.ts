import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as HttpTraceContext from "@effect/platform/HttpTraceContext"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import type * as Tracer from "effect/Tracer"
import { KNOWN_CODES } from "./oauthCodes.js"

/**
 * Tracing for operators: one span per device authorization request, poll,
 * refresh and cache read/write, through Effect's tracer (exported with
 * `@effect/opentelemetry` when the application installs it).
 *
 * Spans are made only when the application installed a tracer of its own:
 * Effect's default tracer keeps spans nobody reads, and on the polling hot
 * path that is measurable CPU and memory (docs/benchmarks.md). Attributes name
 * what a person debugging needs — endpoint host, client, provider, attempt,
 * interval, outcome, HTTP status, retry reason — and never a token, a code
 * or a secret: callers pass only the values below.
 * @internal
 */

const defaultTracer: Tracer.Tracer = Effect.runSync(Effect.tracer)

/** @internal */
export type Attributes = Readonly<Record<string, string | number | boolean | undefined>>

/** @internal */
export const defined = (attributes: Attributes): Record<string, string | number | boolean> => {
  const out: Record<string, string | number | boolean> = {}
  for (const [key, value] of Object.entries(attributes)) if (value !== undefined) out[key] = value
  return out
}

/**
 * An OAuth error code as a span may carry it: a code of the specifications or
 * of a provider devflow knows, else `other` — a server's code is its own text,
 * and a hostile or buggy one may put anything there (a token it was sent, say).
 * @internal
 */
export const oauthCode = (code: string): string => (KNOWN_CODES.has(code) ? code : "other")

/** @internal */
export const hostOf = (url: string): string => {
  try {
    return new URL(url).host
  } catch {
    return "(invalid URL)"
  }
}

/**
 * The outcome attributes of a failure: the error's tag, and the server's
 * OAuth code and HTTP status when it carries them (never its text, which a
 * server may fill with whatever it was sent).
 * @internal
 */
export const failureAttributes = (error: unknown): Attributes => {
  if (typeof error !== "object" || error === null) return { "devflow.outcome": "defect" }
  const e = error as {
    readonly _tag?: unknown
    readonly error?: unknown
    readonly status?: unknown
    readonly reason?: unknown
  }
  return {
    "devflow.outcome": typeof e._tag === "string" ? e._tag : "error",
    "devflow.oauth.error": typeof e.error === "string" ? oauthCode(e.error) : undefined,
    "http.response.status_code": typeof e.status === "number" ? e.status : undefined,
    "devflow.reason": typeof e.reason === "string" && e._tag === "InteractionRequired" ? e.reason : undefined
  }
}

/**
 * Run `self` in a span named `name` when a tracer is installed, with
 * `attributes` and those `outcome` derives from the exit.
 * @internal
 */
export const traced = <Out = unknown, Err = unknown>(
  name: string,
  // a function, so that a flow that is not traced builds nothing on its hot path
  attributes: Attributes | (() => Attributes),
  outcome: (exit: Exit.Exit<Out, Err>) => Attributes = (exit) =>
    Exit.isSuccess(exit) ? { "devflow.outcome": "ok" } : failureOutcome(exit)
) =>
<A extends Out, E extends Err, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  // No span with Effect's default tracer; the HTTP requests inside make none either (oauthHttp's `send`).
  Effect.tracerWith((tracer) =>
    tracer === defaultTracer
      ? self
      : Effect.withSpan(
        Effect.onExit(self, (exit) => Effect.annotateCurrentSpan(defined(outcome(exit)))),
        name,
        { kind: "client", attributes: defined(typeof attributes === "function" ? attributes() : attributes) }
      )
  )

/** @internal */
export const failureOutcome = (exit: Exit.Exit<unknown, unknown>): Attributes =>
  Exit.match(exit, {
    onSuccess: () => ({ "devflow.outcome": "ok" }),
    onFailure: (cause) =>
      Option.match(Cause.failureOption(cause), {
        onSome: failureAttributes,
        onNone: () => ({ "devflow.outcome": Cause.isInterruptedOnly(cause) ? "interrupted" : "defect" })
      })
  })

/**
 * Whether the fiber runs with a tracer of the application's (read synchronously, per request).
 * @internal
 */
export const tracedBy = (fiber: Fiber.RuntimeFiber<unknown, unknown>): boolean => fiber.currentTracer !== defaultTracer

/**
 * The span of one HTTP request, in OpenTelemetry's HTTP client conventions
 * (`http.client POST`): method, server, URL and the answer's status, and on
 * failure only the error's tag (never its text). The trace context goes
 * out with the request unless the application turned propagation off.
 * @internal
 */
export const httpClientSpan = <A, E, R>(
  request: HttpClientRequest.HttpClientRequest,
  exchange: (
    request: HttpClientRequest.HttpClientRequest,
    onResponse: (response: HttpClientResponse.HttpClientResponse) => void
  ) => Effect.Effect<A, E, R>
): Effect.Effect<A, E, R> =>
  Effect.withFiberRuntime((fiber) =>
    Effect.useSpan(`http.client ${request.method}`, {
      kind: "client",
      captureStackTrace: false,
      attributes: {
        "http.request.method": request.method,
        "server.address": originOf(request.url),
        "url.full": request.url
      }
    }, (span) => {
      const propagated = fiber.getFiberRef(HttpClient.currentTracerPropagation)
        ? HttpClientRequest.setHeaders(request, HttpTraceContext.toHeaders(span))
        : request
      const onResponse = (response: HttpClientResponse.HttpClientResponse) =>
        span.attribute("http.response.status_code", response.status)
      return Effect.onExit(
        Effect.withParentSpan(exchange(propagated, onResponse), span),
        (exit) =>
          Effect.sync(() => {
            if (Exit.isFailure(exit)) {
              for (const [key, value] of Object.entries(defined(failureOutcome(exit)))) span.attribute(key, value)
            }
          })
      )
    })
  )

const originOf = (url: string): string => {
  try {
    return new URL(url).origin
  } catch {
    return "(invalid URL)"
  }
}
