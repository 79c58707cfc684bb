/**
 * `devflow demo`: the whole device flow against the embedded demo
 * authorization server (oidc-provider on 127.0.0.1), no account and no
 * network beyond loopback needed.
 *
 * @since 0.1.0
 */
import * as ClientConfig from "@devflow/core/ClientConfig"
import * as DeviceFlow from "@devflow/core/DeviceFlow"
import * as Command from "@effect/cli/Command"
import * as HelpDoc from "@effect/cli/HelpDoc"
import * as Options from "@effect/cli/Options"
import * as ValidationError from "@effect/cli/ValidationError"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import * as Flags from "../Flags.js"
import * as Http from "../Http.js"
import * as Output from "../Output.js"
import * as Render from "../Render.js"
import * as Root from "../Root.js"
import * as TerminalPrompt from "../TerminalPrompt.js"

const inRange = (name: string, min: number, max: number) =>
  Options.mapEffect((n: number) =>
    Number.isSafeInteger(n) && n >= min && n <= max
      ? Effect.succeed(n)
      : Effect.fail(ValidationError.invalidValue(HelpDoc.p(`--${name} must be a whole number from ${min} to ${max}, got ${n}`)))
  )

const port = Options.integer("port").pipe(
  Options.withDescription("Port of the demo server on 127.0.0.1 (default: a free port)"),
  Options.withDefault(0),
  inRange("port", 0, 65535)
)
const interval = Options.integer("interval").pipe(
  Options.withDescription("Polling interval the demo server asks for, in seconds"),
  Options.withDefault(5),
  inRange("interval", 1, 600)
)
const autoApprove = Options.boolean("auto-approve").pipe(
  Options.withDescription("Approve the code automatically (scripted over HTTP, as user 'demo-user'), for unattended runs")
)

/**
 * @since 0.1.0
 * @category commands
 */
export const demo = Command.make(
  "demo",
  { port, interval, autoApprove, noQr: Flags.prompt.noQr, json: Flags.json, verbose: Flags.verbose },
  Root.handle((options, context) =>
    Effect.gen(function*() {
      const stdout = Output.stdout()
      const stderr = Output.stderr()
      const server = yield* Effect.acquireRelease(
        // Loaded on demand: the demo server (oidc-provider) is most of the bundle, and no other command needs it.
        Effect.tryPromise({
          try: async () => {
            const { startDevServer } = await import("@devflow/dev-server")
            return startDevServer({ port: options.port, pollIntervalSeconds: options.interval })
          },
          catch: (cause) =>
            new Render.LocalError({
              message: `The demo server could not start on 127.0.0.1${options.port === 0 ? "" : `:${options.port}`}: ${
                cause instanceof Error ? cause.message : String(cause)
              }`,
              hint: (cause as NodeJS.ErrnoException)?.code === "EADDRINUSE"
                ? "Choose another --port, or leave it out for a free one."
                : undefined,
              cause
            })
        }),
        (s) => Effect.promise(() => s.close())
      )
      stderr.line(`Demo authorization server (oidc-provider) running at ${server.issuer}`)
      const config = yield* ClientConfig.make({
        clientId: server.clientId,
        endpoints: { deviceAuthorization: server.deviceAuthorizationEndpoint, token: server.tokenEndpoint },
        scopes: ["openid", "profile", "email", "offline_access"]
      })
      const prompt = yield* TerminalPrompt.make(TerminalPrompt.stderr(), { qr: !options.noQr })
      const result = yield* DeviceFlow.events(config).pipe(
        Stream.tap((event) =>
          Effect.gen(function*() {
            if (context.json) stdout.line(JSON.stringify(Output.jsonEvent(event)))
            if (event._tag === "CodeIssued" && !options.autoApprove) {
              stderr.line("  (demo) Sign in with any name, then allow access.")
            }
            yield* prompt(event)
            if (event._tag === "CodeIssued" && options.autoApprove) {
              yield* Effect.forkScoped(
                Effect.promise(() => server.approve(event.code.userCode, { accountId: "demo-user" }))
              )
            }
          })
        ),
        DeviceFlow.result
      )
      const summary = Render.summary(result)
      stderr.line(
        `${stderr.green("Signed in")} as ${summary.account ?? "(unknown)"}; access token valid until ${summary.expiresOn ?? "(no expiry given)"}.`
      )
      if (context.json) stdout.line(JSON.stringify({ event: "result", ...summary }))
      else stdout.line(JSON.stringify(summary, null, 2))
    }).pipe(
      Effect.scoped,
      Effect.provide(Http.layerLazy)
    )
  )
).pipe(Command.withDescription("Sign in against the embedded demo authorization server (no account needed)"))

