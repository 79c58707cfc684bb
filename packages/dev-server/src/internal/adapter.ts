import type { Adapter, AdapterPayload } from "oidc-provider"

/**
 * A per-server in-memory storage adapter for oidc-provider.
 *
 * Why not oidc-provider's built-in MemoryAdapter:
 * - its storage is one module-level LRU (1000 entries) shared by every Provider
 *   in the process, so parallel test servers would share (and evict) state;
 * - it drops an entry as soon as `expiresIn + clockTolerance` has passed, after
 *   which a device-code poll answers `invalid_grant` ("device code not found")
 *   instead of RFC 8628's `expired_token`. Here expired entries are kept for a
 *   grace period; oidc-provider's models do their own expiry checks.
 */

/** How long an entry outlives its expiry, so expired device codes still answer `expired_token`. */
const EXPIRED_GRACE_MS = 10 * 60 * 1000

interface Entry {
  payload: AdapterPayload
  /** epoch ms after which the entry may be dropped; Infinity when it never expires */
  dropAt: number
}

/** Hook called on every `find` so device-code polls can be paced (slow_down). */
export type FindHook = (model: string, id: string, payload: AdapterPayload) => void

export class MemoryStore {
  readonly #entries = new Map<string, Entry>()
  readonly #userCodes = new Map<string, string>()
  readonly #uids = new Map<string, string>()
  readonly #grants = new Map<string, Set<string>>()
  #lastSweep = Date.now()

  constructor(private readonly onFind?: FindHook) {}

  adapterFor(model: string): Adapter {
    const key = (id: string) => `${model}:${id}`
    return {
      upsert: async (id, payload, expiresIn) => {
        this.#sweep()
        const k = key(id)
        const dropAt = typeof expiresIn === "number" ? Date.now() + expiresIn * 1000 + EXPIRED_GRACE_MS : Infinity
        this.#entries.set(k, { payload, dropAt })
        if (payload.userCode) this.#userCodes.set(`${model}:${payload.userCode}`, id)
        if (payload.uid) this.#uids.set(`${model}:${payload.uid}`, id)
        if (payload.grantId) {
          let members = this.#grants.get(payload.grantId)
          if (!members) this.#grants.set(payload.grantId, members = new Set())
          members.add(k)
        }
      },
      find: async (id) => {
        const payload = this.#get(key(id))
        if (payload && this.onFind) this.onFind(model, id, payload)
        return payload
      },
      findByUserCode: async (userCode) => {
        const id = this.#userCodes.get(`${model}:${userCode}`)
        return id === undefined ? undefined : this.#get(key(id))
      },
      findByUid: async (uid) => {
        const id = this.#uids.get(`${model}:${uid}`)
        return id === undefined ? undefined : this.#get(key(id))
      },
      consume: async (id) => {
        const entry = this.#entries.get(key(id))
        if (entry) entry.payload.consumed = Math.floor(Date.now() / 1000)
      },
      destroy: async (id) => {
        this.#delete(key(id))
      },
      revokeByGrantId: async (grantId) => {
        const members = this.#grants.get(grantId)
        this.#grants.delete(grantId)
        for (const k of members ?? []) this.#delete(k)
      }
    }
  }

  #get(k: string): AdapterPayload | undefined {
    const entry = this.#entries.get(k)
    if (!entry) return undefined
    if (entry.dropAt <= Date.now()) {
      this.#delete(k)
      return undefined
    }
    return entry.payload
  }

  #delete(k: string): void {
    const entry = this.#entries.get(k)
    if (!entry) return
    this.#entries.delete(k)
    const model = k.slice(0, k.indexOf(":"))
    const id = k.slice(model.length + 1)
    const { userCode, uid } = entry.payload
    if (userCode && this.#userCodes.get(`${model}:${userCode}`) === id) this.#userCodes.delete(`${model}:${userCode}`)
    if (uid && this.#uids.get(`${model}:${uid}`) === id) this.#uids.delete(`${model}:${uid}`)
  }

  /** Drops long-expired entries, at most every few seconds (keeps long benchmark runs bounded). */
  #sweep(): void {
    const now = Date.now()
    if (now - this.#lastSweep < 5_000) return
    this.#lastSweep = now
    for (const [k, entry] of this.#entries) if (entry.dropAt <= now) this.#delete(k)
    for (const [grantId, members] of this.#grants) {
      for (const k of members) if (!this.#entries.has(k)) members.delete(k)
      if (members.size === 0) this.#grants.delete(grantId)
    }
  }
}
