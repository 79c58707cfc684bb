import { defineProject } from "vitest/config"

/**
 * Settings every package's tests share. Workspace packages resolve to their
 * TypeScript sources through the `@devflow/source` export condition, so the
 * tests never run stale `dist/` output (Vite 7 honours only `ssr.resolve.conditions`
 * for Node tests; setting it replaces the defaults, hence the full list).
 */
export const shared = (name: string) =>
  defineProject({
    ssr: { resolve: { conditions: ["@devflow/source", "module", "node", "development|production"] } },
    test: {
      name,
      include: ["src/**/*.test.ts", "test/**/*.test.ts"],
      setupFiles: [new URL("./vitest.setup.ts", import.meta.url).pathname],
      testTimeout: 30_000
    }
  })
