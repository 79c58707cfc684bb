import * as RequestLimits from "@devflow/core/RequestLimits"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Http from "node:http"
import type * as Net from "node:net"
import * as HttpLayer from "./Http.js"

describe("Http.layerLazy", () => {
  it.scopedLive("is marked as enforcing RequestLimits, and the node-http client it loads does enforce them", () =>
    Effect.gen(function*() {
      const server = yield* Effect.acquireRelease(
        Effect.async<Http.Server>((resume) => {
          const s = Http.createServer((_req, res) => res.end(Buffer.alloc(600, 0x20)))
          s.listen(0, "127.0.0.1", () => resume(Effect.succeed(s)))
        }),
        (s) => Effect.async<void>((resume) => void s.close(() => resume(Effect.void)))
      )
      const { port } = server.address() as Net.AddressInfo
      const client = Context.get(yield* Layer.build(HttpLayer.layerLazy), HttpClient.HttpClient)
      assert.isTrue(RequestLimits.isEnforcedBy(client))
      const response = yield* client.execute(
        RequestLimits.set(HttpClientRequest.get(`http://127.0.0.1:${port}/`), { timeoutMs: 5_000, maxBodyBytes: 500 })
      )
      const error = yield* Effect.flip(response.text)
      assert.strictEqual(error.description, "response body exceeded 500 bytes (Content-Length: 600)")
      assert.isTrue(Cause.isExceededCapacityException(error.cause))
    }))
})
