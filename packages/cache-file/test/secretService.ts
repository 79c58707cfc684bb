/**
 * A real, private Secret Service for tests: its own D-Bus session bus
 * (`dbus-daemon --session`) and a GNOME Keyring daemon on it, unlocked with
 * a password given on stdin, keeping its keyring in a temporary directory.
 * Nothing of the user's own session is used or touched.
 *
 * Needs Debian's `dbus` and `gnome-keyring` packages (.ci/run installs
 * them). Without them the keychain tests skip, except where
 * `DEVFLOW_REQUIRE_KEYCHAIN=1` (set by .ci/run) makes them required.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process"
import * as fs from "node:fs"
import { createRequire } from "node:module"
import * as os from "node:os"
import * as path from "node:path"

const require_ = createRequire(import.meta.url)

const TOOLS = ["dbus-daemon", "dbus-send", "gnome-keyring-daemon"] as const

const onPath = (tool: string): boolean =>
  (process.env.PATH ?? "").split(path.delimiter).some((dir) => dir !== "" && fs.existsSync(path.join(dir, tool)))

/** The tools this machine lacks to run a Secret Service. */
export const missingTools: ReadonlyArray<string> = process.platform === "linux"
  ? TOOLS.filter((t) => !onPath(t))
  : [...TOOLS]

/** Whether the keychain tests can run here; throws when they are required and cannot. */
export const available = (): boolean => {
  if (missingTools.length === 0) return true
  if (process.env.DEVFLOW_REQUIRE_KEYCHAIN === "1") {
    throw new Error(
      `DEVFLOW_REQUIRE_KEYCHAIN=1 but ${
        missingTools.join(", ")
      } missing: install Debian's dbus and gnome-keyring packages`
    )
  }
  return false
}

/**
 * A D-Bus address where no bus listens: what a headless machine without a
 * session looks like to the keychain binding.
 */
export const NO_BUS = "unix:path=/nonexistent/devflow-test-no-session-bus"

export interface SecretService {
  /** the session bus address (`DBUS_SESSION_BUS_ADDRESS`) */
  readonly address: string
  /** the environment variables that point a process at this Secret Service */
  readonly env: Readonly<Record<string, string>>
  /** the item names (account attributes) of the service `devflow`, with their secrets */
  readonly items: () => Promise<ReadonlyArray<{ readonly account: string; readonly secret: string }>>
  /** remove every item of the service `devflow`, as a person could in Seahorse */
  readonly removeAll: () => Promise<void>
  /** stop the keyring and the bus, remove the keyring's directory */
  readonly stop: () => Promise<void>
  /**
   * Whether the Secret Service broke since the last call, and if so, a working one again.
   * Broken means gnome-keyring-daemon died (it has, once, mid-test under load) or it no longer
   * has a default collection (seen once under two CPU hogs: from one test on, every write
   * answered "no result found" while the daemon lived on). Either way a new daemon is started
   * on the same bus with a new login keyring, ready for the next test, and what the old one
   * said is printed for the next diagnosis. A test that saw the fixture break is not about it:
   * it may run again on the revived fixture.
   */
  readonly revivedIfBroken: () => Promise<boolean>
}

const exited = (child: ChildProcess): Promise<void> =>
  child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve()
    : new Promise((resolve) => child.once("exit", () => resolve()))

const stopChild = async (child: ChildProcess): Promise<void> => {
  if (child.exitCode !== null || child.signalCode !== null) return
  child.kill("SIGTERM")
  const timer = setTimeout(() => child.kill("SIGKILL"), 2_000)
  await exited(child)
  clearTimeout(timer)
}

const hasOwner = (address: string, name: string): Promise<boolean> =>
  new Promise((resolve) =>
    execFile(
      "dbus-send",
      [
        "--session",
        "--print-reply",
        "--dest=org.freedesktop.DBus",
        "/org/freedesktop/DBus",
        "org.freedesktop.DBus.NameHasOwner",
        `string:${name}`
      ],
      { env: { ...process.env, DBUS_SESSION_BUS_ADDRESS: address }, timeout: 2_000 },
      (error, stdout) => resolve(error === null && /boolean true/.test(stdout))
    )
  )

/** Whether the Secret Service on `address` names a default collection (what an item without a collection goes to). */
const hasDefaultCollection = (address: string): Promise<boolean> =>
  new Promise((resolve) =>
    execFile(
      "dbus-send",
      [
        "--session",
        "--print-reply",
        "--dest=org.freedesktop.secrets",
        "/org/freedesktop/secrets",
        "org.freedesktop.Secret.Service.ReadAlias",
        "string:default"
      ],
      { env: { ...process.env, DBUS_SESSION_BUS_ADDRESS: address }, timeout: 5_000 },
      // a timeout under load is no evidence of a broken keyring: only an answer of "/" is
      (error, stdout) => resolve(error !== null || !/object path "\/"\s*$/.test(stdout.trim()))
    )
  )

