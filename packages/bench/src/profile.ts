/**
 * Where a client's time or memory goes in B2.
 *
 *   pnpm --filter @devflow/bench profile [client] [n]           CPU: n flows (default 1,000) under
 *     `node --cpu-prof`; the profile's self time summed by package (the bundle keeps esbuild's
 *     `// path` module markers, so each sample's line maps to the package it came from).
 *   pnpm --filter @devflow/bench profile [client] [n] --heap    memory: n flows (default 10,000)
 *     waiting between polls (B2's memory job, interval 20 s); heap snapshots of the empty and the
 *     pending process, then the live heap per flow and what it is made of, per flow, by
 *     constructor / closure name.
 *
 * client: devflow, openid-client, msal-node, or a DPoP one (devflow-dpop, openid-client-dpop:
 * the server checks their proofs, as in B2).
 *
 * The profile or the two snapshots are kept in bench-results/profiles/ for Chrome DevTools.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { measurePending, pendingServer } from "./benchmarks/b2.js"
import { endpointsOf } from "./benchmarks/common.js"
import { buildWorkers, entryFile, repoRoot } from "./build.js"
import { type ClientName, CLIENTS, DPOP_CLIENTS } from "./clients/types.js"
import { diffPerUnit, readSnapshot, renderDiff } from "./heapSnapshot.js"
import { runEntry } from "./runner.js"
import { pendingThenToken, startServer } from "./server/loopbackServer.js"
import { makeCertificate } from "./tls.js"
import type { FlowsReport } from "./workers/worker.js"

interface ProfileNode {
  readonly id: number
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number }
}
interface Profile {
  readonly nodes: ReadonlyArray<ProfileNode>
  readonly samples: ReadonlyArray<number>
  readonly timeDeltas: ReadonlyArray<number>
}

/** line → package of a non-minified esbuild bundle, from its `// ../../node_modules/.pnpm/x@1/node_modules/x/…` markers. */
const moduleMap = (bundle: string): (line: number) => string => {
  const starts: Array<[number, string]> = []
  fs.readFileSync(bundle, "utf8").split("\n").forEach((text, i) => {
    const m = /^\/\/ (\S+)$/.exec(text)
    if (m === null) return
    const file = m[1]!
    const pkg = /.*node_modules\/((?:@[^/]+\/)?[^/]+)\/(.*)$/.exec(file)
    const label = pkg !== null
      ? `${pkg[1]}${
        pkg[1] === "effect" && /internal\/(fiberRuntime|core|core-effect|runtime|effect\/circular)/.test(pkg[2]!)
          ? " (fiber runtime)"
          : pkg[1] === "effect" && /(stream|channel|sink)/i.test(pkg[2]!)
          ? " (Stream/Channel)"
          : ""
      }`
      : file.includes("/core/src/")
      ? `@devflow/core ${path.basename(file)}`
      : file.includes("/node-http/src/")
      ? `@devflow/node-http ${path.basename(file)}`
      : file
    starts.push([i, label])
  })
  return (line) => {
    let lo = 0
    let hi = starts.length - 1
    let found = "bundle prologue"
    while (lo <= hi) {
      const mid = (lo + hi) >> 1
      if (starts[mid]![0] <= line) {
        found = starts[mid]![1]
        lo = mid + 1
      } else hi = mid - 1
    }
    return found
  }
}

