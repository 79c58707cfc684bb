/**
 * "Did you mean": the command, flag or preset a mistyped word most likely
 * stands for. Plain functions (no Effect): the parser's pre-check in `main.ts`
 * and the choice flags in `Flags.ts` both use them.
 * @internal
 */
import * as FlagTable from "./flagTable.js"

/**
 * Optimal string alignment distance: Levenshtein's insertions, deletions and
 * substitutions, plus swapping two neighbours, so that `logni` is one edit
 * from `login`.
 * @internal
 */
export const distance = (a: string, b: string): number => {
  const d: Array<Array<number>> = Array.from({ length: a.length + 1 }, (_, i) => [i])
  for (let j = 1; j <= b.length; j++) d[0]![j] = j
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost)
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, d[i - 2]![j - 2]! + 1)
      d[i]![j] = best
    }
  }
  return d[a.length]![b.length]!
}

/**
 * The candidate `word` was most likely meant to be: the same ignoring case,
 * else the nearest one within two edits (one for words of up to four
 * letters, where two edits reach almost anything).
 * @internal
 */
export const closest = (word: string, candidates: ReadonlyArray<string>): string | undefined => {
  const lower = word.toLowerCase()
  const same = candidates.find((c) => c.toLowerCase() === lower)
  if (same !== undefined) return same
  const limit = lower.length <= 4 ? 1 : 2
  let best: { readonly candidate: string; readonly d: number } | undefined
  for (const candidate of candidates) {
    const d = distance(lower, candidate.toLowerCase())
    if (d <= limit && (best === undefined || d < best.d)) best = { candidate, d }
  }
  return best?.candidate
}

// @effect/cli's own flags, which the table does not list
const BUILT_IN: ReadonlySet<string> = new Set(["--help", "--version", "--wizard", "--completions", "--log-level"])

/**
 * A mistyped command or flag that has a likely meaning, as one line: the
 * first word when it is no command, or a `--flag` the command does not take.
 * Words without a likely meaning are left to @effect/cli's own message.
 * @internal
 */
export const mistake = (args: ReadonlyArray<string>): string | undefined => {
  const end = args.indexOf("--")
  const before = end === -1 ? args : args.slice(0, end)
  const commands: ReadonlyArray<string> = FlagTable.COMMAND_NAMES
  const first = before[0]
  if (first !== undefined && !first.startsWith("-") && !commands.includes(first)) {
    const guess = closest(first, commands)
    return guess === undefined ? undefined : `Unknown command '${first}': did you mean '${guess}'?`
  }
  const command = (before.find((a) => commands.includes(a)) ?? "devflow") as FlagTable.CommandName | "devflow"
  const names = FlagTable.keysOf(command).map((key) => FlagTable.FLAGS[key].name)
  for (let i = 0; i < before.length; i++) {
    const arg = before[i]!
    if (!arg.startsWith("--")) continue
    const name = arg.split("=")[0]!
    const known = FlagTable.byName(name)
    if (known !== undefined) {
      // its value may look like a flag
      if (FlagTable.takesValue(known.spec) && !arg.includes("=")) i++
      continue
    }
    if (BUILT_IN.has(name)) continue
    const guess = closest(name.slice(2), names)
    if (guess !== undefined) return `Unknown flag ${name}: did you mean --${guess}?`
  }
  return undefined
}
