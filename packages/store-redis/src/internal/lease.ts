/** @internal */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as crypto from "node:crypto"
import { script } from "./connection.js"

/*
 * Fenced leases, in two forms:
 *
 * - a lease named by its fencing token (a flow's poller,
 *   `…:lease:<fence>`): it exists only while that holder's lease does, so
 *   commands on it are fenced by their key alone: `SET … XX PX` (write and
 *   renew), `PEXPIRE` (renew), `DEL` (release) never touch a successor's;
 * - a lease holding its fencing token (the token cache's refresh lock, one
 *   key per account, waited on by name): the scripts below compare the
 *   token first.
 */

/**
 * Release a lease holding its fencing token: only its holder may. Its name
 * is then published on the channel given, if any, so that whoever waits for
 * it tries at once instead of at its next poll.
 * KEYS[1] = the lease, ARGV[1] = the fencing token, ARGV[2] = the channel (optional).
 * @internal
 */
export const RELEASE = script(
  "lease.release",
  `if redis.call("GET", KEYS[1]) ~= ARGV[1] then return 0 end
redis.call("DEL", KEYS[1])
if ARGV[2] then redis.call("PUBLISH", ARGV[2], KEYS[1]) end
return 1`
)

/**
 * Renew a lease holding its fencing token: only its holder may.
 * KEYS[1] = the lease, ARGV[1] = the fencing token, ARGV[2] = its new life in ms.
 * @internal
 */
export const RENEW = script(
  "lease.renew",
  `if redis.call("GET", KEYS[1]) ~= ARGV[1] then return 0 end
redis.call("PEXPIRE", KEYS[1], ARGV[2])
return 1`
)

/**
 * Milliseconds on the monotonic clock (Effect's `currentTimeNanos`, Node's
 * `process.hrtime`): lease deadlines are kept on it, because the wall clock
 * may be stepped (NTP, a VM restored) by more than a lease.
 * @internal
 */
export const monotonicNow: Effect.Effect<number> = Effect.map(
  Clock.currentTimeNanos,
  (nanos) => Number(nanos / 1_000_000n)
)

/**
 * A random name for one attempt to take a lease. A script that takes one is
 * not idempotent: when its reply is lost and the command is sent again, the
 * retry must recognise the lease its first run took rather than be refused
 * by it (and wait a whole lease for its own lock).
 * @internal
 */
export const attemptId = (): string => crypto.randomBytes(12).toString("base64url")
