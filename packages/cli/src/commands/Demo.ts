/**
 * `devflow demo`: the whole device flow against the embedded demo
 * authorization server (oidc-provider on 127.0.0.1), no account and no
 * network beyond loopback needed.
 *
 * @since 0.1.0
 */
import { ClientConfig, DeviceFlow } from "@devflow/core"
import { NodeOAuthHttp } from "@devflow/node-http"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import * as Render from "../Render.js"
import { CliExit } from "../CliExit.js"
import * as Output from "../Output.js"
import * as TerminalPrompt from "../TerminalPrompt.js"

const port = Options.integer("port").pipe(
  Options.withDescription("Port of the demo server on 127.0.0.1 (default: a free port)"),
  Options.withDefault(0)
)
const interval = Options.integer("interval").pipe(
  Options.withDescription("Polling interval the demo server asks for, in seconds"),
  Options.withDefault(5)
)
const autoApprove = Options.boolean("auto-approve").pipe(
  Options.withDescription("Approve the code automatically (scripted over HTTP, as user 'demo-user'), for unattended runs")
)
const noQr = Options.boolean("no-qr").pipe(Options.withDescription("Do not draw a QR code of the verification URI"))
const json = Options.boolean("json").pipe(Options.withDescription("Write JSON Lines events to stdout"))

/**
 * @since 0.1.0
 * @category commands
 */
export const demo = Command.make("demo", { port, interval, autoApprove, noQr, json }, (options) =>
  Effect.gen(function*() {
    const server = yield* Effect.acquireRelease(
      // Loaded on demand: the demo server (oidc-provider) is most of the bundle, and no other command needs it.
      Effect.promise(async () => {
        const { startDevServer } = await import("@devflow/dev-server")
        return startDevServer({ port: options.port, pollIntervalSeconds: options.interval })
      }),
      (s) => Effect.promise(() => s.close())
    )
    yield* Console.error(`Demo authorization server (oidc-provider) running at ${server.issuer}`)
    const config = yield* ClientConfig.make({
      clientId: server.clientId,
      endpoints: { deviceAuthorization: server.deviceAuthorizationEndpoint, token: server.tokenEndpoint },
      scopes: ["openid", "profile", "email", "offline_access"]
    })
    const prompt = yield* TerminalPrompt.make(TerminalPrompt.stderr(), { qr: !options.noQr })
    const result = yield* DeviceFlow.events(config).pipe(
      Stream.tap((event) =>
        Effect.gen(function*() {
          if (options.json) yield* Console.log(JSON.stringify(Output.jsonEvent(event)))
          if (event._tag === "CodeIssued" && !options.autoApprove) {
            yield* Console.error("  (demo) Sign in with any name, then allow access.")
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
    yield* Console.error(`Signed in as ${summary.account ?? "(unknown)"}; access token valid until ${summary.expiresOn ?? "(no expiry given)"}.`)
    if (options.json) yield* Console.log(JSON.stringify({ event: "result", ...summary }))
    else yield* Console.log(JSON.stringify(summary, null, 2))
  }).pipe(
    Effect.scoped,
    Effect.provide(NodeOAuthHttp.layer()),
    Effect.catchAll((error) => Effect.zipRight(Render.error(error), Effect.fail(new CliExit({ code: Render.exitCodeFor(error) }))))
  )).pipe(Command.withDescription("Sign in against the embedded demo authorization server (no account needed)"))

