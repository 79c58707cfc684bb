/**
 * Secret canaries: distinctive values for every kind of secret devflow
 * handles, and a capture of everything a flow makes observable — every log
 * line at every level (message, annotations, cause), every span with its
 * attributes, events and failure, and whatever a test records (errors,
 * events, results: their message, `String`, `JSON.stringify` and
 * `util.inspect`). {@link findLeaks} searches the capture for the canaries,
 * in clear and in the encodings they travel in (form, Basic credentials).
 *
 * Shared by the core (TestKit) and node-http (real server) canary suites.
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Encoding from "effect/Encoding"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Tracer from "effect/Tracer"
import * as Util from "node:util"

/** One distinctive value per kind of secret. */
export interface Canaries {
  readonly accessToken: string
  readonly refreshToken: string
  /** the whole id_token */
  readonly idToken: string
  readonly deviceCode: string
  readonly clientSecret: string
}

/** An unsigned JWT whose signature part is the canary, so the token is findable whole or by its last part. */
export const canaryJwt = (claims: Readonly<Record<string, unknown>>, signature = "IDT-CANARY-SIG-5e1d"): string =>
  `${Encoding.encodeBase64Url(JSON.stringify({ alg: "none", typ: "JWT" }))}.${
    Encoding.encodeBase64Url(JSON.stringify(claims))
  }.${signature}`

export const canaries = (issuer: string, clientId: string): Canaries => ({
  accessToken: "AT-CANARY-4b1e9f2a",
  refreshToken: "RT-CANARY-8c02d7e1",
  idToken: canaryJwt({ iss: issuer, sub: "canary-user", aud: clientId, name: "Canary User" }),
  deviceCode: "DC-CANARY-1f9a33c0",
  clientSecret: "CS-CANARY-77d0e2b5"
})

/** What a flow made observable, as text. */
export interface Capture {
  readonly texts: Array<string>
  /** record a value the way a program might print it */
  readonly record: (label: string, value: unknown) => void
  /** the logger (every level) and tracer that feed the capture */
  readonly layer: Layer.Layer<never>
  readonly logLines: () => number
  readonly spans: () => number
}

const describe = (value: unknown): Array<string> => {
  const out: Array<string> = []
  const attempt = (f: () => unknown) => {
    try {
      out.push(String(f()))
    } catch (error) {
      out.push(`<${String(error)}>`)
    }
  }
  attempt(() => String(value))
  attempt(() => JSON.stringify(value))
  attempt(() => Util.inspect(value, { depth: 12, showHidden: false }))
  if (value instanceof Error) {
    attempt(() => value.message)
    attempt(() => value.stack)
  }
  if (Exit.isExit(value) && Exit.isFailure(value)) attempt(() => Cause.pretty(value.cause))
  return out
}

export const makeCapture = (): Capture => {
  const texts: Array<string> = []
  let logLines = 0
  let spans = 0
  const logger = Logger.make((options) => {
    logLines++
    texts.push(Logger.stringLogger.log(options))
    texts.push(Logger.jsonLogger.log(options))
    texts.push(Logger.logfmtLogger.log(options))
    if (!Cause.isEmpty(options.cause)) texts.push(Cause.pretty(options.cause))
  })
  const tracer = (base: Tracer.Tracer): Tracer.Tracer =>
    Tracer.make({
      context: (f, fiber) => base.context(f, fiber),
      span: (name, parent, context, links, startTime, kind, options) => {
        spans++
        const span = base.span(name, parent, context, links, startTime, kind, options)
        texts.push(`span ${name}`)
        return new Proxy(span, {
          get(target, property, receiver) {
            switch (property) {
              case "attribute":
                return (key: string, value: unknown) => {
                  texts.push(`span ${name} attribute ${key}=${describe(value).join(" ")}`)
                  target.attribute(key, value)
                }
              case "event":
                return (event: string, time: bigint, attributes?: Record<string, unknown>) => {
                  texts.push(`span ${name} event ${event} ${describe(attributes).join(" ")}`)
                  target.event(event, time, attributes)
                }
              case "end":
                return (time: bigint, exit: Exit.Exit<unknown, unknown>) => {
                  // what an exporter sends: the attributes, and for a failure the error
                  for (const [key, value] of target.attributes) texts.push(`span ${name} ${key}=${String(value)}`)
                  if (Exit.isFailure(exit)) texts.push(`span ${name} failed: ${Cause.pretty(exit.cause)}`)
                  target.end(time, exit)
                }
              default:
                return Reflect.get(target, property, receiver)
            }
          }
        })
      }
    })
  const layer = Layer.mergeAll(
    Logger.replace(Logger.defaultLogger, logger),
    Logger.minimumLogLevel(LogLevel.All),
    Layer.unwrapEffect(Effect.map(Effect.tracer, (base) => Layer.setTracer(tracer(base))))
  )
  return {
    texts,
    record: (label, value) => {
      for (const text of describe(value)) texts.push(`${label}: ${text}`)
    },
    layer,
    logLines: () => logLines,
    spans: () => spans
  }
}

export interface Leak {
  readonly canary: keyof Canaries
  readonly form: string
  /** the captured text around it */
  readonly context: string
}

/**
 * Every place a canary shows up in the capture: in clear, form-encoded, or
 * inside Basic credentials (`base64(client_id:secret)`).
 */
export const findLeaks = (
  texts: ReadonlyArray<string>,
  secrets: Canaries,
  options: { readonly clientId?: string | undefined } = {}
): ReadonlyArray<Leak> => {
  const forms: Array<readonly [keyof Canaries, string, string]> = []
  for (const [kind, value] of Object.entries(secrets) as Array<[keyof Canaries, string]>) {
    forms.push([kind, "clear", value])
    forms.push([kind, "form-encoded", new URLSearchParams({ x: value }).toString().slice(2)])
    // the distinctive tail of a long value (the id_token's signature part)
    const tail = value.split(".").at(-1)!
    if (tail !== value && tail.length >= 8) forms.push([kind, "last part", tail])
  }
  if (options.clientId !== undefined) {
    const credentials = `${options.clientId}:${secrets.clientSecret}`
    forms.push(["clientSecret", "Basic credentials", Encoding.encodeBase64(credentials)])
    forms.push([
      "clientSecret",
      "Basic credentials (form-encoded)",
      Encoding.encodeBase64(
        `${encodeURIComponent(options.clientId)}:${encodeURIComponent(secrets.clientSecret)}`
      )
    ])
  }
  const leaks: Array<Leak> = []
  for (const text of texts) {
    for (const [canary, form, value] of forms) {
      const at = text.indexOf(value)
      if (at >= 0) leaks.push({ canary, form, context: text.slice(Math.max(0, at - 120), at + value.length + 40) })
    }
  }
  return leaks
}

export const formatLeaks = (leaks: ReadonlyArray<Leak>): string =>
  leaks.map((l) => `${l.canary} (${l.form}) in: ${JSON.stringify(l.context)}`).join("\n")
