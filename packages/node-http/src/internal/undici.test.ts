import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as HttpClient from "@effect/platform/HttpClient"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as ChildProcess from "node:child_process"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { httpServer } from "../../test/fixtures/servers.js"
import * as NodeOAuthHttp from "../NodeOAuthHttp.js"
import * as UndiciParts from "./undici.js"

const packageRoot = Path.resolve(Path.dirname(fileURLToPath(import.meta.url)), "../..")

const hello = httpServer((_req, res) => {
  res.setHeader("content-type", "text/plain")
  res.end("hello")
})

describe("undici, as this package loads it", () => {
  it("loads the dispatchers from their own files, never undici's index (fetch, WebSocket, caches: 8.5 MB of RSS)", () => {
    // a fresh process: the test runner's own module cache may hold anything
    const run = ChildProcess.spawnSync(process.execPath, [
      "--import",
      "tsx",
      "--conditions=@devflow/source",
      "--input-type=module",
      "-e",
      `import { createRequire } from "node:module"
       const { NodeOAuthHttp } = await import("./src/index.ts")
       const loaded = Object.keys(createRequire(import.meta.url).cache).filter((f) => f.includes("/undici/"))
       console.log(JSON.stringify({ layer: typeof NodeOAuthHttp.layer, loaded: loaded.map((f) => f.slice(f.lastIndexOf("/undici/") + 8)) }))`
    ], { cwd: packageRoot, encoding: "utf8", timeout: 60_000 })
    assert.strictEqual(run.status, 0, run.stderr)
    const { layer, loaded } = JSON.parse(run.stdout) as { layer: string; loaded: Array<string> }
    assert.strictEqual(layer, "function")
    assert.include(loaded, "lib/dispatcher/agent.js")
    assert.include(loaded, "lib/dispatcher/env-http-proxy-agent.js")
    assert.notInclude(loaded, "index.js")
    assert.notInclude(loaded, "lib/web/fetch/index.js")
  })

  it.scoped("a dispatcher from makeDispatcher answers undici's own request API, as undici's index sets it up", () =>
    Effect.gen(function*() {
      const origin = yield* hello
      const dispatcher = yield* NodeOAuthHttp.makeDispatcher()
      const response = yield* Effect.promise(() => dispatcher.request({ origin: origin.url, path: "/", method: "GET" }))
      assert.strictEqual(response.statusCode, 200)
      assert.strictEqual(yield* Effect.promise(() => response.body.text()), "hello")
    }))

  it.scoped("platform-node's NodeHttpClient.Dispatcher is the tag the client reads: either layer serves it", () =>
    Effect.gen(function*() {
      assert.strictEqual(UndiciParts.Dispatcher.key, NodeHttpClient.Dispatcher.key)
      assert.strictEqual(UndiciParts.REQUEST_OPTIONS_KEY, NodeHttpClient.UndiciRequestOptions.key)
      const origin = yield* hello
      const layer = NodeOAuthHttp.layerWithoutDispatcher().pipe(Layer.provide(NodeHttpClient.dispatcherLayer))
      const text = yield* Effect.flatMap(HttpClient.get(origin.url), (r) => r.text).pipe(Effect.provide(layer))
      assert.strictEqual(text, "hello")
    }))
})
