/**
 * The projector runtime's guarantees as a test suite, run on PGlite and on PostgreSQL: exactly-once
 * application across crashes, shard takeover, poison events, and blue/green rebuilds.
 */
import { randomUUID } from 'node:crypto';
import type { EventStore, NewEvent, RecordedEvent } from '@khata/event-store';
import type { SqlClient } from '@khata/sql';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { ProjectorMetrics } from './metrics.ts';
import { type Projection, shardOf } from './projection.ts';
import { Projector, type ProjectorOptions } from './runtime.ts';

export interface ProjectorTarget {
  /** An empty event store and read database (the same database is fine). */
  fresh(): Promise<{ store: EventStore; db: SqlClient; close(): Promise<void> }>;
  /** Whether two transactions can be open at once (PGlite has one connection: its transactions take turns). */
  readonly concurrentTransactions: boolean;
}

/**
 * A read model that counts events per stream; it refuses events of type `Poison`. `beforeApply` runs before
 * each batch (a test holds a read model back with it).
 */
function countingProjection(
  shards = 3,
  options: { readonly name?: string; readonly beforeApply?: () => Promise<void> } = {},
): Projection {
  return {
    name: options.name ?? 'counts',
    description: 'events per stream (test)',
    shards,
    filter: { streamPrefixes: ['acct-'] },
    migrations: [
      {
        version: 1,
        name: 'counts',
        sql: (schema) =>
          `CREATE TABLE ${schema}.counts (stream_id text PRIMARY KEY, events integer NOT NULL, last_version bigint NOT NULL);
           CREATE INDEX counts_by_events ON ${schema}.counts (events DESC, stream_id) WHERE events > 0;
           CREATE UNIQUE INDEX counts_by_version ON ${schema}.counts (last_version, stream_id);`,
      },
    ],
    async apply(tx, events: readonly RecordedEvent[], { schema }) {
      await options.beforeApply?.();
      for (const event of events) {
        if (event.type === 'Poison') throw new Error('this projection cannot apply Poison');
        await tx.query(
          `INSERT INTO ${schema}.counts (stream_id, events, last_version) VALUES ($1, 1, $2)
           ON CONFLICT (stream_id) DO UPDATE SET events = ${schema}.counts.events + 1, last_version = EXCLUDED.last_version`,
          [event.streamId, event.version.toString()],
        );
      }
    },
  };
}

const event = (type = 'Happened'): NewEvent => ({ eventId: randomUUID(), type, data: { n: 1 } });

async function appendMany(store: EventStore, streams: number, perStream: number): Promise<void> {
  for (let round = 0; round < perStream; round += 1) {
    for (let s = 0; s < streams; s += 1) {
      await store.appendToStream(`acct-${s}`, [event()], { expected: 'any' });
    }
  }
  await store.appendToStream('other-1', [event()], { expected: 'any' });
}

async function counts(db: SqlClient, schema: string): Promise<Map<string, number>> {
  const rows = await db.query<{ stream_id: string; events: number }>(`SELECT stream_id, events FROM ${schema}.counts`);
  return new Map(rows.map((row) => [row.stream_id, row.events]));
}

