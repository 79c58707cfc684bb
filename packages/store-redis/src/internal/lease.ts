/** @internal */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as crypto from "node:crypto"
import { script } from "./connection.js"

/**
 * Release a fenced lease (a flow's poller lease, the token cache's refresh
 * lock): only its holder, named by the fencing token it was given, may.
 * KEYS[1] = the lease, ARGV[1] = the fencing token.
 * @internal
 */
export const RELEASE = script(
  "lease.release",
  `if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("DEL", KEYS[1]) end
return 0`
)

/**
 * Milliseconds on the monotonic clock (Effect's `currentTimeNanos`, Node's
 * `process.hrtime`): lease deadlines are kept on it, because the wall clock
 * may be stepped (NTP, a VM restored) by more than a lease.
 * @internal
 */
export const monotonicNow: Effect.Effect<number> = Effect.map(Clock.currentTimeNanos, (nanos) => Number(nanos / 1_000_000n))

/**
 * A random name for one attempt to take a lease. A script that takes one is
 * not idempotent: when its reply is lost and the command is sent again, the
 * retry must recognise the lease its first run took rather than be refused
 * by it (and wait a whole lease for its own lock).
 * @internal
 */
export const attemptId = (): string => crypto.randomBytes(12).toString("base64url")