export const selfTimeByPackage = (profileFile: string, bundle: string): Array<[string, number]> => {
  const profile = JSON.parse(fs.readFileSync(profileFile, "utf8")) as Profile
  const where = moduleMap(bundle)
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const totals = new Map<string, number>()
  profile.samples.forEach((id, i) => {
    const frame = byId.get(id)!.callFrame
    const label = frame.url.endsWith(path.basename(bundle))
      ? where(frame.lineNumber)
      : frame.url === ""
      ? frame.functionName === "(garbage collector)" ? "(garbage collector)" : `(${frame.functionName || "native"})`
      : `node:${frame.url.replace(/^node:/, "").split("/")[0]}`
    totals.set(label, (totals.get(label) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000)
  })
  return [...totals].sort((a, b) => b[1] - a[1])
}

const args = process.argv.slice(2)
const heap = args.includes("--heap")
const [clientArg = "devflow", nArg] = args.filter((a) => !a.startsWith("--"))
const profiled: ReadonlyArray<ClientName> = [...CLIENTS, ...DPOP_CLIENTS.map(([c]) => c)]
if (!profiled.includes(clientArg as ClientName) || (nArg !== undefined && !(Number(nArg) > 0))) {
  console.error(`usage: profile [${profiled.join("|")}] [n] [--heap]`)
  process.exit(2)
}
const client = clientArg as ClientName
const dir = path.join(repoRoot, "bench-results/profiles")

const cpu = async (n: number) => {
  const cert = makeCertificate()
  const before = new Set(fs.readdirSync(dir))
  const server = await startServer({
    interval: 1,
    expiresIn: 600,
    script: pendingThenToken(2),
    record: false,
    dpop: { nonce: false },
    tls: cert
  })
  try {
    const report = await runEntry<FlowsReport>(
      `flows-${client}`,
      { kind: "flows", endpoints: endpointsOf(server), n },
      {
        env: { NODE_EXTRA_CA_CERTS: cert.certFile },
        nodeArgs: ["--cpu-prof", `--cpu-prof-dir=${dir}`],
        timeoutMs: 300_000
      }
    )
    console.log(JSON.stringify(report))
  } finally {
    await server.close()
    fs.rmSync(cert.dir, { recursive: true, force: true })
  }
  const file = fs.readdirSync(dir).find((f) => !before.has(f) && f.endsWith(".cpuprofile"))!
  const named = path.join(dir, `${client}-${n}.cpuprofile`)
  fs.renameSync(path.join(dir, file), named)
  const totals = selfTimeByPackage(named, entryFile(`flows-${client}`))
  const all = totals.reduce((s, [, ms]) => s + ms, 0)
  console.log(`${client}, ${n} flows: ${(all / 1000).toFixed(1)} s sampled (${named})`)
  for (const [label, ms] of totals.slice(0, 25)) {
    console.log(`${(ms / 1000).toFixed(2).padStart(7)} s ${((100 * ms) / all).toFixed(1).padStart(5)} %  ${label}`)
  }
}

const memory = async (n: number) => {
  const cert = makeCertificate()
  const emptyFile = path.join(dir, `${client}-${n}-empty.heapsnapshot`)
  const pendingFile = path.join(dir, `${client}-${n}-pending.heapsnapshot`)
  for (const f of [emptyFile, pendingFile]) fs.rmSync(f, { force: true })
  const server = await startServer({ ...pendingServer(20), dpop: { nonce: false }, tls: cert })
  try {
    const report = await measurePending(server, client, n, {
      env: {
        NODE_EXTRA_CA_CERTS: cert.certFile,
        BENCH_HEAP_SNAPSHOT_EMPTY_FILE: emptyFile,
        BENCH_HEAP_SNAPSHOT_FILE: pendingFile
      },
      // 10,000 first polls plus two snapshots of a few hundred MB
      timeoutMs: 300_000
    })
    console.log(JSON.stringify(report))
    console.log(
      `${client}, ${n} flows waiting between polls: live heap ${
        (report.perFlowBytes / 1024).toFixed(2)
      } KiB per flow (${(report.emptyHeapBytes / 1_048_576).toFixed(1)} MB empty, ${
        (report.pendingHeapBytes / 1_048_576).toFixed(1)
      } MB pending, ${report.rssMB} MB RSS)`
    )
  } finally {
    await server.close()
    fs.rmSync(cert.dir, { recursive: true, force: true })
  }
  console.log(`snapshots: ${emptyFile}, ${pendingFile}; (pending − empty) ÷ ${n}:`)
  for (const line of renderDiff(diffPerUnit(readSnapshot(emptyFile), readSnapshot(pendingFile), n), 25)) {
    console.log(line)
  }
}

fs.mkdirSync(dir, { recursive: true })
await buildWorkers()
if (heap) await memory(Number(nArg ?? 10_000))
else await cpu(Number(nArg ?? 1_000))
