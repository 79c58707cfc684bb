/**
 * The cost of one DPoP proof (B2): devflow's `Dpop.proof` and openid-client's
 * DPoP handle signing the proof of a token request (ES256, no nonce, no `ath`),
 * in one process, batches of each in turn after a warm-up batch. No network.
 * Job (argv[2]): `{ batches, perBatch, url }`; result on stdout as one JSON line.
 */
import { Dpop } from "@devflow/core"
import { Effect } from "effect"
import * as client from "openid-client"
import { runJob } from "./worker.js"

interface Job {
  readonly batches: number
  readonly perBatch: number
  /** the token endpoint the proofs name (`htu`) */
  readonly url: string
}

export interface ProofBatches {
  /** wall time per proof in each measured batch, µs */
  readonly wallUs: Array<number>
  /** user + system CPU per proof in each measured batch, µs */
  readonly cpuUs: Array<number>
}

export interface ProofsReport {
  readonly type: "result"
  readonly batches: number
  readonly perBatch: number
  readonly devflow: ProofBatches
  readonly "openid-client": ProofBatches
}

/**
 * What openid-client runs for each DPoP request it sends: `addProof` of the handle
 * `getDPoPHandle` returns (oauth4webapi's DPoPHandler; present at runtime, not in its .d.ts).
 */
interface ProofHandle {
  readonly addProof: (url: URL, headers: Headers, htm: string, accessToken?: string) => Promise<void>
}

const main = async (job: Job): Promise<ProofsReport> => {
  // devflow: one key, proofs in one program (as the device flow's fiber makes them, one per poll)
  const key = await Effect.runPromise(Dpop.generateKeyPair("ES256"))
  const devflowBatch = (count: number) =>
    Effect.runPromise(
      Effect.forEach(Array.from({ length: count }), () => Dpop.proof(key, { method: "POST", url: job.url }), {
        discard: true
      })
    )

  // openid-client: its handle on a key pair from randomDPoPKeyPair (ES256), as its docs show DPoP
  const config = new client.Configuration({ issuer: new URL(job.url).origin, token_endpoint: job.url }, "bench-client")
  const handle = client.getDPoPHandle(config, await client.randomDPoPKeyPair("ES256")) as unknown as ProofHandle
  if (typeof handle.addProof !== "function") throw new Error("openid-client's DPoP handle has no addProof")
  const url = new URL(job.url)
  const openidBatch = async (count: number) => {
    for (let i = 0; i < count; i++) {
      const headers = new Headers()
      await handle.addProof(url, headers, "POST")
      if (headers.get("dpop") === null) throw new Error("openid-client's DPoP handle added no proof")
    }
  }

  const libraries = [["devflow", devflowBatch], ["openid-client", openidBatch]] as const
  const out: Record<"devflow" | "openid-client", ProofBatches> = {
    devflow: { wallUs: [], cpuUs: [] },
    "openid-client": { wallUs: [], cpuUs: [] }
  }
  // batch 0 warms both up and is not kept; then they take turns, the order swapped each batch
  for (let b = 0; b <= job.batches; b++) {
    for (let j = 0; j < libraries.length; j++) {
      const [name, batch] = libraries[(b + j) % libraries.length]!
      const cpu0 = process.cpuUsage()
      const t0 = performance.now()
      await batch(job.perBatch)
      const wallUs = ((performance.now() - t0) * 1000) / job.perBatch
      const cpu = process.cpuUsage(cpu0)
      if (b > 0) {
        out[name].wallUs.push(wallUs)
        out[name].cpuUs.push((cpu.user + cpu.system) / job.perBatch)
      }
    }
  }
  return { type: "result", batches: job.batches, perBatch: job.perBatch, ...out }
}

runJob(main)
