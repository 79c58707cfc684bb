/**
 * A scriptable fault-injection server on 127.0.0.1, for reliability tests:
 * every request to a path is answered by that path's handler, which sees how
 * many requests the path had before and picks one {@link Fault} — a normal
 * answer, a connection reset in the middle of the body, a connection closed
 * before any answer, no answer at all, a body dripped a few bytes at a time,
 * a body of many megabytes, a redirect. Paths without a handler answer 404.
 * Every request is recorded with its arrival time.
 *
 * Used by the fault matrix of `@devflow/node-http` and by the CLI's tests.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import type { AddressInfo, Socket } from "node:net"

export interface Answer {
  readonly status?: number | undefined
  readonly headers?: Readonly<Record<string, string>> | undefined
}

export type Fault =
  /** a complete answer */
  | {
    readonly _tag: "Reply"
    readonly status: number
    readonly headers: Readonly<Record<string, string>>
    readonly body: string
  }
  /** headers and the first half of the body (Content-Length promises all of it), then a TCP reset */
  | {
    readonly _tag: "ResetMidBody"
    readonly status: number
    readonly headers: Readonly<Record<string, string>>
    readonly partial: string
  }
  /** the request is read, then the connection is closed without a byte of answer */
  | { readonly _tag: "CloseBeforeAnswer" }
  /** the request is read and never answered; the connection stays open */
  | { readonly _tag: "Hang" }
  /** the body is written `bytes` bytes every `everyMs` */
  | {
    readonly _tag: "Drip"
    readonly status: number
    readonly headers: Readonly<Record<string, string>>
    readonly body: string
    readonly bytes: number
    readonly everyMs: number
  }
  /** a JSON body of `size` bytes (a string of padding), with or without Content-Length */
  | { readonly _tag: "Huge"; readonly status: number; readonly size: number; readonly contentLength: boolean }

export interface FaultRequest {
  readonly path: string
  readonly method: string
  /** requests to this path before this one */
  readonly n: number
  /** this server's origin, e.g. http://127.0.0.1:40123 */
  readonly origin: string
  readonly body: string
}

export type Handler = (request: FaultRequest) => Fault

/** A path's answers in order, the last one repeated. */
export const seq = (...faults: ReadonlyArray<Fault | Handler>): Handler => (request) => {
  const fault = faults[Math.min(request.n, faults.length - 1)]!
  return typeof fault === "function" ? fault(request) : fault
}

export const reply = (body: string, contentType: string | undefined, answer: Answer = {}): Fault => ({
  _tag: "Reply",
  status: answer.status ?? 200,
  headers: { ...(contentType === undefined ? {} : { "content-type": contentType }), ...answer.headers },
  body
})

export const json = (body: unknown, answer: Answer = {}): Fault =>
  reply(typeof body === "string" ? body : JSON.stringify(body), "application/json", answer)

export const resetMidBody = (body: string, answer: Answer = {}): Fault => ({
  _tag: "ResetMidBody",
  status: answer.status ?? 200,
  headers: { "content-type": "application/json", "content-length": String(Buffer.byteLength(body)), ...answer.headers },
  partial: body.slice(0, Math.floor(body.length / 2))
})

export const closeBeforeAnswer: Fault = { _tag: "CloseBeforeAnswer" }

export const hang: Fault = { _tag: "Hang" }

export const drip = (
  body: string,
  options: { readonly bytes: number; readonly everyMs: number },
  answer: Answer = {}
): Fault => ({
  _tag: "Drip",
  status: answer.status ?? 200,
  headers: { "content-type": "application/json", ...answer.headers },
  body,
  ...options
})

export const huge = (size: number, options: { readonly contentLength: boolean; readonly status?: number }): Fault => ({
  _tag: "Huge",
  status: options.status ?? 200,
  size,
  contentLength: options.contentLength
})

export const redirect = (status: number, location: string): Fault =>
  reply("", undefined, { status, headers: { location } })

export interface Hit {
  readonly method: string
  readonly path: string
  /** Date.now() when the request arrived */
  readonly at: number
}

