import { assert, describe, it } from "@effect/vitest"
import * as Recent from "./Recent.js"

describe("Recent", () => {
  it("keeps at most its capacity, forgetting the least recently used entry", () => {
    const kept = Recent.make<string, number>(2)
    kept.set("a", 1)
    kept.set("b", 2)
    assert.strictEqual(kept.get("a"), 1)
    kept.set("c", 3)
    assert.deepStrictEqual([...kept.keys()], ["a", "c"])
    assert.isUndefined(kept.get("b"))
    assert.strictEqual(kept.size, 2)
  })

  it("setting a kept key replaces its value and makes it the most recent, without forgetting another", () => {
    const kept = Recent.make<string, number>(2)
    kept.set("a", 1)
    kept.set("b", 2)
    kept.set("a", 10)
    assert.deepStrictEqual([...kept.keys()], ["b", "a"])
    assert.strictEqual(kept.get("a"), 10)
    kept.set("c", 3)
    assert.deepStrictEqual([...kept.keys()], ["a", "c"])
  })

  it("delete forgets one key and says whether it was kept", () => {
    const kept = Recent.make<string, number>(3)
    kept.set("a", 1)
    assert.isTrue(kept.delete("a"))
    assert.isFalse(kept.delete("a"))
    assert.strictEqual(kept.size, 0)
  })

  it("a capacity that is not a positive integer is a defect at construction", () => {
    for (const capacity of [0, -1, 1.5, Number.NaN]) assert.throws(() => Recent.make(capacity), RangeError)
  })
})
