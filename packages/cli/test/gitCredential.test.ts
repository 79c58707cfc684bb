import { type DevServer, type DevServerOptions, startDevServer } from "@devflow/dev-server"
import { late, until } from "@devflow/dev-server/wallClock"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest"
import * as GitCredential from "../src/internal/gitCredential.js"
import { type GitServer, makeRepository, startGitServer } from "./gitServer.js"
import { cachedSecrets, cleanEnv, HAS_SCRIPT, onTerminal, Proc, shQuote, signIn, STACK, tempDir } from "./helpers.js"

let work: string
let home: string
let env: NodeJS.ProcessEnv

/** Debian's git with no user or system configuration, never prompting on the terminal. */
const git = (args: ReadonlyArray<string>, cwd: string) => new Proc("git", args, { cwd, env })
const gitOk = async (args: ReadonlyArray<string>, cwd: string) => {
  const run = await git(args, cwd).exit
  if (run.code !== 0) throw new Error(`git ${args.join(" ")}: ${run.stderr}`)
}

/** `-c credential.<url>.helper=…`: devflow answers for this server only (git's per-URL configuration). */
const helperFor = (server: GitServer, cache: string, flags: ReadonlyArray<string> = []) => [
  "-c",
  `credential.${server.url}.helper=!'${process.execPath}' '${
    inject("devflowBin")
  }' git-credential --cache-dir '${cache}'${flags.map((f) => ` ${f}`).join("")}`
]

/** `devflow git-credential <operation>` with a request on stdin, as git runs it. */
const credential = (
  operation: string,
  request: string,
  flags: ReadonlyArray<string>,
  extraEnv: Readonly<Record<string, string>> = {}
) =>
  new Proc(process.execPath, [inject("devflowBin"), "git-credential", ...flags, operation], {
    cwd: work,
    env: { ...cleanEnv(extraEnv) },
    input: request
  }).exit

const accessTokenOf = (cache: string): ReadonlyArray<string> =>
  (JSON.parse(fs.readFileSync(path.join(cache, "tokens.json"), "utf8")).accessTokens as ReadonlyArray<
    { readonly secret: string }
  >).map((e) => e.secret)
const refreshTokenOf = (cache: string): ReadonlyArray<string> =>
  (JSON.parse(fs.readFileSync(path.join(cache, "tokens.json"), "utf8")).refreshTokens as ReadonlyArray<
    { readonly secret: string }
  >).map((e) => e.secret)

beforeAll(() => {
  work = tempDir("devflow-git-test-")
  home = path.join(work, "home")
  fs.mkdirSync(home)
  const config = path.join(home, "gitconfig")
  fs.writeFileSync(config, "[user]\n\tname = Test\n\temail = test@devflow.test\n[init]\n\tdefaultBranch = main\n")
  env = cleanEnv({
    HOME: home,
    GIT_CONFIG_GLOBAL: config,
    GIT_CONFIG_NOSYSTEM: "1",
    GIT_TERMINAL_PROMPT: "0",
    LC_ALL: "C"
  })
})
afterAll(() => fs.rmSync(work, { recursive: true, force: true }))

interface Servers {
  readonly server: DevServer
  readonly gitServer: GitServer
  readonly cache: string
  readonly root: string
}

/** An authorization server, a git server with one repository that checks tokens there, and alice signed in. */
const startAll = async (repository: string, options: DevServerOptions): Promise<Servers> => {
  const server = await startDevServer(options)
  const cache = tempDir()
  const root = fs.mkdtempSync(path.join(work, "repos-"))
  await makeRepository(root, repository, gitOk)
  const gitServer = await startGitServer(root, `${server.issuer}/me`)
  await signIn(server, cache)
  return { server, gitServer, cache, root }
}

const stopAll = async (servers: Servers) => {
  await servers.gitServer.close()
  await servers.server.close()
  fs.rmSync(servers.cache, { recursive: true, force: true })
}

