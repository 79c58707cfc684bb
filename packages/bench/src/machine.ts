/** The machine a run happened on, for the report. */
import * as fs from "node:fs"
import * as os from "node:os"

export interface Machine {
  readonly nproc: number
  readonly node: string
  readonly cpuModel: string
  readonly memoryGiB: number
  /** 1, 5 and 15 minute load averages */
  readonly load: readonly [number, number, number]
  readonly platform: string
}

const cpuModel = (): string => {
  try {
    const line = fs.readFileSync("/proc/cpuinfo", "utf8").split("\n").find((l) => l.startsWith("model name"))
    if (line !== undefined) return line.slice(line.indexOf(":") + 1).trim()
  } catch {
    // not Linux
  }
  return os.cpus()[0]?.model ?? "unknown"
}

export const machine = (): Machine => {
  const [a = 0, b = 0, c = 0] = os.loadavg()
  return {
    nproc: os.availableParallelism(),
    node: process.version,
    cpuModel: cpuModel(),
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    load: [Math.round(a * 100) / 100, Math.round(b * 100) / 100, Math.round(c * 100) / 100],
    platform: `${os.type()} ${os.release()} ${os.arch()}`
  }
}

export const load = (): number => Math.round(os.loadavg()[0]! * 100) / 100
