import * as FileTokenCache from "@devflow/cache-file/FileTokenCache"
import * as HttpSettings from "@devflow/node-http/HttpSettings"
import { describe, expect, it } from "vitest"
import * as FlagTable from "./flagTable.js"

// The flag table is kept free of Effect (the `token` fast path loads it): where it repeats a
// library's list, these pin the copy to the library's own.
describe("the CLI's flag table", () => {
  it("offers exactly the secret stores @devflow/cache-file has", () => {
    expect([...FlagTable.SECRET_STORES]).toEqual([...FileTokenCache.secretStores])
  })

  it("names every variable once: no flag's variable is also an HTTP setting or another flag's", () => {
    const flagVariables = Object.values<FlagTable.FlagSpec>(FlagTable.FLAGS).flatMap((
      spec
    ) => (spec.env === undefined ? [] : [spec.env]))
    const all = [...flagVariables, ...HttpSettings.settings.map((s) => s.env)]
    expect(new Set(all).size).toBe(all.length)
  })
})
