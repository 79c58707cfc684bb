/**
 * RFC 8628 §3.5 poll pacing for the device_code grant.
 *
 * oidc-provider 9.x defines `errors.SlowDown` but never raises it, and its
 * device authorization response carries no `interval`. This server adds both:
 * the advertised `interval` and this pacer, which answers `slow_down` when the
 * same device code is polled again sooner than its current interval. As the
 * RFC requires of clients, every `slow_down` raises that device code's interval
 * by 5 seconds for all later polls. Every poll (paced or not) restarts the clock.
 */

/** Tolerance for timer and network jitter between two polls. */
const SLACK_MS = 50

/** Poll state is forgotten after this much silence (bounds memory in long runs). */
const FORGET_AFTER_MS = 60 * 60 * 1000

export interface PollVerdict {
  readonly ok: boolean
  /** the interval (seconds) the client must now respect */
  readonly interval: number
}

export class PollPacer {
  readonly #state = new Map<string, { last: number; interval: number }>()

  constructor(private readonly intervalSeconds: number) {}

  poll(deviceCodeId: string, now: number = Date.now()): PollVerdict {
    this.#forgetIdle(now)
    const state = this.#state.get(deviceCodeId)
    if (!state) {
      this.#state.set(deviceCodeId, { last: now, interval: this.intervalSeconds })
      return { ok: true, interval: this.intervalSeconds }
    }
    const tooSoon = now - state.last < state.interval * 1000 - SLACK_MS
    state.last = now
    if (tooSoon) state.interval += 5
    return { ok: !tooSoon, interval: state.interval }
  }

  #forgetIdle(now: number): void {
    if (this.#state.size < 1_000) return
    for (const [id, { last }] of this.#state) if (now - last > FORGET_AFTER_MS) this.#state.delete(id)
  }
}
