/**
 * The flow store port: device flows that outlive the request that started
 * them. A server-side app starts a flow and hands its id to whoever asks
 * "am I signed in yet?"; any caller (in this process, or on another instance
 * with a shared store) can then watch the flow's progress and final result,
 * cancel it, or list the flows still pending.
 *
 * A store runs each flow with the engine ({@link DeviceFlow.events}) and
 * keeps its {@link DeviceSession.DeviceSession} after every poll, so a shared
 * store can resume it elsewhere ({@link DeviceFlow.resumeEvents}). This module
 * holds the port and the serialisable update model; `MemoryFlowStore` keeps
 * flows in one process, `@devflow/store-redis` shares them across instances.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"

import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import type * as DeviceAuthorization from "./DeviceAuthorization.js"
import type { DeviceFlowEvent, FlowOptions } from "./DeviceFlow.js"
import { DeviceFlowError } from "./DeviceFlowError.js"
import { FreeText, Uri, UserCode } from "./internal/decode.js"
import { randomId } from "./internal/randomId.js"
import type { AuthenticationResult } from "./TokenResponse.js"

// ---------------------------------------------------------------------------
// model
// ---------------------------------------------------------------------------

/**
 * What a flow shows the user, and its id in the store.
 *
 * @since 0.1.0
 * @category models
 */
export interface StartedFlow {
  /** the store's id for the flow: random, unguessable, neither the device code nor the user code */
  readonly id: string
  readonly userCode: string
  readonly verificationUri: string
  readonly verificationUriComplete: string | undefined
  /** epoch ms after which the code is useless */
  readonly expiresOn: number
  /** a ready-to-print instruction */
  readonly message: string
}

const Secret = Schema.Redacted(Schema.String)

/**
 * The tokens of a finished flow in a form that survives JSON (secrets in
 * clear in the encoded form: a shared store encrypts it). Extra response
 * fields named like secrets are kept only as `"<redacted>"`.
 *
 * @since 0.1.0
 * @category schemas
 */
export const StoredResult: Schema.Schema<AuthenticationResult, StoredResultEncoded> = Schema.Struct({
  accessToken: Secret,
  tokenType: Schema.String,
  expiresOn: Schema.OptionFromNullOr(Schema.DateTimeUtcFromNumber),
  scopes: Schema.Array(Schema.String),
  refreshToken: Schema.OptionFromNullOr(Secret),
  idToken: Schema.OptionFromNullOr(Secret),
  idTokenClaims: Schema.OptionFromNullOr(Schema.Record({ key: Schema.String, value: Schema.Unknown })),
  extra: Schema.Record({ key: Schema.String, value: Schema.Unknown })
})

/**
 * The JSON form of a finished flow's result, as a store keeps it.
 *
 * @since 0.1.0
 * @category schemas
 */
export interface StoredResultEncoded {
  readonly accessToken: string
  readonly tokenType: string
  readonly expiresOn: number | null
  readonly scopes: ReadonlyArray<string>
  readonly refreshToken: string | null
  readonly idToken: string | null
  readonly idTokenClaims: { readonly [x: string]: unknown } | null
  readonly extra: { readonly [x: string]: unknown }
}

const PendingFields = {
  id: Schema.String,
  /** which engine event this is: the code was issued, or a poll's answer */
  step: Schema.Literal("CodeIssued", "Pending", "SlowedDown", "Retrying"),
  // updates come back from a shared store and reach watchers' users: they cross ServerText again
  userCode: UserCode,
  verificationUri: Uri,
  verificationUriComplete: Schema.optional(Uri),
  expiresOn: Schema.Number,
  /** polls so far */
  attempt: Schema.Number,
  /** the current interval, every slow_down included */
  intervalMs: Schema.Number,
  /** epoch ms of the next poll */
  nextPollAt: Schema.Number,
  /** why the last poll is retried (Retrying only) */
  reason: Schema.optional(FreeText)
}

/**
 * The flow is running: the user has yet to act.
 *
 * @since 0.1.0
 * @category schemas
 */
export class Pending extends Schema.TaggedClass<Pending>("@devflow/core/FlowStore/Pending")("Pending", PendingFields) {}

/**
 * The user approved: the tokens.
 *
 * @since 0.1.0
 * @category schemas
 */
export class Succeeded extends Schema.TaggedClass<Succeeded>("@devflow/core/FlowStore/Succeeded")("Succeeded", {
  id: Schema.String,
  result: StoredResult
}) {}

/**
 * The flow ended with a typed error: denied, expired, refused by the server, ...
 *
 * @since 0.1.0
 * @category schemas
 */
export class Failed extends Schema.TaggedClass<Failed>("@devflow/core/FlowStore/Failed")("Failed", {
  id: Schema.String,
  error: DeviceFlowError
}) {}

/**
 * Someone called {@link FlowStore.cancel}: no poll is sent after it.
 *
 * @since 0.1.0
 * @category schemas
 */
export class Cancelled extends Schema.TaggedClass<Cancelled>("@devflow/core/FlowStore/Cancelled")("Cancelled", {
  id: Schema.String
}) {}

/**
 * A flow's state as watchers see it; the last three are final.
 *
 * @since 0.1.0
 * @category models
 */
export type FlowUpdate = Pending | Succeeded | Failed | Cancelled

/**
 * What a watcher is told about a flow: it is pending (with its code), succeeded, failed or was cancelled.
 *
 * @since 0.1.0
 * @category schemas
 */
export const FlowUpdate: Schema.Union<[typeof Pending, typeof Succeeded, typeof Failed, typeof Cancelled]> = Schema
  .Union(Pending, Succeeded, Failed, Cancelled)

