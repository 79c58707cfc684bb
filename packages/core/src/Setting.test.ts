import { assert, describe, it } from "@effect/vitest"
import * as Config from "effect/Config"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as fc from "effect/FastCheck"
import * as Setting from "./Setting.js"

// What Effect's own Config.boolean makes of a text: the CLI read yes/no variables with it before Setting existed.
const effectBoolean = (text: string) =>
  Effect.runSync(
    Effect.either(Effect.withConfigProvider(Config.boolean("X"), ConfigProvider.fromMap(new Map([["X", text]]))))
  )

describe("Setting", () => {
  describe("boolean", () => {
    it("takes Effect's Config.boolean spellings, and nothing else", () => {
      for (const text of ["true", "yes", "on", "1"]) assert.isTrue(Setting.boolean(text))
      for (const text of ["false", "no", "off", "0"]) assert.isFalse(Setting.boolean(text))
      for (const text of ["", "maybe", "TRUE ", "2", "y"]) assert.isUndefined(Setting.boolean(text))
    })

    it.prop("agrees with Effect's Config.boolean on any text", [
      fc.oneof(fc.string(), fc.constantFrom("true", "no", "1", "on", "off"))
    ], ([text]) => {
      const ours = Setting.boolean(text)
      const effect = effectBoolean(text)
      assert.deepStrictEqual(ours, Either.isRight(effect) ? effect.right : undefined)
    })
  })

  describe("durationMillis", () => {
    it("takes Effect's duration syntax or a bare number of milliseconds", () => {
      assert.strictEqual(Setting.durationMillis("10 seconds"), 10_000)
      assert.strictEqual(Setting.durationMillis("1.5 minutes"), 90_000)
      assert.strictEqual(Setting.durationMillis("500 millis"), 500)
      assert.strictEqual(Setting.durationMillis(" 300 "), 300)
      assert.strictEqual(Setting.durationMillis("1 week"), 604_800_000)
    })

    it("refuses zero, negatives, junk, infinity and units it cannot time out in", () => {
      for (
        const text of ["0", "0 seconds", "-5 seconds", "soon", "", "Infinity", "1e6", "5 nanos", "5s", "1e400 seconds"]
      ) {
        assert.isUndefined(Setting.durationMillis(text), text)
      }
    })

    it.prop(
      "agrees with Effect's Duration.decode on the syntax both take",
      [
        fc.integer({ min: 1, max: 1_000_000 }),
        fc.constantFrom("millis", "seconds", "second", "minutes", "hours", "days", "weeks")
      ],
      ([n, unit]) => {
        assert.strictEqual(
          Setting.durationMillis(`${n} ${unit}`),
          Duration.toMillis(Duration.decode(`${n} ${unit}` as Duration.DurationInput))
        )
      }
    )
  })

  describe("positiveInteger", () => {
    it("takes a whole number above zero", () => {
      assert.strictEqual(Setting.positiveInteger("128"), 128)
      assert.strictEqual(Setting.positiveInteger(" 7 "), 7)
      for (const text of ["0", "-1", "1.5", "1e6", "many", "", "99999999999999999999"]) {
        assert.isUndefined(Setting.positiveInteger(text), text)
      }
    })
  })
})
