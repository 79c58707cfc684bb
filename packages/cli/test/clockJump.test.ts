// Issue 15: the wall clock of the `devflow login` process jumps while it waits for
// approval (NTP fixing a TV's boot date, a laptop waking, a VM restored from a
// snapshot). Only CLOCK_REALTIME moves — Debian's libfaketime with
// FAKETIME_DONT_FAKE_MONOTONIC=1, its offset read from a file that the test
// rewrites mid-flow — the authorization server's clock does not. The sign-in
// must end with the server's answer: tokens, one interval after approval.
import { type DevServer, startDevServer } from "@devflow/dev-server"
import { late, libfaketime as findLibfaketime, steppedWallClock } from "@devflow/dev-server/wallClock"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Devflow, tempDir } from "./helpers.js"

const libfaketime = findLibfaketime()

const INTERVAL_SECONDS = 2
let server: DevServer
let dir: string

beforeAll(async () => {
  server = await startDevServer({ pollIntervalSeconds: INTERVAL_SECONDS })
  dir = tempDir("devflow-clock-")
})
afterAll(async () => {
  await server?.close()
  if (dir !== undefined) fs.rmSync(dir, { recursive: true, force: true })
})

// libfaketime's relative offsets: "+1h", "-30d" (read again on every call with FAKETIME_NO_CACHE=1)
const jumps = [["+1h", "forward one hour"], ["-1h", "back one hour"], ["+30d", "forward 30 days"], [
  "-30d",
  "back 30 days"
]] as const

describe.skipIf(libfaketime === undefined).concurrent(
  "a wall-clock jump while waiting for approval (libfaketime)",
  () => {
    for (const [offset, what] of jumps) {
      it(`${what} (${offset}): approved after the jump → exit 0 with a token within one interval`, async () => {
        const timestampFile = path.join(dir, `offset${offset.replace("+", "plus").replace("-", "minus")}`)
        fs.writeFileSync(timestampFile, "+0")
        const cache = tempDir()
        const run = new Devflow([
          "login",
          "--issuer",
          server.issuer,
          "--client-id",
          "devflow-demo",
          "--scope",
          "openid",
          "--cache-dir",
          cache,
          "--json"
        ], {
          env: steppedWallClock(libfaketime!, timestampFile)
        })
        try {
          const userCode = await run.userCode()
          await run.event("pending") // polling has begun
          const pending = () => run.events.filter((e) => e.event === "pending").length
          const before = pending()
          fs.writeFileSync(timestampFile, offset)
          // two polls under the jumped clock before the user approves
          await run.until(() => pending() >= before + 2 || undefined)
          const approvedAt = Date.now()
          await server.approve(userCode)
          const limit = setTimeout(() => run.child.kill("SIGKILL"), (INTERVAL_SECONDS + 10) * 1000)
          const done = await run.exit
          clearTimeout(limit)
          const seconds = (Date.now() - approvedAt) / 1000
          const succeeded = run.events.some((e) => e.event === "succeeded")
          console.log(
            `clock jump ${offset}: exit ${done.code ?? done.signal}, ${
              seconds.toFixed(2)
            } s from approval to exit, token ${succeeded ? "yes" : "no"}`
          )
          expect(done.code, done.stderr).toBe(0)
          expect(succeeded).toBe(true)
          // the id_token's iat/exp disagree with the shifted clock: the account is recorded all the same
          const cached = JSON.parse(fs.readFileSync(path.join(cache, "tokens.json"), "utf8"))
          expect(cached.accessTokens).toHaveLength(1)
          expect(cached.accounts).toHaveLength(1)
          // the next poll after approval, plus writing the cache and exiting: an interval, not the hours or days jumped
          expect(seconds * 1000).toBeLessThan(late(INTERVAL_SECONDS * 1000))
        } finally {
          run.child.kill("SIGKILL")
          fs.rmSync(cache, { recursive: true, force: true })
        }
      }, 90_000) // a hang guard: four sign-ins side by side, each waiting for real polls, on a machine that may be busy
    }
  }
)