/**
 * Whether an update ends the flow.
 *
 * @since 0.1.0
 * @category refinements
 */
export const isFinal = (update: FlowUpdate): update is Succeeded | Failed | Cancelled => update._tag !== "Pending"

/**
 * The update an engine event becomes (`Succeeded` included).
 *
 * @since 0.1.0
 * @category utils
 */
export const fromEvent = (id: string, event: DeviceFlowEvent): Pending | Succeeded => {
  if (event._tag === "Succeeded") return new Succeeded({ id, result: event.result })
  const s = event.session
  return new Pending({
    id,
    step: event._tag,
    userCode: s.userCode,
    verificationUri: s.verificationUri,
    ...(s.verificationUriComplete === undefined ? {} : { verificationUriComplete: s.verificationUriComplete }),
    expiresOn: s.expiresOn,
    attempt: event._tag === "CodeIssued" ? 0 : event.attempt,
    intervalMs: s.intervalMs,
    nextPollAt: s.nextPollAt,
    ...(event._tag === "Retrying" ? { reason: event.reason } : {})
  })
}

// ---------------------------------------------------------------------------
// errors
// ---------------------------------------------------------------------------

/**
 * No flow has this id (never started, or forgotten after its retention).
 *
 * @since 0.1.0
 * @category errors
 */
export class FlowNotFound extends Schema.TaggedError<FlowNotFound>("@devflow/core/FlowNotFound")("FlowNotFound", {
  id: Schema.String
}) {
  override get message(): string {
    return `No device flow ${this.id}: it never existed, or it ended and was forgotten`
  }
}

/**
 * The store cannot be used right now.
 *
 * - `connection`: the shared store is unreachable (after bounded retries)
 * - `corrupt`: a stored flow cannot be read (damaged, or encrypted with an unknown key)
 * - `lease_lost`: this instance no longer owns the flow it was polling (another took it over)
 *
 * @since 0.1.0
 * @category errors
 */
export class FlowStoreUnavailable extends Schema.TaggedError<FlowStoreUnavailable>(
  "@devflow/core/FlowStoreUnavailable"
)("FlowStoreUnavailable", {
  store: Schema.String,
  reason: Schema.Literal("connection", "corrupt", "lease_lost"),
  detail: Schema.String,
  cause: Schema.optional(Schema.Defect)
}) {
  override get message(): string {
    return `The flow store ${this.store} cannot be used (${this.reason}): ${this.detail}`
  }
}

/**
 * The errors a flow store can fail with.
 *
 * @since 0.1.0
 * @category errors
 */
export type FlowStoreError = FlowNotFound | FlowStoreUnavailable

// ---------------------------------------------------------------------------
// port
// ---------------------------------------------------------------------------

/**
 * A summary of a pending flow (no secret).
 *
 * @since 0.1.0
 * @category models
 */
export interface PendingFlow {
  readonly id: string
  readonly userCode: string
  readonly expiresOn: number
}

/**
 * Where device flows live while the user acts.
 *
 * @since 0.1.0
 * @category models
 */
export interface FlowStore {
  /** Request a code and start polling it in the background; returns once the code is issued. */
  readonly start: (
    request?: DeviceAuthorization.DeviceCodeRequest
  ) => Effect.Effect<StartedFlow, DeviceFlowError | FlowStoreUnavailable>
  /** The flow's current state. */
  readonly get: (id: string) => Effect.Effect<FlowUpdate, FlowStoreError>
  /**
   * The flow's current state, then every change, ending after a final
   * update. A watcher that comes after the end gets the stored final update.
   */
  readonly watch: (id: string) => Stream.Stream<FlowUpdate, FlowStoreError>
  /** Stop a pending flow (no poll after it); `false` when it had already ended. */
  readonly cancel: (id: string) => Effect.Effect<boolean, FlowStoreError>
  /** The flows still pending. */
  readonly pending: Effect.Effect<ReadonlyArray<PendingFlow>, FlowStoreUnavailable>
}

/**
 * The flow store service: start, get, watch, cancel and list device flows by id.
 *
 * @since 0.1.0
 * @category tags
 */
export const FlowStore: Context.Tag<FlowStore, FlowStore> = Context.GenericTag<FlowStore>("@devflow/core/FlowStore")

/**
 * Wait for a flow's final update.
 *
 * @since 0.1.0
 * @category utils
 */
export const awaitResult = (
  store: FlowStore,
  id: string
): Effect.Effect<Succeeded | Failed | Cancelled, FlowStoreError> =>
  Stream.runLast(Stream.filter(store.watch(id), isFinal)).pipe(
    Effect.flatMap(Option.match({
      // watch only ends after a final update: anything else is a broken store, not a user error
      onNone: () => Effect.dieMessage(`flow ${id}: the watch ended without a final update`),
      onSome: Effect.succeed
    }))
  )

/**
 * Options of a flow store.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options extends FlowOptions {
  /** how long a finished flow's final update stays readable (default 10 minutes) */
  readonly retention?: Duration.DurationInput | undefined
}

/**
 * A new random flow id: 128 bits, base64url.
 *
 * @since 0.1.0
 * @category utils
 */
export const makeId: Effect.Effect<string> = Effect.sync(() => randomId())

/**
 * A flow's first update, from the `CodeIssued` event.
 *
 * @since 0.1.0
 * @category utils
 */
export const startedFlow = (id: string, code: DeviceAuthorization.DeviceCode): StartedFlow => ({
  id,
  userCode: code.userCode,
  verificationUri: code.verificationUri,
  verificationUriComplete: code.verificationUriComplete,
  expiresOn: code.expiresOn.epochMillis,
  message: code.message
})
