import * as CacheContent from "@devflow/core/CacheContent"
import * as TokenCache from "@devflow/core/TokenCache"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as fsp from "node:fs/promises"
import * as path from "node:path"
import { errorCode, insecure, io, ioError, processAlive, sleepLive } from "./io.js"
import type * as Keychain from "./keychain.js"
import * as Lock from "./lock.js"
import * as SecretStore from "./secretStore.js"

/** @internal */
export interface Settings {
  readonly directory: string
  readonly fileName: string
  readonly lockTimeout: Duration.Duration
  readonly refreshLockTimeout: Duration.Duration
  readonly staleLockAfter: Duration.Duration
  readonly secretStore: SecretStore.Mode
  readonly keychainTimeout: Duration.Duration
  /** the OS keychain unless given (tests give a failing one) */
  readonly keychain?: Keychain.Keychain | undefined
  readonly onWarning: (warning: TokenCache.CacheCorrupt) => Effect.Effect<void>
  /** how the caller's users choose the file store, for warnings */
  readonly fileStoreSetting?: string | undefined
}

const DIRECTORY_MODE = 0o700
const FILE_MODE = 0o600
// POSIX owners and modes mean nothing on Windows, where the per-user
// %LOCALAPPDATA% is already closed to other users by its ACL.
const posix = process.platform !== "win32"
const uid = typeof process.getuid === "function" ? process.getuid() : undefined

const octal = (mode: number | bigint): string => `0${(Number(mode) & 0o777).toString(8)}`

/**
 * Create the directory (0700) if needed; refuse it when another user owns
 * it; tighten it when it is open to others — but only when it holds nothing
 * but this cache, so that a directory named by mistake (`/tmp`, a project
 * folder) is refused rather than changed.
 * @internal
 */
export const prepareDirectory = (
  directory: string,
  fileName: string
): Effect.Effect<void, TokenCache.CacheUnavailable> =>
  Effect.gen(function*() {
    yield* io(directory, "create the cache directory", () =>
      fsp.mkdir(directory, { recursive: true, mode: DIRECTORY_MODE }))
    const stat = yield* io(directory, "inspect the cache directory", () =>
      fsp.stat(directory))
    if (!stat.isDirectory()) {
      return yield* insecure(directory, "is not a directory")
    }
    if (!posix) {
      return
    }
    if (uid !== undefined && stat.uid !== uid) {
      return yield* insecure(directory, `the directory is owned by uid ${stat.uid}, not by this user (uid ${uid})`)
    }
    if ((stat.mode & 0o077) === 0) {
      return
    }
    const loose = `is open to other users (${octal(stat.mode)})`
    if ((stat.mode & 0o1000) !== 0) {
      return yield* insecure(directory, `${loose} and shared (sticky bit, like /tmp): use a directory of its own`)
    }
    const entries = yield* io(directory, "list the cache directory", () =>
      fsp.readdir(directory))
    const foreign = entries.filter((name) => name !== fileName && !name.startsWith(`${fileName}.`))
    if (foreign.length > 0) {
      return yield* insecure(
        directory,
        `${loose} and holds other files (${foreign.slice(0, 3).join(", ")}${foreign.length > 3 ? ", ..." : ""}): ` +
          `use a directory of its own, or restrict this one to its owner (chmod 700)`
      )
    }
    yield* io(directory, "restrict the cache directory to its owner", () => fsp.chmod(directory, DIRECTORY_MODE))
    yield* Effect.logWarning(
      `The token cache directory ${directory} ${loose}: restricted it to ${octal(DIRECTORY_MODE)}`
    )
  })

/**
 * Remove files a killed writer left behind: `<file>.<pid>-<random>.tmp`
 * (data and lock staging files) whose process is gone, or that are old.
 */
const removeLeftovers = (directory: string, fileName: string): Effect.Effect<void> =>
  Effect.promise(async () => {
    const names = await fsp.readdir(directory).catch(() => [] as Array<string>)
    const now = Date.now()
    for (const name of names) {
      if (!name.startsWith(`${fileName}.`) || !name.endsWith(".tmp")) continue
      const pid = Number(/\.(\d+)-[0-9a-f]+\.tmp$/.exec(name)?.[1])
      const full = path.join(directory, name)
      const stat = await fsp.lstat(full).catch(() => undefined)
      if (stat === undefined || !stat.isFile()) continue
      const age = now - stat.mtimeMs
      // A live writer on another machine could share the pid: give every file a moment.
      if (age > 10_000 && (!processAlive(pid) || age > 3_600_000)) await fsp.unlink(full).catch(() => undefined)
    }
  })

interface Snapshot {
  /** identity of the file version the content came from */
  readonly stamp: string
  /** the content as the file has it (keychain references in place of the secrets kept there) */
  readonly stored: CacheContent.CacheContent
  /** the content with those secrets */
  readonly resolved: SecretStore.Resolved
  readonly content: CacheContent.CacheContent
}

