import { READ_COUNT_MAX } from './limits.ts';
import type { EventFilter, EventStore, Position, SubscriptionBatch } from './types.ts';

/**
 * Following the global log for as long as a process runs. A subscription ends at its first read error (a
 * PostgreSQL restart, a dropped connection); a follower starts another one from the last batch it handled, so
 * an outage costs latency, never an event, and never delivers a handled batch twice.
 */

/** First wait after a failure; each further failure in a row doubles it. */
export const FOLLOW_RETRY_DELAY_MILLISECONDS_MIN = 100;
/** Longest wait between attempts: how late a follower can be to notice that the store is back. */
export const FOLLOW_RETRY_DELAY_MILLISECONDS_MAX = 10_000;
/**
 * A restarted subscription that runs this long without failing ends the failure episode even when no event
 * arrived meanwhile (an idle, caught-up subscription yields nothing to prove it works).
 */
export const FOLLOW_STABLE_MILLISECONDS = 10_000;
/** Longest error message kept in a follower's status (driver messages can embed whole queries). */
const ERROR_MESSAGE_LENGTH_MAX = 500;

export type FollowerState = 'following' | 'retrying' | 'stopped';

export interface FollowerStatus {
  readonly name: string;
  readonly state: FollowerState;
  /** The checkpoint of the last batch handled: where the next subscription starts. */
  readonly position: Position | null;
  /** When the current run of failures began (`now()` of the follower); null when it is not failing. */
  readonly failingSinceMilliseconds: number | null;
  /** Failures in the current run (0 when not failing); the next delay grows with it. */
  readonly consecutiveFailures: number;
  readonly lastError: string | null;
  /** Subscriptions started again after a failure, since the follower started. */
  readonly restarts: number;
  /** The wait before the next attempt while retrying; null otherwise. */
  readonly retryDelayMilliseconds: number | null;
}

export interface FollowLogOptions {
  /** Names the follower in logs, metrics and `/ready`, e.g. `esl-top-ups`. */
  readonly name: string;
  /** `headPosition` answers whether the store is back before a new subscription is started. */
  readonly store: Pick<EventStore, 'subscribe' | 'headPosition'>;
  /** Exclusive: the follower handles events after this position. */
  readonly after: Position | null;
  readonly filter?: EventFilter;
  readonly batchSize?: number;
  readonly pollIntervalMs?: { readonly min: number; readonly max: number };
  /** See SubscribeOptions.latencyCritical. */
  readonly latencyCritical?: boolean;
  /** Stops the follower: the subscription, a wait between attempts, and the probe. */
  readonly signal: AbortSignal;
  /**
   * Handles one batch; the next batch is read only after it resolves. When it throws, the follower treats it
   * like a read error: the same batch comes again after the back-off, so a handler that can fail half way must
   * tolerate seeing the events it already handled (or catch its own errors).
   */
  readonly handle: (batch: SubscriptionBatch) => void | Promise<void>;
  /** Every change of state, with the error that caused it (null when it is not a failure). */
  readonly onStatus?: (status: FollowerStatus, error: unknown) => void;
  readonly retryDelayMilliseconds?: { readonly min: number; readonly max: number };
  /** For tests: the jitter's source (0 ≤ x < 1) and the clock of `failingSinceMilliseconds`. */
  readonly random?: () => number;
  readonly now?: () => number;
}

/**
 * The wait before attempt `failures + 1`: exponential from `min`, capped at `max`, with "equal jitter" (half
 * fixed, half random) so that the followers of many processes do not retry in step, yet never spin.
 */