describe("devflow git-credential with Debian's git over smart HTTP (git http-backend behind a proxy that checks the token at userinfo)", () => {
  let server: DevServer
  let gitServer: GitServer
  let cache: string
  let root: string

  beforeAll(async () => {
    ;({ cache, gitServer, root, server } = await startAll("project.git", { pollIntervalSeconds: 1 }))
  }, 60_000)
  afterAll(() => stopAll({ cache, gitServer, root, server }))

  it("git clone: the helper answers with the profile's access token as the password (username oauth2), which the server accepts", async () => {
    const run = await git(
      [...helperFor(gitServer, cache), "clone", "--quiet", `${gitServer.url}/project.git`, "clone"],
      work
    ).exit
    expect(run.code, run.stderr).toBe(0)
    expect(fs.readFileSync(path.join(work, "clone", "README"), "utf8")).toBe("hello\n")
    expect(gitServer.seen.at(-1)).toEqual({ username: "oauth2", token: accessTokenOf(cache)[0], accepted: true })
    for (const secret of cachedSecrets(cache)) expect(run.stderr).not.toContain(secret)
  })

  it("git push through the same helper", async () => {
    const clone = path.join(work, "clone")
    fs.writeFileSync(path.join(clone, "CHANGE"), "pushed\n")
    await gitOk(["add", "CHANGE"], clone)
    await gitOk(["commit", "--quiet", "-m", "second"], clone)
    const run = await git([...helperFor(gitServer, cache), "push", "--quiet", "origin", "main"], clone).exit
    expect(run.code, run.stderr).toBe(0)
    const log = await git(["--git-dir", path.join(root, "project.git"), "log", "--format=%s", "main"], work).exit
    expect(log.stdout).toBe("second\nfirst\n")
  })

  it("a warm `get` is answered by the fast path (no Effect loaded), with the same answer as the full CLI", async () => {
    const request = `protocol=http\nhost=${new URL(gitServer.url).host}\npath=project.git\n\n`
    // in this process: the lean module alone answers
    expect(GitCredential.fast(["--cache-dir", cache, "get"], cleanEnv(), request)).toMatch(
      /^username=oauth2\npassword=/
    )
    const [fast, full] = await Promise.all([
      credential("get", request, ["--cache-dir", cache]),
      credential("get", request, ["--cache-dir", cache], { DEVFLOW_FAST_PATH: "0" })
    ])
    expect(full.code, full.stderr).toBe(0)
    expect(fast.stdout).toMatch(
      new RegExp(`^username=oauth2\npassword=${accessTokenOf(cache)[0]}\npassword_expiry_utc=\\d+\n$`)
    )
    expect(fast.stdout).toBe(full.stdout)
    expect(fast.stderr + full.stderr).toBe("")
  })

  it("a token goes only where it may: not over plain http to another host, not to a host other than --host", async () => {
    const http = await credential("get", "protocol=http\nhost=git.example.com\n\n", ["--cache-dir", cache])
    expect(http).toMatchObject({ code: 0, stdout: "" })
    expect(http.stderr).toBe(
      "devflow: git-credential: no token given: a token is sent over https only (or http to loopback), not http://git.example.com.\n"
    )
    const other = await credential("get", "protocol=https\nhost=git.example.com\n\n", [
      "--cache-dir",
      cache,
      "--host",
      "github.com"
    ])
    expect(other).toEqual({ code: 0, stdout: "", stderr: "" })
    const unknown = await credential("capability", "protocol=https\nhost=github.com\n\n", ["--cache-dir", cache])
    expect(unknown).toEqual({ code: 0, stdout: "", stderr: "" })
  })

  it("stdout is git's alone: a failure under DEVFLOW_JSON=true is reported on stderr only; a --username git could not read is refused", async () => {
    const empty = tempDir()
    try {
      fs.copyFileSync(path.join(cache, "profiles.json"), path.join(empty, "profiles.json"))
      const request = `protocol=http\nhost=${new URL(gitServer.url).host}\n\n`
      const run = await credential("get", request, ["--cache-dir", empty], { DEVFLOW_JSON: "true" })
      expect(run.code).toBe(7)
      expect(run.stdout).toBe("")
      expect(run.stderr).toMatch(/\n {2}hint: Run `[^`]*devflow(?:\.mjs)? login`/)
      const bad = await credential("get", request, ["--cache-dir", cache, "--username", "a\nb"])
      expect(bad.code).toBe(2)
      expect(bad.stdout).toBe("")
      expect(bad.stderr).toMatch(/^devflow: --username cannot hold a line break or NUL\n/)
    } finally {
      fs.rmSync(empty, { recursive: true, force: true })
    }
  })

  describe.runIf(HAS_SCRIPT)("git on a terminal (script(1)), nobody signed in yet", () => {
    const fetchOnTerminal = (cache: string, extra: Readonly<Record<string, string | undefined>>) =>
      onTerminal(["git", ...helperFor(gitServer, cache), "fetch", "--quiet"].map(shQuote).join(" "), {
        cwd: path.join(work, "clone"),
        env: cleanEnv({
          HOME: home,
          GIT_CONFIG_GLOBAL: env.GIT_CONFIG_GLOBAL!,
          GIT_CONFIG_NOSYSTEM: "1",
          LC_ALL: "C",
          ...extra
        })
      })
    const profileOnly = () => {
      const dir = tempDir()
      fs.copyFileSync(path.join(cache, "profiles.json"), path.join(dir, "profiles.json"))
      return dir
    }

    it("the helper starts the sign-in on git's terminal without --interactive, and the fetch goes on", async () => {
      const own = profileOnly()
      try {
        const run = fetchOnTerminal(own, { GIT_TERMINAL_PROMPT: undefined })
        await server.approve(await run.userCode(), { accountId: "alice" })
        const done = await run.exit
        expect(done.code, done.stdout).toBe(0)
        expect(gitServer.seen.at(-1)).toEqual({ username: "oauth2", token: accessTokenOf(own)[0], accepted: true })
      } finally {
        fs.rmSync(own, { recursive: true, force: true })
      }
    })

    it("GIT_TERMINAL_PROMPT=0: no sign-in even on a terminal; git fails with devflow's hint", async () => {
      const own = profileOnly()
      try {
        const done = await fetchOnTerminal(own, { GIT_TERMINAL_PROMPT: "0" }).exit
        expect(done.code).toBe(128)
        expect(done.stdout).toMatch(/hint: Run `[^`]*devflow(?:\.mjs)? login`/)
        expect(done.stdout).not.toMatch(/enter the code/)
      } finally {
        fs.rmSync(own, { recursive: true, force: true })
      }
    })
  })

  it("store keeps nothing, and erase forgets nothing devflow did not hand out", async () => {
    const before = fs.readFileSync(path.join(cache, "tokens.json"), "utf8")
    const host = new URL(gitServer.url).host
    for (const operation of ["store", "erase"]) {
      const run = await credential(
        operation,
        `protocol=http\nhost=${host}\nusername=someone\npassword=not-a-devflow-token\n\n`,
        ["--cache-dir", cache]
      )
      expect(run).toEqual({ code: 0, stdout: "", stderr: "" })
    }
    expect(fs.readFileSync(path.join(cache, "tokens.json"), "utf8")).toBe(before)
  })

  it("a revoked token: git's erase forgets that access token only; off a terminal no sign-in starts (the hint says what to do); with --interactive the sign-in shows on git's stderr and the next fetch works", async () => {
    const clone = path.join(work, "clone")
    const [revokedAccess] = accessTokenOf(cache)
    const [refresh] = refreshTokenOf(cache)
    for (const token of [refresh!, revokedAccess!]) {
      const res = await fetch(`${server.issuer}/token/revocation`, {
        method: "POST",
        body: new URLSearchParams({ client_id: "devflow-demo", token })
      })
      expect(res.status).toBe(200)
    }

    const rejected = await git([...helperFor(gitServer, cache), "fetch", "--quiet"], clone).exit
    expect(rejected.code).toBe(128)
    expect(rejected.stderr).toMatch(/Authentication failed/)
    expect(gitServer.seen.at(-1)).toEqual({ username: "oauth2", token: revokedAccess, accepted: false })
    // git said "erase": the rejected access token is gone, the refresh token devflow still holds is not git's to drop
    expect(accessTokenOf(cache)).not.toContain(revokedAccess)
    expect(refreshTokenOf(cache)).toEqual([refresh])

    const offTerminal = await git([...helperFor(gitServer, cache), "fetch", "--quiet"], clone).exit
    expect(offTerminal.code).toBe(128)
    expect(offTerminal.stderr).toMatch(
      /devflow: .*\n {2}hint: Run `[^`]*devflow(?:\.mjs)? login` \(or `[^`]*devflow(?:\.mjs)? token --login`\) to sign in\./
    )
    expect(offTerminal.stderr).not.toMatch(/enter the code/)
    expect(offTerminal.stderr).not.toMatch(STACK)

    const interactive = git([...helperFor(gitServer, cache, ["--interactive"]), "fetch", "--quiet"], clone)
    await server.approve(await interactive.userCode(), { accountId: "alice" })
    const signedIn = await interactive.exit
    expect(signedIn.code, signedIn.stderr).toBe(0)
    expect(signedIn.stderr).toMatch(/Signed in as .*alice/)
    const [fresh] = accessTokenOf(cache)
    expect(fresh).not.toBe(revokedAccess)
    expect(gitServer.seen.at(-1)).toEqual({ username: "oauth2", token: fresh, accepted: true })
  })
})

