import * as CacheContent from "@devflow/core/CacheContent"
import * as TokenCache from "@devflow/core/TokenCache"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as crypto from "node:crypto"
import * as SecretPlacement from "../SecretPlacement.js"
import * as Keychain from "./keychain.js"

/**
 * Where the cache's long-lived secrets (refresh tokens, kept client
 * secrets) live: `keychain` requires the OS keychain, `file` keeps them in
 * the cache file, `auto` uses the keychain when it answers and the file
 * otherwise (with a warning).
 * @internal
 */
export type Mode = "auto" | "keychain" | "file"

/** @internal */
export const MODES: ReadonlyArray<Mode> = ["auto", "keychain", "file"]

const REF_PREFIX = SecretPlacement.REFERENCE_PREFIX
const REF = SecretPlacement.REFERENCE

type Section = "refreshTokens" | "clients" | "dpopKeys"
type Entry = CacheContent.CredentialEntry | CacheContent.ClientEntry | CacheContent.DpopKeyEntry

/** A refresh token or client entry of the content, by section and key. */
interface Slot {
  readonly section: Section
  readonly key: string
  readonly entry: Entry
}

const KIND: Readonly<Record<Section, string>> = {
  refreshTokens: "refresh-token",
  clients: "client-secret",
  // the private key a DPoP-bound refresh token is proved with goes where the refresh token goes
  dpopKeys: "dpop-key"
}

const slotsOf = (content: CacheContent.CacheContent): Array<Slot> => [
  ...[...content.refreshTokens].map(([key, entry]) => ({ section: "refreshTokens" as const, key, entry })),
  ...[...content.clients].map(([key, entry]) => ({ section: "clients" as const, key, entry })),
  ...[...content.dpopKeys].map(([key, entry]) => ({ section: "dpopKeys" as const, key, entry }))
]

/** The keychain item an entry's reference names, if its secret is one. */
const refOf = (entry: Entry): string | undefined => REF.exec(Redacted.value(entry.secret))?.[1]

const withSlots = (content: CacheContent.CacheContent, slots: ReadonlyArray<Slot>): CacheContent.CacheContent => {
  const refreshTokens = new Map<string, CacheContent.CredentialEntry>()
  const clients = new Map<string, CacheContent.ClientEntry>()
  const dpopKeys = new Map<string, CacheContent.DpopKeyEntry>()
  for (const slot of slots) {
    if (slot.section === "refreshTokens") refreshTokens.set(slot.key, slot.entry as CacheContent.CredentialEntry)
    else if (slot.section === "dpopKeys") dpopKeys.set(slot.key, slot.entry as CacheContent.DpopKeyEntry)
    else clients.set(slot.key, slot.entry as CacheContent.ClientEntry)
  }
  return { ...content, refreshTokens, clients, dpopKeys }
}

const who = (slot: Slot): string =>
  slot.section === "refreshTokens"
    ? `the refresh token of ${(slot.entry as CacheContent.CredentialEntry).accountId} (client ${slot.entry.clientId})`
    : slot.section === "dpopKeys"
    ? `the DPoP key of ${(slot.entry as CacheContent.DpopKeyEntry).accountId} (client ${slot.entry.clientId})`
    : `the secret of client ${slot.entry.clientId}`

/**
 * The content as it is in the file and as callers see it.
 * @internal
 */
export interface Resolved {
  /** the secrets in clear (`Redacted`); entries whose item could not be read are left out */
  readonly content: CacheContent.CacheContent
  /** references the keychain could not be asked about: kept in the file, not offered to callers */
  readonly unresolved: ReadonlyArray<Slot>
}

/**
 * What a write stores: the content for the file (references in place of
 * the secrets moved to the keychain), and the items to remove once the
 * file no longer names them.
 * @internal
 */
export interface Plan {
  readonly stored: CacheContent.CacheContent
  readonly unresolved: ReadonlyArray<Slot>
  readonly changed: boolean
  readonly obsolete: ReadonlyArray<string>
}