export function projectorSuite(name: string, target: ProjectorTarget): void {
  describe(`${name}: projector runtime`, { timeout: 60_000 }, () => {
    const cleanups: (() => Promise<void>)[] = [];
    afterEach(async () => {
      for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    });

    async function setUp(projection = countingProjection(), others: readonly Projection[] = []) {
      const env = await target.fresh();
      cleanups.push(env.close);
      await Projector.prepare(env.db, [projection, ...others]);
      const workers: Projector[] = [];
      const worker = (options: Partial<ProjectorOptions> = {}) => {
        const projector = new Projector({
          store: env.store,
          db: env.db,
          projections: [projection, ...others],
          workerId: `worker-${workers.length + 1}`,
          batchSize: 7,
          leaseSeconds: 2,
          renewIntervalMs: 100,
          ...options,
        });
        workers.push(projector);
        cleanups.push(() => projector.stop());
        return projector;
      };
      return { ...env, projection, worker };
    }

    it("reports each shard's lag as the events of its own streams after its checkpoint, counted or read alike", async () => {
      const { store, projection, worker } = await setUp();
      await appendMany(store, 7, 6);
      // Readers see an append once every older transaction in the cluster has ended (other test files run
      // beside this one): wait until the log shows all 43 events, so both ways of counting see the same log.
      for (let round = 0; round < 200 && (await store.readAll({ maxCount: 100 })).events.length < 43; round += 1) {
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      const projector = worker();
      const after = (await store.readAll({ maxCount: 10 })).last;
      const expected = async (from: typeof after, shard: number) => {
        const { events } = await store.readAll({ after: from, maxCount: 1_000, filter: projection.filter });
        return events.filter((event) => shardOf(event.streamId, projection.shards) === shard).length;
      };
      let total = 0;
      for (let shard = 0; shard < projection.shards; shard += 1) {
        for (const from of [null, after]) {
          const lag = await projector.lagEvents(projection, shard, from);
          expect(lag).toBe(await expected(from, shard));
          if (from === null) total += lag;
        }
      }
      expect(total).toBe(42);
    });

    it('renews the leases it holds, so a live worker claims each shard once and keeps it', async () => {
      const other = countingProjection(2, { name: 'others' });
      const { db, worker } = await setUp(countingProjection(3), [other]);
      const claims: string[] = [];
      const log = {
        info: (message: string, fields?: Record<string, unknown>) => {
          if (message === 'shard claimed') claims.push(`${fields?.projection}/${fields?.shard}`);
        },
        warn: () => {},
        error: () => {},
      };
      const projector = worker({ leaseSeconds: 1, renewIntervalMs: 100, log });
      projector.start();
      // Three lease periods: a lease not renewed would lapse and be claimed again.
      await new Promise((resolve) => setTimeout(resolve, 3_000));
      expect(claims.sort()).toEqual(['counts/0', 'counts/1', 'counts/2', 'others/0', 'others/1']);
      const rows = await db.query<{ owner: string | null; fresh: boolean }>(
        `SELECT owner, lease_until > now() + interval '0.5 seconds' AS fresh FROM projections.checkpoints`,
      );
      expect(rows).toHaveLength(5);
      for (const row of rows) expect(row).toEqual({ owner: 'worker-1', fresh: true });
    });

    it('waits after reaching the head when told to (caughtUpIntervalMs), and gathers what arrived into one batch', async () => {
      const counting = countingProjection(1);
      const batches: { events: number; at: number }[] = [];
      const { store, db, worker } = await setUp({
        ...counting,
        apply: async (tx, events, context) => {
          batches.push({ events: events.length, at: performance.now() });
          await counting.apply(tx, events, context);
        },
      });
      const INTERVAL_MS = 1_500;
      const projector = worker({ caughtUpIntervalMs: INTERVAL_MS, batchSize: 7 });
      projector.start();
      await store.appendToStream('acct-0', [event()], { expected: 'any' });
      await projector.waitFor((await store.headPosition()) as never);
      // Caught up, it waits: five appends 40 ms apart (each of which wakes a subscriber in this process) are one
      // batch after the pause, not five.
      batches.length = 0;
      for (let i = 0; i < 5; i += 1) {
        await store.appendToStream(`acct-${i}`, [event()], { expected: 'any' });
        await new Promise((resolve) => setTimeout(resolve, 40));
      }
      await projector.waitFor((await store.headPosition()) as never);
      expect(batches.reduce((sum, batch) => sum + batch.events, 0)).toBe(5);
      // (PostgreSQL may show an append late while another test's transaction is open: two batches at most.)
      expect(batches.length).toBeLessThanOrEqual(2);
      // A backlog does not wait: 30 events in batches of 7 follow each other without the pause between them.
      batches.length = 0;
      for (let i = 0; i < 30; i += 1) await store.appendToStream(`acct-${i % 4}`, [event()], { expected: 'any' });
      await projector.waitFor((await store.headPosition()) as never);
      expect(batches.reduce((sum, batch) => sum + batch.events, 0)).toBe(30);
      const full = batches.filter((batch) => batch.events === 7);
      expect(full.length).toBeGreaterThanOrEqual(3);
      expect((full.at(-1)?.at ?? 0) - (full[0]?.at ?? 0)).toBeLessThan(INTERVAL_MS);
      const schema = await projector.activeSchema('counts');
      expect([...(await counts(db, schema)).values()].reduce((sum, n) => sum + n, 0)).toBe(36);
    });

    it('spreads its waits at the head over half to one and a half intervals', async () => {
      const counting = countingProjection(1);
      const applied: number[] = [];
      const { store, worker } = await setUp({
        ...counting,
        apply: async (tx, events, context) => {
          applied.push(performance.now());
          await counting.apply(tx, events, context);
        },
      });
      const INTERVAL_MS = 600;
      // Alternately the shortest and the longest wait.
      let draws = 0;
      const projector = worker({ caughtUpIntervalMs: INTERVAL_MS, random: () => (draws++ % 2 === 0 ? 0 : 0.999) });
      projector.start();
      const until = performance.now() + 4_000;
      for (let i = 0; performance.now() < until; i += 1) {
        await store.appendToStream(`acct-${i % 4}`, [event()], { expected: 'any' });
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      await projector.waitFor((await store.headPosition()) as never);
      const gaps = applied.slice(1).map((at, index) => at - (applied[index] as number));
      expect(gaps.length).toBeGreaterThanOrEqual(3);
      // With the same wait each time no gap could be shorter than the interval, nor much longer.
      expect(Math.min(...gaps)).toBeLessThan(INTERVAL_MS);
      expect(Math.max(...gaps)).toBeGreaterThan(INTERVAL_MS * 1.4);
    });

    it('moves the checkpoint of a read model with nothing to apply about once per quietCheckpointIntervalMs', async () => {
      const { store, db, worker } = await setUp(countingProjection(1));
      let moves = 0;
      const QUIET_MS = 600;
      const projector = worker({
        quietCheckpointIntervalMs: QUIET_MS,
        faults: {
          beforeCheckpoint: () => {
            moves += 1;
          },
        },
      });
      projector.start();
      await store.appendToStream('acct-0', [event()], { expected: 'any' });
      await projector.waitFor((await store.headPosition()) as never);
      // Ten appends its filter leaves out (streams other than acct-), 20 ms apart: at most one move, not ten.
      moves = 0;
      const started = performance.now();
      for (let i = 0; i < 10; i += 1) {
        await store.appendToStream(`other-${i}`, [event()], { expected: 'any' });
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      if (performance.now() - started < QUIET_MS) expect(moves).toBeLessThanOrEqual(1);
      // The stored checkpoint still reaches the head, about an interval later.
      await projector.waitFor((await store.headPosition()) as never, { timeoutMs: 5_000 });
      // An event it follows is applied with its batch, and the checkpoint moves with it at once.
      moves = 0;
      await store.appendToStream('acct-1', [event()], { expected: 'any' });
      await projector.waitFor((await store.headPosition()) as never, { timeoutMs: 5_000 });
      expect(moves).toBe(1);
      const schema = await projector.activeSchema('counts');
      expect(await counts(db, schema)).toEqual(
        new Map([
          ['acct-0', 1],
          ['acct-1', 1],
        ]),
      );
    });

    it('applies every event exactly once, catching up and then following live appends', async () => {
      const { store, db, worker } = await setUp();
      await appendMany(store, 5, 10);
      // The batches' transactions are derived data: they commit without waiting for the WAL flush.
      const commitModes: (boolean | undefined)[] = [];
      const recording: SqlClient = {
        ...db,
        transaction: (work, options) => {
          commitModes.push(options?.synchronousCommit);
          return db.transaction(work, options);
        },
      };
      const projector = worker({ db: recording });
      projector.start();
      await projector.waitFor((await store.headPosition()) as never);
      await appendMany(store, 5, 4);
      await projector.waitFor((await store.headPosition()) as never);
      const schema = await projector.activeSchema('counts');
      expect(Object.fromEntries(await counts(db, schema))).toEqual({
        'acct-0': 14,
        'acct-1': 14,
        'acct-2': 14,
        'acct-3': 14,
        'acct-4': 14,
      });
      const status = await projector.status();
      expect(status.map((s) => s.eventsApplied).reduce((a, b) => a + b, 0)).toBe(70);
      expect(status.every((s) => s.owner === 'worker-1' && s.error === null)).toBe(true);
      expect(commitModes).toContain(false);
    });

    it('loses nothing and applies nothing twice when it dies between the read-model write and the checkpoint', async () => {
      const { store, db, worker } = await setUp();
      await appendMany(store, 4, 12);
      let checkpoints = 0;
      const crashing = worker({
        workerId: 'crashing',
        faults: {
          beforeCheckpoint: () => {
            checkpoints += 1;
            if (checkpoints === 3) throw new Error('killed between write and checkpoint');
          },
        },
      });
      crashing.start();
      // Let it die, then stop it without a clean shutdown of the shard it was on.
      await new Promise((resolve) => setTimeout(resolve, 500));
      await crashing.stop();
      const restarted = worker({ workerId: 'restarted' });
      restarted.start();
      await restarted.waitFor((await store.headPosition()) as never);
      const schema = await restarted.activeSchema('counts');
      expect([...(await counts(db, schema)).values()]).toEqual([12, 12, 12, 12]);
    });

    it('resumes between batches after a stop with exactly the remaining events', async () => {
      const { store, db, worker } = await setUp();
      await appendMany(store, 3, 20);
      const first = worker();
      first.start();
      await new Promise((resolve) => setTimeout(resolve, 150));
      await first.stop();
      await appendMany(store, 3, 5);
      const second = worker();
      second.start();
      await second.waitFor((await store.headPosition()) as never);
      expect([...(await counts(db, await second.activeSchema('counts'))).values()]).toEqual([25, 25, 25]);
    });

    it('shares shards between two workers and takes over the shards of one that dies', async () => {
      const { store, db, worker } = await setUp(countingProjection(4));
      const a = worker({ workerId: 'a' });
      const b = worker({ workerId: 'b' });
      a.start();
      b.start();
      await appendMany(store, 8, 5);
      await a.waitFor((await store.headPosition()) as never);
      // Sharing is settled by lease rounds: the first worker may hold every shard until the next round.
      // A shard handed over between rounds is briefly owned by nobody: wait for every shard to have its worker.
      const owners = async () => [...new Set((await a.status()).map((s) => s.owner ?? 'nobody'))].sort().join(',');
      for (let round = 0; round < 200 && (await owners()) !== 'a,b'; round += 1) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(await owners()).toBe('a,b');
      // b dies without releasing its leases: its shards wait for the lease to expire, then a takes them.
      await b.crashForTest();
      await appendMany(store, 8, 5);
      await a.waitFor((await store.headPosition()) as never, { timeoutMs: 20_000 });
      const after = await a.status();
      expect(after.every((s) => s.owner === 'a')).toBe(true);
      expect([...(await counts(db, await a.activeSchema('counts'))).values()].every((n) => n === 10)).toBe(true);
    });

    it('stops on a poison event, naming it, without moving its checkpoint past it', async () => {
      const { store, db, worker } = await setUp(countingProjection(1));
      await store.appendToStream('acct-0', [event(), event()], { expected: 'any' });
      await store.appendToStream('acct-1', [event('Poison')], { expected: 'any' });
      await store.appendToStream('acct-0', [event()], { expected: 'any' });
      const registry = new Registry();
      const projector = worker({ metrics: new ProjectorMetrics(registry) });
      projector.start();
      await expect(projector.waitFor((await store.headPosition()) as never, { timeoutMs: 5_000 })).rejects.toThrow(
        /Poison/,
      );
      const [status] = await projector.status();
      expect(status?.error).toMatchObject({ type: 'Poison', streamId: 'acct-1', version: '1' });
      expect(status?.error?.message).toMatch(/counts cannot apply Poison .* \(stream acct-1 v1/);
      expect(status?.eventsApplied).toBe(2);
      expect(Object.fromEntries(await counts(db, await projector.activeSchema('counts')))).toEqual({ 'acct-0': 2 });
      expect(await registry.metrics()).toMatch(/khata_projection_poison_events_total\{projection="counts"\} 1/);
    });

    it("stops only the poisoned shard: the worker's other shards keep following the log", async () => {
      const { store, db, worker } = await setUp(countingProjection(4));
      const shardOfStream = (stream: string) => shardOf(stream, 4);
      const healthy = Array.from({ length: 12 }, (_, s) => `acct-${s}`).filter(
        (stream) => shardOfStream(stream) !== shardOfStream('acct-poisoned'),
      );
      await store.appendToStream('acct-poisoned', [event(), event('Poison'), event()], { expected: 'any' });
      const projector = worker();
      projector.start();
      for (const stream of healthy) await store.appendToStream(stream, [event(), event()], { expected: 'any' });
      await expect(projector.waitFor((await store.headPosition()) as never, { timeoutMs: 5_000 })).rejects.toThrow(
        /Poison/,
      );
      // Appended after the stop: the healthy shards still take them.
      for (const stream of healthy) await store.appendToStream(stream, [event()], { expected: 'any' });
      const schema = await projector.activeSchema('counts');
      const expected = Object.fromEntries([['acct-poisoned', 1], ...healthy.map((stream) => [stream, 3])]);
      for (let round = 0; round < 200; round += 1) {
        if (JSON.stringify(Object.fromEntries(await counts(db, schema))) === JSON.stringify(expected)) break;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const seen = Object.fromEntries(await counts(db, schema));
      expect(seen).toEqual(expected);
      const status = await projector.status();
      const stopped = status.filter((shard) => shard.error !== null);
      expect(stopped.map((shard) => shard.shard)).toEqual([shardOfStream('acct-poisoned')]);
      expect(stopped[0]?.error).toMatchObject({ type: 'Poison', streamId: 'acct-poisoned', version: '2' });
    });

    it('resumes each shard from its own checkpoint when they differ', async () => {
      const { store, db, worker } = await setUp(countingProjection(4));
      await appendMany(store, 8, 3);
      const first = worker();
      first.start();
      await first.waitFor((await store.headPosition()) as never);
      await first.stop();
      // One shard starts over (as a shard whose rows were lost would); the others are at the head.
      const schema = await first.activeSchema('counts');
      const replayed = shardOf('acct-0', 4);
      const streams = Array.from({ length: 8 }, (_, s) => `acct-${s}`);
      for (const stream of streams.filter((s) => shardOf(s, 4) === replayed)) {
        await db.query(`DELETE FROM ${schema}.counts WHERE stream_id = $1`, [stream]);
      }
      await db.query(
        "UPDATE projections.checkpoints SET position = NULL WHERE name = 'counts' AND generation = 1 AND shard = $1",
        [replayed],
      );
      await appendMany(store, 8, 2);
      const second = worker();
      second.start();
      await second.waitFor((await store.headPosition()) as never);
      expect(Object.fromEntries(await counts(db, schema))).toEqual(
        Object.fromEntries(streams.map((stream) => [stream, 5])),
      );
    });

    it('rebuilds a new generation beside the live one and switches queries to it when caught up', async () => {
      const { store, db, worker } = await setUp();
      await appendMany(store, 3, 6);
      const live = worker();
      live.start();
      await live.waitFor((await store.headPosition()) as never);
      expect(await live.activeSchema('counts')).toBe('rm_counts_g1');
      const rebuilder = worker({ workerId: 'rebuilder' });
      const applied = await rebuilder.rebuild('counts');
      expect(applied).toBe(18);
      expect(await live.activeSchema('counts')).toBe('rm_counts_g2');
      // The rebuild builds its secondary indexes at the end: the new generation has the same ones as the old.
      const indexes = async (schema: string) =>
        (
          await db.query<{ indexname: string; indexdef: string }>(
            'SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = $1 ORDER BY indexname',
            [schema],
          )
        ).map((row) => `${row.indexname}: ${row.indexdef.replaceAll(schema, 'SCHEMA')}`);
      expect(await indexes('rm_counts_g2')).toEqual(await indexes('rm_counts_g1'));
      expect(await indexes('rm_counts_g2')).toHaveLength(3);
      await appendMany(store, 3, 2);
      await live.waitFor((await store.headPosition()) as never);
      expect([...(await counts(db, 'rm_counts_g2')).values()]).toEqual([8, 8, 8]);
      await rebuilder.dropRetiredGenerations('counts');
      await expect(db.query('SELECT 1 FROM rm_counts_g1.counts')).rejects.toThrow();
    });

    it('rebuilds several read models each at its own pace, reading the log at most two chunks ahead of the slowest', async () => {
      let release: () => void = () => {};
      const held = new Promise<void>((resolve) => {
        release = resolve;
      });
      let slowBatches = 0;
      const slow = countingProjection(2, {
        name: 'slow_counts',
        beforeApply: async () => {
          slowBatches += 1;
          if (slowBatches === 1) await held;
        },
      });
      let fastBatches = 0;
      const fast = countingProjection(3, {
        beforeApply: async () => {
          fastBatches += 1;
        },
      });
      const { store, db, worker } = await setUp(fast, [slow]);
      await appendMany(store, 3, 10);
      let pagesRead = 0;
      const counted = new Proxy(store, {
        get(target, property) {
          if (property === 'readAll') {
            return (...args: Parameters<EventStore['readAll']>) => {
              pagesRead += 1;
              return target.readAll(...args);
            };
          }
          const value: unknown = Reflect.get(target, property, target);
          return typeof value === 'function' ? value.bind(target) : value;
        },
      });
      const rebuilder = worker({ workerId: 'rebuilder', store: counted });
      const progress: number[] = [];
      // Chunks of 3 events, one page each: 31 events in 11 chunks, the last one (other-1) for neither.
      const rebuilt = rebuilder.rebuildAll(['counts', 'slow_counts'], {
        batchSize: 3,
        applyEvents: 3,
        onProgress: (events) => progress.push(events),
      });
      try {
        if (target.concurrentTransactions) {
          for (let round = 0; round < 200 && fastBatches < 3; round += 1) {
            await new Promise((resolve) => setTimeout(resolve, 10));
          }
          await new Promise((resolve) => setTimeout(resolve, 100));
          // The slow read model holds chunk 0: the fast one has applied chunks 0–2 and waits, nothing more is
          // read, and no chunk counts as applied until both have applied it.
          expect(fastBatches).toBe(3);
          expect(slowBatches).toBe(1);
          expect(pagesRead).toBe(3);
          expect(progress).toEqual([]);
        }
      } finally {
        release();
      }
      expect(await rebuilt).toBe(30);
      expect(pagesRead).toBe(11);
      expect(progress).toEqual([3, 6, 9, 12, 15, 18, 21, 24, 27, 30, 30]);
      expect([fastBatches, slowBatches]).toEqual([10, 10]);
      for (const schema of ['rm_counts_g2', 'rm_slow_counts_g2']) {
        expect(Object.fromEntries(await counts(db, schema))).toEqual({ 'acct-0': 10, 'acct-1': 10, 'acct-2': 10 });
      }
      expect(await rebuilder.activeSchema('slow_counts')).toBe('rm_slow_counts_g2');
    });

    it('stops every read model of a rebuild when one of them cannot apply an event, and switches none', async () => {
      let fastBatches = 0;
      const fast = countingProjection(3, {
        name: 'fast_counts',
        beforeApply: async () => {
          fastBatches += 1;
        },
      });
      const { store, db, worker } = await setUp(countingProjection(), [fast]);
      await appendMany(store, 3, 2);
      await store.appendToStream('acct-9', [event('Poison')], { expected: 'any' });
      await appendMany(store, 3, 20);
      // The fast read model takes Poison as any event: only the counting one refuses it.
      const rebuilder = worker({
        workerId: 'rebuilder',
        projections: [
          countingProjection(),
          {
            ...fast,
            apply: async (tx, events, options) => {
              await fast.apply(
                tx,
                events.filter((recorded) => recorded.type !== 'Poison'),
                options,
              );
            },
          },
        ],
      });
      await expect(
        rebuilder.rebuildAll(['counts', 'fast_counts'], { batchSize: 4, applyEvents: 4 }),
      ).rejects.toMatchObject({ name: 'PoisonEvent' });
      // The fast one stopped within the chunks read ahead of the poisoned one, not at the end of the log.
      expect(fastBatches).toBeLessThanOrEqual(5);
      const registry = await db.query<{ name: string; active_generation: number }>(
        'SELECT name, active_generation FROM projections.registry ORDER BY name',
      );
      expect(registry).toEqual([
        { name: 'counts', active_generation: 1 },
        { name: 'fast_counts', active_generation: 1 },
      ]);
    });

    it('measures the lag of the shards at one position under one filter with one count, each shard its own', async () => {
      const { store, worker } = await setUp(countingProjection(3), [countingProjection(2, { name: 'fast_counts' })]);
      await appendMany(store, 7, 3);
      await untilLogHolds(store, 22);
      // The runners see no events (their subscriptions stay empty), so every shard stays at the start of the log,
      // and the counts are counted.
      let counts = 0;
      const hiding = seeingNothing(store, () => {
        counts += 1;
      });
      const registry = new Registry();
      // The lease loop measures nothing itself here (its interval is longer than the test), so every count is this one's.
      const projector = worker({
        store: hiding,
        metrics: new ProjectorMetrics(registry),
        lagMeasureIntervalMs: performance.now() + 3_600_000,
      });
      projector.start();
      await untilEveryShardOwned(projector);
      counts = 0;
      await projector.measureLag();
      const { events } = await store.readAll({ maxCount: 1_000, filter: { streamPrefixes: ['acct-'] } });
      const text = await registry.metrics();
      for (const [name, shards] of [
        ['counts', 3],
        ['fast_counts', 2],
      ] as const) {
        for (let shard = 0; shard < shards; shard += 1) {
          const expected = events.filter((event) => shardOf(event.streamId, shards) === shard).length;
          const line = new RegExp(`khata_projection_lag_events\\{projection="${name}",shard="${shard}"\\} (\\d+)`);
          expect(Number(line.exec(text)?.[1]), `${name} shard ${shard}`).toBe(expected);
        }
      }
      expect(events).toHaveLength(21);
      // Five shards, one count (a store that cannot count reads the log instead).
      expect(counts).toBe(store.countEventsAfter === undefined ? 0 : 1);
    });

    it('counts no further than its bound for the lag gauges, and further when asked for one shard', async () => {
      const { store, worker } = await setUp(countingProjection(3));
      await appendMany(store, 7, 3);
      await untilLogHolds(store, 22);
      const limits: number[] = [];
      const registry = new Registry();
      const projector = worker({
        store: seeingNothing(store, (limit) => limits.push(limit)),
        metrics: new ProjectorMetrics(registry),
        lagMeasureIntervalMs: performance.now() + 3_600_000,
        lagGaugeCountMax: 5,
      });
      projector.start();
      await untilEveryShardOwned(projector);
      await projector.measureLag();
      const text = await registry.metrics();
      const gauges = [0, 1, 2].map((shard) =>
        Number(
          new RegExp(`khata_projection_lag_events\\{projection="counts",shard="${shard}"\\} (\\d+)`).exec(text)?.[1],
        ),
      );
      // The first five events of the log, each counted for its own shard: 21 are behind.
      expect(gauges.reduce((sum, gauge) => sum + gauge, 0)).toBe(5);
      if (store.countEventsAfter !== undefined) expect(limits).toEqual([5]);
      const { events } = await store.readAll({ maxCount: 1_000, filter: { streamPrefixes: ['acct-'] } });
      const counted = [0, 1, 2].map((shard) => projector.lagEvents(countingProjection(3), shard, null));
      expect(await Promise.all(counted)).toEqual(
        [0, 1, 2].map((shard) => events.filter((event) => shardOf(event.streamId, 3) === shard).length),
      );
    });

    it('exports lag and throughput as Prometheus metrics', async () => {
      const { store, worker } = await setUp();
      await appendMany(store, 2, 5);
      const registry = new Registry();
      const projector = worker({ metrics: new ProjectorMetrics(registry) });
      projector.start();
      await projector.waitFor((await store.headPosition()) as never);
      const text = await registry.metrics();
      expect(text).toMatch(/khata_projection_events_total\{projection="counts"\} 10/);
      // One observation per transaction (a batch of 7 events for all three shards), not one per shard.
      const batches = Number(/khata_projection_batch_seconds_count\{projection="counts"\} (\d+)/.exec(text)?.[1]);
      expect(batches).toBeGreaterThanOrEqual(2);
      expect(batches).toBeLessThanOrEqual(3);
      expect(text).toContain('khata_projection_lag_events');
      expect(text).toContain('khata_projection_lag_seconds');
    });
  });
}

/** Waits (up to 5 s) until the log holds `events` events. */
async function untilLogHolds(store: EventStore, events: number): Promise<void> {
  for (let round = 0; round < 200 && (await store.readAll({ maxCount: events })).events.length < events; round += 1) {
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** Waits (up to 5 s) until a worker holds the lease of every shard. */
async function untilEveryShardOwned(projector: Projector): Promise<void> {
  for (let round = 0; round < 200 && (await projector.status()).some((shard) => shard.owner === null); round += 1) {
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/**
 * The store as a worker sees it when its subscriptions never deliver (every shard stays where it is), reporting
 * each count the store is asked for (by its limit).
 */
function seeingNothing(store: EventStore, onCount: (limit: number) => void): EventStore {
  return new Proxy(store, {
    get(target, property) {
      if (property === 'subscribe') {
        return ({ signal }: { signal?: AbortSignal }) => ({
          async *[Symbol.asyncIterator]() {
            // A runner stopped before it first asks for a batch has its signal aborted already: no event follows.
            if (signal?.aborted) return;
            await new Promise((resolve) => signal?.addEventListener('abort', resolve, { once: true }));
          },
        });
      }
      if (property === 'countEventsAfter' && target.countEventsAfter !== undefined) {
        return (options: Parameters<NonNullable<EventStore['countEventsAfter']>>[0]) => {
          onCount(options.limit);
          return target.countEventsAfter?.(options);
        };
      }
      const value = Reflect.get(target, property, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}
