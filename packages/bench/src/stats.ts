/** Small, dependency-free statistics for benchmark figures. */

export interface Summary {
  readonly median: number
  readonly min: number
  readonly max: number
  /** how many runs the figure summarises */
  readonly runs: number
}

const sorted = (xs: ReadonlyArray<number>): Array<number> => [...xs].sort((a, b) => a - b)

/** The q-quantile (0 ≤ q ≤ 1) by the nearest-rank method; undefined for no data. */
export const quantile = (xs: ReadonlyArray<number>, q: number): number | undefined => {
  if (xs.length === 0) return undefined
  const s = sorted(xs)
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]
}

export const median = (xs: ReadonlyArray<number>): number | undefined => {
  if (xs.length === 0) return undefined
  const s = sorted(xs)
  const mid = s.length >> 1
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1]! + s[mid]!) / 2
}

/** Median and range of the runs' figures, ignoring runs that produced none. */
export const summarize = (xs: ReadonlyArray<number | undefined>): Summary | undefined => {
  const values = xs.filter((x): x is number => x !== undefined && Number.isFinite(x))
  if (values.length === 0) return undefined
  const s = sorted(values)
  return { median: median(s)!, min: s[0]!, max: s[s.length - 1]!, runs: s.length }
}
