import * as Headers from "@effect/platform/Headers"
import * as HttpBody from "@effect/platform/HttpBody"
import * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type { WireFormat } from "../ClientConfig.js"
import { InvalidResponse, TransportError } from "../DeviceFlowError.js"
import * as RequestLimits from "../RequestLimits.js"
import { type Answer, classify, NO_SECRETS, originOf, readObject, tryLater } from "./oauthAnswer.js"
import { type ClientAuth, formRequest } from "./oauthRequest.js"
import { scrubFailure } from "./secrets.js"
import * as Telemetry from "./telemetry.js"

/**
 * One exchange with an OAuth server: a request built by internal/oauthRequest.ts
 * is sent within RequestLimits and its answer read by internal/oauthAnswer.ts.
 * @internal
 */

const { DEFAULT_TIMEOUT_MS, MAX_BODY_BYTES } = RequestLimits

/**
 * POST the parameters of an OAuth request (internal/oauthRequest.ts) and
 * classify the answer (internal/oauthAnswer.ts).
 * @internal
 */
export const postForm = (
  endpoint: string,
  params: Readonly<Record<string, string>>,
  auth: ClientAuth,
  wire: WireFormat = "oauth",
  /** from sending until the whole answer has arrived */
  timeoutMs: number = DEFAULT_TIMEOUT_MS
): Effect.Effect<Answer, TransportError | InvalidResponse, HttpClient.HttpClient> =>
  Effect.suspend(() => {
    const { request, secrets } = formRequest(endpoint, params, auth, wire)
    return send(endpoint, request, timeoutMs, (response, enforced) =>
      classify(endpoint, response, wire, enforced, secrets), secrets)
  })

/**
 * POST a JSON object (a request that is not an OAuth grant, e.g. AWS
 * SSO-OIDC's RegisterClient) and classify the answer like any other.
 * @internal
 */
export const postJson = (
  endpoint: string,
  body: Readonly<Record<string, unknown>>,
  wire: WireFormat,
  timeoutMs: number = DEFAULT_TIMEOUT_MS
): Effect.Effect<Answer, TransportError | InvalidResponse, HttpClient.HttpClient> =>
  send(
    endpoint,
    HttpClientRequest.post(endpoint, { headers: { accept: "application/json" }, body: HttpBody.unsafeJson(body) }),
    timeoutMs,
    (response, enforced) => classify(endpoint, response, wire, enforced)
  )

/**
 * GET a JSON document (discovery metadata). `Missing` for 404/410 and for an
 * HTML page (a web app's catch-all route), so the caller can try the next
 * well-known location.
 * @internal
 */
export const getJson = (
  url: string,
  timeoutMs: number = DEFAULT_TIMEOUT_MS
): Effect.Effect<
  | { readonly _tag: "Found"; readonly body: Readonly<Record<string, unknown>> }
  | { readonly _tag: "Missing"; readonly reason: string },
  TransportError | InvalidResponse,
  HttpClient.HttpClient
> =>
  send(
    url,
    HttpClientRequest.get(url, { headers: { accept: "application/json" } }),
    timeoutMs,
    (response, enforced) =>
      Effect.gen(function*() {
        const status = response.status
        if (status === 404 || status === 410) return { _tag: "Missing", reason: `HTTP ${status}` } as const
        if (status >= 300 && status < 400) {
          const location = Option.getOrElse(Headers.get(response.headers, "location"), () => "(no location)")
          return yield* new InvalidResponse({
            endpoint: url,
            status,
            reason: `is a redirect to ${
              originOf(location)
            }, which is not followed: metadata must be served at the issuer`
          })
        }
        if (status === 429 || status >= 500) {
          return yield* tryLater(url, status)
        }
        if (status < 200 || status >= 300) {
          return yield* new InvalidResponse({
            endpoint: url,
            status,
            reason: "is not a metadata document (unexpected status)"
          })
        }
        const contentType = Option.getOrElse(Headers.get(response.headers, "content-type"), () => "")
        if (contentType.toLowerCase().includes("html")) return { _tag: "Missing", reason: "an HTML page" } as const
        return { _tag: "Found", body: yield* readObject(url, response, enforced) } as const
      })
  )

/**
 * Send one request and read its answer with `read`, within one deadline
 * and one body-size limit (RequestLimits). A client that enforces both
 * itself finds them on the request and nothing more is done: no timer, no
 * stream, no FiberRef. Any other client gets them enforced around it.
 * A failure leaves here with `secrets` (internal/secrets.ts) blanked out.
 * @internal
 */
export const send = <A>(
  endpoint: string,
  request: HttpClientRequest.HttpClientRequest,
  timeoutMs: number,
  read: (
    response: HttpClientResponse.HttpClientResponse,
    enforced: boolean
  ) => Effect.Effect<A, TransportError | InvalidResponse>,
  secrets: () => ReadonlyArray<string> = NO_SECRETS
): Effect.Effect<A, TransportError | InvalidResponse, HttpClient.HttpClient> =>
  Effect.flatMap(HttpClient.HttpClient, (client) =>
    Effect.withFiberRuntime((fiber) => {
      const enforced = RequestLimits.isEnforcedBy(client)
      const exchange = (
        request: HttpClientRequest.HttpClientRequest,
        onResponse: (response: HttpClientResponse.HttpClientResponse) => void
      ) => {
        // devflow's own transport gets the limits on the request, and times, counts and traces itself
        if (enforced) RequestLimits.set(request, { timeoutMs, maxBodyBytes: MAX_BODY_BYTES })
        const answer = Effect.mapError(
          Effect.flatMap(
            Effect.mapError(client.execute(request), (error) => toTransportError(endpoint, error)),
            (response) => {
              onResponse(response)
              return read(response, enforced)
            }
          ),
          (error) => scrubFailure(error, secrets())
        )
        if (enforced) return answer
        return Effect.timeoutFail(answer, {
          duration: Duration.millis(timeoutMs),
          onTimeout: () =>
            new TransportError({ endpoint, reason: `no answer within ${Duration.format(Duration.millis(timeoutMs))}` })
        })
      }
      // Effect's default tracer keeps spans nobody reads: the HTTP client makes none then (docs/benchmarks.md).
      if (!Telemetry.tracedBy(fiber)) {
        const untraced = exchange(request, noop)
        return enforced ? untraced : Effect.withTracerEnabled(untraced, false)
      }
      // Traced, the request's span is devflow's own, not the HTTP client's: that one records the
      // transport's raw error (which may echo the request's secrets) and every response header.
      return Telemetry.httpClientSpan(
        request,
        (traced, onResponse) =>
          Effect.locally(exchange(traced, onResponse), HttpClient.currentTracerDisabledWhen, always)
      )
    }))

const noop = () => {}
const always = () => true

const toTransportError = (endpoint: string, error: HttpClientError.HttpClientError): TransportError =>
  new TransportError({
    endpoint,
    reason: error._tag === "RequestError"
      ? (error.description ?? `request failed (${error.reason})`)
      : `the connection failed while reading the answer${error.description ? `: ${error.description}` : ""}`,
    cause: error.cause
  })
