/**
 * The example service (example/service.ts) as a caller who is not the one
 * who started a flow sees it: a flow's id is the only handle on it, so no
 * route hands out another caller's user code or flow id, and nothing is
 * cancelled without the flow's own id.
 */
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { KEY_1 } from "./helpers.js"
import { call, type Instance, startInstance, stopInstance } from "./instances.js"
import { CLIENT_ID } from "./pollLogServer.js"
import { hasRedis, type RedisServer, startRedis } from "./redisServer.js"

describe.runIf(hasRedis)("example service: a flow belongs to whoever holds its id", () => {
  let redis: RedisServer | undefined
  let auth: Instance | undefined
  let service: Instance | undefined
  let flow: { readonly id: string; readonly userCode: string } | undefined

  beforeAll(async () => {
    redis = await startRedis()
    auth = await startInstance("auth", { INTERVAL_SECONDS: "5", EXPIRE_SECONDS: "900" }, "./pollLogServerMain.ts")
    service = await startInstance("service", {
      REDIS_URL: redis.url,
      DEVFLOW_REDIS_KEYS: `k1:${KEY_1}`,
      CLIENT_ID,
      DEVICE_AUTHORIZATION_ENDPOINT: `${auth.url}/device`,
      TOKEN_ENDPOINT: `${auth.url}/token`
    })
    const started = await call(`${service.url}/flows`, { method: "POST", body: { params: { plan: "approve:100000" } } })
    assert.strictEqual(started?.status, 201)
    flow = started!.body
  }, 60_000)

  afterAll(async () => {
    await Promise.all([service, auth].map((p) => (p === undefined ? undefined : stopInstance(p, "SIGKILL"))))
    await redis?.close()
  })

  it("no route lists pending flows: neither their user codes nor their ids", async () => {
    const listed = await call(`${service!.url}/flows`, { any: true })
    assert.strictEqual(listed?.status, 404)
    assert.notInclude(JSON.stringify(listed?.body), flow!.userCode)
    assert.notInclude(JSON.stringify(listed?.body), flow!.id)
  })

  it("a cancel names the flow's own id; any other id cancels nothing", async () => {
    const other = await call(`${service!.url}/flows/${"A".repeat(22)}`, { method: "DELETE", any: true })
    assert.notStrictEqual(other?.body?.cancelled, true)
    const still = await call(`${service!.url}/flows/${flow!.id}`)
    assert.strictEqual(still?.body.status, "pending")
    const own = await call(`${service!.url}/flows/${flow!.id}`, { method: "DELETE" })
    assert.strictEqual(own?.body.cancelled, true)
    assert.strictEqual((await call(`${service!.url}/flows/${flow!.id}`))?.body.status, "cancelled")
  })
})
