import { POLL_INTERVAL_MS_MAX, POLL_INTERVAL_MS_MIN, READ_COUNT_MAX, SUBSCRIBE_BATCH_SIZE_DEFAULT } from './limits.ts';
import type { ReadAllOptions, ReadAllPage, SubscribeOptions, SubscriptionBatch } from './types.ts';
import { validateReadCount } from './validation.ts';

/**
 * Wakes sleeping subscribers early: after an append in this process, or on a database NOTIFY.
 * Subscribers also poll, so a missed wake-up only costs latency, never an event.
 */
export class Waker {
  #sleepers = new Set<() => void>();

  wake(): void {
    const sleepers = [...this.#sleepers];
    this.#sleepers.clear();
    for (const resume of sleepers) resume();
  }

  /** Resolves after `ms`, on `wake()`, or when `signal` aborts, whichever comes first. */
  sleep(ms: number, signal: AbortSignal): Promise<void> {
    if (signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        this.#sleepers.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener('abort', done, { once: true });
      this.#sleepers.add(done);
    });
  }
}

/**
 * Catch-up then live, on top of `readAll`: reads pages until caught up, then polls with exponential
 * back-off (reset by any new event or wake-up). Because `readAll` never returns an event below a
 * position it already passed, the subscription cannot skip or reorder.
 */
export async function* pollingSubscription(
  readAll: (options: ReadAllOptions) => Promise<ReadAllPage>,
  waker: Waker,
  options: SubscribeOptions,
): AsyncGenerator<SubscriptionBatch> {
  const batchSize = validateReadCount(options.batchSize, SUBSCRIBE_BATCH_SIZE_DEFAULT, READ_COUNT_MAX);
  let checkpoint = options.after ?? null;
  const pollMin = options.pollIntervalMs?.min ?? POLL_INTERVAL_MS_MIN;
  const pollMax = options.pollIntervalMs?.max ?? POLL_INTERVAL_MS_MAX;
  let idleMs = pollMin;
  const { signal } = options;
  const idleBatchMs = options.idleBatchIntervalMs ?? 0;
  let yieldedAt = performance.now();
  while (!signal.aborted) {
    const page = await readAll({
      after: checkpoint,
      maxCount: batchSize,
      ...(options.filter === undefined ? {} : { filter: options.filter }),
    });
    if (signal.aborted) return;
    const moved = page.last !== null && (checkpoint === null || page.last > checkpoint);
    if (moved && page.last !== null) {
      checkpoint = page.last;
      idleMs = pollMin;
      yieldedAt = performance.now();
      yield { events: page.events, checkpoint, caughtUp: page.caughtUp };
    } else if (idleBatchMs > 0 && checkpoint !== null && performance.now() - yieldedAt >= idleBatchMs) {
      yieldedAt = performance.now();
      yield { events: [], checkpoint, caughtUp: page.caughtUp };
    }
    if (page.caughtUp) {
      await waker.sleep(idleMs, signal);
      idleMs = Math.min(idleMs * 2, pollMax);
    }
  }
}
