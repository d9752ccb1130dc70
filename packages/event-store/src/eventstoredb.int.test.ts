/**
 * The EventStoreDB adapter against a real server: EVENTSTORE_URL when set, otherwise a throwaway
 * container when a Docker engine answers. Without either the suite is reported as skipped with the reason
 * in its title — on purpose even under KHATA_REQUIRE_SERVICES=1, because EventStoreDB is an optional
 * production backend that CI machines do not run.
 *
 * EventStoreDB cannot be truncated, so each contract test gets a view of the server scoped to a stream
 * prefix of its own (see ScopedStore): a fresh store that still runs every call through the real adapter.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { request } from 'node:http';
import { connect, createServer } from 'node:net';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ContractTarget, event, eventStoreContract } from './contract.ts';
import { DuplicateEventId, EventStoreUnavailable, WrongExpectedVersion } from './errors.ts';
import { EventStoreDbEventStore, isSystemEvent } from './eventstoredb.ts';
import { openEventStore } from './factory.ts';
import { READ_COUNT_MAX } from './limits.ts';
import type {
  AppendResult,
  EventFilter,
  EventStore,
  ExpectedVersion,
  NewEvent,
  Position,
  ReadAllOptions,
  ReadAllPage,
  ReadStreamOptions,
  RecordedEvent,
  StreamSlice,
  SubscribeOptions,
  SubscriptionBatch,
} from './types.ts';
import { validateStreamName } from './validation.ts';

/** The image Emmett's test containers use; EVENTSTORE_IMAGE overrides it (e.g. a KurrentDB image). */
const EVENTSTORE_IMAGE = process.env.EVENTSTORE_IMAGE ?? 'eventstore/eventstore:24.10.0-bookworm-slim';
const DOCKER_PING_TIMEOUT_MS = 2_000;
/** Pulling the image on a cold machine dominates. */
const CONTAINER_START_MS_MAX = 240_000;
const READY_ATTEMPTS_MAX = 60;
const READY_PAUSE_MS = 500;
/** Pages of READ_COUNT_MAX events a scoped view reads at most to find its newest event. */
const SCOPE_HEAD_PAGES_MAX = 100;

/**
 * A store as if it held only the streams of one test: stream names get a unique prefix on the way in
 * and lose it on the way out, reads are filtered to the prefix, and the log starts after `floor` (the
 * server's head when the view was made), which the view reports as `null`, its empty log. Everything
 * else is the real adapter; only what other tests left on the same server is hidden.
 */
class ScopedStore implements EventStore {
  readonly kind = 'eventstoredb';
  readonly inner: EventStoreDbEventStore;
  readonly #scope: string;
  readonly #floor: Position | null;

  constructor(inner: EventStoreDbEventStore, scope: string, floor: Position | null) {
    this.inner = inner;
    this.#scope = scope;
    this.#floor = floor;
  }