/** @internal */
export interface SecretStore {
  readonly mode: Mode
  /** replace references by the keychain's secrets */
  readonly resolve: (stored: CacheContent.CacheContent) => Effect.Effect<Resolved, TokenCache.CacheUnavailable>
  /** whether the file holds secrets where this mode does not want them */
  readonly misplaced: (stored: CacheContent.CacheContent, resolved: Resolved) => boolean
  /**
   * Under the data lock, before the file is written: put `next`'s secrets
   * where they belong (keychain items are written first, so the file never
   * names an item that does not exist).
   */
  readonly persist: (
    stored: CacheContent.CacheContent,
    resolved: Resolved,
    next: CacheContent.CacheContent
  ) => Effect.Effect<Plan, TokenCache.CacheUnavailable>
  /** Under the data lock, after the file was written: remove the items it no longer names. */
  readonly cleanUp: (plan: Plan) => Effect.Effect<void>
  /** Make sure the keychain answers (`keychain` mode, when the cache is opened). */
  readonly check: Effect.Effect<void, TokenCache.CacheUnavailable>
  /**
   * Make sure the keychain accepts an item now, before a sign-in: `keychain` mode fails,
   * `auto` turns to the file (for a while, with its warning).
   */
  readonly checkWritable: Effect.Effect<void, TokenCache.CacheUnavailable>
}

/**
 * How long a cache that found the keychain unreachable keeps to the file
 * (`auto`) or fails at once (`keychain`) before it asks the keychain again.
 * @internal
 */
export const KEYCHAIN_RETRY_AFTER: Duration.Duration = Duration.minutes(5)

/**
 * @internal
 */
