/**
 * The token cache cut into parts, one per account (its account record and
 * every token of it, for any client) and one per registered client, so that
 * a write to one account never conflicts with a write to another (issue 23).
 * @internal
 */
import * as CacheContent from "@devflow/core/CacheContent"
import * as Recent from "@devflow/core/Recent"
import * as crypto from "node:crypto"

type Part = {
  -readonly [K in keyof CacheContent.CacheFile]: CacheContent.CacheFile[K] extends ReadonlyArray<infer A> ? Array<A>
    : CacheContent.CacheFile[K]
}

const emptyPart = (): Part => ({
  version: CacheContent.CURRENT_VERSION,
  accounts: [],
  accessTokens: [],
  refreshTokens: [],
  idTokens: [],
  clients: [],
  dpopKeys: []
})

// A part's name is a digest: what it is named after (account ids, endpoints) is not left in clear.
/**
 * How many parts an instance remembers anything of (a name's digest, what a
 * part opened to): a service meets ever more accounts over its life. @internal
 */
export const REMEMBERED_PARTS = 10_000

// Remembered, as every call names its account's part, up to the bound.
const names = Recent.make<string, string>(REMEMBERED_PARTS)
/** How the names of the parts holding client registrations begin. @internal */
export const CLIENT_PART_PREFIX = "c"
const nameOf = (kind: "a" | typeof CLIENT_PART_PREFIX, ...parts: ReadonlyArray<string>): string => {
  const key = kind + JSON.stringify(parts)
  let name = names.get(key)
  if (name === undefined) {
    name = kind + crypto.createHash("sha256").update(JSON.stringify(parts)).digest("base64url").slice(0, 16)
    names.set(key, name)
  }
  return name
}

/** The name of the part holding one account's record and tokens. @internal */
export const accountPart = (authority: string, accountId: string): string => nameOf("a", authority, accountId)

/** Whether a part holds client registrations (every account's reads need them). @internal */
export const isClientPart = (name: string): boolean => name.startsWith(CLIENT_PART_PREFIX)

/** The content's entries by part (the entries themselves, not copies). @internal */
export const group = (content: CacheContent.CacheContent): Map<string, Part> => {
  const file = CacheContent.toFile(content)
  const parts = new Map<string, Part>()
  const of = (name: string) => {
    let part = parts.get(name)
    if (part === undefined) parts.set(name, part = emptyPart())
    return part
  }
  for (const a of file.accounts) of(nameOf("a", a.authority, a.id)).accounts.push(a)
  for (const e of file.accessTokens) of(nameOf("a", e.authority, e.accountId)).accessTokens.push(e)
  for (const e of file.refreshTokens) of(nameOf("a", e.authority, e.accountId)).refreshTokens.push(e)
  for (const e of file.idTokens) of(nameOf("a", e.authority, e.accountId)).idTokens.push(e)
  for (const e of file.clients) of(nameOf("c", e.tokenEndpoint, e.clientId)).clients.push(e)
  // an account's DPoP key is sealed with the tokens it binds, in the account's part
  for (const e of file.dpopKeys) of(nameOf("a", e.authority, e.accountId)).dpopKeys.push(e)
  return parts
}

/** A part as the JSON it is stored as (before sealing). @internal */
export const toJson = (part: Part): string => CacheContent.toJson(CacheContent.fromFile(part))

/** The content's parts by name, each as the JSON it is stored as. @internal */
export const split = (content: CacheContent.CacheContent): Map<string, string> =>
  new Map([...group(content)].map(([name, part]) => [name, toJson(part)]))

/** One content from its parts' contents (their entries as they are: parts never share a key). @internal */
export const join = (parts: Iterable<CacheContent.CacheContent>): CacheContent.CacheContent => {
  const [accounts, accessTokens, refreshTokens, idTokens, clients, dpopKeys] = [
    new Map(),
    new Map(),
    new Map(),
    new Map(),
    new Map(),
    new Map()
  ]
  for (const content of parts) {
    for (const [k, v] of content.accounts) accounts.set(k, v)
    for (const [k, v] of content.accessTokens) accessTokens.set(k, v)
    for (const [k, v] of content.refreshTokens) refreshTokens.set(k, v)
    for (const [k, v] of content.idTokens) idTokens.set(k, v)
    for (const [k, v] of content.clients) clients.set(k, v)
    for (const [k, v] of content.dpopKeys) dpopKeys.set(k, v)
  }
  return { version: CacheContent.CURRENT_VERSION, accounts, accessTokens, refreshTokens, idTokens, clients, dpopKeys }
}

const sameEntries = (a: Part, b: Part): boolean =>
  (["accounts", "accessTokens", "refreshTokens", "idTokens", "clients", "dpopKeys"] as const).every((section) => {
    const [x, y] = [a[section] as ReadonlyArray<unknown>, b[section] as ReadonlyArray<unknown>]
    return x.length === y.length && x.every((entry, i) => entry === y[i])
  })

/**
 * The parts a change may touch: those whose entries are not the very same
 * objects as before (a change copies what it changes and keeps the rest), so
 * that a write encodes only those.
 * @internal
 */
export const touched = (before: Map<string, Part>, after: Map<string, Part>): Array<string> => {
  const names: Array<string> = []
  for (const [name, part] of after) {
    const old = before.get(name)
    if (old === undefined || !sameEntries(old, part)) names.push(name)
  }
  for (const name of before.keys()) if (!after.has(name)) names.push(name)
  return names
}
