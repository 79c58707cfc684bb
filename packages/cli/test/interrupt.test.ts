import { late, until } from "@devflow/dev-server/wallClock"
import * as fs from "node:fs"
import * as http from "node:http"
import type * as net from "node:net"
import * as path from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { Devflow, tempDir } from "./helpers.js"

/**
 * A minimal RFC 8628 server that never approves: it answers every poll with
 * authorization_pending (or, in "hang" mode, never answers a poll at all),
 * and records every request and every aborted one. In "phishing" mode its
 * verification URI is on another host.
 */
interface Fake {
  readonly issuer: string
  readonly requests: Array<{ readonly path: string; readonly at: number }>
  readonly aborted: Array<number>
  mode: "pending" | "hang" | "phishing" | "phishing-link"
  /** called once a pending answer has been handed to the kernel */
  onPending?: (() => void) | undefined
  /** resolves when no client connection is open any more: every request a client sent has been seen */
  readonly idle: () => Promise<void>
  readonly close: () => Promise<void>
}

const startFake = (): Promise<Fake> =>
  new Promise((resolve) => {
    const sockets = new Set<net.Socket>()
    let idleWaiters: Array<() => void> = []
    const server = http.createServer((req, res) => {
      fake.requests.push({ path: req.url ?? "", at: Date.now() })
      const json = (status: number, body: unknown) => {
        res.writeHead(status, { "content-type": "application/json" })
        res.end(JSON.stringify(body))
      }
      if (req.url === "/.well-known/openid-configuration") {
        return json(200, {
          issuer: fake.issuer,
          device_authorization_endpoint: `${fake.issuer}/device_authorization`,
          token_endpoint: `${fake.issuer}/token`
        })
      }
      if (req.url === "/device_authorization") {
        return json(200, {
          device_code: "device-code-secret-0123456789",
          user_code: "WDJB-MJHT",
          // RFC 8628 §5.4: a page on a host the authority does not vouch for
          verification_uri: fake.mode === "phishing"
            ? "https://login.example-verify.test/device"
            : `${fake.issuer}/device`,
          // RFC 8628 §5.4 for the QR code and link: the page shown is the server's, the link is not
          ...(fake.mode === "phishing-link"
            ? { verification_uri_complete: "https://login.example-verify.test/device?user_code=WDJB-MJHT" }
            : {}),
          expires_in: 600,
          interval: 1
        })
      }
      if (req.url === "/token") {
        if (fake.mode === "hang") {
          res.on("close", () => {
            if (!res.writableEnded) fake.aborted.push(Date.now())
          })
          return
        }
        res.writeHead(400, { "content-type": "application/json" })
        return res.end(JSON.stringify({ error: "authorization_pending" }), () => fake.onPending?.())
      }
      json(404, {})
    })
    server.on("connection", (s) => {
      sockets.add(s)
      s.on("close", () => {
        sockets.delete(s)
        if (sockets.size > 0) return
        const waiters = idleWaiters
        idleWaiters = []
        for (const w of waiters) w()
      })
    })
    const fake: Fake = {
      issuer: "",
      requests: [],
      aborted: [],
      mode: "pending",
      idle: () => (sockets.size === 0 ? Promise.resolve() : new Promise((done) => idleWaiters.push(done))),
      close: () =>
        new Promise((done) => {
          for (const s of sockets) s.destroy()
          server.close(() => done())
        })
    }
    server.listen(0, "127.0.0.1", () => {
      ;(fake as { issuer: string }).issuer = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`
      resolve(fake)
    })
  })

const cleanups: Array<() => Promise<void>> = []
afterAll(async () => {
  await Promise.all(cleanups.map((f) => f()))
})

/** A fake server in `mode` and an empty cache directory, for one test. */
const setup = async (mode: Fake["mode"]) => {
  const fake = await startFake()
  fake.mode = mode
  const cache = tempDir()
  cleanups.push(async () => {
    await fake.close()
    fs.rmSync(cache, { recursive: true, force: true })
  })
  return { fake, cache }
}

const login = (fake: Fake, cache: string) =>
  new Devflow(["login", "--issuer", fake.issuer, "--client-id", "cli", "--json", "--no-qr", "--cache-dir", cache])

describe.concurrent("Ctrl-C (SIGINT) while polling", () => {
  // How fast (typically 30-150 ms) is a figure for `pnpm bench` (B6); here the bound only rules out a hang.
  const PROMPTLY_MS = late(0)

  it("exits 130 at once; no request reaches the server afterwards; the cache is left as it was", async () => {
    const { cache, fake } = await setup("pending")
    const run = login(fake, cache)
    // The signal goes the moment a pending answer is written: the next poll is a whole interval (1 s) away,
    // so a request that arrives later was sent after devflow had the signal.
    const sent = new Promise<number>((resolve) => {
      fake.onPending = () => {
        fake.onPending = undefined
        run.child.kill("SIGINT")
        resolve(Date.now())
      }
    })
    const done = await run.exit
    const at = await sent
    expect(done.code).toBe(130)
    expect(Date.now() - at).toBeLessThan(PROMPTLY_MS)
    expect(done.stderr).toMatch(/devflow: interrupted/)
    await fake.idle() // the process is gone: every byte it sent has been read
    expect(fake.requests.filter((r) => r.at > at)).toEqual([])
    expect(fs.existsSync(path.join(cache, "tokens.json"))).toBe(false)
    expect(fs.existsSync(path.join(cache, "profiles.json"))).toBe(false)
    // the device code is a secret: never shown
    expect(done.stdout + done.stderr).not.toContain("device-code-secret")
  })

  it("aborts the poll in flight", async () => {
    const { cache, fake } = await setup("hang")
    const run = login(fake, cache)
    await run.until(() => fake.requests.some((r) => r.path === "/token") || undefined)
    const sent = Date.now()
    run.child.kill("SIGINT")
    const done = await run.exit
    expect(done.code).toBe(130)
    expect(Date.now() - sent).toBeLessThan(PROMPTLY_MS)
    await fake.idle() // the server has seen the connection close
    await until(() => fake.aborted.length > 0, "the response's own close event, which may follow the socket's")
    expect(fake.aborted.length).toBe(1)
  })
})

describe("a verification page on a foreign host (RFC 8628 §5.4)", () => {
  it("is shown with a warning, on stderr and in the code_issued event", async () => {
    const { cache, fake } = await setup("phishing")
    const run = login(fake, cache)
    const issued = await run.event("code_issued")
    expect(issued.warning).toMatch(/login\.example-verify\.test/)
    await run.until((self) => /Warning: .*example-verify/.test(self.stderr) || undefined)
    run.child.kill("SIGINT")
    expect((await run.exit).code).toBe(130)
  })

  it("a verification_uri_complete (the QR code and the link) on another host than verification_uri is warned about too", async () => {
    const { cache, fake } = await setup("phishing-link")
    const run = login(fake, cache)
    const issued = await run.event("code_issued")
    expect(issued.warning).toMatch(/the link and QR code: .*login\.example-verify\.test/)
    await run.until((self) => /Warning: the link and QR code/.test(self.stderr) || undefined)
    run.child.kill("SIGINT")
    expect((await run.exit).code).toBe(130)
  })
})