describe("devflow git-credential when the access token expires between two git commands", () => {
  let server: DevServer
  let gitServer: GitServer
  let cache: string

  let root: string

  beforeAll(async () => {
    // access tokens that live 2 s: expired by the second git command
    ;({ cache, gitServer, root, server } = await startAll("short.git", {
      pollIntervalSeconds: 1,
      accessTokenTtlSeconds: 2
    }))
  }, 60_000)
  afterAll(() => stopAll({ cache, gitServer, root, server }))

  it("clone, then (the token has expired) push: the helper refreshes silently, no sign-in", async () => {
    const clone = path.join(work, "short")
    const cloned = await git(
      [...helperFor(gitServer, cache), "clone", "--quiet", `${gitServer.url}/short.git`, clone],
      work
    ).exit
    expect(cloned.code, cloned.stderr).toBe(0)
    const first = gitServer.seen.at(-1)!
    expect(first.accepted).toBe(true)

    // until the clone's token has expired (it lives 2 s)
    const entry = (JSON.parse(fs.readFileSync(path.join(cache, "tokens.json"), "utf8")).accessTokens as ReadonlyArray<
      { readonly secret: string; readonly expiresOn: number }
    >)
      .find((e) => e.secret === first.token)!
    expect(entry.expiresOn - Date.now()).toBeLessThanOrEqual(2_000)
    await until(() => Date.now() > entry.expiresOn, "the clone's access token to expire", late(2_000))

    fs.writeFileSync(path.join(clone, "LATER"), "later\n")
    await gitOk(["add", "LATER"], clone)
    await gitOk(["commit", "--quiet", "-m", "later"], clone)
    const pushed = await git([...helperFor(gitServer, cache), "push", "--quiet", "origin", "main"], clone).exit
    expect(pushed.code, pushed.stderr).toBe(0)
    expect(pushed.stderr).not.toMatch(/enter the code/)
    const last = gitServer.seen.at(-1)!
    expect(last.accepted).toBe(true)
    expect(last.token).not.toBe(first.token)
    expect(accessTokenOf(cache)).toContain(last.token)
    expect(gitServer.seen.filter((s) => !s.accepted)).toEqual([])
  })
})
