/**
 * A git server on loopback that requires a token: git's own smart HTTP
 * (`git http-backend`, a CGI program) behind a small node:http proxy that
 * accepts a request only when its Basic password (or Bearer token) is an
 * access token the authorization server's userinfo endpoint accepts.
 */
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import * as path from "node:path"

export const HTTP_BACKEND = "/usr/lib/git-core/git-http-backend"

export interface GitServer {
  /** e.g. http://127.0.0.1:PORT */
  readonly url: string
  /** every credential presented, in order, with the verdict */
  readonly seen: Array<{ readonly username: string | undefined; readonly token: string; readonly accepted: boolean }>
  close(): Promise<void>
}

const credentialOf = (
  header: string | undefined
): { readonly username?: string; readonly token: string } | undefined => {
  if (header === undefined) return undefined
  const [scheme, value = ""] = header.split(" ")
  if (scheme?.toLowerCase() === "bearer") return { token: value }
  if (scheme?.toLowerCase() !== "basic") return undefined
  const decoded = Buffer.from(value, "base64").toString("utf8")
  const colon = decoded.indexOf(":")
  return colon === -1 ? undefined : { username: decoded.slice(0, colon), token: decoded.slice(colon + 1) }
}

/** Serve the bare repositories under `root`, for `userinfo` (the authorization server's). */
export const startGitServer = async (root: string, userinfo: string): Promise<GitServer> => {
  const seen: GitServer["seen"] = []
  const server = http.createServer(async (req, res) => {
    const credential = credentialOf(req.headers.authorization)
    const accepted = credential !== undefined &&
      (await fetch(userinfo, { headers: { authorization: `Bearer ${credential.token}` } })).status === 200
    if (credential !== undefined) seen.push({ username: credential.username, token: credential.token, accepted })
    if (!accepted) {
      req.resume()
      res.writeHead(401, { "www-authenticate": "Basic realm=\"devflow test\"" }).end()
      return
    }
    const url = new URL(req.url ?? "/", "http://localhost")
    const cgi = spawn(HTTP_BACKEND, [], {
      env: {
        PATH: process.env.PATH,
        GIT_PROJECT_ROOT: root,
        GIT_HTTP_EXPORT_ALL: "1",
        REQUEST_METHOD: req.method ?? "GET",
        PATH_INFO: decodeURIComponent(url.pathname),
        QUERY_STRING: url.search.slice(1),
        CONTENT_TYPE: req.headers["content-type"] ?? "",
        ...(req.headers["content-length"] === undefined ? {} : { CONTENT_LENGTH: req.headers["content-length"] }),
        ...(req.headers["content-encoding"] === undefined
          ? {}
          : { HTTP_CONTENT_ENCODING: req.headers["content-encoding"] }),
        ...(req.headers["git-protocol"] === undefined ? {} : { GIT_PROTOCOL: String(req.headers["git-protocol"]) }),
        // receive-pack (push) runs only for an authenticated user
        REMOTE_USER: credential.username ?? "token",
        REMOTE_ADDR: "127.0.0.1"
      },
      stdio: ["pipe", "pipe", "inherit"]
    })
    req.pipe(cgi.stdin)
    // CGI: header lines, a blank line, the body
    let head = Buffer.alloc(0)
    let started = false
    cgi.stdout.on("data", (chunk: Buffer) => {
      if (started) return void res.write(chunk)
      head = Buffer.concat([head, chunk])
      const end = head.indexOf("\r\n\r\n")
      if (end === -1) return
      started = true
      let status = 200
      for (const line of head.subarray(0, end).toString("latin1").split("\r\n")) {
        const colon = line.indexOf(":")
        const name = line.slice(0, colon).trim()
        const value = line.slice(colon + 1).trim()
        if (name.toLowerCase() === "status") status = Number.parseInt(value, 10)
        else res.setHeader(name, value)
      }
      res.writeHead(status)
      res.write(head.subarray(end + 4))
    })
    cgi.on("close", () => res.end())
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      })
  }
}

/** A bare repository `name` under `root` with one commit on main, that accepts pushes over HTTP. */
export const makeRepository = async (
  root: string,
  name: string,
  git: (args: ReadonlyArray<string>, cwd: string) => Promise<void>
) => {
  const bare = path.join(root, name)
  await git(["init", "--quiet", "--bare", "--initial-branch=main", bare], root)
  await git(["config", "http.receivepack", "true"], bare)
  const seed = fs.mkdtempSync(path.join(root, "seed-"))
  await git(["init", "--quiet", "--initial-branch=main", seed], root)
  fs.writeFileSync(path.join(seed, "README"), "hello\n")
  await git(["add", "README"], seed)
  await git(["commit", "--quiet", "-m", "first"], seed)
  await git(["push", "--quiet", bare, "main"], seed)
  fs.rmSync(seed, { recursive: true, force: true })
  return bare
}