const snapshotOf = (stamp: string, stored: CacheContent.CacheContent, resolved: SecretStore.Resolved): Snapshot => ({
  stamp,
  stored,
  resolved,
  content: resolved.content
})

const EMPTY: SecretStore.Resolved = { content: CacheContent.empty, unresolved: [] }

type Loaded =
  | { readonly _tag: "Content"; readonly snapshot: Snapshot }
  | { readonly _tag: "Corrupt"; readonly stamp: string; readonly error: TokenCache.CacheCorrupt }

const MISSING = "missing"

// Every write renames a new file into place, so a new inode; size and
// nanosecond times guard against an inode number being reused.
const stampOf = (stat: fs.BigIntStats): string => `${stat.dev}:${stat.ino}:${stat.size}:${stat.mtimeNs}:${stat.ctimeNs}`

/**
 * A `TokenCache` kept in one JSON file.
 *
 * Readers take no lock: writes replace the file atomically, so a reader sees
 * the old or the new version, whole. Writers take the data lock for their
 * read-modify-write. A parsed version is kept in memory and reused while the
 * file is unchanged (one `stat` per read).
 * @internal
 */
export const make = (settings: Settings): Effect.Effect<TokenCache.TokenCache, TokenCache.CacheUnavailable> =>
  Effect.gen(function*() {
    const directory = path.resolve(settings.directory)
    const file = path.join(directory, settings.fileName)
    yield* prepareDirectory(directory, settings.fileName)
    yield* removeLeftovers(directory, settings.fileName)
    yield* removeQuarantined(directory, settings.fileName, QUARANTINE_KEPT_MS)
    const secrets = SecretStore.make({
      mode: settings.secretStore,
      file,
      // the directory may be reached through a symbolic link (~/.cache → /data/cache): its items are
      // named after the real path, so that every way to the same file finds (and removes) them
      realFile: path.join(
        yield* io(file, "resolve the cache directory", () => fsp.realpath(directory)),
        settings.fileName
      ),
      timeout: settings.keychainTimeout,
      keychain: settings.keychain,
      fileStoreSetting: settings.fileStoreSetting
    })
    yield* secrets.check

    let snapshot: Snapshot = snapshotOf(MISSING, CacheContent.empty, EMPTY)

    const dataLock: Lock.LockOptions = {
      path: `${file}.lock`,
      location: file,
      timeout: settings.lockTimeout,
      staleAfter: settings.staleLockAfter
    }

    /** The file's stamp, or MISSING; a symbolic link is refused (it could point anywhere). */
    const currentStamp = Effect.suspend((): Effect.Effect<string, TokenCache.CacheUnavailable> => {
      let stat: fs.BigIntStats
      try {
        // Synchronous on purpose: this runs on every read, and a local stat is
        // a few microseconds, far less than a round trip through the thread pool.
        stat = fs.lstatSync(file, { bigint: true })
      } catch (error) {
        return errorCode(error) === "ENOENT"
          ? Effect.succeed(MISSING)
          : Effect.fail(ioError(file, "inspect the cache file", error))
      }
      if (stat.isSymbolicLink()) {
        return Effect.fail(insecure(file, "is a symbolic link; the cache file must be a regular file"))
      }
      return Effect.succeed(stampOf(stat))
    })

    const checkFile = (
      stat: fs.BigIntStats,
      handle: fsp.FileHandle
    ): Effect.Effect<void, TokenCache.CacheUnavailable> =>
      Effect.gen(function*() {
        if (!stat.isFile()) return yield* insecure(file, "is not a regular file")
        if (!posix) return
        if (uid !== undefined && Number(stat.uid) !== uid) {
          return yield* insecure(file, `the file is owned by uid ${stat.uid}, not by this user (uid ${uid})`)
        }
        if ((Number(stat.mode) & 0o077) !== 0) {
          yield* io(file, "restrict the cache file to its owner", () => handle.chmod(FILE_MODE))
          yield* Effect.logWarning(
            `The token cache ${file} was readable by other users (${octal(stat.mode)}): restricted it to ${
              octal(FILE_MODE)
            }`
          )
        }
      })

    /** Read and decode the file (no lock), or reuse the snapshot when the file has not changed. */
    const load: Effect.Effect<Loaded, TokenCache.CacheUnavailable | TokenCache.CacheVersionUnsupported> = Effect.gen(
      function*() {
        const stamp = yield* currentStamp
        if (stamp === snapshot.stamp) return { _tag: "Content", snapshot } as const
        if (stamp === MISSING) {
          snapshot = snapshotOf(MISSING, CacheContent.empty, EMPTY)
          return { _tag: "Content", snapshot } as const
        }
        const read = yield* Effect.acquireUseRelease(
          io(
            file,
            "open the cache file",
            () =>
              fsp.open(file, fs.constants.O_RDONLY | (fs.constants.O_NOFOLLOW ?? 0)).catch((error) => {
                if (errorCode(error) === "ENOENT") return undefined
                throw error
              })
          ),
          (handle) =>
            handle === undefined ? Effect.succeed(undefined) : Effect.gen(function*() {
              const stat = yield* io(file, "inspect the cache file", () => handle.stat({ bigint: true }))
              yield* checkFile(stat, handle)
              const text = yield* io(file, "read the cache file", () => handle.readFile("utf8"))
              // A chmod above changes ctime: stamp what is there now.
              const after = yield* io(file, "inspect the cache file", () => handle.stat({ bigint: true }))
              return { text, stamp: stampOf(after) }
            }),
          (handle) => handle === undefined ? Effect.void : Effect.promise(() => handle.close().catch(() => undefined))
        )
        if (read === undefined) {
          snapshot = snapshotOf(MISSING, CacheContent.empty, EMPTY)
          return { _tag: "Content", snapshot } as const
        }
        const decoded = yield* Effect.either(CacheContent.fromJson(read.text, file))
        if (decoded._tag === "Right") {
          snapshot = snapshotOf(read.stamp, decoded.right, yield* secrets.resolve(decoded.right))
          return { _tag: "Content", snapshot } as const
        }
        // A newer format is refused, never moved aside or overwritten.
        if (decoded.left._tag === "CacheVersionUnsupported") return yield* decoded.left
        return { _tag: "Corrupt", stamp: read.stamp, error: decoded.left } as const
      }
    )

    /**
     * Under the data lock: move a corrupt file aside, unless someone did (or
     * replaced the file) meanwhile; report it once, from the process that moved it.
     */
    const quarantine = (corrupt: Extract<Loaded, { _tag: "Corrupt" }>) =>
      Effect.gen(function*() {
        if ((yield* currentStamp) !== corrupt.stamp) return
        const time = new Date().toISOString().replace(/[:.]/g, "-")
        const movedTo = `${file}.corrupt-${time}-${process.pid}`
        yield* io(file, "move the unreadable cache file aside", () => fsp.rename(file, movedTo))
        // its time is the quarantine's, from which it is kept a week
        yield* Effect.promise(() => fsp.utimes(movedTo, new Date(), new Date()).catch(() => undefined))
        yield* syncDirectory(directory)
        snapshot = snapshotOf(MISSING, CacheContent.empty, EMPTY)
        const warning = new TokenCache.CacheCorrupt({ location: file, reason: corrupt.error.reason, movedTo })
        yield* Effect.logWarning(warning.message).pipe(Effect.annotateLogs({ cache: file, movedTo }))
        yield* settings.onWarning(warning)
      })

    /** Under the data lock: the current snapshot, after moving a corrupt file aside. */
    const loadLocked = Effect.gen(function*() {
      const loaded = yield* load
      if (loaded._tag === "Content") return loaded.snapshot
      yield* quarantine(loaded)
      const again = yield* load
      return again._tag === "Content" ? again.snapshot : snapshotOf(MISSING, CacheContent.empty, EMPTY)
    })

    const modify = <A>(
      f: (content: CacheContent.CacheContent) => readonly [A, CacheContent.CacheContent]
    ): Effect.Effect<A, TokenCache.TokenCacheError> =>
      Lock.withLockChecked(
        dataLock,
        (held) =>
          Effect.gen(function*() {
            const current = yield* loadLocked
            const [result, next] = f(current.content)
            if (next === current.content && !secrets.misplaced(current.stored, current.resolved)) return result
            // Secrets go to the keychain first, the file follows, and items the file no longer names
            // are removed last: a crash in between leaves an unused item, never a reference without one.
            const plan = yield* secrets.persist(current.stored, current.resolved, next)
            if (next === current.content && !plan.changed) return result
            // the lock re-checked right before the rename: a process stalled past staleLockAfter lost it
            yield* writeAtomic(file, CacheContent.toJson(plan.stored), held)
            snapshot = snapshotOf(yield* currentStamp, plan.stored, { content: next, unresolved: plan.unresolved })
            yield* secrets.cleanUp(plan)
            return result
          })
      )

    // Secrets found where this cache's mode does not want them (in the file with a keychain at hand,
    // in the keychain for a file-only cache) are moved on first read: once per cache, when it fails.
    let moved = false
    const read: Effect.Effect<CacheContent.CacheContent, TokenCache.TokenCacheError> = Effect.gen(function*() {
      const loaded = yield* load
      const current = loaded._tag === "Content" ? loaded.snapshot : yield* Lock.withLock(dataLock, loadLocked)
      if (moved || !secrets.misplaced(current.stored, current.resolved)) return current.content
      moved = true
      const migration = modify((content) => [undefined, content] as const)
      if (secrets.mode === "keychain") yield* migration
      else yield* Effect.ignore(migration)
      return snapshot.content
    })

    const withRefreshLock = <A, E, R>(key: string, effect: Effect.Effect<A, E, R>) =>
      Lock.withLock({
        path: `${file}.refresh-${crypto.createHash("sha256").update(key).digest("hex").slice(0, 16)}.lock`,
        location: file,
        timeout: settings.refreshLockTimeout,
        staleAfter: settings.staleLockAfter
      }, effect)

    // A quarantined copy may hold refresh tokens in clear: signing out, of one account or all, takes it too.
    const cache = TokenCache.make({
      location: file,
      read,
      modify,
      withRefreshLock,
      checkWritable: secrets.checkWritable
    })
    return {
      ...cache,
      removeAccount: (authority, accountId) =>
        Effect.tap(
          cache.removeAccount(authority, accountId),
          (removed) => (removed ? removeQuarantined(directory, settings.fileName, 0) : Effect.void)
        ),
      clear: Effect.zipRight(cache.clear, removeQuarantined(directory, settings.fileName, 0))
    }
  })

