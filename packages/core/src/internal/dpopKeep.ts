/**
 * DPoP keys kept with the tokens they bind (RFC 9449 §5): which key a
 * sign-in proves with and keeps, and which key a refresh in any later
 * process proves with.
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type { ClientConfig } from "../ClientConfig.js"
import * as Dpop from "../Dpop.js"
import * as Recent from "../Recent.js"
import type * as Content from "./cacheContent.js"
import { generateKeyPair, toStored } from "./dpop.js"
import { isProcessHolder, makeHolder } from "./dpopClient.js"

/**
 * The key a sign-in proves with and the form its tokens' store keeps: a new
 * key of its own unless the caller chose one (`Dpop.layerKey`), so that it
 * dies with these tokens; undefined without DPoP.
 * @internal
 */
export const forSignIn = (
  config: ClientConfig
): Effect.Effect<{ readonly holder: Dpop.KeyHolder; readonly stored: Dpop.StoredKey } | undefined> =>
  config.dpop === undefined ? Effect.succeed(undefined) : Effect.gen(function*() {
    const current = yield* Dpop.CurrentKey
    const holder = isProcessHolder(current) ? makeHolder(Effect.succeed(yield* generateKeyPair())) : current
    return { holder, stored: yield* toStored(yield* holder.key) }
  })

// Holders of restored keys, by thumbprint: a process's refreshes share the server's nonces
// (RFC 9449 §8) and import each key once. Bounded: a long-lived process serving many accounts
// forgets the oldest.
const MAX_RESTORED = 256
const restored = Recent.make<string, Dpop.KeyHolder>(MAX_RESTORED)

/**
 * The holder of a kept key, for a refresh of the tokens it binds; undefined
 * when none is kept or it is damaged (the caller's `Dpop.CurrentKey` is used:
 * the server refuses a refresh token bound to another key, and the account
 * signs in again).
 * @internal
 */
export const forRefresh = (entry: Content.DpopKeyEntry | undefined): Effect.Effect<Dpop.KeyHolder | undefined> => {
  if (entry === undefined) return Effect.succeed(undefined)
  const known = restored.get(entry.jkt)
  if (known !== undefined) return Effect.succeed(known)
  return Effect.map(Dpop.restore(entry), (key) => {
    if (Option.isNone(key)) return undefined
    const holder = makeHolder(Effect.succeed(key.value))
    restored.set(entry.jkt, holder)
    return holder
  })
}

/**
 * `effect` proving with `holder` when there is one.
 * @internal
 */
export const provide = <A, E, R>(
  effect: Effect.Effect<A, E, R>,
  holder: Dpop.KeyHolder | undefined
): Effect.Effect<A, E, R> => holder === undefined ? effect : Effect.provideService(effect, Dpop.CurrentKey, holder)