export function followRetryDelayMilliseconds(
  failures: number,
  bounds: { readonly min: number; readonly max: number },
  random: () => number,
): number {
  // 2^30 already exceeds any sensible maximum; the cap keeps the power finite for long outages.
  const exponent = Math.min(Math.max(failures - 1, 0), 30);
  const ceiling = Math.min(bounds.max, bounds.min * 2 ** exponent);
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/** A running follower: its status for health checks, and `done` for shutdown. */
export class LogFollower {
  readonly name: string;
  /** Resolves once the signal has aborted and the batch in hand (if any) is handled; never rejects. */
  readonly done: Promise<void>;
  readonly #options: FollowLogOptions;
  readonly #now: () => number;
  readonly #random: () => number;
  readonly #delays: { readonly min: number; readonly max: number };
  #state: FollowerState = 'following';
  #position: Position | null;
  #failingSince: number | null = null;
  #failures = 0;
  #lastError: string | null = null;
  #restarts = 0;
  #retryDelay: number | null = null;
  #subscribedAt = 0;

  constructor(options: FollowLogOptions) {
    const delays = options.retryDelayMilliseconds ?? {
      min: FOLLOW_RETRY_DELAY_MILLISECONDS_MIN,
      max: FOLLOW_RETRY_DELAY_MILLISECONDS_MAX,
    };
    if (!(Number.isFinite(delays.min) && delays.min > 0 && delays.max >= delays.min)) {
      throw new RangeError('retryDelayMilliseconds needs 0 < min ≤ max');
    }
    if (options.batchSize !== undefined && !(options.batchSize >= 1 && options.batchSize <= READ_COUNT_MAX)) {
      throw new RangeError(`batchSize must be 1..${READ_COUNT_MAX}`);
    }
    this.name = options.name;
    this.#options = options;
    this.#delays = delays;
    this.#now = options.now ?? Date.now;
    this.#random = options.random ?? Math.random;
    this.#position = options.after;
    this.done = this.#run();
  }

  get status(): FollowerStatus {
    return {
      name: this.name,
      state: this.#state,
      position: this.#position,
      failingSinceMilliseconds: this.#failingSince,
      consecutiveFailures: this.#failures,
      lastError: this.#lastError,
      restarts: this.#restarts,
      retryDelayMilliseconds: this.#retryDelay,
    };
  }

  /** How long the follower has been failing at `now` (0 when it is not). */
  failingForMilliseconds(now: number = this.#now()): number {
    this.#settleIfStable(now);
    return this.#failingSince === null ? 0 : Math.max(0, now - this.#failingSince);
  }

  async #run(): Promise<void> {
    const { signal } = this.#options;
    while (!signal.aborted) {
      try {
        this.#subscribedAt = this.#now();
        await this.#follow(signal);
        // A subscription only ends without an error when the signal aborted.
      } catch (error) {
        if (signal.aborted) break;
        await this.#recover(error, signal);
      }
    }
    this.#state = 'stopped';
    this.#retryDelay = null;
    this.#report(null);
  }

  async #follow(signal: AbortSignal): Promise<void> {
    const { store, filter, batchSize, pollIntervalMs, latencyCritical, handle } = this.#options;
    for await (const batch of store.subscribe({
      after: this.#position,
      signal,
      ...(filter === undefined ? {} : { filter }),
      ...(batchSize === undefined ? {} : { batchSize }),
      ...(pollIntervalMs === undefined ? {} : { pollIntervalMs }),
      ...(latencyCritical === true ? { latencyCritical } : {}),
    })) {
      await handle(batch);
      // Only a handled batch moves the position: a failure before this line brings the batch again.
      this.#position = batch.checkpoint;
      if (this.#failingSince !== null) this.#endEpisode();
    }
  }

  /** Waits with back-off until the store answers again, then returns so that `#run` subscribes again. */
  async #recover(firstError: unknown, signal: AbortSignal): Promise<void> {
    this.#settleIfStable(this.#now());
    let error = firstError;
    for (;;) {
      this.#failures += 1;
      this.#failingSince ??= this.#now();
      this.#lastError = describe(error);
      this.#retryDelay = followRetryDelayMilliseconds(this.#failures, this.#delays, this.#random);
      this.#state = 'retrying';
      this.#report(error);
      await sleep(this.#retryDelay, signal);
      if (signal.aborted) return;
      try {
        await this.#options.store.headPosition();
        break;
      } catch (probeError) {
        if (signal.aborted) return;
        error = probeError;
      }
    }
    this.#restarts += 1;
    this.#retryDelay = null;
    this.#state = 'following';
    this.#report(null);
  }

  /** A restarted subscription that has run quietly for FOLLOW_STABLE_MILLISECONDS counts as recovered. */
  #settleIfStable(now: number): void {
    if (
      this.#failingSince !== null &&
      this.#state === 'following' &&
      now - this.#subscribedAt >= FOLLOW_STABLE_MILLISECONDS
    ) {
      this.#endEpisode();
    }
  }

  #endEpisode(): void {
    this.#failingSince = null;
    this.#failures = 0;
    this.#report(null);
  }

  #report(error: unknown): void {
    try {
      this.#options.onStatus?.(this.status, error);
    } catch {
      // A broken observer must not stop the follower it observes.
    }
  }
}

/** Starts following the log; see `LogFollower`. */
export function followLog(options: FollowLogOptions): LogFollower {
  return new LogFollower(options);
}

function describe(error: unknown): string {
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return text.length > ERROR_MESSAGE_LENGTH_MAX ? `${text.slice(0, ERROR_MESSAGE_LENGTH_MAX)}…` : text;
}

function sleep(milliseconds: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, milliseconds);
    signal.addEventListener('abort', done, { once: true });
  });
}
