/**
 * Approve a device-flow request in a real headless Chromium (playwright-core
 * driving the system browser, e.g. Debian's `chromium` package). Clicks
 * through the very pages a person sees: the user-code page, the device
 * confirmation, the sign-in form and the consent page.
 *
 *   import { approveInBrowser } from "@devflow/dev-server/browser"
 */
import { chromium, type Page } from "playwright-core"

export const DEFAULT_CHROMIUM = "/usr/bin/chromium"

/** Flags for a sandbox-less, offline, quiet headless Chromium. */
export const CHROMIUM_ARGS: ReadonlyArray<string> = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync"
]

export interface BrowserApproveOptions {
  /** default /usr/bin/chromium */
  readonly executablePath?: string
  /** deny consent instead of allowing it (the next poll then answers `access_denied`) */
  readonly deny?: boolean
  /** per-step timeout in ms; default 15 000 */
  readonly timeoutMs?: number
}

/**
 * Where to start: the RFC 8628 `verification_uri_complete` (the code arrives
 * pre-filled), or the `verification_uri` plus the `user_code` to type in (the
 * device authorization response can be passed as is).
 */
export type BrowserTarget = string | { readonly verification_uri: string; readonly user_code: string }

const MAX_STEPS = 8

/** Marks the current document so the next one can be told apart (POSTs can keep the URL). */
const markDocument = (page: Page) => page.evaluate("window.__devflowSeen = true")

const nextDocument = async (page: Page): Promise<{ kind: string | null; error: string | null }> => {
  await page.waitForFunction("!window.__devflowSeen && document.querySelector('main[data-page]') !== null")
  const main = page.locator("main[data-page]")
  return { kind: await main.getAttribute("data-page"), error: await main.getAttribute("data-error") }
}

const click = async (page: Page, selector: string) => {
  await markDocument(page)
  await page.locator(selector).click()
  return nextDocument(page)
}

export const approveInBrowser = async (
  target: BrowserTarget,
  accountId: string,
  { deny = false, executablePath = DEFAULT_CHROMIUM, timeoutMs = 15_000 }: BrowserApproveOptions = {}
): Promise<void> => {
  const browser = await chromium.launch({
    executablePath,
    headless: true,
    args: [...CHROMIUM_ARGS],
    timeout: timeoutMs
  })
  try {
    const context = await browser.newContext()
    const page = await context.newPage()
    page.setDefaultTimeout(timeoutMs)
    const start = typeof target === "string" ? target : target.verification_uri
    await page.goto(start)
    let state = await nextDocument(page)
    let codeTyped = false
    for (let step = 0; step < MAX_STEPS; step++) {
      const where = () =>
        `${state.kind ?? "unknown page"}${state.error ? ` (error: ${state.error})` : ""} at ${page.url()}`
      switch (state.kind) {
        case "user-code": {
          if (deny && state.error === "AbortedError") return
          if (typeof target === "string" || codeTyped || state.error) {
            throw new Error(`approveInBrowser: user code rejected: ${where()}`)
          }
          codeTyped = true
          await page.locator("input[name=user_code]").fill(target.user_code)
          state = await click(page, "button[form='op.deviceInputForm']")
          break
        }
        case "user-code-confirm":
          state = await click(page, "button[form='op.deviceConfirmForm']:not([name=abort])")
          break
        case "login":
          if (state.error) throw new Error(`approveInBrowser: sign-in failed: ${where()}`)
          await page.locator("#name").fill(accountId)
          state = await click(page, "#login button[type=submit]")
          break
        case "consent":
          state = await click(page, `#consent button[value=${deny ? "deny" : "allow"}]`)
          break
        case "success":
          if (deny) throw new Error(`approveInBrowser: expected a denial, got ${where()}`)
          return
        default:
          throw new Error(`approveInBrowser: unexpected ${where()}`)
      }
    }
    throw new Error(`approveInBrowser: flow did not finish within ${MAX_STEPS} steps`)
  } finally {
    await browser.close()
  }
}