export const make = (options: {
  readonly mode: Mode
  /** the cache file, for messages */
  readonly file: string
  /** the cache file with every symbolic link of its path resolved, to name its items */
  readonly realFile?: string | undefined
  readonly timeout: Duration.Duration
  readonly keychain?: Keychain.Keychain | undefined
  /** how the caller's users choose the file store (a library option, a CLI flag), for the warning */
  readonly fileStoreSetting?: string | undefined
}): SecretStore => {
  const { file, mode } = options
  const keychain = options.keychain ?? Keychain.make(options.timeout)
  // Items are named per cache file, so that two cache directories never share (or sweep) each other's:
  // by its real path, so that two ways to one file are one cache. Items named before that by the path as
  // given (a way through a symbolic link) are this cache's too, and removed when the file drops them.
  const idOf = (p: string) => crypto.createHash("sha256").update(p).digest("hex").slice(0, 12)
  const fileId = idOf(options.realFile ?? file)
  const givenId = idOf(file)
  const nameFor = (slot: Slot) =>
    `${KIND[slot.section]}/${fileId}/${crypto.createHash("sha256").update(slot.key).digest("hex").slice(0, 32)}`
  const ours = (name: string) => {
    const id = name.split("/")[1]
    return id === fileId || id === givenId
  }

  // After a failure the keychain is not asked again for a while (every call could wait for the timeout),
  // but only for a while: a keychain locked at one moment is usually unlocked later, and a long-lived
  // process must not keep refresh tokens in the file for the rest of its life.
  let unreachable: Keychain.KeychainFailure | undefined
  let askAgainAt = 0
  const warned = new Set<string>()
  const warnOnce = (id: string, text: string) =>
    warned.has(id) ? Effect.void : Effect.zipRight(Effect.sync(() => warned.add(id)), Effect.logWarning(text))

  const unavailable = (failure: Keychain.KeychainFailure) =>
    new TokenCache.CacheUnavailable({
      location: file,
      reason: "keychain",
      // what to do instead is the caller's to say, in its own names (the CLI's hint names its flag)
      detail: failure.message
    })

  /**
   * A keychain call; its failure marks the keychain unreachable for {@link KEYCHAIN_RETRY_AFTER}, and
   * fails only in `keychain` mode.
   */
  const attempt = <A>(call: Effect.Effect<A, Keychain.KeychainFailure>) =>
    Effect.flatMap(Clock.currentTimeNanos, (nanos) => {
      const now = Number(nanos / 1_000_000n)
      if (unreachable !== undefined && now >= askAgainAt) unreachable = undefined
      return unreachable !== undefined
        ? (mode === "keychain" ? Effect.fail(unavailable(unreachable)) : Effect.succeed(undefined))
        : Effect.catchAll(Effect.map(call, (value) => ({ value })), (failure) => {
          unreachable = failure
          askAgainAt = now + Duration.toMillis(KEYCHAIN_RETRY_AFTER)
          return mode === "keychain" ? Effect.fail(unavailable(failure)) : Effect.succeed(undefined)
        })
    })

  const warnPlaintext = (what: string) =>
    warnOnce(
      "plaintext",
      `The OS keychain is not available (${unreachable?.message}): ${what} is kept in clear in ${file} ` +
        `(0600), where anything running as you, and any copy or backup of the file, can read it. ` +
        `Make a keychain available (macOS Keychain, Windows Credential Manager, a Secret Service such as ` +
        `GNOME Keyring or KWallet) and devflow moves it there, or set ${
          options.fileStoreSetting ?? "secretStore: \"file\""
        } ` +
        `to keep secrets in the file on purpose`
    )

  // A locked keychain may answer reads and refuse writes: only writing an item (and removing it) tells.
  // In `auto` a refusal only marks the keychain unreachable, so that the save goes to the file at once;
  // the save warns if a secret is then kept in clear (a sign-in without a refresh token keeps none).
  const checkWritable: Effect.Effect<void, TokenCache.CacheUnavailable> = mode === "file"
    ? Effect.void
    : Effect.gen(function*() {
      const probe = `probe/${fileId}/${crypto.randomBytes(16).toString("hex")}`
      const written = yield* attempt(keychain.set(probe, "devflow checks that it can keep a secret here"))
      // a probe left behind is this cache's item that the file does not name: the next clean-up removes it
      if (written !== undefined) yield* Effect.ignore(keychain.remove(probe))
    })

  const resolve = (stored: CacheContent.CacheContent): Effect.Effect<Resolved, TokenCache.CacheUnavailable> =>
    Effect.gen(function*() {
      const slots = slotsOf(stored)
      if (!slots.some((slot) => refOf(slot.entry) !== undefined)) return { content: stored, unresolved: [] }
      const kept: Array<Slot> = []
      const unresolved: Array<Slot> = []
      for (const slot of slots) {
        const name = refOf(slot.entry)
        if (name === undefined) {
          kept.push(slot)
          continue
        }
        const got = yield* attempt(keychain.get(name))
        if (got === undefined) {
          unresolved.push(slot)
          yield* warnOnce(
            `unreachable ${name}`,
            `${who(slot)} is kept in the OS keychain, which cannot be reached from here (${unreachable?.message}): ` +
              `sign in again, or run devflow where the keychain is available (the cache ${file} keeps the reference)`
          )
        } else if (got.value === undefined || got.value === "") {
          // The item was removed behind devflow's back: the account needs a new sign-in, nothing worse.
          yield* warnOnce(
            `missing ${name}`,
            `${who(slot)} is missing from the OS keychain (removed outside devflow?): sign in again`
          )
        } else {
          kept.push({ ...slot, entry: { ...slot.entry, secret: Redacted.make(got.value) } })
        }
      }
      return { content: withSlots(stored, kept), unresolved }
    })

  const misplaced = (stored: CacheContent.CacheContent, resolved: Resolved): boolean => {
    const refs = slotsOf(stored).filter((slot) => refOf(slot.entry) !== undefined).length
    if (mode === "file") return refs > resolved.unresolved.length
    return unreachable === undefined && slotsOf(stored).some((slot) => refOf(slot.entry) === undefined)
  }

  /**
   * An unresolved reference is kept while the entry it stands for would
   * have been kept: its account is still there and nothing replaced it
   * (core's `withoutAccount` rules), so that a session without the keychain
   * never loses another session's sign-in.
   */
  const keep = (slot: Slot, next: CacheContent.CacheContent): boolean => {
    if (next[slot.section].has(slot.key)) return false
    if (slot.section === "refreshTokens" || slot.section === "dpopKeys") {
      const entry = slot.entry as CacheContent.CredentialEntry | CacheContent.DpopKeyEntry
      return CacheContent.findAccount(next, entry.authority, entry.accountId) !== undefined
    }
    if (next.accounts.size === 0) return false
    const client = slot.entry as CacheContent.ClientEntry
    return client.registration !== undefined ||
      [...next.refreshTokens.values(), ...next.accessTokens.values()].some((e) => e.clientId === client.clientId)
  }

  const persist = (
    stored: CacheContent.CacheContent,
    resolved: Resolved,
    next: CacheContent.CacheContent
  ): Effect.Effect<Plan, TokenCache.CacheUnavailable> =>
    Effect.gen(function*() {
      const out: Array<Slot> = []
      let changed = false
      // how a secret appears in the file: its item's reference, or itself
      const shown = (entry: Entry) => refOf(entry) ?? Redacted.value(entry.secret)
      for (const slot of slotsOf(next)) {
        const before = stored[slot.section].get(slot.key)
        const value = Redacted.value(slot.entry.secret)
        const current = resolved.content[slot.section].get(slot.key)
        let entry: Entry = slot.entry
        if (mode !== "file") {
          const name = nameFor(slot)
          // an unchanged secret already in its item is not written again
          const unchanged = before !== undefined && refOf(before) === name && current !== undefined &&
            Redacted.value(current.secret) === value
          const placed = unchanged ? { value: undefined } : yield* attempt(keychain.set(name, value))
          if (placed !== undefined) {
            entry = { ...slot.entry, secret: Redacted.make(`${REF_PREFIX}${name}`) }
          } else if (mode === "auto" && (before === undefined || refOf(before) !== undefined)) {
            yield* warnPlaintext(who(slot))
          }
        }
        if (before === undefined || shown(before) !== shown(entry)) changed = true
        out.push({ ...slot, entry })
      }
      const unresolved = resolved.unresolved.filter((slot) => keep(slot, next))
      const stillNamed = new Set(
        [...out, ...unresolved].map((slot) => refOf(slot.entry)).filter((n) => n !== undefined)
      )
      const obsolete = slotsOf(stored)
        .map((slot) => refOf(slot.entry))
        .filter((name): name is string => name !== undefined && !stillNamed.has(name))
      if (
        obsolete.length > 0 || unresolved.length !== resolved.unresolved.length ||
        out.length !== slotsOf(stored).length - resolved.unresolved.length
      ) {
        changed = true
      }
      return { stored: withSlots(next, [...out, ...unresolved]), unresolved, changed, obsolete }
    })

  const cleanUp = (plan: Plan): Effect.Effect<void> =>
    Effect.gen(function*() {
      const refs = new Set(slotsOf(plan.stored).map((slot) => refOf(slot.entry)).filter((n) => n !== undefined))
      // a file-only cache touches the keychain only to empty it of what an earlier mode put there
      if (!plan.changed || (mode === "file" && plan.obsolete.length === 0)) return
      const removable = new Set(plan.obsolete.filter(ours))
      // Items a crash left between a write and its clean-up, or that were named when the keychain
      // could not be reached: any item of this cache that the file no longer names.
      if (unreachable === undefined) {
        const listed = yield* Effect.either(keychain.names)
        if (listed._tag === "Right") {
          for (const name of listed.right) if (ours(name) && !refs.has(name)) removable.add(name)
        }
      }
      for (const name of removable) {
        if (unreachable !== undefined) break
        const removed = yield* Effect.either(keychain.remove(name))
        if (removed._tag === "Left") {
          unreachable = removed.left
          yield* Effect.logWarning(
            `Could not remove a keychain item of ${file} that is no longer used (${removed.left.message}); ` +
              `the next write will try again`
          )
        }
      }
    })

  const check = mode === "keychain"
    ? Effect.mapError(keychain.get("probe"), unavailable).pipe(Effect.asVoid)
    : Effect.void

  return { mode, resolve, misplaced, persist, cleanUp, check, checkWritable }
}
