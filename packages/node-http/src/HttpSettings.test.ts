import { assert, describe, it } from "@effect/vitest"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as HttpOptions from "./HttpOptions.js"
import * as HttpSettings from "./HttpSettings.js"

const fromEnv = (env: Record<string, string>) =>
  Effect.runSync(
    Effect.either(Effect.withConfigProvider(HttpOptions.fromEnv, ConfigProvider.fromMap(new Map(Object.entries(env)))))
  )

describe("HttpSettings", () => {
  it("lists one variable for every option HttpOptions.fromEnv reads", () => {
    const read = fromEnv({})
    assert.isTrue(Either.isRight(read))
    const options = Object.keys(HttpOptions.defaults).filter((k) => k !== "proxy" && k !== "ca")
    assert.sameMembers(HttpSettings.settings.map((s) => s.option), options)
  })

  it("fromEnv refuses exactly what the table refuses, naming the variable", () => {
    const samples = ["0", "1", "300", "1.5", "10 seconds", "soon", " ", "-3", "devflow-test/1.0", "1e6", "a\nb"]
    for (const setting of HttpSettings.settings) {
      for (const text of samples) {
        const problem = HttpSettings.problem(setting, text)
        const read = fromEnv({ [setting.env]: text })
        assert.strictEqual(Either.isLeft(read), problem !== undefined, `${setting.env}=${JSON.stringify(text)}`)
        if (Either.isLeft(read)) assert.include(String(read.left), setting.env)
        assert.deepStrictEqual(
          HttpSettings.firstProblem({ [setting.env]: text })?.env,
          problem === undefined ? undefined : setting.env
        )
      }
    }
  })

  it("reads durations and numbers as the options' units", () => {
    const read = fromEnv({
      DEVFLOW_HTTP_REQUEST_TIMEOUT: "2 seconds",
      DEVFLOW_HTTP_CONNECT_TIMEOUT: "250",
      DEVFLOW_HTTP_MAX_CONNECTIONS: "4"
    })
    assert.isTrue(Either.isRight(read))
    if (Either.isRight(read)) {
      assert.strictEqual(Duration.toMillis(Duration.decode(read.right.requestTimeout)), 2_000)
      assert.strictEqual(Duration.toMillis(Duration.decode(read.right.connectTimeout)), 250)
      assert.strictEqual(read.right.maxConnectionsPerOrigin, 4)
    }
  })
})
