import { afterEach, describe, expect, it } from "vitest"
import * as Terminal from "./terminal.js"

const saved = process.env.TZ
const inZone = (tz: string) => {
  process.env.TZ = tz
}
afterEach(() => {
  if (saved === undefined) delete process.env.TZ
  else process.env.TZ = saved
})

// 2026-12-07 12:00:00 UTC; "now" is the same instant, so no date is printed
const NOON = Date.UTC(2026, 11, 7, 12, 0, 0)

describe("Terminal.localTime", () => {
  it.each([
    ["UTC", "12:00:00 UTC"],
    ["Asia/Tokyo", "21:00:00 GMT+9"],
    ["Asia/Kolkata", "17:30:00 GMT+5:30"],
    ["America/St_Johns", "08:30:00 GMT-3:30"]
  ])("names the zone by its offset in %s", (tz, expected) => {
    inZone(tz)
    expect(Terminal.localTime(NOON, NOON)).toBe(expected)
  })

  it("agrees with ICU's short zone name wherever ICU names the zone by its offset", () => {
    for (
      const tz of ["UTC", "Asia/Tokyo", "Asia/Kolkata", "Europe/Berlin", "Australia/Adelaide", "America/Sao_Paulo"]
    ) {
      inZone(tz)
      const icu = new Intl.DateTimeFormat("en-US", { timeZone: tz, timeZoneName: "short" }).formatToParts(NOON)
        .find((part) => part.type === "timeZoneName")!.value
      if (icu === "UTC" || icu.startsWith("GMT")) {
        expect(Terminal.localTime(NOON, NOON), tz).toMatch(
          new RegExp(`${icu.replace("+", "\\+")}$`)
        )
      }
    }
  })

  it("carries the date when the time is on another day than now, there", () => {
    inZone("UTC")
    expect(Terminal.localTime(NOON, NOON + 86_400_000)).toBe("2026-12-07 12:00:00 UTC")
    // already tomorrow at UTC+13:45
    inZone("Pacific/Chatham")
    expect(Terminal.localTime(NOON, NOON)).toBe("01:45:00 GMT+13:45")
    expect(Terminal.localTime(NOON, NOON - 86_400_000)).toBe("2026-12-08 01:45:00 GMT+13:45")
  })
})
