/**
 * The lock and a wall clock that steps (NTP correcting a TV's boot date, a laptop waking, a VM
 * restored from a snapshot): only CLOCK_REALTIME of the waiting process moves (Debian's
 * libfaketime, its offset read from a file the test rewrites), the monotonic clock does not.
 * A lock file's age is measured on the wall clock, so a live holder on this machine must never
 * be judged by it, and a wait must be measured on the monotonic clock.
 */
import { HEADROOM_MS, libfaketime as findLibfaketime, steppedWallClock } from "@devflow/dev-server/wallClock"
import { afterAll, assert, describe, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { spawnWorker, type Worker } from "./fixtures/processes.js"

const libfaketime = findLibfaketime()
const workers: Array<Worker> = []
const dirs: Array<string> = []
afterAll(async () => {
  for (const worker of workers) worker.process.kill("SIGKILL")
  await Promise.all(workers.map((w) => w.exited))
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true })
})

describe.skipIf(libfaketime === undefined)("the refresh lock across a wall-clock step (libfaketime)", () => {
  it(
    "a waiter whose wall clock jumps an hour ahead neither breaks a live holder's lock nor gives up early; it takes the lock once the holder dies",
    {
      timeout: 60_000
    },
    async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "devflow-clock-step-"))
      dirs.push(dir)
      const holder = await spawnWorker(["hold", dir, "account"])
      workers.push(holder)
      await holder.waitFor((l) => l === "held")

      const offset = path.join(dir, "faketime-offset")
      fs.writeFileSync(offset, "+0")
      const waiter = await spawnWorker(["hold", dir, "account"], {
        env: { ...steppedWallClock(libfaketime!, offset), DEVFLOW_TEST_LOCK_TIMEOUT_MS: "40000" }
      })
      workers.push(waiter)
      await waiter.waitFor((l) => l === "waiting")
      fs.writeFileSync(offset, "+1h")

      // An absence, so a window: the waiter looks at the lock every 50 ms at most. Judged by its age (an hour
      // on the stepped clock) the lock was broken within one look; measured on the wall clock, the 40 s wait
      // was over at once and the waiter gave up.
      const verdict = await Promise.race([
        waiter.waitFor((l) => l === "held", 3_000).then(() => "took the live holder's lock", () => undefined),
        waiter.exited.then(() => `gave up: ${waiter.stderr().trim()}`)
      ])
      assert.isUndefined(verdict)
      assert.isTrue(waiter.lines.every((l) => l !== "held"))

      // the holder dies: its pid is checked, and the waiter takes the lock at once
      holder.process.kill("SIGKILL")
      await holder.exited
      await waiter.waitFor((l) => l === "held", HEADROOM_MS)
    }
  )
})