/**
 * How long a corrupt cache file moved aside is kept for a look (it may hold
 * refresh tokens in clear): a week, or until a sign-out.
 * @internal
 */
export const QUARANTINE_KEPT_MS = 7 * 24 * 3_600_000

/** Remove the corrupt copies (`<file>.corrupt-*`) moved aside at least `olderThanMs` ago. */
const removeQuarantined = (directory: string, fileName: string, olderThanMs: number): Effect.Effect<void> =>
  Effect.promise(async () => {
    const names = await fsp.readdir(directory).catch(() => [] as Array<string>)
    const now = Date.now()
    for (const name of names) {
      if (!name.startsWith(`${fileName}.corrupt-`)) continue
      const full = path.join(directory, name)
      const stat = await fsp.lstat(full).catch(() => undefined)
      if (stat === undefined || !stat.isFile()) continue
      if (now - stat.mtimeMs >= olderThanMs) await fsp.unlink(full).catch(() => undefined)
    }
  })

/**
 * fsync the directory, so that a rename survives a power loss. Not every
 * platform can open a directory (Windows cannot): there, best effort.
 * @internal
 */
export const syncDirectory = (directory: string): Effect.Effect<void> =>
  Effect.promise(async () => {
    let handle: fsp.FileHandle | undefined
    try {
      handle = await fsp.open(directory, "r")
      await handle.sync()
    } catch {
      // EISDIR / EPERM / EINVAL where directories cannot be opened or synced
    } finally {
      await handle?.close().catch(() => undefined)
    }
  })

