/**
 * The stored form of one flow, kept small (issue 23: under 1 KB a pending
 * flow, index entry and lease included).
 *
 * - The record `<prefix>:flow:{<id>}` is one string, a JSON object with
 *   one-letter fields (a string key costs far less than a hash whose values
 *   are too long for Redis' compact encoding):
 *   `st` status, `f` fencing counter, `q` sequence number of the stored state,
 *   `c` the code as shown (user code, URIs, expiry: fixed for the flow's
 *   life), `d` the poll state (step, attempt, interval, next poll, reason),
 *   `s` the sealed secret part of the `DeviceSession` (device code, client,
 *   scopes, token parameters: never changes), `u` the final update, `a` /
 *   `fb` the attempt that last took the lease / ended the flow.
 * - The lease `<prefix>:flow:{<id>}:lease:<fence>` is named by its fencing
 *   token and holds the live poll state, `<seq>|<d>`: one `SET … XX PX` is
 *   the fence check (it only exists while that lease does), the state write
 *   and the renewal. The record's `d` is written only when the interval
 *   changes, at a handover and by a taker's first poll.
 * - Nothing secret is outside `s` (sealed) and `u` (sealed when it holds tokens).
 * @internal
 */
import * as DeviceSession from "@devflow/core/DeviceSession"
import type * as FlowStore from "@devflow/core/FlowStore"
import * as Effect from "effect/Effect"

/** @internal */
export interface FlowRecord {
  readonly st: "pending" | "succeeded" | "failed" | "cancelled"
  readonly f: number
  readonly q: number
  readonly c?: string
  readonly d?: string
  readonly s?: string
  readonly u?: string
  readonly a?: string
  readonly fb?: string
}

/**
 * Sequence numbers: a holder numbers its updates from `fence × SEQ_SPAN`, so
 * that a taker's updates come after everything its predecessor published,
 * stored or not. A flow polls far fewer than a million times.
 * @internal
 */
export const SEQ_SPAN = 1_000_000

/** @internal */
export const firstSeq = (fence: number): number => fence * SEQ_SPAN

type PendingEncoded = typeof FlowStore.Pending.Encoded

/** The fixed part of a pending update: what the user is shown. @internal */
export const codeOf = (u: PendingEncoded): string =>
  JSON.stringify([u.userCode, u.verificationUri, u.verificationUriComplete ?? null, u.expiresOn])

/** The part of a pending update that each poll changes. @internal */
export const pollStateOf = (u: PendingEncoded): string =>
  JSON.stringify([u.step, u.attempt, u.intervalMs, u.nextPollAt, u.reason ?? null])

/** The lease's value: `<seq>|<poll state>`. @internal */
export const live = (seq: number, pollState: string): string => `${seq}|${pollState}`

/** @internal */
export const parseLive = (text: string): { readonly seq: number; readonly pollState: string } => {
  const bar = text.indexOf("|")
  return { seq: Number(text.slice(0, bar)), pollState: text.slice(bar + 1) }
}

/** The encoded pending update, for the schema to decode (and validate) again. @internal */
export const pendingOf = (id: string, code: string, pollState: string): unknown => {
  const [userCode, verificationUri, verificationUriComplete, expiresOn] = JSON.parse(code) as Array<unknown>
  const [step, attempt, intervalMs, nextPollAt, reason] = JSON.parse(pollState) as Array<unknown>
  return {
    _tag: "Pending",
    id,
    step,
    userCode,
    verificationUri,
    ...(verificationUriComplete === null ? {} : { verificationUriComplete }),
    expiresOn,
    attempt,
    intervalMs,
    nextPollAt,
    ...(reason === null ? {} : { reason })
  }
}

const PUBLIC = [
  "version",
  "userCode",
  "verificationUri",
  "verificationUriComplete",
  "expiresOn",
  "intervalMs",
  "nextPollAt"
]

/** The session's secret and fixed part, as JSON (to be sealed). @internal */
export const secretPartOf = (session: DeviceSession.DeviceSession): string => {
  const all = JSON.parse(DeviceSession.toJson(session)) as Record<string, unknown>
  return JSON.stringify(Object.fromEntries(Object.entries(all).filter(([k]) => !PUBLIC.includes(k))))
}

/** The session again, from its secret part and the stored code and poll state. @internal */
export const sessionOf = (secretPart: string, code: string, pollState: string) => {
  const [userCode, verificationUri, verificationUriComplete, expiresOn] = JSON.parse(code) as Array<unknown>
  const [, , intervalMs, nextPollAt] = JSON.parse(pollState) as Array<unknown>
  return DeviceSession.fromJson(JSON.stringify({
    ...(JSON.parse(secretPart) as object),
    version: 1,
    userCode,
    verificationUri,
    ...(verificationUriComplete === null ? {} : { verificationUriComplete }),
    expiresOn,
    intervalMs,
    nextPollAt
  }))
}

/** @internal */
export const parseRecord = (text: string): Effect.Effect<FlowRecord, string> =>
  Effect.try({ try: () => JSON.parse(text) as FlowRecord, catch: () => "stored record is not JSON" })