/** Start a private session bus and an unlocked GNOME Keyring on it (within 15 s, else fail). */
export const start = async (): Promise<SecretService> => {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), "devflow-keyring-"))
  const runtime = path.join(home, "run")
  fs.mkdirSync(runtime, { mode: 0o700 })
  const children: Array<ChildProcess> = []
  let stopping = false
  const stop = async () => {
    stopping = true
    for (const child of children.reverse()) await stopChild(child)
    fs.rmSync(home, { recursive: true, force: true })
  }
  try {
    const bus = spawn("dbus-daemon", ["--session", "--nofork", "--nopidfile", "--print-address=1"], {
      stdio: ["ignore", "pipe", "ignore"]
    })
    children.push(bus)
    const address = await new Promise<string>((resolve, reject) => {
      let out = ""
      const timer = setTimeout(() => reject(new Error("dbus-daemon printed no address within 5 s")), 5_000)
      bus.stdout!.setEncoding("utf8").on("data", (d: string) => {
        out += d
        const line = out.split("\n")[0]!
        if (out.includes("\n")) {
          clearTimeout(timer)
          resolve(line.trim())
        }
      })
      bus.once("exit", (code) => reject(new Error(`dbus-daemon exited with ${code}`)))
    })
    const env = {
      DBUS_SESSION_BUS_ADDRESS: address,
      XDG_RUNTIME_DIR: runtime,
      XDG_DATA_HOME: path.join(home, "data"),
      HOME: home
    }
    // Through the same binding devflow uses, in a child process so that this process's bus stays its own.
    const withBinding = (body: string) =>
      new Promise<string>((resolve, reject) =>
        execFile(
          process.execPath,
          [
            "-e",
            `const k = require(${
              JSON.stringify(require_.resolve("@napi-rs/keyring"))
            }); (async () => { ${body} })().catch((e) => { process.stderr.write(String(e)); process.exit(1) })`
          ],
          { env: { ...process.env, ...env }, timeout: 10_000 },
          (
            error,
            stdout,
            stderr
          ) => (error === null ? resolve(stdout) : reject(new Error(`the keychain failed: ${stderr}`)))
        )
      )
    let keyring: ChildProcess
    let died = false
    let said = ""
    const startKeyring = async () => {
      keyring = spawn("gnome-keyring-daemon", ["--foreground", "--unlock", "--components=secrets"], {
        env: { ...process.env, ...env },
        stdio: ["pipe", "ignore", "pipe"]
      })
      const daemon = keyring
      children.push(daemon)
      // When it exits before stop() or breaks, say how and with what last words, for the next diagnosis.
      said = ""
      daemon.stderr!.setEncoding("utf8").on("data", (d: string) => (said = (said + d).slice(-2_000)))
      daemon.once("exit", (code, signal) => {
        if (stopping) return
        died = true
        console.error(
          `[secret service] gnome-keyring-daemon exited early (code ${code}, signal ${signal}); its stderr: ${said}`
        )
      })
      // --unlock reads the login keyring's password from stdin (and creates that keyring with it).
      daemon.stdin!.end("devflow-test-keyring")
      const deadline = Date.now() + 15_000
      while (!(await hasOwner(address, "org.freedesktop.secrets"))) {
        if (daemon.exitCode !== null) throw new Error(`gnome-keyring-daemon exited with ${daemon.exitCode}`)
        if (Date.now() > deadline) {
          throw new Error("gnome-keyring-daemon did not claim org.freedesktop.secrets within 15 s")
        }
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
      // The bus name is claimed before the login keyring exists and is unlocked: a write in between
      // targets a collection that needs a prompt, which nobody answers (seen under load). Wait until
      // a probe item can be written and removed.
      for (;;) {
        try {
          await withBinding(
            `const e = new k.AsyncEntry("devflow-test-probe", "probe"); await e.setPassword("probe"); await e.deleteCredential()`
          )
          break
        } catch (error) {
          if (Date.now() > deadline) throw error
          await new Promise((resolve) => setTimeout(resolve, 100))
        }
      }
    }
    await startKeyring()
    const keyrings = path.join(env.XDG_DATA_HOME, "keyrings")
    const revivedIfBroken = async () => {
      const alive = !died && keyring.exitCode === null && keyring.signalCode === null
      if (alive) {
        if (await hasDefaultCollection(address)) return false
        const files = fs.existsSync(keyrings)
          ? fs.readdirSync(keyrings).map((f) => `${f} (${fs.statSync(path.join(keyrings, f)).size} B)`).join(", ")
          : "none"
        console.error(
          `[secret service] gnome-keyring-daemon lost its default collection; keyring files: ${files}; its stderr: ${said}`
        )
        const daemon = keyring
        daemon.removeAllListeners("exit")
        await stopChild(daemon)
      }
      died = false
      // a new login keyring: whatever the old daemon left on disk is what broke it
      fs.rmSync(keyrings, { recursive: true, force: true })
      await startKeyring()
      return true
    }
    const list = `const c = await k.findCredentialsAsync("devflow");`
    const items = async () =>
      JSON.parse(
        await withBinding(
          `${list} process.stdout.write(JSON.stringify(c.map((x) => ({ account: x.account, secret: x.password }))))`
        )
      )
    const removeAll = async () => {
      await withBinding(`${list} for (const x of c) await new k.AsyncEntry("devflow", x.account).deleteCredential()`)
    }
    return { address, env, items, removeAll, stop, revivedIfBroken }
  } catch (error) {
    await stop()
    throw error
  }
}
