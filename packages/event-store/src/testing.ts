/**
 * @khata/event-store/testing — an event store whose subscriptions can be made to fail, for tests of the code
 * that follows the log: what a dropped connection or a database restart looks like to a subscriber.
 */
import { EventStoreUnavailable } from './errors.ts';
import type { EventStore, Position, SubscribeOptions, SubscriptionBatch } from './types.ts';

export interface InterruptibleEventStore {
  /** Delegates to the wrapped store, except that subscriptions and `headPosition` fail while it is down. */
  readonly store: EventStore;
  /**
   * Ends every open subscription with `error` at once (an idle one too), and fails new subscriptions at their
   * first read and `headPosition` until `recover()`.
   */
  fail(error?: Error): void;
  recover(): void;
  /** `fail` then `recover`: each open subscription throws once; the next one works. */
  interrupt(error?: Error): void;
  /** Subscriptions opened so far (a follower that restarted opened more than one). */
  readonly subscriptions: number;
}

function outage(): Error {
  return new EventStoreUnavailable('connection terminated (test outage)');
}

export function interruptible(inner: EventStore): InterruptibleEventStore {
  let down: Error | null = null;
  let subscriptions = 0;
  // Each open subscription registers how to end it with an error.
  const open = new Set<(error: Error) => void>();

  async function* subscribe(options: SubscribeOptions): AsyncGenerator<SubscriptionBatch> {
    subscriptions += 1;
    if (down !== null) throw down;
    // The inner subscription gets its own signal, so that an interruption stops it even while it sleeps.
    const innerAbort = new AbortController();
    const forward = (): void => innerAbort.abort();
    options.signal.addEventListener('abort', forward, { once: true });
    let interrupt: (error: Error) => void = () => {};
    const interrupted = new Promise<never>((_, reject) => {
      interrupt = reject;
    });
    // Nobody may be waiting on it when it fires; the race below still sees the rejection.
    interrupted.catch(() => {});
    open.add(interrupt);
    const iterator = inner.subscribe({ ...options, signal: innerAbort.signal })[Symbol.asyncIterator]();
    try {
      for (;;) {
        const next = await Promise.race([iterator.next(), interrupted]);
        if (next.done === true) return;
        yield next.value;
      }
    } finally {
      open.delete(interrupt);
      options.signal.removeEventListener('abort', forward);
      innerAbort.abort();
      await iterator.return?.();
    }
  }

  const store: EventStore = {
    kind: inner.kind,
    appendToStream: (stream, events, options) => inner.appendToStream(stream, events, options),
    readStream: (stream, options) => inner.readStream(stream, options),
    readAll: (options) => inner.readAll(options),
    subscribe,
    async headPosition(): Promise<Position | null> {
      if (down !== null) throw down;
      return inner.headPosition();
    },
    close: () => inner.close(),
  };

  return {
    store,
    fail(error = outage()) {
      down = error;
      for (const interrupt of [...open]) interrupt(error);
    },
    recover() {
      down = null;
    },
    interrupt(error = outage()) {
      this.fail(error);
      this.recover();
    },
    get subscriptions() {
      return subscriptions;
    },
  };
}
