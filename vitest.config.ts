import { availableParallelism } from "node:os"
import { defineConfig } from "vitest/config"
import projects from "./vitest.workspace.js"

// Most test time is spent waiting on real things (an authorization server, Redis, a browser, the
// CLI as a child process), not on the CPU: vitest's default of one worker per core minus one
// runs one file at a time on a 2-core machine (794 s here). One worker per core, at least two.
// DEVFLOW_TEST_WORKERS overrides it (1 reproduces a serial run when chasing an interaction).
const workers = Number(process.env.DEVFLOW_TEST_WORKERS) || Math.max(2, availableParallelism())

export default defineConfig({
  test: {
    projects,
    maxWorkers: workers,
    minWorkers: 1
  }
})
