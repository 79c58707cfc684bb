/**
 * `devflow demo`: the whole device flow against the embedded demo
 * authorization server (oidc-provider on 127.0.0.1), no account and no
 * network beyond loopback needed. `--serve` keeps that server running for
 * `devflow login` in another terminal: the way from "it works" to using
 * `login`, `token` and `accounts` for real.
 *
 * @since 0.1.0
 */
import * as ClientConfig from "@devflow/core/ClientConfig"
import * as DeviceFlow from "@devflow/core/DeviceFlow"
import * as Command from "@effect/cli/Command"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as CliError from "../CliError.js"
import * as Flags from "../Flags.js"
import * as Help from "../Help.js"
import * as Http from "../Http.js"
import * as Invocation from "../internal/invocation.js"
import * as Output from "../Output.js"
import * as ResultJson from "../ResultJson.js"
import * as Root from "../Root.js"
import * as TerminalPrompt from "../TerminalPrompt.js"
import * as VerificationLink from "../VerificationLink.js"

/**
 * The port `--serve` listens on unless told otherwise: fixed, so that the
 * profile `devflow login` saves against it still works after a restart.
 *
 * @since 0.1.0
 * @category constants
 */
export const SERVE_PORT = 8628

/**
 * Whether `args` run the demo server until Ctrl-C (`demo --serve`), which it
 * says is how to stop it: that interruption is the command's normal end.
 *
 * @since 0.1.0
 * @category utils
 */
export const stopsWithCtrlC = (args: ReadonlyArray<string>): boolean =>
  args.includes("demo") && args.some((a) => a === "--serve" || a === "--serve=true")

/**
 * The `devflow login` line for a demo server at `issuer`. The scopes are
 * spelled out: the generic preset asks for none, and the demo server's
 * OpenID provider needs `openid` (`offline_access` brings the refresh token
 * that `devflow token` uses).
 *
 * @since 0.1.0
 * @category utils
 */
export const loginLine = (devflow: string, issuer: string, clientId: string): string =>
  `${devflow} login --issuer ${issuer} --client-id ${clientId} --scope openid --scope profile --scope offline_access`

const startServer = (options: { readonly port: number; readonly interval: number }) =>
  Effect.acquireRelease(
    // Loaded on demand: the demo server (oidc-provider) is most of the bundle, and no other command needs it.
    Effect.tryPromise({
      try: async () => {
        const { startDevServer } = await import("@devflow/dev-server")
        return startDevServer({ port: options.port, pollIntervalSeconds: options.interval })
      },
      catch: (cause) =>
        new CliError.LocalError({
          message: `The demo server could not start on 127.0.0.1${options.port === 0 ? "" : `:${options.port}`}: ${
            cause instanceof Error ? cause.message : String(cause)
          }`,
          hint: (cause as NodeJS.ErrnoException)?.code === "EADDRINUSE"
            ? "Another program (another demo?) uses that port: stop it, or choose another --port."
            : undefined,
          cause
        })
    }),
    (s) => Effect.promise(() => s.close())
  )

/**
 * @since 0.1.0
 * @category commands
 */
export const demo = Command.make(
  "demo",
  Flags.of("demo"),
  Root.handle((options, context) =>
    Effect.gen(function*() {
      const stdout = Output.stdout()
      const stderr = Output.stderr()
      const run = Invocation.current()
      if (options.serve && options.autoApprove) {
        return yield* new CliError.UsageError({
          message: "--auto-approve signs in here; --serve leaves the sign-in to `devflow login` in another terminal",
          hint: "Give one of them."
        })
      }
      const port = Option.getOrElse(options.port, () => (options.serve ? SERVE_PORT : 0))
      const server = yield* startServer({ port, interval: options.interval })
      const login = loginLine(run.devflow, server.issuer, server.clientId)

      if (options.serve) {
        if (context.json) {
          stdout.line(JSON.stringify({
            event: "serving",
            issuer: server.issuer,
            client_id: server.clientId,
            device_authorization_endpoint: server.deviceAuthorizationEndpoint,
            token_endpoint: server.tokenEndpoint,
            login
          }))
        }
        stderr.line(
          `Demo authorization server (oidc-provider) running at ${stderr.bold(server.issuer)}; Ctrl-C stops it.`
        )
        // what a program using @devflow/core needs (the README's library example)
        stderr.line(
          `  client id ${server.clientId}, device authorization endpoint ${server.deviceAuthorizationEndpoint}, token endpoint ${server.tokenEndpoint}`
        )
        stderr.line("")
        stderr.line(
          "In a second terminal, sign in against it (open the page it shows, sign in with any name, allow access):"
        )
        stderr.line(`  ${stderr.bold(login)}`)
        stderr.line("then:")
        stderr.line(`  ${run.devflow} token        the access token, from the cache (refreshed while this server runs)`)
        stderr.line(`  ${run.devflow} accounts     who is signed in`)
        stderr.line(`  ${run.devflow} logout       forget the account`)
        yield* Effect.addFinalizer(() => Effect.sync(() => stderr.line("Demo server stopped.")))
        return yield* Effect.never
      }

      stderr.line(`Demo authorization server (oidc-provider) running at ${server.issuer}`)
      const config = yield* ClientConfig.make({
        clientId: server.clientId,
        endpoints: { deviceAuthorization: server.deviceAuthorizationEndpoint, token: server.tokenEndpoint },
        scopes: ["openid", "profile", "email", "offline_access"]
      })
      const prompt = yield* TerminalPrompt.make(TerminalPrompt.stderr(), {
        qr: !options.noQr,
        vet: (code) => VerificationLink.vet(config, code)
      })
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
      const summary = ResultJson.summary(result)
      if (context.json) stdout.line(JSON.stringify({ event: "result", ...summary }))
      else stdout.line(JSON.stringify(summary, null, 2))
      const until = summary.expires_on === null
        ? ""
        : `; the access token is valid until ${Output.localTime(Date.parse(summary.expires_on))}`
      stderr.line(
        `${stderr.green("Signed in")} as ${
          stderr.bold(summary.account.username ?? summary.account.id ?? "(unknown)")
        }${until}.`
      )
      stderr.line("")
      stderr.line("The demo keeps nothing: its server stops now, and no profile or token was saved.")
      stderr.line("Next, use devflow for real against a demo server that keeps running:")
      stderr.line(`  ${stderr.bold(`${run.demo} --serve`)}    (then, in a second terminal, as it tells you:)`)
      stderr.line(`  ${loginLine(run.devflow, `http://127.0.0.1:${SERVE_PORT}`, server.clientId)}`)
      stderr.line(`  ${run.devflow} token`)
      stderr.line(
        `With your own provider: ${
          stderr.bold(`${run.devflow} login --help`)
        } (Entra, GitHub, Google, any OpenID Connect issuer).`
      )
    }).pipe(
      Effect.scoped,
      Effect.provide(Http.layerLazy)
    )
  )
).pipe(Command.withDescription(Help.summaryOf("demo")))
