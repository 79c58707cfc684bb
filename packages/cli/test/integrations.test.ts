/**
 * docs/integrations.md, run as written: each block marked `<!-- snippet: name -->` is
 * extracted and run (by bash, or read by kubectl) with only its example addresses
 * replaced by this test's loopback servers, and `devflow` on PATH as the bundled CLI.
 */
import { type DevServer, startDevServer } from "@devflow/dev-server"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as http from "node:http"
import * as https from "node:https"
import type { AddressInfo } from "node:net"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest"
import { type GitServer, makeRepository, startGitServer } from "./gitServer.js"
import { cachedSecrets, cleanEnv, Proc, signIn, tempDir } from "./helpers.js"

const doc = fs.readFileSync(new URL("../../../docs/integrations.md", import.meta.url), "utf8")

/** The fenced block after `<!-- snippet: name -->`. */
const snippet = (name: string): string => {
  const found = new RegExp(`<!-- snippet: ${name} -->\\n\`\`\`\\w*\\n([\\s\\S]*?)\`\`\`\\n`).exec(doc)?.[1]
  if (found === undefined) throw new Error(`docs/integrations.md has no snippet "${name}"`)
  return found
}

/** The snippet with its example addresses replaced; none may be left. */
const localised = (name: string, replacements: Readonly<Record<string, string>>): string => {
  let text = snippet(name)
  for (const [from, to] of Object.entries(replacements)) text = text.split(from).join(to)
  expect(text, `snippet ${name}`).not.toMatch(/example\.com/)
  return text
}

const hasCommand = (command: string): boolean => {
  try {
    execFileSync("sh", ["-c", `command -v ${command}`], { stdio: "ignore" })
    return true
  } catch {
    return false
  }
}

let server: DevServer
let work: string
/** PATH with `devflow` (the bundled CLI) first */
let bin: string
/** a cache directory signed in as alice, profile "default" and "cluster-a" */
let cache: string

const shell = (script: string, cwd: string, extra: Readonly<Record<string, string>> = {}) =>
  new Proc("bash", ["-e", "-c", script], { cwd, env: cleanEnv({ PATH: `${bin}:${process.env.PATH}`, ...extra }) })

/** An API that answers only a bearer token the authorization server's userinfo accepts (as a resource server would). */
const startApi = async () => {
  const api = http.createServer(async (req, res) => {
    const me = await fetch(`${server.issuer}/me`, { headers: { authorization: req.headers.authorization ?? "" } })
    res.writeHead(me.status, { "content-type": "application/json" }).end(await me.text())
  })
  await new Promise<void>((resolve) => api.listen(0, "127.0.0.1", resolve))
  return {
    url: `http://127.0.0.1:${(api.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => api.close(() => resolve()))
  }
}

let api: Awaited<ReturnType<typeof startApi>>

beforeAll(async () => {
  server = await startDevServer({ pollIntervalSeconds: 1 })
  work = tempDir("devflow-integrations-test-")
  bin = path.join(work, "bin")
  fs.mkdirSync(bin)
  fs.writeFileSync(
    path.join(bin, "devflow"),
    `#!/bin/sh\nexec '${process.execPath}' '${inject("devflowBin")}' "$@"\n`,
    { mode: 0o755 }
  )
  cache = tempDir()
  await signIn(server, cache)
  await signIn(server, cache, "alice", ["--profile", "cluster-a"])
  api = await startApi()
}, 60_000)
afterAll(async () => {
  await api.close()
  await server.close()
  fs.rmSync(work, { recursive: true, force: true })
  fs.rmSync(cache, { recursive: true, force: true })
})

