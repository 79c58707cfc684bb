/**
 * A tiny scripted "browser" over fetch: a path-aware cookie jar, manual
 * redirects, and HTML form parsing. Enough to walk the device-flow pages the
 * way a person does (type the code, confirm, sign in, consent).
 */

const MAX_REDIRECTS = 10

interface Cookie {
  readonly name: string
  readonly value: string
  readonly path: string
}

const decodeEntities = (s: string): string =>
  s.replace(/&(#x[0-9a-f]+|#\d+|amp|lt|gt|quot|apos);/gi, (_, e: string) => {
    const lower = e.toLowerCase()
    if (lower.startsWith("#x")) return String.fromCodePoint(parseInt(lower.slice(2), 16))
    if (lower.startsWith("#")) return String.fromCodePoint(parseInt(lower.slice(1), 10))
    return ({ amp: "&", lt: "<", gt: ">", quot: "\"", apos: "'" } as Record<string, string>)[lower] ?? _
  })

const parseAttributes = (source: string): Map<string, string> => {
  const attrs = new Map<string, string>()
  for (const m of source.matchAll(/([^\s=/>]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+)))?/g)) {
    attrs.set(m[1]!.toLowerCase(), decodeEntities(m[2] ?? m[3] ?? m[4] ?? ""))
  }
  return attrs
}

/** RFC 6265 §5.1.4 path-match */
const pathMatches = (requestPath: string, cookiePath: string): boolean =>
  requestPath === cookiePath ||
  (requestPath.startsWith(cookiePath) && (cookiePath.endsWith("/") || requestPath[cookiePath.length] === "/"))

export class CookieJar {
  readonly #cookies = new Map<string, Cookie>()

  store(url: URL, setCookie: ReadonlyArray<string>): void {
    for (const line of setCookie) {
      const [pair = "", ...attributes] = line.split(";")
      const eq = pair.indexOf("=")
      if (eq <= 0) continue
      const name = pair.slice(0, eq).trim()
      const value = pair.slice(eq + 1).trim()
      const dir = url.pathname.slice(0, url.pathname.lastIndexOf("/"))
      let path = dir === "" ? "/" : dir
      let expired = false
      for (const attribute of attributes) {
        const [k = "", v = ""] = attribute.split("=", 2).map((s) => s.trim())
        const key = k.toLowerCase()
        if (key === "path" && v.startsWith("/")) path = v
        else if (key === "max-age" && Number(v) <= 0) expired = true
        else if (key === "expires" && Date.parse(v) <= Date.now()) expired = true
      }
      const id = `${name};${path}`
      if (expired) this.#cookies.delete(id)
      else this.#cookies.set(id, { name, value, path })
    }
  }

  header(url: URL): string | undefined {
    const matching = [...this.#cookies.values()]
      .filter((c) => pathMatches(url.pathname, c.path))
      .sort((a, b) => b.path.length - a.path.length)
    return matching.length === 0 ? undefined : matching.map((c) => `${c.name}=${c.value}`).join("; ")
  }
}

export interface Form {
  readonly id: string | undefined
  readonly action: URL
  readonly method: string
  readonly fields: ReadonlyArray<readonly [string, string]>
}

export interface Page {
  readonly url: URL
  readonly status: number
  readonly html: string
  /** the `data-page` marker of the dev server's pages (undefined for foreign pages) */
  readonly kind: string | undefined
  /** the `data-error` marker, if any */
  readonly error: string | undefined
  readonly forms: ReadonlyArray<Form>
}

export const parsePage = (url: URL, status: number, html: string): Page => {
  const main = /<main\b([^>]*)>/i.exec(html)
  const mainAttrs = parseAttributes(main?.[1] ?? "")
  const forms: Array<Form> = []
  for (const m of html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/gi)) {
    const attrs = parseAttributes(m[1]!)
    const fields: Array<readonly [string, string]> = []
    for (const input of m[2]!.matchAll(/<input\b([^>]*)>/gi)) {
      const a = parseAttributes(input[1]!)
      const name = a.get("name")
      const type = (a.get("type") ?? "text").toLowerCase()
      if (name === undefined || type === "submit" || type === "button") continue
      fields.push([name, a.get("value") ?? ""])
    }
    forms.push({
      id: attrs.get("id"),
      action: new URL(attrs.get("action") ?? url.href, url),
      method: (attrs.get("method") ?? "get").toUpperCase(),
      fields
    })
  }
  return { url, status, html, kind: mainAttrs.get("data-page"), error: mainAttrs.get("data-error"), forms }
}

