import { mergeConfig } from "vitest/config"
import { shared } from "../../vitest.shared.js"

// The CLI is tested as shipped: test/globalSetup.ts bundles it once (to a
// temporary directory, so that a running `pnpm devflow` is not disturbed) and
// every test runs the bundle in a real process.
export default mergeConfig(shared("cli"), {
  test: {
    globalSetup: [new URL("./test/globalSetup.ts", import.meta.url).pathname]
  }
})