describe("docs/integrations.md, run as written", () => {
  it("git: login, the per-host helper, clone", async () => {
    const root = fs.mkdtempSync(path.join(work, "repos-"))
    const home = fs.mkdtempSync(path.join(work, "home-"))
    const gitEnv = {
      HOME: home,
      GIT_CONFIG_GLOBAL: path.join(home, "gitconfig"),
      GIT_CONFIG_NOSYSTEM: "1",
      GIT_TERMINAL_PROMPT: "0"
    }
    const gitOk = async (args: ReadonlyArray<string>, cwd: string) => {
      const run = await new Proc("git", args, {
        cwd,
        env: cleanEnv({
          ...gitEnv,
          GIT_AUTHOR_NAME: "T",
          GIT_AUTHOR_EMAIL: "t@devflow.test",
          GIT_COMMITTER_NAME: "T",
          GIT_COMMITTER_EMAIL: "t@devflow.test"
        })
      }).exit
      if (run.code !== 0) throw new Error(`git ${args.join(" ")}: ${run.stderr}`)
    }
    await makeRepository(root, "team/project.git", gitOk)
    const gitServer: GitServer = await startGitServer(root, `${server.issuer}/me`)
    const own = tempDir()
    try {
      const script = localised("git", {
        "https://id.example.com": server.issuer,
        "git-cli": "devflow-demo",
        "https://git.example.com": gitServer.url
      })
      const run = shell(script, work, { ...gitEnv, DEVFLOW_CACHE_DIR: own })
      await server.approve(await run.userCode(), { accountId: "alice" })
      const done = await run.exit
      expect(done.code, done.stderr).toBe(0)
      expect(fs.readFileSync(path.join(work, "project", "README"), "utf8")).toBe("hello\n")
      expect(gitServer.seen.at(-1)).toMatchObject({ username: "oauth2", accepted: true })
      for (const secret of cachedSecrets(own)) expect(done.stdout + done.stderr).not.toContain(secret)
    } finally {
      await gitServer.close()
      fs.rmSync(own, { recursive: true, force: true })
    }
  })

  describe("kubectl", () => {
    let apiServer: http.Server
    let apiUrl: string
    const seen: Array<number> = []

    /** A Kubernetes API server, as far as authentication goes: a bearer token userinfo accepts. */
    const cluster: http.RequestListener = async (req, res) => {
      const me = await fetch(`${server.issuer}/me`, { headers: { authorization: req.headers.authorization ?? "" } })
      seen.push(me.status)
      if (me.status !== 200) {
        return void res.writeHead(401, { "content-type": "application/json" }).end("{\"kind\":\"Status\",\"code\":401}")
      }
      res.writeHead(200, { "content-type": "application/json" }).end(
        JSON.stringify({ user: (await me.json() as { sub: string }).sub })
      )
    }

    beforeAll(async () => {
      apiServer = http.createServer(cluster)
      await new Promise<void>((resolve) => apiServer.listen(0, "127.0.0.1", resolve))
      apiUrl = `http://127.0.0.1:${(apiServer.address() as AddressInfo).port}`
    })
    afterAll(() => new Promise<void>((resolve) => apiServer.close(() => resolve())))

    it("the exec plugin's command and args print an ExecCredential the cluster accepts (what kubectl runs)", async () => {
      const config = localised("kubeconfig", { "https://k8s.example.com": apiUrl })
      const command = /^ {8}command: (.+)$/m.exec(config)![1]!
      const args = JSON.parse(/^ {8}args: (\[.*\])$/m.exec(config)![1]!) as ReadonlyArray<string>
      const run = await shell([command, ...args].map((a) => `'${a}'`).join(" "), work, {
        DEVFLOW_CACHE_DIR: cache,
        KUBERNETES_EXEC_INFO: JSON.stringify({
          apiVersion: "client.authentication.k8s.io/v1",
          kind: "ExecCredential",
          spec: { interactive: false }
        })
      }).exit
      expect(run.code, run.stderr).toBe(0)
      const credential = JSON.parse(run.stdout)
      expect(credential).toMatchObject({ apiVersion: "client.authentication.k8s.io/v1", kind: "ExecCredential" })
      const me = await fetch(`${apiUrl}/api`, { headers: { authorization: `Bearer ${credential.status.token}` } })
      expect(await me.json()).toEqual({ user: "alice" })
    })

    // kubectl sends an exec plugin's token over TLS only: a throwaway certificate, and the snippet's cluster told to skip its check
    it.runIf(hasCommand("kubectl") && hasCommand("openssl"))(
      "kubectl itself, with this kubeconfig, reaches the cluster with devflow's token",
      async () => {
        const key = path.join(work, "cluster-key.pem")
        const cert = path.join(work, "cluster-cert.pem")
        execFileSync("openssl", [
          "req",
          "-x509",
          "-newkey",
          "ec",
          "-pkeyopt",
          "ec_paramgen_curve:prime256v1",
          "-nodes",
          "-days",
          "1",
          "-keyout",
          key,
          "-out",
          cert,
          "-subj",
          "/CN=127.0.0.1",
          "-addext",
          "subjectAltName=IP:127.0.0.1"
        ], { stdio: "ignore" })
        const tls = https.createServer({ key: fs.readFileSync(key), cert: fs.readFileSync(cert) }, cluster)
        await new Promise<void>((resolve) => tls.listen(0, "127.0.0.1", resolve))
        try {
          const file = path.join(work, "kubeconfig")
          const config = localised("kubeconfig", {
            "https://k8s.example.com": `https://127.0.0.1:${(tls.address() as AddressInfo).port}`
          })
          fs.writeFileSync(file, config.replace(/^( {4}cluster:\n)/m, "$1      insecure-skip-tls-verify: true\n"))
          const run = await shell(`kubectl --kubeconfig '${file}' get --raw /api/devflow`, work, {
            DEVFLOW_CACHE_DIR: cache,
            HOME: work
          }).exit
          expect(run.code, run.stderr).toBe(0)
          expect(JSON.parse(run.stdout)).toEqual({ user: "alice" })
          expect(seen.at(-1)).toBe(200)
        } finally {
          await new Promise<void>((resolve) => tls.close(() => resolve()))
        }
      }
    )
  })

  it("curl with --header-file: the API answers, the header file is gone afterwards", async () => {
    const cwd = fs.mkdtempSync(path.join(work, "curl-"))
    const run = await shell(localised("curl", { "https://api.example.com": api.url }), cwd, {
      DEVFLOW_CACHE_DIR: cache
    }).exit
    expect(run.code, run.stderr).toBe(0)
    expect(JSON.parse(run.stdout)).toMatchObject({ sub: "alice" })
    expect(fs.readdirSync(cwd)).toEqual([])
  })

  it.runIf(hasCommand("http") || process.env.CI === "true")("httpie through exec", async () => {
    const run = await shell(localised("httpie", { "https://api.example.com": api.url }), work, {
      DEVFLOW_CACHE_DIR: cache,
      HOME: work
    }).exit
    expect(run.code, run.stderr).toBe(0)
    expect(JSON.parse(run.stdout)).toMatchObject({ sub: "alice" })
  })

  it("a script that reads DEVFLOW_ACCESS_TOKEN", async () => {
    const cwd = fs.mkdtempSync(path.join(work, "script-"))
    const run = await shell(localised("script", { "https://api.example.com": api.url }), cwd, {
      DEVFLOW_CACHE_DIR: cache
    }).exit
    expect(run.code, run.stderr).toBe(0)
    expect(JSON.parse(run.stdout)).toMatchObject({ sub: "alice" })
    for (const secret of cachedSecrets(cache)) {
      expect(fs.readFileSync(path.join(cwd, "call-api.sh"), "utf8")).not.toContain(secret)
    }
  })

  describe("a CI job", () => {
    const job = (tokens: boolean) => {
      const cwd = fs.mkdtempSync(path.join(work, "ci-"))
      fs.mkdirSync(path.join(cwd, ".devflow"), { mode: 0o700 })
      for (const file of tokens ? ["profiles.json", "tokens.json"] : ["profiles.json"]) {
        fs.copyFileSync(path.join(cache, file), path.join(cwd, ".devflow", file))
        fs.chmodSync(path.join(cwd, ".devflow", file), 0o600)
      }
      // the job's own step: calls the API with the token devflow put in API_TOKEN
      fs.writeFileSync(
        path.join(cwd, "deploy.sh"),
        `#!/bin/sh\nprintf 'Authorization: Bearer %s\\n' "$API_TOKEN" | curl -fsS -H @- ${api.url}/me >/dev/null && echo deployed\n`,
        { mode: 0o755 }
      )
      return shell(snippet("ci"), cwd).exit
    }

    it("with the job's cache signed in: the step runs with the token", async () => {
      const run = await job(true)
      expect(run.code, run.stderr).toBe(0)
      expect(run.stdout).toBe("deployed\n")
    })

    it("without a usable token: exit 7 and the job's message, no prompt, the step not run", async () => {
      const run = await job(false)
      expect(run.code).toBe(7)
      expect(run.stdout).toBe("")
      expect(run.stderr).toMatch(/hint: Run `[^`]*devflow(?:\.mjs)? login`/)
      expect(run.stderr).toMatch(
        /devflow: the job's sign-in has expired; run 'devflow login' and update the job's cache\n$/
      )
      expect(run.stderr).not.toMatch(/enter the code/)
    })
  })
})
