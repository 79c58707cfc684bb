import { it } from "@effect/vitest"
import { Effect } from "effect"
it.effect("runs", () => Effect.void)
