/* global process, console, setInterval, clearInterval */
// `pnpm test:stress [--runs N] [--hogs H] [--stop-on-failure] [-- <vitest filters>]`: runs the test
// suite N times (default 5) while H busy loops (default 2, one per core here) compete for the CPU,
// as CI's shared machines do, and prints a table of failures per test. A flaky test shows up here
// long before it throws a CI run away. Every run's JSON report and its load average are kept in
// bench-results/stress/ (git-ignored), with everything vitest printed (run-N.log); the table is also
// written there as Markdown.
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
const argv = process.argv.slice(2)
const dashes = argv.indexOf("--")
const own = dashes === -1 ? argv : argv.slice(0, dashes)
const vitestArgs = dashes === -1 ? [] : argv.slice(dashes + 1)
const option = (name, fallback) => {
  const at = own.indexOf(name)
  if (at === -1) return fallback
  const value = Number(own[at + 1])
  if (!Number.isInteger(value) || value < 0) {
    console.error(`${name} takes a whole number, got ${own[at + 1] ?? "nothing"}`)
    process.exit(2)
  }
  return value
}
const runs = option("--runs", 5)
const hogs = option("--hogs", 2)
const stopOnFailure = own.includes("--stop-on-failure")
const outDir = path.join(root, "bench-results", "stress")
fs.mkdirSync(outDir, { recursive: true })

// The same environment as .ci/run: every optional real component is required, so a missing
// Redis, browser or keyring is a failure here too rather than a silent skip; and .ci/run's long
// step (DEVFLOW_LONG_TESTS) is part of each run unless DEVFLOW_LONG_TESTS=0 says otherwise.
const env = {
  DEVFLOW_LONG_TESTS: "1",
  ...process.env,
  CI: "true",
  DEVFLOW_REQUIRE_BROWSER: "1",
  DEVFLOW_REQUIRE_FAKETIME: "1",
  DEVFLOW_REQUIRE_KEYCHAIN: "1",
  DEVFLOW_REQUIRE_REDIS: "1"
}

const startHogs = () =>
  Array.from({ length: hogs }, () => spawn(process.execPath, ["-e", "for(;;){}"], { stdio: "ignore" }))

const vitest = path.join(root, "node_modules", ".bin", "vitest")
const runOnce = (index) =>
  new Promise((resolve) => {
    const report = path.join(outDir, `run-${index}.json`)
    fs.rmSync(report, { force: true })
    const started = Date.now()
    const load = [os.loadavg()[0]]
    const sampler = setInterval(() => load.push(os.loadavg()[0]), 15_000)
    const child = spawn(vitest, [
      "run",
      "--reporter=dot",
      "--reporter=json",
      `--outputFile.json=${report}`,
      ...vitestArgs
    ], { cwd: root, env, stdio: ["ignore", "pipe", "pipe"] })
    // everything vitest printed (the tests' own diagnostics too), for the failure the table names
    const output = fs.createWriteStream(path.join(outDir, `run-${index}.log`))
    child.stdout.pipe(output, { end: false })
    let stderr = ""
    child.stderr.on("data", (chunk) => {
      output.write(chunk)
      stderr = (stderr + chunk).slice(-20_000)
    })
    child.on("close", (code) => {
      output.end()
      clearInterval(sampler)
      load.push(os.loadavg()[0])
      resolve({ index, code, seconds: (Date.now() - started) / 1000, load, report, stderr })
    })
  })

const firstLine = (text) => (text ?? "").split("\n").map((line) => line.trim()).find((line) => line !== "") ?? ""

const readReport = (run) => {
  if (!fs.existsSync(run.report)) {
    return {
      passed: 0,
      failed: 0,
      failures: [{
        test: "(vitest produced no report)",
        reason: firstLine(run.stderr.split("\n").slice(-5).join("\n"))
      }]
    }
  }
  const json = JSON.parse(fs.readFileSync(run.report, "utf8"))
  const failures = []
  for (const file of json.testResults ?? []) {
    const rel = path.relative(root, file.name)
    const assertions = file.assertionResults ?? []
    for (const a of assertions) {
      if (a.status === "failed") {
        failures.push({ test: `${rel} > ${a.fullName}`, reason: firstLine(a.failureMessages?.[0]) })
      }
    }
    // A file that fails to load (or a hook that throws) has no failed assertion of its own.
    if (file.status === "failed" && !assertions.some((a) => a.status === "failed")) {
      failures.push({ test: `${rel} (file)`, reason: firstLine(file.message) })
    }
  }
  return { passed: json.numPassedTests ?? 0, failed: json.numFailedTests ?? 0, failures }
}

const cell = (text) => text.replaceAll("|", "\\|").slice(0, 160)
const results = []
const hogProcesses = startHogs()
const stopHogs = () => hogProcesses.forEach((hog) => hog.kill("SIGKILL"))
process.on("exit", stopHogs)
process.on("SIGINT", () => process.exit(130))
console.log(
  `stress: ${runs} run(s) of vitest ${vitestArgs.join(" ")} with ${hogs} CPU hog(s) on ${os.cpus().length} core(s)`
)
for (let i = 1; i <= runs; i++) {
  const run = await runOnce(i)
  const summary = readReport(run)
  results.push({ ...run, ...summary })
  const loadText = `load ${Math.min(...run.load).toFixed(1)}–${Math.max(...run.load).toFixed(1)}`
  console.log(
    `run ${i}/${runs}: exit ${run.code}, ${summary.passed} passed, ${summary.failed} failed, ${
      run.seconds.toFixed(0)
    } s, ${loadText}`
  )
  for (const failure of summary.failures) console.log(`  ✗ ${failure.test}\n      ${failure.reason}`)
  if (run.code !== 0 && summary.failures.length === 0) {
    console.log(`  ✗ vitest exited ${run.code}:\n${run.stderr.split("\n").slice(-15).join("\n")}`)
  }
  if (stopOnFailure && run.code !== 0) break
}
stopHogs()

const counts = new Map()
for (const run of results) {
  for (const failure of run.failures) {
    const entry = counts.get(failure.test) ?? { runs: [], reason: failure.reason }
    entry.runs.push(run.index)
    counts.set(failure.test, entry)
  }
}
const lines = [
  `# Stress: ${results.length} run(s), ${hogs} CPU hog(s), ${os.cpus().length} core(s), ${new Date().toISOString()}`,
  "",
  "| run | exit | passed | failed | wall | load (1 min) |",
  "|---|---|---|---|---|---|",
  ...results.map((r) =>
    `| ${r.index} | ${r.code} | ${r.passed} | ${r.failed} | ${r.seconds.toFixed(0)} s | ${
      Math.min(...r.load).toFixed(1)
    }–${Math.max(...r.load).toFixed(1)} |`
  ),
  "",
  counts.size === 0 ? "No test failed." : "| test | failed in | first line of the error |",
  ...(counts.size === 0 ? [] : ["|---|---|---|"]),
  ...[...counts].sort((a, b) => b[1].runs.length - a[1].runs.length).map(([test, e]) =>
    `| ${cell(test)} | ${e.runs.length}/${results.length} (runs ${e.runs.join(", ")}) | ${cell(e.reason)} |`
  )
]
const table = lines.join("\n")
fs.writeFileSync(path.join(outDir, "summary.md"), `${table}\n`)
console.log(`\n${table}`)
process.exitCode = results.every((r) => r.code === 0) ? 0 : 1
