import * as DeviceFlowError from "@devflow/core/DeviceFlowError"
import { assert, describe, it } from "@effect/vitest"
import * as CliError from "./CliError.js"

describe("CliError.describe", () => {
  it("a refused DPoP proof is exit 6 with the server's sanitised hint and what to do", () => {
    const failure = CliError.describe(
      new DeviceFlowError.DpopProofRejected({
        endpoint: "https://id.example/token",
        status: 400,
        error: "invalid_dpop_proof",
        errorDescription: "DPoP proof iat is not recent enough\u001b[2J"
      })
    )
    assert.strictEqual(failure.code, CliError.ExitCode.Server)
    assert.strictEqual(failure.tag, "DpopProofRejected")
    assert.include(failure.message, "refused the DPoP proof")
    assert.include(failure.message, "DPoP proof iat is not recent enough")
    assert.notInclude(failure.message, "\u001b")
    assert.include(failure.hint ?? "", "clock")
  })
})
