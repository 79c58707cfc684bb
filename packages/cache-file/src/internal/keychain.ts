import type * as Keyring from "@napi-rs/keyring"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { liveClock } from "./io.js"

/**
 * The OS keychain through `@napi-rs/keyring` (keyring-rs): the macOS
 * Keychain, the Windows Credential Manager, the Secret Service on Linux
 * (GNOME Keyring, KWallet). Items are generic passwords of the service
 * `devflow`, named by their "account" (username) attribute.
 * @internal
 */
export interface Keychain {
  /** the secret of item `name`; `undefined` when there is no such item */
  readonly get: (name: string) => Effect.Effect<string | undefined, KeychainFailure>
  readonly set: (name: string, secret: string) => Effect.Effect<void, KeychainFailure>
  /** `true` when an item was removed */
  readonly remove: (name: string) => Effect.Effect<boolean, KeychainFailure>
  /** the names of every item of the service */
  readonly names: Effect.Effect<ReadonlyArray<string>, KeychainFailure>
}

/**
 * The keychain did not answer, refused, or is not there (no binding for
 * this platform, no D-Bus session, no Secret Service, a locked collection).
 * `detail` comes from the platform; it never contains a secret.
 * @internal
 */
export class KeychainFailure extends Data.TaggedError("KeychainFailure")<{
  readonly operation: string
  readonly detail: string
}> {
  override get message(): string {
    return `${this.operation}: ${this.detail}`
  }
}

/** @internal */
export const SERVICE = "devflow"

type Binding = typeof Keyring

let binding: Promise<Binding> | undefined

// A native module: named through a variable so that bundlers (the CLI's esbuild) leave it to be
// resolved at run time from node_modules, where npm installed the binary for this platform.
const MODULE: string = "@napi-rs/keyring"

// Loaded on first use only: a cache without secrets in the keychain never pays for the native module.
const load = (): Effect.Effect<Binding, KeychainFailure> =>
  Effect.tryPromise({
    try: () => (binding ??= import(/* @vite-ignore */ MODULE) as Promise<Binding>),
    catch: (cause) => {
      binding = undefined
      return new KeychainFailure({
        operation: "load the keychain binding (@napi-rs/keyring)",
        detail: describe(cause)
      })
    }
  })

const describe = (cause: unknown): string => {
  const text = cause instanceof Error ? cause.message : String(cause)
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f]+/g, " ").trim().slice(0, 300)
}

/**
 * Linux: the Secret Service only. keyring-rs would otherwise fall back to the
 * kernel keyring (keyutils), which forgets everything at logout or reboot —
 * a sign-in lost without a word.
 */
const ENTRY_OPTIONS = { linux: { store: "secret-service" } } as const

/**
 * The keychain, every call bounded by `timeout`: a keychain that waits for
 * an unlock prompt nobody can answer (a locked GNOME Keyring over SSH)
 * must not hang the program.
 * @internal
 */
export const make = (timeout: Duration.Duration): Keychain => {
  const call = <A>(operation: string, run: (keyring: Binding, signal: AbortSignal) => Promise<A>) =>
    Effect.flatMap(load(), (keyring) =>
      Effect.tryPromise({
        try: (signal) => run(keyring, signal),
        catch: (cause) => new KeychainFailure({ operation, detail: describe(cause) })
      })).pipe(
        Effect.timeoutFail({
          duration: timeout,
          onTimeout: () =>
            new KeychainFailure({
              operation,
              detail: `no answer within ${Duration.format(timeout)} (is it locked, waiting for a password?)`
            })
        }),
        Effect.withClock(liveClock)
      )
  const entry = (keyring: Binding, name: string) => new keyring.AsyncEntry(SERVICE, name, ENTRY_OPTIONS)
  return {
    // Stored as UTF-8 bytes: keyring-rs stores a Windows *password* as UTF-16, which would halve the
    // 2,560 bytes Credential Manager allows (a long Entra refresh token would not fit).
    get: (name) =>
      call("read a keychain item", async (keyring, signal) => {
        const bytes = await entry(keyring, name).getSecret(signal)
        return bytes === null ? undefined : Buffer.from(bytes).toString("utf8")
      }),
    set: (name, secret) =>
      call(
        "write a keychain item",
        (keyring, signal) => entry(keyring, name).setSecret(Buffer.from(secret, "utf8"), signal)
      ),
    remove: (name) =>
      call("remove a keychain item", (keyring, signal) => entry(keyring, name).deleteCredential(signal)),
    names: call(
      "list the keychain items",
      async (keyring, signal) => (await keyring.findCredentialsAsync(SERVICE, undefined, signal)).map((c) => c.account)
    )
  }
}