export interface FaultServer {
  readonly origin: string
  readonly port: number
  readonly hits: ReadonlyArray<Hit>
  readonly hitsTo: (path: string) => number
  /** Stops listening and destroys every open connection. Idempotent. */
  readonly close: () => Promise<void>
}

const CHUNK = 64 * 1024

const writeHuge = (res: ServerResponse, fault: Extract<Fault, { _tag: "Huge" }>) => {
  const head = "{\"padding\":\""
  const tail = "\"}"
  res.writeHead(fault.status, {
    "content-type": "application/json",
    ...(fault.contentLength ? { "content-length": String(fault.size) } : {})
  })
  res.write(head)
  const block = "x".repeat(CHUNK)
  let left = fault.size - head.length - tail.length
  // Honour back-pressure: a client that stops reading must not make us buffer megabytes.
  const pump = () => {
    while (left > 0 && !res.destroyed) {
      const n = Math.min(CHUNK, left)
      left -= n
      if (!res.write(n === CHUNK ? block : block.slice(0, n))) return void res.once("drain", pump)
    }
    if (!res.destroyed) res.end(tail)
  }
  pump()
}

const answer = (req: IncomingMessage, res: ServerResponse, fault: Fault, timers: Set<NodeJS.Timeout>) => {
  const socket: Socket = req.socket
  switch (fault._tag) {
    case "Reply":
      res.writeHead(fault.status, fault.headers)
      res.end(fault.body)
      return
    case "ResetMidBody":
      res.writeHead(fault.status, fault.headers)
      res.write(fault.partial, () => {
        const timer = setTimeout(() => socket.resetAndDestroy(), 20)
        timers.add(timer)
      })
      return
    case "CloseBeforeAnswer":
      socket.destroy()
      return
    case "Hang":
      return
    case "Drip": {
      res.writeHead(fault.status, { ...fault.headers, "content-length": String(Buffer.byteLength(fault.body)) })
      res.flushHeaders()
      let offset = 0
      const timer = setInterval(() => {
        if (res.destroyed || offset >= fault.body.length) {
          clearInterval(timer)
          timers.delete(timer)
          if (!res.destroyed) res.end()
          return
        }
        res.write(fault.body.slice(offset, offset + fault.bytes))
        offset += fault.bytes
      }, fault.everyMs)
      timers.add(timer)
      return
    }
    case "Huge":
      writeHuge(res, fault)
      return
  }
}

/** Listen on a random loopback port and answer each path with its handler. */
export const startFaultServer = async (script: Readonly<Record<string, Handler>>): Promise<FaultServer> => {
  const hits: Array<Hit> = []
  const counts = new Map<string, number>()
  const timers = new Set<NodeJS.Timeout>()
  const sockets = new Set<Socket>()
  let origin = ""
  const server = createServer((req, res) => {
    // A client that gives up (timeout, body cap, interruption) resets the connection: not our failure.
    req.socket.on("error", () => {})
    res.on("error", () => {})
    const path = (req.url ?? "").split("?")[0]!
    const method = req.method ?? "GET"
    hits.push({ method, path, at: Date.now() })
    const chunks: Array<Buffer> = []
    req.on("data", (chunk: Buffer) => chunks.push(chunk))
    req.on("end", () => {
      const handler = script[path]
      const n = counts.get(path) ?? 0
      counts.set(path, n + 1)
      if (handler === undefined) {
        res.writeHead(404, { "content-type": "text/plain" })
        res.end("Not Found")
        return
      }
      answer(req, res, handler({ path, method, n, origin, body: Buffer.concat(chunks).toString("utf8") }), timers)
    })
  })
  server.on("connection", (socket: Socket) => {
    sockets.add(socket)
    socket.on("close", () => sockets.delete(socket))
  })
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      server.off("error", reject)
      resolve()
    })
  })
  const port = (server.address() as AddressInfo).port
  origin = `http://127.0.0.1:${port}`
  let closing: Promise<void> | undefined
  return {
    origin,
    port,
    hits,
    hitsTo: (path) => hits.filter((h) => h.path === path).length,
    close: () => (closing ??= new Promise<void>((resolve) => {
      for (const timer of timers) clearInterval(timer)
      for (const socket of sockets) socket.destroy()
      server.close(() => resolve())
    }))
  }
}
