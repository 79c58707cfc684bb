import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as net from "node:net"
import { connect } from "../test/helpers.js"

// A server that takes connections and every byte sent, and never answers: Redis hung, or a
// half-open connection behind a load balancer.
const silentServer = Effect.acquireRelease(
  Effect.async<{ readonly port: number; readonly server: net.Server }>((resume) => {
    const sockets = new Set<net.Socket>()
    const server = net.createServer((socket) => {
      sockets.add(socket)
      socket.on("close", () => sockets.delete(socket))
      socket.resume()
    })
    server.on("close", () => sockets.forEach((s) => s.destroy()))
    server.listen(
      0,
      "127.0.0.1",
      () => resume(Effect.succeed({ port: (server.address() as net.AddressInfo).port, server }))
    )
  }),
  ({ server }) =>
    Effect.async<void>((resume) => {
      server.close(() => resume(Effect.void))
      server.emit("close")
    })
)

describe("RedisConnection", () => {
  it.live("a command Redis never answers fails as RedisUnavailable after its tries, each within the time limit", () =>
    Effect.gen(function*() {
      const { port } = yield* silentServer
      const connection = yield* connect(`redis://127.0.0.1:${port}`, { commandTimeout: "300 millis", attempts: 3 })
      const started = performance.now()
      const error = yield* Effect.flip(connection.run("get", (client) => client.get("key")))
      const took = performance.now() - started
      assert.strictEqual(error._tag, "RedisUnavailable")
      assert.strictEqual(error.operation, "get")
      assert.include(error.detail, "no answer within 300ms")
      // 3 tries of 300 ms, 100 then 200 ms apart: at least 1.2 s; the upper bound is headroom, not a timing claim
      assert.isAtLeast(took, 1_150)
      assert.isBelow(took, 15_000)
    }).pipe(Effect.scoped))

  it.live("one try, when attempts is 1: no retry; and the connection closes though Redis never answers QUIT", () =>
    Effect.gen(function*() {
      const { port } = yield* silentServer
      const started = performance.now()
      yield* Effect.scoped(Effect.gen(function*() {
        const connection = yield* connect(`redis://127.0.0.1:${port}`, { commandTimeout: "300 millis", attempts: 1 })
        const error = yield* Effect.flip(connection.run("get", (client) => client.get("key")))
        assert.include(error.detail, "no answer within 300ms")
        assert.isBelow(performance.now() - started, 1_150)
      }))
      // QUIT is given 2 s, then the sockets are dropped
      assert.isBelow(performance.now() - started, 10_000)
    }).pipe(Effect.scoped))
})
