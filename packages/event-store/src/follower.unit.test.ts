import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type FollowerStatus, followLog, followRetryDelayMilliseconds } from './follower.ts';
import { MemoryEventStore } from './memory.ts';
import { interruptible } from './testing.ts';
import type { RecordedEvent, SubscriptionBatch } from './types.ts';

const WAIT_MILLISECONDS = 5_000;
/** Short bounds keep the tests fast; the production bounds are the same code with larger numbers. */
const FAST_RETRY = { min: 2, max: 16 };

async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = performance.now() + WAIT_MILLISECONDS;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

async function appendNumbered(store: MemoryEventStore, stream: string, from: number, count: number): Promise<void> {
  for (let index = from; index < from + count; index++) {
    await store.appendToStream(stream, [{ eventId: crypto.randomUUID(), type: 'Numbered', data: { index } }], {
      expected: 'any',
    });
  }
}

const indexes = (events: readonly RecordedEvent[]): number[] => events.map((event) => event.data.index as number);

describe('followLog', () => {
  it('resumes after the subscription fails, handing over every event once and in order', async () => {
    const memory = new MemoryEventStore();
    const outage = interruptible(memory);
    const handled: RecordedEvent[] = [];
    const statuses: FollowerStatus[] = [];
    const abort = new AbortController();
    const follower = followLog({
      name: 'test',
      store: outage.store,
      after: null,
      signal: abort.signal,
      batchSize: 3,
      retryDelayMilliseconds: FAST_RETRY,
      handle: (batch) => {
        handled.push(...batch.events);
      },
      onStatus: (status) => statuses.push(status),
    });
    await appendNumbered(memory, 'numbers-1', 0, 5);
    await until(() => handled.length === 5, 'the first events');

    outage.fail();
    // Written while the follower cannot read: it must pick them up after the outage.
    await appendNumbered(memory, 'numbers-1', 5, 5);
    await until(() => follower.status.state === 'retrying', 'the failure to be noticed');
    outage.recover();
    await appendNumbered(memory, 'numbers-1', 10, 5);
    await until(() => handled.length >= 15, 'the events after the outage');

    expect(indexes(handled)).toEqual(Array.from({ length: 15 }, (_, index) => index));
    expect(follower.status).toMatchObject({ state: 'following', restarts: 1, failingSinceMilliseconds: null });
    expect(follower.status.position).toBe(handled.at(-1)?.position);
    expect(statuses.some((status) => status.state === 'retrying' && status.lastError?.includes('test outage'))).toBe(
      true,
    );
    abort.abort();
    await follower.done;
    expect(follower.status.state).toBe('stopped');
  });

  it('keeps retrying with growing, bounded delays while the store stays down, and reports how long it has failed', async () => {
    const memory = new MemoryEventStore();
    const outage = interruptible(memory);
    let now = 1_000_000;
    const abort = new AbortController();
    const failures: FollowerStatus[] = [];
    const follower = followLog({
      name: 'test',
      store: outage.store,
      after: null,
      signal: abort.signal,
      retryDelayMilliseconds: FAST_RETRY,
      // The largest jitter: each delay is its ceiling, so the sequence is exact.
      random: () => 0.999_999,
      now: () => now,
      handle: () => {},
      onStatus: (status, error) => {
        if (error !== null) failures.push(status);
      },
    });
    outage.fail();
    await until(() => failures.length >= 6, 'six failed attempts');
    expect(failures.slice(0, 6).map((status) => status.retryDelayMilliseconds)).toEqual([2, 4, 8, 16, 16, 16]);
    expect(failures.slice(0, 6).map((status) => status.consecutiveFailures)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(follower.status.failingSinceMilliseconds).toBe(1_000_000);
    now += 45_000;
    expect(follower.failingForMilliseconds()).toBe(45_000);

    outage.recover();
    await appendNumbered(memory, 'numbers-1', 0, 1);
    await until(() => follower.status.failingSinceMilliseconds === null, 'the recovery');
    expect(follower.failingForMilliseconds()).toBe(0);
    expect(follower.status).toMatchObject({
      state: 'following',
      consecutiveFailures: 0,
      lastError: expect.any(String),
    });
    abort.abort();
    await follower.done;
  });

  it('counts a restarted subscription that stays quiet as recovered, so an idle follower is not reported failing', async () => {
    const memory = new MemoryEventStore();
    const outage = interruptible(memory);
    let now = 0;
    const abort = new AbortController();
    const follower = followLog({
      name: 'idle',
      store: outage.store,
      after: null,
      signal: abort.signal,
      retryDelayMilliseconds: FAST_RETRY,
      now: () => now,
      handle: () => {},
    });
    outage.interrupt();
    await until(() => follower.status.restarts === 1, 'the restart');
    now += 5_000;
    // Restarted but not proven yet: the episode still counts.
    expect(follower.failingForMilliseconds()).toBe(5_000);
    now += 60_000;
    // No event has come since the restart, yet the subscription has run quietly for a minute.
    expect(follower.failingForMilliseconds()).toBe(0);
    expect(follower.status.failingSinceMilliseconds).toBeNull();
    abort.abort();
    await follower.done;
  });

  it('brings a batch again when its handler failed, and goes on after it', async () => {
    const memory = new MemoryEventStore();
    await appendNumbered(memory, 'numbers-1', 0, 4);
    const abort = new AbortController();
    const seen: number[][] = [];
    let failuresLeft = 1;
    const follower = followLog({
      name: 'handler',
      store: memory,
      after: null,
      batchSize: 2,
      signal: abort.signal,
      retryDelayMilliseconds: FAST_RETRY,
      handle: (batch: SubscriptionBatch) => {
        seen.push(indexes(batch.events));
        if (batch.events.some((event) => event.data.index === 2) && failuresLeft-- > 0) {
          throw new Error('handler failed');
        }
      },
    });
    await until(() => seen.flat().includes(3) && follower.status.failingSinceMilliseconds === null, 'every batch');
    expect(seen).toEqual([
      [0, 1],
      [2, 3],
      [2, 3],
    ]);
    expect(follower.status.restarts).toBe(1);
    abort.abort();
    await follower.done;
  });

  it('stops at once when aborted during a back-off, without another attempt', async () => {
    const memory = new MemoryEventStore();
    const outage = interruptible(memory);
    outage.fail();
    const abort = new AbortController();
    const follower = followLog({
      name: 'stopping',
      store: outage.store,
      after: null,
      signal: abort.signal,
      retryDelayMilliseconds: { min: 60_000, max: 60_000 },
      handle: () => {},
    });
    await until(() => follower.status.state === 'retrying', 'the first failure');
    const started = performance.now();
    abort.abort();
    await follower.done;
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(follower.status.state).toBe('stopped');
    expect(outage.subscriptions).toBe(1);
  });

  it('refuses retry bounds that would spin or make no sense', () => {
    const signal = new AbortController().signal;
    const base = { name: 'x', store: new MemoryEventStore(), after: null, signal, handle: () => {} };
    expect(() => followLog({ ...base, retryDelayMilliseconds: { min: 0, max: 10 } })).toThrow(RangeError);
    expect(() => followLog({ ...base, retryDelayMilliseconds: { min: 10, max: 5 } })).toThrow(RangeError);
  });
});

describe('followRetryDelayMilliseconds', () => {
  it('stays between half and all of an exponential ceiling that never passes the maximum', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 10_000 }),
        fc.integer({ min: 1, max: 1_000 }),
        fc.integer({ min: 0, max: 1_000_000 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (failures, min, extra, random) => {
          const bounds = { min, max: min + extra };
          const ceiling = Math.min(bounds.max, min * 2 ** Math.min(failures - 1, 30));
          const delay = followRetryDelayMilliseconds(failures, bounds, () => random);
          expect(delay).toBeGreaterThanOrEqual(Math.floor(ceiling / 2));
          expect(delay).toBeLessThanOrEqual(ceiling);
          expect(delay).toBeLessThanOrEqual(bounds.max);
        },
      ),
    );
  });
});