export class Agent {
  readonly jar = new CookieJar()

  get(url: string | URL): Promise<Page> {
    return this.#request(new URL(url), "GET", undefined)
  }

  /**
   * Submits the form with `id` (or the first form), with `values` overriding
   * or adding fields, as a browser does for a click on a submit button.
   */
  submit(page: Page, id: string | undefined, values: Readonly<Record<string, string>> = {}): Promise<Page> {
    const form = page.forms.find((f) => id === undefined || f.id === id)
    if (!form) throw new Error(`page ${page.url.href} (${page.kind ?? "unknown"}) has no form ${id ?? ""}`)
    const body = new URLSearchParams()
    for (const [k, v] of form.fields) if (!(k in values)) body.append(k, v)
    for (const [k, v] of Object.entries(values)) body.append(k, v)
    if (form.method === "GET") {
      const target = new URL(form.action)
      target.search = body.toString()
      return this.#request(target, "GET", undefined)
    }
    return this.#request(form.action, "POST", body)
  }

  async #request(url: URL, method: string, body: URLSearchParams | undefined): Promise<Page> {
    for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
      const headers: Record<string, string> = { accept: "text/html" }
      const cookie = this.jar.header(url)
      if (cookie !== undefined) headers.cookie = cookie
      if (body !== undefined) {
        headers["content-type"] = "application/x-www-form-urlencoded"
        headers.origin = url.origin
      }
      const res = await fetch(url, {
        method,
        headers,
        redirect: "manual",
        ...(body === undefined ? {} : { body: body.toString() })
      })
      this.jar.store(url, res.headers.getSetCookie())
      const location = res.headers.get("location")
      if (res.status >= 300 && res.status < 400 && location !== null) {
        await res.arrayBuffer()
        url = new URL(location, url)
        if (res.status !== 307 && res.status !== 308) {
          method = "GET"
          body = undefined
        }
        continue
      }
      return parsePage(url, res.status, await res.text())
    }
    throw new Error(`more than ${MAX_REDIRECTS} redirects`)
  }
}

export interface ApproveOptions {
  readonly accountId?: string
  readonly deny?: boolean
}

const describe = (page: Page): string =>
  `${page.kind ?? "unknown page"}${
    page.error === undefined ? "" : ` (error: ${page.error})`
  } at ${page.url.href} [HTTP ${page.status}]`

/**
 * Walks the same pages a person does: verification page → type the user code
 * → confirm → sign in as `accountId` → consent (allow or deny).
 * Resolves when the flow reached its expected end; rejects with a description
 * of the page it got stuck on otherwise.
 */
export const approveOverHttp = async (
  verificationUri: string,
  userCode: string,
  { accountId = "devflow-user", deny = false }: ApproveOptions = {}
): Promise<void> => {
  const agent = new Agent()
  let page = await agent.get(verificationUri)
  let codeSubmitted = false
  for (let step = 0; step < 8; step++) {
    switch (page.kind) {
      case "user-code":
        if (page.error === "AbortedError" && deny) return
        if (codeSubmitted || page.error !== undefined) {
          throw new Error(`approve(${userCode}): user code rejected: ${describe(page)}`)
        }
        codeSubmitted = true
        page = await agent.submit(page, "op.deviceInputForm", { user_code: userCode })
        break
      case "user-code-confirm":
        page = await agent.submit(page, "op.deviceConfirmForm")
        break
      case "login":
        if (page.error !== undefined) throw new Error(`approve(${userCode}): sign-in failed: ${describe(page)}`)
        page = await agent.submit(page, "login", { name: accountId })
        break
      case "consent":
        page = await agent.submit(page, "consent", { decision: deny ? "deny" : "allow" })
        break
      case "success":
        if (deny) throw new Error(`approve(${userCode}): expected a denial, got ${describe(page)}`)
        return
      default:
        throw new Error(`approve(${userCode}): unexpected ${describe(page)}`)
    }
  }
  throw new Error(`approve(${userCode}): flow did not finish, last ${describe(page)}`)
}
