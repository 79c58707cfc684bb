/**
 * The parts of undici this package runs: its two dispatchers and the request
 * methods every dispatcher has, each loaded from its own file, and the two context keys of `@effect/platform-node`'s
 * `NodeHttpClient` that the client honours.
 *
 * Not `undici`'s index or `NodeHttpClient`: either loads all of undici (fetch,
 * WebSocket, EventSource, its caches and mocks) in every process that makes a
 * request — 21 MB of RSS and 200 ms of loading, against 12.5 MB and 86 ms for
 * the dispatchers alone (issue 23: peak RSS, and the CLI's start-up).
 * undici has no `exports` map, so these files are reachable; the version is
 * pinned, and the tests that send requests through both dispatchers (e2e,
 * proxy) would catch a file that moved.
 *
 * @internal
 */
// ambient declarations of undici's untyped files: docgen's check of the examples sees only what the sources reference
// eslint-disable-next-line @typescript-eslint/triple-slash-reference
/// <reference path="./undiciFiles.d.ts" />
import type * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import type * as Undici from "@effect/platform-node/Undici"
import * as Context from "effect/Context"
import api from "undici/lib/api/index.js"
import Agent from "undici/lib/dispatcher/agent.js"
import DispatcherBase from "undici/lib/dispatcher/dispatcher.js"
import EnvHttpProxyAgent from "undici/lib/dispatcher/env-http-proxy-agent.js"

// What undici's index does on load: every dispatcher gets `request`, `stream`, `pipeline`, `connect`
// and `upgrade`. The proxy agent tunnels with `connect`, and a caller of `makeDispatcher` may use any.
Object.assign(DispatcherBase.prototype, api)

export { Agent, EnvHttpProxyAgent }

/**
 * `NodeHttpClient.Dispatcher` itself: a tag is its key, so a dispatcher provided through either
 * (`NodeHttpClient.dispatcherLayer`, `NodeOAuthHttp.layerDispatcher`) serves both.
 * @internal
 */
export const Dispatcher: Context.Tag<NodeHttpClient.Dispatcher, Undici.Dispatcher> = Context.GenericTag(
  "@effect/platform-node/NodeHttpClient/Dispatcher"
)

/**
 * The key of `NodeHttpClient.UndiciRequestOptions`: extra options for a request, set with
 * `Effect.provideService(NodeHttpClient.UndiciRequestOptions, …)`.
 * @internal
 */
export const REQUEST_OPTIONS_KEY = "@effect/platform-node/NodeHttpClient/undiciOptions"
