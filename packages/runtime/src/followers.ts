import { type FollowerStatus, type FollowLogOptions, followLog, type LogFollower } from '@khata/event-store';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { KhataLog } from './khata.ts';

/**
 * A follower failing for longer than this makes `/ready` answer 503 naming it: by then what it serves (tariffs,
 * call extensions, live updates) may be stale, and a database blip that short has usually passed.
 */
export const FOLLOWER_FAILING_SECONDS_MAX = 30;
const MILLISECONDS_PER_SECOND = 1_000;

export interface LogFollowersOptions {
  /** Where the follower metrics are registered; none when absent. */
  readonly metrics?: Registry;
  readonly log?: KhataLog;
  /** The clock of failure durations (tests move it). */
  readonly now?: () => number;
}

/**
 * The log followers of one process (`followLog` with logging, metrics and a place where `/ready` finds them):
 * `khata_log_follower_restarts_total` counts subscriptions started again after an error, and
 * `khata_log_follower_failing_seconds` is how long each follower has been failing (0 while it follows).
 */
export class LogFollowers {
  readonly #followers = new Map<string, LogFollower>();
  readonly #log: KhataLog | undefined;
  readonly #now: () => number;
  readonly #restarts: Counter | null;

  constructor(options: LogFollowersOptions) {
    this.#log = options.log;
    this.#now = options.now ?? Date.now;
    const registry = options.metrics;
    this.#restarts =
      registry === undefined
        ? null
        : new Counter({
            name: 'khata_log_follower_restarts_total',
            help: 'Subscriptions to the event log started again after a read or handler error, by follower',
            labelNames: ['follower'],
            registers: [registry],
          });
    if (registry === undefined) return;
    const followers = this.#followers;
    const now = this.#now;
    new Gauge({
      name: 'khata_log_follower_failing_seconds',
      help: 'How long a log follower has been failing to read the event log; 0 while it follows',
      labelNames: ['follower'],
      registers: [registry],
      collect() {
        this.reset();
        const at = now();
        for (const [name, follower] of followers) {
          this.set({ follower: name }, follower.failingForMilliseconds(at) / MILLISECONDS_PER_SECOND);
        }
      },
    });
  }

  /**
   * Starts a follower (see `followLog`) that logs its failures and recoveries and is counted in the metrics
   * and `/ready` until its signal aborts. Names are unique per process: a second follower of the same name
   * replaces the first in the report.
   */
  follow(options: Omit<FollowLogOptions, 'now'>): LogFollower {
    this.#restarts?.inc({ follower: options.name }, 0);
    let restarts = 0;
    const follower = followLog({
      ...options,
      now: this.#now,
      onStatus: (status, error) => {
        if (error !== null) {
          this.#log?.warn('log follower failed; retrying', {
            follower: status.name,
            error: status.lastError,
            consecutiveFailures: status.consecutiveFailures,
            retryDelayMilliseconds: status.retryDelayMilliseconds,
          });
        } else if (status.restarts > restarts) {
          restarts = status.restarts;
          this.#restarts?.inc({ follower: status.name });
          this.#log?.info('log follower resumed', { follower: status.name, position: status.position });
        }
        options.onStatus?.(status, error);
      },
    });
    this.#followers.set(options.name, follower);
    void follower.done.then(() => {
      if (this.#followers.get(options.name) === follower) this.#followers.delete(options.name);
    });
    return follower;
  }

  statuses(): readonly FollowerStatus[] {
    return [...this.#followers.values()].map((follower) => follower.status);
  }

  /** Followers failing for longer than `failingSecondsMax`, with how long: what `/ready` reports. */
  failing(
    failingSecondsMax: number = FOLLOWER_FAILING_SECONDS_MAX,
  ): readonly { readonly status: FollowerStatus; readonly failingSeconds: number }[] {
    const at = this.#now();
    const failing: { status: FollowerStatus; failingSeconds: number }[] = [];
    for (const follower of this.#followers.values()) {
      const failingSeconds = follower.failingForMilliseconds(at) / MILLISECONDS_PER_SECOND;
      if (failingSeconds > failingSecondsMax) failing.push({ status: follower.status, failingSeconds });
    }
    return failing;
  }
}