/**
 * Replace `file` with `text` so that readers and crashes only ever see the
 * old or the new content: write a private temp file (0600), fsync it, rename
 * it over the file, fsync the directory.
 * @internal
 */
export const writeAtomic = (
  file: string,
  text: string,
  /** checked after the temp file is written and before it replaces `file` */
  beforeRename: Effect.Effect<void, TokenCache.CacheUnavailable> = Effect.void
): Effect.Effect<void, TokenCache.CacheUnavailable> =>
  Effect.gen(function*() {
    const temp = `${file}.${process.pid}-${crypto.randomBytes(6).toString("hex")}.tmp`
    const written = io(file, "write the cache file", async () => {
      const handle = await fsp.open(temp, "wx", FILE_MODE)
      try {
        await handle.writeFile(text, "utf8")
        if (posix) await handle.chmod(FILE_MODE) // the umask may have taken more than it should
        await handle.sync()
      } finally {
        await handle.close()
      }
    })
    yield* Effect.zipRight(written, Effect.zipRight(beforeRename, renameRetrying(temp, file))).pipe(
      Effect.tapError(() => Effect.promise(() => fsp.unlink(temp).catch(() => undefined)))
    )
    yield* syncDirectory(path.dirname(file))
  })

// Windows refuses to replace a file another process has open for a moment
// (an antivirus, a concurrent reader): try again briefly.
const renameRetrying = (from: string, to: string): Effect.Effect<void, TokenCache.CacheUnavailable> =>
  Effect.gen(function*() {
    for (let attempt = 0;; attempt++) {
      const result = yield* Effect.either(io(to, "replace the cache file", () => fsp.rename(from, to)))
      if (result._tag === "Right") return
      const code = errorCode(result.left.cause)
      if (posix || attempt >= 5 || (code !== "EPERM" && code !== "EACCES" && code !== "EBUSY")) {
        return yield* result.left
      }
      yield* sleepLive(10 * (attempt + 1))
    }
  })
