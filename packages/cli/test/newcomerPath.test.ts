/**
 * The path a newcomer takes, in one go, as the README and docs/integrations.md
 * tell it: a demo authorization server (the dev server, oidc-provider, as
 * `devflow demo --serve` runs it), `login` without `--scope`, `token`, a git
 * clone through the credential helper, and `devflow exec -- curl` with the
 * token in a header file. Every step is the real program: Debian's git and
 * curl, the bundled CLI.
 */
import { type DevServer, startDevServer } from "@devflow/dev-server"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest"
import { type GitServer, makeRepository, startGitServer } from "./gitServer.js"
import { cleanEnv, Devflow, devflow, Proc, STACK, tempDir } from "./helpers.js"

let server: DevServer
let gitServer: GitServer
let work: string
let env: NodeJS.ProcessEnv

const gitOk = async (args: ReadonlyArray<string>, cwd: string) => {
  const run = await new Proc("git", args, { cwd, env }).exit
  if (run.code !== 0) throw new Error(`git ${args.join(" ")}: ${run.stderr}`)
}

beforeAll(async () => {
  work = tempDir("devflow-newcomer-")
  const home = path.join(work, "home")
  fs.mkdirSync(home)
  const config = path.join(home, "gitconfig")
  fs.writeFileSync(config, "[user]\n\tname = Newcomer\n\temail = new@devflow.test\n[init]\n\tdefaultBranch = main\n")
  env = cleanEnv({
    HOME: home,
    GIT_CONFIG_GLOBAL: config,
    GIT_CONFIG_NOSYSTEM: "1",
    GIT_TERMINAL_PROMPT: "0",
    LC_ALL: "C"
  })
  server = await startDevServer()
  const repos = path.join(work, "repos")
  fs.mkdirSync(repos)
  await makeRepository(repos, "project.git", gitOk)
  gitServer = await startGitServer(repos, `${server.issuer}/me`)
})

afterAll(async () => {
  await gitServer?.close()
  await server?.close()
  fs.rmSync(work, { recursive: true, force: true })
})

describe("a newcomer's path: demo server → login without --scope → token → git clone → exec -- curl", () => {
  it(
    "every step works as documented, and no step prints the token where it was not asked for",
    { timeout: 120_000 },
    async () => {
      const cache = path.join(work, "cache")
      fs.mkdirSync(cache, { mode: 0o700 })

      // login without --scope: the issuer is an OpenID Provider, so devflow asks for openid (+ offline_access)
      const login = new Devflow([
        "login",
        "--issuer",
        server.issuer,
        "--client-id",
        "devflow-demo",
        "--cache-dir",
        cache
      ])
      await server.approve(await login.userCode(), { accountId: "alice" })
      const signedIn = await login.exit
      expect(signedIn.code, signedIn.stderr).toBe(0)
      expect(signedIn.stderr).toMatch(/No --scope given: asking for openid offline_access/)
      expect(signedIn.stderr).toMatch(/Signed in as/)

      // token: the access token, alone on stdout
      const token = await devflow(["token", "--cache-dir", cache], { tokenOutput: true })
      expect(token.code, token.stderr).toBe(0)
      const accessToken = token.stdout.trim()
      expect(accessToken).toMatch(/^\S+$/)

      // git clone through the credential helper (docs/integrations.md's per-URL configuration)
      const helper = `credential.${gitServer.url}.helper=!'${process.execPath}' '${
        inject("devflowBin")
      }' git-credential --cache-dir '${cache}'`
      const clone = await new Proc("git", [
        "-c",
        helper,
        "clone",
        "--quiet",
        `${gitServer.url}/project.git`,
        path.join(work, "clone")
      ], {
        cwd: work,
        env
      }).exit
      expect(clone.code, clone.stderr).toBe(0)
      expect(fs.readFileSync(path.join(work, "clone", "README"), "utf8")).toBe("hello\n")
      expect(gitServer.seen.some((s) => s.accepted && s.token === accessToken)).toBe(true)
      expect(clone.stdout + clone.stderr).not.toContain(accessToken)

      // exec -- curl: the token in a 0600 header file for curl's -H @file, never on a command line or in devflow's output
      const headers = path.join(work, "auth.header")
      const curl = await devflow([
        "exec",
        "--cache-dir",
        cache,
        "--header-file",
        headers,
        "--",
        "curl",
        "--silent",
        "--fail",
        "-H",
        `@${headers}`,
        `${server.issuer}/me`
      ])
      expect(curl.code, curl.stderr).toBe(0)
      expect(JSON.parse(curl.stdout)).toMatchObject({ sub: "alice" })
      expect(curl.stderr).not.toContain(accessToken)
      expect(fs.existsSync(headers)).toBe(false)
      for (const run of [signedIn, curl]) expect(run.stdout + run.stderr).not.toMatch(STACK)
    }
  )
})