  /** The same scope through another connection, as after a restart. */
  reopen(inner: EventStoreDbEventStore): ScopedStore {
    return new ScopedStore(inner, this.#scope, this.#floor);
  }

  async appendToStream(
    stream: string,
    events: readonly NewEvent[],
    options: { readonly expected: ExpectedVersion },
  ): Promise<AppendResult> {
    const scoped = this.#scoped(stream);
    try {
      return await this.inner.appendToStream(scoped, events, options);
    } catch (error) {
      if (error instanceof WrongExpectedVersion) throw new WrongExpectedVersion(stream, error.expected, error.actual);
      if (error instanceof DuplicateEventId) {
        const reason = error.message.slice(error.message.indexOf(' is already stored ') + ' is already stored '.length);
        throw new DuplicateEventId(stream, error.eventId, reason);
      }
      throw error;
    }
  }

  async readStream(stream: string, options?: ReadStreamOptions): Promise<StreamSlice> {
    const slice = await this.inner.readStream(this.#scoped(stream), options);
    return { version: slice.version, events: slice.events.map((e) => this.#unscoped(e)) };
  }

  async readAll(options: ReadAllOptions): Promise<ReadAllPage> {
    const page = await this.inner.readAll({
      after: options.after ?? this.#floor,
      maxCount: options.maxCount,
      filter: this.#filter(options.filter),
    });
    const last = page.last === null || (this.#floor !== null && page.last <= this.#floor) ? null : page.last;
    return { events: page.events.map((e) => this.#unscoped(e)), last, caughtUp: page.caughtUp };
  }

  async *subscribe(options: SubscribeOptions): AsyncGenerator<SubscriptionBatch> {
    const batches = this.inner.subscribe({
      ...options,
      after: options.after ?? this.#floor,
      filter: this.#filter(options.filter),
    });
    for await (const batch of batches) yield { ...batch, events: batch.events.map((e) => this.#unscoped(e)) };
  }

  async headPosition(): Promise<Position | null> {
    let after = this.#floor;
    let newest: Position | null = null;
    for (let page = 0; page < SCOPE_HEAD_PAGES_MAX; page += 1) {
      const result = await this.inner.readAll({ after, maxCount: READ_COUNT_MAX, filter: this.#filter(undefined) });
      newest = result.events.at(-1)?.position ?? newest;
      if (result.caughtUp) return newest;
      after = result.last;
    }
    throw new Error(`no end of scope ${this.#scope} within ${SCOPE_HEAD_PAGES_MAX} pages`);
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  #scoped(stream: string): string {
    // Validate the name the caller gave: a prefix would make an empty or `$` name look valid.
    return this.#scope + validateStreamName(stream);
  }

  #unscoped(event: RecordedEvent): RecordedEvent {
    return { ...event, streamId: event.streamId.slice(this.#scope.length) };
  }

  #filter(filter: EventFilter | undefined): EventFilter {
    const prefixes = (filter?.streamPrefixes ?? ['']).map((prefix) => this.#scope + prefix);
    return filter?.eventTypes === undefined
      ? { streamPrefixes: prefixes }
      : { streamPrefixes: prefixes, eventTypes: filter.eventTypes };
  }
}

/** Answers quickly whether a Docker engine is there: a `/_ping` on its socket, or a TCP connect for tcp://. */
async function dockerEngineAnswers(): Promise<boolean> {
  const host = process.env.DOCKER_HOST ?? '';
  if (host.startsWith('tcp://')) {
    const { hostname, port } = new URL(host.replace(/^tcp:/, 'http:'));
    return new Promise((resolve) => {
      const socket = connect({ host: hostname, port: Number(port || 2375), timeout: DOCKER_PING_TIMEOUT_MS });
      socket.once('connect', () => resolve(true)).once('error', () => resolve(false));
      socket.once('timeout', () => resolve(false));
      socket.once('close', () => resolve(false));
      socket.once('connect', () => socket.destroy());
    });
  }
  const candidates = host.startsWith('unix://')
    ? [host.slice('unix://'.length)]
    : ['/var/run/docker.sock', join(homedir(), '.docker', 'run', 'docker.sock')];
  const socketPath = candidates.find((path) => existsSync(path));
  if (socketPath === undefined) return false;
  return new Promise((resolve) => {
    const ping = request({ socketPath, path: '/_ping', timeout: DOCKER_PING_TIMEOUT_MS }, (response) => {
      response.resume();
      resolve(response.statusCode === 200);
    });
    ping.once('timeout', () => ping.destroy());
    ping.once('error', () => resolve(false));
    ping.end();
  });
}

type Server =
  | { readonly kind: 'url'; readonly url: string }
  | { readonly kind: 'docker' }
  | { readonly kind: 'none'; readonly reason: string };

async function findServer(): Promise<Server> {
  const url = process.env.EVENTSTORE_URL;
  if (url !== undefined && url !== '') return { kind: 'url', url };
  if (await dockerEngineAnswers()) return { kind: 'docker' };
  return { kind: 'none', reason: 'EVENTSTORE_URL is not set and no Docker engine is available' };
}

async function startContainer(): Promise<{ url: string; stop: () => Promise<void> }> {
  const { GenericContainer, Wait } = await import('testcontainers');
  const container = await new GenericContainer(EVENTSTORE_IMAGE)
    .withEnvironment({
      EVENTSTORE_INSECURE: 'true',
      EVENTSTORE_MEM_DB: 'true',
      EVENTSTORE_RUN_PROJECTIONS: 'All',
      // Standard projections write link events after every append: the adapter must keep them out.
      EVENTSTORE_START_STANDARD_PROJECTIONS: 'true',
    })
    .withExposedPorts(2113)
    // The server's liveness endpoint (plain HTTP in insecure mode) answers 204 once it runs.
    .withWaitStrategy(Wait.forHttp('/health/live', 2113).forStatusCodeMatching((code) => code >= 200 && code < 300))
    .withStartupTimeout(CONTAINER_START_MS_MAX)
    .start();
  return {
    url: `esdb://${container.getHost()}:${container.getMappedPort(2113)}?tls=false`,
    stop: async () => {
      await container.stop();
    },
  };
}

/** Waits until the server takes writes: a node reports healthy a little before it has elected itself leader. */
async function untilWritable(url: string): Promise<void> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      const store = await EventStoreDbEventStore.connect(url);
      try {
        await store.appendToStream(`ready-${randomUUID()}`, [event('Ready')], { expected: 'no_stream' });
        return;
      } finally {
        await store.close();
      }
    } catch (error) {
      if (attempt >= READY_ATTEMPTS_MAX) throw error;
      await new Promise((resolve) => setTimeout(resolve, READY_PAUSE_MS));
    }
  }
}

async function unusedLocalPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

describe('eventstoredb adapter: without a server', () => {
  it('reports a server that cannot be reached as EventStoreUnavailable, directly and through openEventStore', async () => {
    const url = `esdb://127.0.0.1:${await unusedLocalPort()}?tls=false`;
    const direct = EventStoreDbEventStore.connect(url);
    await expect(direct).rejects.toBeInstanceOf(EventStoreUnavailable);
    await expect(direct).rejects.toMatchObject({ code: 'EVENT_STORE_UNAVAILABLE', retryable: true });
    await expect(openEventStore({ kind: 'eventstoredb', connectionString: url })).rejects.toBeInstanceOf(
      EventStoreUnavailable,
    );
  });
});

const server = await findServer();

function serverSuite(url: () => string): void {
  const open = async (): Promise<EventStoreDbEventStore> => EventStoreDbEventStore.connect(url());
  const target: ContractTarget = {
    capabilities: { crossStreamDuplicateIds: false },
    async fresh() {
      const inner = await open();
      return new ScopedStore(inner, `t${randomBytes(6).toString('hex')}.`, await inner.headPosition());
    },
    async reopen(store) {
      if (!(store instanceof ScopedStore)) throw new Error('reopen expects a store made by fresh()');
      return store.reopen(await open());
    },
  };
  eventStoreContract('eventstoredb', target);

  describe('eventstoredb: what only this adapter does', () => {
    const stores: EventStoreDbEventStore[] = [];
    const store = async (): Promise<EventStoreDbEventStore> => {
      const opened = await open();
      stores.push(opened);
      return opened;
    };
    afterAll(async () => {
      for (const opened of stores.splice(0)) await opened.close();
    });

    it('keeps EventStoreDB system events out of readAll and headPosition', async () => {
      const es = await store();
      const stream = `account-${randomUUID()}`;
      const appended = await es.appendToStream(stream, [event('Opened'), event('Credited')], { expected: 'no_stream' });
      // Standard projections link the new events into $ce-/$et- streams after the append; give them time.
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      expect(await es.headPosition()).toBe(appended.position);
      let after: Position | null = null;
      let caughtUp = false;
      for (let page = 0; page < 50 && !caughtUp; page += 1) {
        const result: ReadAllPage = await es.readAll({ after, maxCount: 1_000 });
        expect(result.events.filter((e) => isSystemEvent(e))).toEqual([]);
        after = result.last;
        caughtUp = result.caughtUp;
      }
      expect(caughtUp).toBe(true);
      expect(after).toBe(appended.position);
    });

    it("resolves a retry whose expected version lies beyond the duplicate window through the server's check", async () => {
      const es = await store();
      const stream = `account-${randomUUID()}`;
      const first = event('Opened', { a: 1 });
      const original = await es.appendToStream(stream, [first], { expected: 'no_stream' });
      const later = Array.from({ length: 150 }, (_, i) => event('Later', { i }));
      await es.appendToStream(stream, later, { expected: 1n });
      await expect(es.appendToStream(stream, [first], { expected: 'no_stream' })).resolves.toEqual(original);
      await expect(
        es.appendToStream(stream, [{ ...first, data: { a: 2 } }], { expected: 'no_stream' }),
      ).rejects.toBeInstanceOf(DuplicateEventId);
      await expect(es.appendToStream(stream, [event()], { expected: 'no_stream' })).rejects.toMatchObject({
        code: 'WRONG_EXPECTED_VERSION',
        actual: 151n,
      });
      expect((await es.readStream(stream, { maxCount: 1 })).version).toBe(151n);
    });

    it("reports a stream's current version even when maxCount stops the read short of it", async () => {
      const es = await store();
      const stream = `account-${randomUUID()}`;
      await es.appendToStream(
        stream,
        Array.from({ length: 5 }, () => event()),
        { expected: 'no_stream' },
      );
      expect(await es.readStream(stream, { maxCount: 2 })).toMatchObject({ version: 5n });
      const before = await es.readStream(stream, { direction: 'backwards', fromVersion: 9n, maxCount: 2 });
      expect(before.version).toBe(5n);
      expect(before.events.map((e) => e.version)).toEqual([5n, 4n]);
    });
  });
}

if (server.kind === 'none') {
  describe.skip(`eventstoredb adapter (skipped: ${server.reason})`, () => {
    serverSuite(() => {
      throw new Error(server.reason);
    });
  });
} else {
  describe('eventstoredb adapter', () => {
    let url = server.kind === 'url' ? server.url : '';
    let stop: (() => Promise<void>) | undefined;
    beforeAll(
      async () => {
        if (server.kind === 'docker') {
          const started = await startContainer();
          url = started.url;
          stop = started.stop;
        }
        await untilWritable(url);
      },
      CONTAINER_START_MS_MAX + READY_ATTEMPTS_MAX * READY_PAUSE_MS,
    );
    afterAll(async () => {
      await stop?.();
    });
    serverSuite(() => url);
  });
}
