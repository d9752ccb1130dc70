import {
  type EventFilter,
  type EventStore,
  matchesFilter,
  type Position,
  type RecordedEvent,
} from '@khata/event-store';
import { type MigrationReport, migrate, quoteIdentifier, type SqlClient, type SqlQueryable } from '@khata/sql';
import type { ProjectorMetrics } from './metrics.ts';
import { generationMigrations, generationSchema, PoisonEvent, type Projection, shardOf } from './projection.ts';
import { projectorMigrations } from './schema.ts';

export interface ProjectorLog {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

const silentLog: ProjectorLog = { info: () => {}, warn: () => {}, error: () => {} };

export interface ProjectorOptions {
  readonly store: EventStore;
  /** Where read models, checkpoints and leases live (PostgreSQL or PGlite). */
  readonly db: SqlClient;
  readonly projections: readonly Projection[];
  /** Unique per process, e.g. `worker:<host>:<pid>`. */
  readonly workerId: string;
  /** Events per read of the log. */
  readonly batchSize?: number;
  /** A shard whose owner has not renewed its lease for this long may be taken over. */
  readonly leaseSeconds?: number;
  /** How often leases are renewed and shards rebalanced. */
  readonly renewIntervalMs?: number;
  readonly metrics?: ProjectorMetrics;
  /** How often the lease loop sets the lag gauges (with `metrics`): LAG_MEASURE_INTERVAL_MS unless told. */
  readonly lagMeasureIntervalMs?: number;
  /** Events counted for the lag gauges, per count: LAG_GAUGE_COUNT_MAX unless told. */
  readonly lagGaugeCountMax?: number;
  /**
   * After a batch that reached the head of the log, how long a read model waits before reading again (0, the
   * default: at once). Events that arrive meanwhile go into its next batch, so a process that keeps up with a
   * steady flow commits a few larger transactions a second instead of one per poll (see WORKER_BATCH_INTERVAL_MS).
   * Each wait is drawn from 0.5–1.5 times it, so the read models of a worker do not all wake at once.
   */
  readonly caughtUpIntervalMs?: number;
  /**
   * A read model whose filter leaves out everything the log gained moves its checkpoint at most this often (0, the
   * default: with every batch). Each move is a transaction; under a flow of calls the read models that follow
   * no call events (accounts, payments, subscriptions and two process managers) committed one per batch each, half
   * of a worker's transactions. Their stored checkpoints are then up to about twice this behind the log (`waitFor`
   * sees it), though a read model with nothing to apply is never behind in what it shows.
   */
  readonly quietCheckpointIntervalMs?: number;
  /** Where each wait's spread comes from: a number in [0, 1) (default Math.random; tests fix it). */
  readonly random?: () => number;
  readonly log?: ProjectorLog;
  /** Test seams: fail at chosen points to prove crash safety. */
  readonly faults?: {
    readonly beforeCheckpoint?: (
      projection: string,
      shard: number,
      events: readonly RecordedEvent[],
    ) => void | Promise<void>;
  };
}

/**
 * Events of the log a shard reads per batch (about a quarter of them are its own). With 500, a burst of CDRs
 * left the shards behind the process's shared log window, each then reading the backlog on its own: 60,000
 * CDRs took 54 s to be projected instead of 13.5 s (bench/RESULTS.md, cdr-ingest). Larger batches (5,000)
 * gained nothing more.
 */
export const PROJECTOR_BATCH_SIZE_DEFAULT = 2_000;
/** Events per page of a rebuild: larger pages, fewer statements per event while catching up from zero. */
export const REBUILD_BATCH_SIZE_DEFAULT = 5_000;
/**
 * Events a rebuild applies per transaction (several pages): fewer rewrites of each account's row in read
 * models keyed by account, at the cost of holding this many events in memory (about 1 KiB each).
 */
export const REBUILD_APPLY_EVENTS_MIN = 50_000;
/** Index builds at the end of a rebuild running side by side (each is one sort of its table). */
const INDEX_BUILDS_IN_PARALLEL = 2;
/** Sort memory per index build: enough to sort a few million keys without spilling to disk. */
const INDEX_BUILD_MEMORY = '256MB';
/** Pages of one rebuild (10^6 × the page size: far beyond any log this runs on). */
const REBUILD_PAGES_MAX = 1_000_000;
/**
 * Chunks of the log a rebuild reads beyond the one its slowest read model is applying, so the faster ones go on
 * (each chunk is REBUILD_APPLY_EVENTS_MIN events held in memory, about 1 KiB each).
 */
const REBUILD_CHUNKS_AHEAD = 2;

interface RebuildChunk {
  readonly events: RecordedEvent[];
  readonly last: Position | null;
  /** The head was reached: no chunk follows. */
  readonly done: boolean;
}

interface ChunkSlot {
  readonly promise: Promise<RebuildChunk>;
  readonly resolve: (chunk: RebuildChunk) => void;
  readonly reject: (error: unknown) => void;
  chunk: RebuildChunk | null;
  appliedBy: number;
}

/**
 * The chunks of a rebuild, read from the log one after another and shared by its read models (the consumers),
 * each taking them in order at its own pace. A chunk is read when it is at most `ahead` chunks beyond the
 * oldest one some read model has not applied yet, and dropped once every read model has applied it.
 */
class RebuildChunks {
  /** Called once per chunk, in order, when every read model has applied it. */
  onApplied: (chunk: RebuildChunk) => void = () => {};
  failed = false;
  failure: unknown = undefined;
  readonly #read: (after: Position | null) => Promise<RebuildChunk>;
  readonly #consumers: number;
  readonly #ahead: number;
  readonly #slots = new Map<number, ChunkSlot>();
  /** Chunks every read model has applied (all of them are below this index). */
  #appliedByAll = 0;
  /** The index of the next chunk to read. */
  #next = 0;
  #after: Position | null = null;
  #reading = false;
  #finished = false;

  constructor(read: (after: Position | null) => Promise<RebuildChunk>, consumers: number, ahead: number) {
    this.#read = read;
    this.#consumers = consumers;
    this.#ahead = ahead;
  }

  /** The chunk at `index`, once it has been read. */
  take(index: number): Promise<RebuildChunk> {
    const slot = this.#slot(index);
    this.#pump();
    return slot.promise;
  }

  /** One read model has applied the chunk at `index` (each applies them in order). */
  applied(index: number): void {
    const slot = this.#slot(index);
    slot.appliedBy += 1;
    if (slot.appliedBy < this.#consumers) return;
    // Each consumer applies in order, so the others have applied every chunk before this one too.
    this.#slots.delete(index);
    this.#appliedByAll = index + 1;
    if (slot.chunk !== null) this.onApplied(slot.chunk);
    this.#pump();
  }

  /** Stops the reading; every chunk not read yet is refused with `error`. */
  fail(error: unknown): void {
    if (this.failed) return;
    this.failed = true;
    this.failure = error;
    for (const slot of this.#slots.values()) if (slot.chunk === null) slot.reject(error);
  }

  #slot(index: number): ChunkSlot {
    let slot = this.#slots.get(index);
    if (slot === undefined) {
      let resolve: (chunk: RebuildChunk) => void = () => {};
      let reject: (error: unknown) => void = () => {};
      const promise = new Promise<RebuildChunk>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      // A refused chunk nobody waits for must not count as an unhandled rejection.
      promise.catch(() => undefined);
      slot = { promise, resolve, reject, chunk: null, appliedBy: 0 };
      this.#slots.set(index, slot);
      if (this.failed) reject(this.failure);
    }
    return slot;
  }

  #pump(): void {
    if (this.#reading || this.#finished || this.failed || this.#next > this.#appliedByAll + this.#ahead) return;
    this.#reading = true;
    const index = this.#next;
    this.#read(this.#after).then(
      (chunk) => {
        this.#reading = false;
        this.#next = index + 1;
        this.#after = chunk.last;
        this.#finished = chunk.done;
        const slot = this.#slot(index);
        slot.chunk = chunk;
        slot.resolve(chunk);
        this.#pump();
      },
      (error: unknown) => {
        this.#reading = false;
        this.fail(error);
      },
    );
  }
}

/** Thrown inside a transaction to roll back a trial application. */
class RolledBack extends Error {}
export const LEASE_SECONDS_DEFAULT = 15;
export const RENEW_INTERVAL_MS_DEFAULT = 3_000;
/** Events counted when measuring a shard's lag (beyond this, lag is reported as at least this). */
export const LAG_COUNT_MAX = 100_000;
/**
 * The same bound for the lag gauges the lease loop sets every LAG_MEASURE_INTERVAL_MS: a worker catching up with a
 * backlog counts it while it reads it, so the periodic count is kept small (at 100,000, the counts took 6.4 s of
 * PostgreSQL's time while a worker caught up with 200,000 CDRs, against 46 CPU s for all of it; bench/RESULTS.md).
 * A gauge at this value means at least this many; `khata_projection_lag_seconds` says how far behind, and
 * `projections status` counts further.
 */
export const LAG_GAUGE_COUNT_MAX = 10_000;
const LAG_MEASURE_INTERVAL_MS = 10_000;

/** The shard's lease was lost (another worker took it, or it expired): the runner stops quietly. */
export class LostOwnership extends Error {
  override readonly name = 'LostOwnership';
}

/** A shard stopped on a poison event; the runner restarts without it. */
class ShardPoisoned extends Error {
  override readonly name = 'ShardPoisoned';
  readonly shard: number;
  readonly poison: PoisonEvent;

  constructor(shard: number, poison: PoisonEvent) {
    super(poison.message, { cause: poison });
    this.shard = shard;
    this.poison = poison;
  }
}

/** One shard's part of a batch: its events (log order) and the checkpoint it moves from. */
interface ShardMove {
  readonly shard: number;
  readonly previous: Position | null;
  readonly events: readonly RecordedEvent[];
}

export interface ShardStatus {
  readonly projection: string;
  readonly generation: number;
  readonly active: boolean;
  readonly shard: number;
  readonly position: string | null;
  readonly eventsApplied: number;
  readonly lastEventAt: string | null;
  readonly owner: string | null;
  readonly leaseUntil: string | null;
  readonly error: (PoisonEvent['event'] & { readonly message: string }) | null;
}

/** The events of one shard's streams in a count per stream. */
function shardLag(perStream: ReadonlyMap<string, number>, shards: number, shard: number): number {
  let lag = 0;
  for (const [streamId, events] of perStream) if (shardOf(streamId, shards) === shard) lag += events;
  return lag;
}

/** One read model's generation: every shard of it this worker holds, projected together. */
interface Runner {
  readonly key: string;
  readonly projection: Projection;
  readonly generation: number;
  /** Ascending shard numbers. */
  readonly shards: readonly number[];
  readonly abort: AbortController;
  done: Promise<void>;
}

interface CheckpointRow {
  name: string;
  generation: number;
  shard: number;
  position: string | null;
  events_applied: string;
  last_event_at: Date | null;
  owner: string | null;
  lease_until: Date | null;
  error: (PoisonEvent['event'] & { message: string }) | null;
  leased: boolean;
}

/**
 * Runs projections: each (read model, generation, shard) has a checkpoint; a runner reads the log from
 * its checkpoint and, for each batch, applies the shard's events and moves the checkpoint in ONE
 * transaction, with a compare-and-set on the previous position and on its own lease. A crash at any
 * point therefore neither loses nor double-applies an event. Workers share shards through leases (a
 * worker takes a fair share, renews it, and takes over shards whose lease expired).
 */
export class Projector {
  readonly #options: ProjectorOptions;
  readonly #batchSize: number;
  readonly #leaseSeconds: number;
  readonly #renewIntervalMs: number;
  readonly #log: ProjectorLog;
  readonly #runners = new Map<string, Runner>();
  /** Shards stopped by a poison event: not restarted by this process (a restart or a fix clears them). */
  readonly #poisoned = new Set<string>();
  readonly #byName: Map<string, Projection>;
  /** Each generation's `ProjectionContext.memory` in this process, by schema. */
  readonly #memories = new Map<string, Map<string, unknown>>();
  #loop: AbortController | null = null;
  #loopDone: Promise<void> = Promise.resolve();

  constructor(options: ProjectorOptions) {
    this.#options = options;
    this.#batchSize = options.batchSize ?? PROJECTOR_BATCH_SIZE_DEFAULT;
    this.#leaseSeconds = options.leaseSeconds ?? LEASE_SECONDS_DEFAULT;
    this.#renewIntervalMs = options.renewIntervalMs ?? RENEW_INTERVAL_MS_DEFAULT;
    this.#log = options.log ?? silentLog;
    this.#byName = new Map(options.projections.map((p) => [p.name, p]));
  }

  /**
   * Creates the bookkeeping tables, registers each read model (generation 1 the first time), applies
   * pending migrations to the generations in use and makes sure every shard has a checkpoint row.
   * What `khata migrate` runs; safe to repeat and to run from several processes.
   */
  static async prepare(db: SqlClient, projections: readonly Projection[]): Promise<MigrationReport[]> {
    const reports = [await migrate(db, projectorMigrations)];
    for (const projection of projections) {
      await db.query(
        `INSERT INTO projections.registry (name, active_generation, shards) VALUES ($1, 1, $2)
         ON CONFLICT (name) DO NOTHING`,
        [projection.name, projection.shards],
      );
      const [registry] = await db.query<{
        active_generation: number;
        building_generation: number | null;
        shards: number;
      }>('SELECT active_generation, building_generation, shards FROM projections.registry WHERE name = $1', [
        projection.name,
      ]);
      if (registry === undefined) throw new Error(`projection ${projection.name} is not registered`);
      for (const generation of [registry.active_generation, registry.building_generation]) {
        if (generation === null) continue;
        reports.push(await migrate(db, generationMigrations(projection, generation)));
        await ensureCheckpoints(db, projection.name, generation, registry.shards);
      }
    }
    return reports;
  }

  /** The memory of a generation: a rebuild's generation gets its own, so nothing it caches crosses over. */
  #memory(schema: string): Map<string, unknown> {
    let memory = this.#memories.get(schema);
    if (memory === undefined) {
      memory = new Map();
      this.#memories.set(schema, memory);
    }
    return memory;
  }

  start(): void {
    if (this.#loop !== null) return;
    const loop = new AbortController();
    this.#loop = loop;
    this.#loopDone = this.#leaseLoop(loop.signal);
  }

  async stop(): Promise<void> {
    this.#loop?.abort();
    this.#loop = null;
    await this.#loopDone;
    const runners = [...this.#runners.values()];
    for (const runner of runners) runner.abort.abort();
    await Promise.allSettled(runners.map((runner) => runner.done));
    this.#runners.clear();
    await this.#options.db
      .query('UPDATE projections.checkpoints SET owner = NULL, lease_until = NULL WHERE owner = $1', [
        this.#options.workerId,
      ])
      .catch(() => {});
    await this.#options.db
      .query('DELETE FROM projections.workers WHERE worker_id = $1', [this.#options.workerId])
      .catch(() => {});
  }

  /**
   * Dies the way a killed process does, for tests: runners stop mid-flight and nothing is released, so
   * other workers get the shards only when the leases expire.
   */
  async crashForTest(): Promise<void> {
    this.#loop?.abort();
    this.#loop = null;
    await this.#loopDone;
    const runners = [...this.#runners.values()];
    for (const runner of runners) runner.abort.abort();
    await Promise.allSettled(runners.map((runner) => runner.done));
    this.#runners.clear();
  }

  /** The schema queries should read for a read model right now. */
  async activeSchema(name: string): Promise<string> {
    const [row] = await this.#options.db.query<{ active_generation: number }>(
      'SELECT active_generation FROM projections.registry WHERE name = $1',
      [name],
    );
    if (row === undefined) throw new Error(`unknown projection ${name}`);
    return generationSchema(name, row.active_generation);
  }

  async status(): Promise<readonly ShardStatus[]> {
    const rows = await this.#checkpoints();
    const active = await this.#activeGenerations();
    return rows.map((row) => ({
      projection: row.name,
      generation: row.generation,
      active: active.get(row.name) === row.generation,
      shard: row.shard,
      position: row.position,
      eventsApplied: Number(row.events_applied),
      lastEventAt: row.last_event_at?.toISOString() ?? null,
      owner: row.leased ? row.owner : null,
      leaseUntil: row.leased ? (row.lease_until?.toISOString() ?? null) : null,
      error: row.error,
    }));
  }

  /** Events of the log a shard has not applied yet (counted up to LAG_COUNT_MAX). */
  async lagEvents(projection: Projection, shard: number, position: string | null): Promise<number> {
    const perStream = await this.#eventsPerStreamAfter(
      projection.filter,
      (position as Position | null) ?? null,
      LAG_COUNT_MAX,
    );
    return shardLag(perStream, projection.shards, shard);
  }

  /**
   * The events after `after` that match `filter`, per stream, the first `limit` of them. Counted in the
   * database where the store can (no event is read or parsed, which matters most when the shards are far behind:
   * a catch-up that re-read its backlog to measure it would slow itself down); read page by page otherwise.
   */
  async #eventsPerStreamAfter(
    filter: EventFilter,
    after: Position | null,
    limit: number,
  ): Promise<ReadonlyMap<string, number>> {
    const { store } = this.#options;
    if (store.countEventsAfter !== undefined) return store.countEventsAfter({ after, filter, limit });
    const perStream = new Map<string, number>();
    let from = after;
    let counted = 0;
    while (counted < limit) {
      const page = await store.readAll({ after: from, maxCount: Math.min(10_000, limit - counted), filter });
      for (const event of page.events) perStream.set(event.streamId, (perStream.get(event.streamId) ?? 0) + 1);
      counted += page.events.length;
      if (page.caughtUp || page.last === null) break;
      from = page.last;
    }
    return perStream;
  }

  /**
   * Waits until every shard of every active read model has passed `position` (tests, rebuilds, and the
   * API's read-your-writes option).
   */
  async waitFor(position: Position, options: { readonly timeoutMs?: number } = {}): Promise<void> {
    const deadline = performance.now() + (options.timeoutMs ?? 30_000);
    for (;;) {
      const rows = await this.#checkpoints();
      const active = await this.#activeGenerations();
      const pending = rows.filter(
        (row) =>
          active.get(row.name) === row.generation &&
          this.#byName.has(row.name) &&
          (row.position === null || row.position < position),
      );
      if (pending.length === 0) return;
      const failed = pending.find((row) => row.error !== null);
      if (failed?.error) throw new Error(`projection ${failed.name} stopped: ${failed.error.message}`);
      if (performance.now() > deadline) {
        throw new Error(
          `projections did not reach ${position}: ${pending.map((r) => `${r.name}#${r.shard}@${r.position}`).join(', ')}`,
        );
      }
      await sleep(20);
    }
  }

  /**
   * Builds a new generation of a read model from position zero beside the live one, then makes it the
   * one queries read. The old generation keeps serving (and being updated by workers) until the switch.
   */
  async rebuild(name: string, options: { readonly onProgress?: (events: number) => void } = {}): Promise<number> {
    return this.rebuildAll([name], options);
  }

  /**
   * Rebuilds several read models in one pass over the log (`khata projections rebuild --all`): each chunk of the log is
   * read and parsed once, and every read model applies its part of it, all shards together, in one
   * transaction that also moves all its shards' checkpoints (the new generation belongs to this rebuild
   * alone, so its shards never diverge). Each read model goes through the chunks at its own pace, side by
   * side with the others, while the log is read ahead of the slowest (RebuildChunks). Then each switches to
   * its new generation. Returns the number of events that at least one of them takes.
   */
  async rebuildAll(
    names: readonly string[],
    options: {
      readonly onProgress?: (events: number) => void;
      readonly batchSize?: number;
      /** Events applied per transaction (at least one page): REBUILD_APPLY_EVENTS_MIN unless told. */
      readonly applyEvents?: number;
    } = {},
  ): Promise<number> {
    const { db, store } = this.#options;
    const owner = `${this.#options.workerId}:rebuild`;
    const targets: { projection: Projection; generation: number; schema: string }[] = [];
    for (const name of names) {
      const projection = this.#byName.get(name);
      if (projection === undefined) throw new Error(`unknown projection ${name}`);
      targets.push({ projection, ...(await this.#prepareGeneration(projection, owner)) });
    }
    // Secondary indexes are built once at the end rather than grown row by row through a million inserts, and
    // foreign keys are checked once at the end rather than by a trigger per inserted row.
    const schemas = targets.map(({ schema }) => schema);
    const deferred = await deferIndexes(db, schemas);
    const foreignKeys = await deferForeignKeys(db, schemas);
    const head = await store.headPosition();
    const batchSize = options.batchSize ?? REBUILD_BATCH_SIZE_DEFAULT;
    let read = 0;
    if (head !== null) {
      const chunkEvents = Math.max(batchSize, options.applyEvents ?? REBUILD_APPLY_EVENTS_MIN);
      // Reads the log from `after` in pages until a chunk is full or the head is reached.
      const readChunk = async (after: Position | null): Promise<RebuildChunk> => {
        const events: RecordedEvent[] = [];
        let last = after;
        for (let pages = 0; pages < REBUILD_PAGES_MAX; pages += 1) {
          const page = await store.readAll({ after: last, maxCount: batchSize });
          for (const event of page.events) events.push(event);
          if (page.last !== null) last = page.last;
          const done = last === null || last >= head || page.events.length === 0;
          if (done || events.length >= chunkEvents) return { events, last, done };
        }
        throw new Error(`a rebuild chunk read more than ${REBUILD_PAGES_MAX} pages`);
      };
      const chunks = new RebuildChunks(readChunk, targets.length, REBUILD_CHUNKS_AHEAD);
      chunks.onApplied = (chunk) => {
        read += chunk.events.filter((event) =>
          targets.some(({ projection }) => matchesFilter(event, projection.filter)),
        ).length;
        options.onProgress?.(read);
      };
      // Each read model goes through the chunks at its own pace, one transaction per chunk (a read model keyed
      // by account rewrites an account's row once per chunk, not once per page), while the log is read ahead
      // of the slowest. With a barrier after every chunk the cores idled while the slowest (calls) finished.
      const outcomes = await Promise.allSettled(
        targets.map(async ({ projection, generation, schema }) => {
          try {
            let previous: Position | null = null;
            for (let index = 0; index < REBUILD_PAGES_MAX; index += 1) {
              const chunk = await chunks.take(index);
              const last = chunk.last;
              if (last !== null && (previous === null || last > previous)) {
                await this.#commitAllShards(projection, generation, owner, schema, chunk.events, previous, last);
                previous = last;
              }
              chunks.applied(index);
              if (chunk.done) return;
            }
          } catch (error) {
            chunks.fail(error);
            throw error;
          }
        }),
      );
      // Every read model has stopped; the first failure is the one to report (the others were told to stop).
      if (chunks.failed) throw chunks.failure;
      for (const outcome of outcomes) if (outcome.status === 'rejected') throw outcome.reason;
    }
    await buildIndexes(db, deferred);
    await restoreForeignKeys(db, foreignKeys);
    for (const { projection, generation } of targets) {
      await db.transaction(async (tx) => {
        await tx.query(
          `UPDATE projections.registry SET active_generation = $2, building_generation = NULL, shards = $3, switched_at = now()
            WHERE name = $1`,
          [projection.name, generation, projection.shards],
        );
        await tx.query(
          'UPDATE projections.checkpoints SET owner = NULL, lease_until = NULL WHERE name = $1 AND generation = $2',
          [projection.name, generation],
        );
      });
      this.#log.info('projection rebuilt', { projection: projection.name, generation, events: read });
    }
    return read;
  }

  /** Creates the next generation of a read model, empty, with every shard's checkpoint leased to `owner`. */
  async #prepareGeneration(projection: Projection, owner: string): Promise<{ generation: number; schema: string }> {
    const { db } = this.#options;
    const { name } = projection;
    const [registry] = await db.query<{ active_generation: number; building_generation: number | null }>(
      'SELECT active_generation, building_generation FROM projections.registry WHERE name = $1',
      [name],
    );
    if (registry === undefined) throw new Error(`projection ${name} is not registered: run khata migrate`);
    const generation = Math.max(registry.active_generation, registry.building_generation ?? 0) + 1;
    const schema = generationSchema(name, generation);
    await db.query(`DROP SCHEMA IF EXISTS ${quoteIdentifier(schema)} CASCADE`);
    this.#memories.delete(schema);
    await db.query('DELETE FROM public.khata_migrations WHERE namespace = $1', [`projection:${name}:g${generation}`]);
    await db.query('DELETE FROM projections.checkpoints WHERE name = $1 AND generation = $2', [name, generation]);
    await migrate(db, generationMigrations(projection, generation));
    await ensureCheckpoints(db, name, generation, projection.shards);
    await db.query('UPDATE projections.registry SET building_generation = $2 WHERE name = $1', [name, generation]);
    await db.query(
      `UPDATE projections.checkpoints SET owner = $3, lease_until = now() + interval '1 day'
        WHERE name = $1 AND generation = $2`,
      [name, generation, owner],
    );
    return { generation, schema };
  }

  /**
   * Applies a page of the log to every shard of a generation this process owns alone (a rebuild), and
   * moves all its checkpoints from `previous` to `next`, in one transaction. A projection's rows are
   * keyed by account, and each account lives in one shard, so applying the shards' events together
   * writes what applying them shard by shard would.
   */
  async #commitAllShards(
    projection: Projection,
    generation: number,
    owner: string,
    schema: string,
    page: readonly RecordedEvent[],
    previous: Position | null,
    next: Position,
  ): Promise<void> {
    const events = page.filter((event) => matchesFilter(event, projection.filter));
    const counts = new Array<number>(projection.shards).fill(0);
    for (const event of events) {
      const shard = shardOf(event.streamId, projection.shards);
      counts[shard] = (counts[shard] ?? 0) + 1;
    }
    try {
      await this.#options.db.transaction(async (tx) => {
        if (events.length > 0) await projection.apply(tx, events, { schema, memory: this.#memory(schema) });
        const moved = await tx.query(
          `UPDATE projections.checkpoints AS c
              SET position = $5, events_applied = c.events_applied + n.applied, updated_at = now(),
                  last_event_at = COALESCE($6::timestamptz, c.last_event_at)
             FROM unnest($7::int[], $8::bigint[]) AS n (shard, applied)
            WHERE c.name = $1 AND c.generation = $2 AND c.shard = n.shard AND c.owner = $3
              AND c.position IS NOT DISTINCT FROM $4
            RETURNING c.shard`,
          [
            projection.name,
            generation,
            owner,
            previous,
            next,
            events.at(-1)?.storedAt ?? null,
            counts.map((_, shard) => shard),
            counts,
          ],
        );
        if (moved.length !== projection.shards) {
          throw new LostOwnership(`${projection.name} generation ${generation} is no longer rebuilt by ${owner}`);
        }
      });
    } catch (error) {
      if (error instanceof LostOwnership || events.length === 0) throw error;
      // Name the event the read model cannot apply, as a live runner would: the page again, one event
      // after another in one transaction that is rolled back whatever happens.
      let poison: PoisonEvent | null = null;
      await this.#options.db
        .transaction(async (tx) => {
          for (const event of events) {
            try {
              await projection.apply(tx, [event], { schema, memory: new Map() });
            } catch (single) {
              poison = new PoisonEvent(projection.name, event, single);
              break;
            }
          }
          throw new RolledBack();
        })
        .catch((rollback: unknown) => {
          if (!(rollback instanceof RolledBack)) throw rollback;
        });
      if (poison !== null) throw poison;
      throw error;
    }
  }

  /** Drops generations that are neither active nor being built (after a rebuild has switched over). */
  async dropRetiredGenerations(name: string): Promise<void> {
    const { db } = this.#options;
    const [registry] = await db.query<{ active_generation: number; building_generation: number | null }>(
      'SELECT active_generation, building_generation FROM projections.registry WHERE name = $1',
      [name],
    );
    if (registry === undefined) return;
    const rows = await db.query<{ generation: number }>(
      'SELECT DISTINCT generation FROM projections.checkpoints WHERE name = $1',
      [name],
    );
    for (const { generation } of rows) {
      if (generation === registry.active_generation || generation === registry.building_generation) continue;
      await db.query(`DROP SCHEMA IF EXISTS ${quoteIdentifier(generationSchema(name, generation))} CASCADE`);
      this.#memories.delete(generationSchema(name, generation));
      await db.query('DELETE FROM projections.checkpoints WHERE name = $1 AND generation = $2', [name, generation]);
      await db.query('DELETE FROM public.khata_migrations WHERE namespace = $1', [`projection:${name}:g${generation}`]);
    }
  }

  async #leaseLoop(signal: AbortSignal): Promise<void> {
    let lagMeasuredAt = 0;
    while (!signal.aborted) {
      try {
        await this.#rebalance();
        const lagInterval = this.#options.lagMeasureIntervalMs ?? LAG_MEASURE_INTERVAL_MS;
        if (this.#options.metrics !== undefined && performance.now() - lagMeasuredAt > lagInterval) {
          lagMeasuredAt = performance.now();
          await this.measureLag();
        }
      } catch (error) {
        this.#log.warn('projector lease round failed', { error: String(error) });
      }
      await sleep(this.#renewIntervalMs, signal);
    }
  }

  /**
   * Sets the lag gauges of the shards this worker runs (bounded counts; see LAG_GAUGE_COUNT_MAX). Shards at the same
   * position that read the same streams share one count: the read models over the account streams are mostly at
   * one position, and counting for each of their 28 shards apart scanned up to 100,000 events 28 times every
   * 10 s (active in about half of PostgreSQL's samples while a worker caught up with 200,000 CDRs). The lease loop calls it every
   * LAG_MEASURE_INTERVAL_MS when the worker has metrics.
   */
  async measureLag(): Promise<void> {
    const rows = await this.#checkpoints();
    const groups = new Map<
      string,
      { filter: EventFilter; after: Position | null; shards: { projection: Projection; shard: number }[] }
    >();
    for (const runner of this.#runners.values()) {
      for (const shard of runner.shards) {
        const row = rows.find(
          (r) => r.name === runner.projection.name && r.generation === runner.generation && r.shard === shard,
        );
        if (row === undefined) continue;
        const after = (row.position as Position | null) ?? null;
        const key = `${JSON.stringify(runner.projection.filter)} ${after ?? ''}`;
        let group = groups.get(key);
        if (group === undefined) {
          group = { filter: runner.projection.filter, after, shards: [] };
          groups.set(key, group);
        }
        group.shards.push({ projection: runner.projection, shard });
      }
    }
    for (const { filter, after, shards } of groups.values()) {
      const perStream = await this.#eventsPerStreamAfter(
        filter,
        after,
        this.#options.lagGaugeCountMax ?? LAG_GAUGE_COUNT_MAX,
      );
      for (const { projection, shard } of shards) {
        this.#options.metrics?.lag(projection.name, shard, shardLag(perStream, projection.shards, shard));
      }
    }
  }

  async #rebalance(): Promise<void> {
    const { db, workerId } = this.#options;
    await db.query(
      `INSERT INTO projections.workers (worker_id) VALUES ($1)
       ON CONFLICT (worker_id) DO UPDATE SET heartbeat_at = now()`,
      [workerId],
    );
    await db.query(`DELETE FROM projections.workers WHERE heartbeat_at < now() - interval '1 hour'`);
    const [live] = await db.query<{ count: string }>(
      `SELECT count(*) AS count FROM projections.workers WHERE heartbeat_at > now() - make_interval(secs => $1)`,
      [this.#leaseSeconds],
    );
    const workers = Math.max(1, Number(live?.count ?? 1));
    const active = await this.#activeGenerations();

    // Runners of generations that are no longer active (a rebuild switched over) stop.
    for (const runner of this.#runners.values()) {
      if (active.get(runner.projection.name) !== runner.generation) this.#stopRunner(runner);
    }
    // One statement renews every lease this worker holds, one reads every checkpoint; a projection's rows are read
    // again only when this round gave back or claimed one of its shards. (Three statements per projection every
    // round, about 45 every 3 s, had been the worker's largest source of statements while it kept up with calls.)
    const mineActive = this.#options.projections.flatMap((projection) => {
      const generation = active.get(projection.name);
      return generation === undefined ? [] : [{ name: projection.name, generation }];
    });
    await db.query(
      `UPDATE projections.checkpoints SET lease_until = now() + make_interval(secs => $2)
        WHERE owner = $1 AND (name, generation) IN (SELECT * FROM unnest($3::text[], $4::int[]))`,
      [
        workerId,
        this.#leaseSeconds,
        mineActive.map((entry) => entry.name),
        mineActive.map((entry) => entry.generation),
      ],
    );
    let checkpoints = await this.#checkpoints();
    for (const projection of this.#options.projections) {
      const generation = active.get(projection.name);
      if (generation === undefined) continue;
      const rows = checkpoints.filter((row) => row.name === projection.name && row.generation === generation);
      let changed = false;
      const fairShare = Math.ceil(rows.length / workers);
      const mine = rows.filter((row) => row.owner === workerId && row.leased);
      // Give back shards above a fair share, so a worker that joins gets some (the runner restarts below
      // with the shards it keeps).
      for (const row of mine.slice(fairShare)) {
        changed = true;
        await db.query(
          'UPDATE projections.checkpoints SET owner = NULL, lease_until = NULL WHERE name = $1 AND generation = $2 AND shard = $3 AND owner = $4',
          [projection.name, generation, row.shard, workerId],
        );
      }
      let owned = Math.min(mine.length, fairShare);
      for (const row of rows) {
        if (owned >= fairShare) break;
        if (row.owner === workerId && row.leased) continue;
        if (row.leased || row.error !== null) continue;
        changed = true;
        const claimed = await db.query(
          `UPDATE projections.checkpoints SET owner = $4, lease_until = now() + make_interval(secs => $5)
            WHERE name = $1 AND generation = $2 AND shard = $3 AND (owner IS NULL OR lease_until IS NULL OR lease_until < now())
            RETURNING shard`,
          [projection.name, generation, row.shard, workerId, this.#leaseSeconds],
        );
        if (claimed.length === 1) {
          owned += 1;
          this.#log.info('shard claimed', {
            projection: projection.name,
            generation,
            shard: row.shard,
            previousOwner: row.owner,
          });
        }
      }
      if (changed) checkpoints = await this.#checkpoints();
      const shards = checkpoints
        .filter(
          (row) =>
            row.name === projection.name &&
            row.generation === generation &&
            row.owner === workerId &&
            row.leased &&
            !this.#poisoned.has(shardKey(projection.name, generation, row.shard)),
        )
        .map((row) => row.shard);
      const key = runnerKey(projection.name, generation);
      const running = this.#runners.get(key);
      if (running !== undefined && sameShards(running.shards, shards)) continue;
      if (running !== undefined) this.#stopRunner(running);
      if (shards.length > 0) this.#startRunner(projection, generation, shards, running?.done ?? Promise.resolve());
    }
  }

  /** Starts projecting `shards` of a generation once `previous` (the runner it replaces) has stopped. */
  #startRunner(projection: Projection, generation: number, shards: readonly number[], previous: Promise<void>): void {
    const key = runnerKey(projection.name, generation);
    const abort = new AbortController();
    const runner: Runner = { key, projection, generation, shards, abort, done: Promise.resolve() };
    this.#runners.set(key, runner);
    runner.done = previous
      .then(() => (abort.signal.aborted ? undefined : this.#runShards(runner, this.#options.workerId, abort.signal)))
      .catch((error: unknown) => {
        if (error instanceof LostOwnership) {
          this.#log.warn('shard lease lost', { projection: projection.name, shards, error: error.message });
        } else if (error instanceof ShardPoisoned) {
          this.#poisoned.add(shardKey(projection.name, generation, error.shard));
          this.#log.error('projection stopped on a poison event', {
            projection: projection.name,
            shard: error.shard,
            event: error.poison.event,
            error: error.poison.message,
          });
        } else {
          this.#log.error('projection stopped', { projection: projection.name, shards, error: String(error) });
        }
      })
      .finally(() => {
        if (this.#runners.get(key) === runner) this.#runners.delete(key);
      });
  }

  #stopRunner(runner: Runner): void {
    runner.abort.abort();
    this.#runners.delete(runner.key);
  }

  /**
   * Reads the log once for all the shards of a read model this worker holds, from the oldest of their
   * checkpoints, and applies each batch to all of them in ONE transaction that also moves their checkpoints
   * (one statement, a compare-and-set per shard on its previous position and its lease). A shard is a unit
   * of ownership, not of work: one transaction per shard per batch made a worker holding 31 shards commit
   * 31 transactions for every new event, which on two cores was most of the worker's time
   * (bench/RESULTS.md). Stops when `signal` aborts.
   */
  async #runShards(runner: Runner, owner: string, signal: AbortSignal): Promise<void> {
    const { projection, generation, shards } = runner;
    const { db, store, metrics } = this.#options;
    const schema = generationSchema(projection.name, generation);
    const rows = await db.query<{ shard: number; position: string | null }>(
      `SELECT shard, position FROM projections.checkpoints
        WHERE name = $1 AND generation = $2 AND shard = ANY($3::int[])`,
      [projection.name, generation, shards],
    );
    const positions = new Map<number, Position | null>(
      rows.map((row) => [row.shard, (row.position ?? null) as Position | null]),
    );
    await db.query(
      'UPDATE projections.checkpoints SET error = NULL WHERE name = $1 AND generation = $2 AND shard = ANY($3::int[])',
      [projection.name, generation, shards],
    );
    let after: Position | null = null;
    for (const shard of shards) {
      const position = positions.get(shard) ?? null;
      if (position === null) {
        after = null;
        break;
      }
      if (after === null || position < after) after = position;
    }
    const held = new Set(shards);
    const quietMs = this.#options.quietCheckpointIntervalMs ?? 0;
    const subscription = store.subscribe({
      after,
      filter: projection.filter,
      batchSize: this.#batchSize,
      signal,
      idleBatchIntervalMs: quietMs,
    });
    // When this runner last committed (performance.now()): a batch with nothing to apply waits for quietMs after it.
    let committedAt = performance.now();
    for await (const batch of subscription) {
      const started = performance.now();
      const moves: ShardMove[] = [];
      const byShard = new Map<number, RecordedEvent[]>();
      for (const event of batch.events) {
        const shard = shardOf(event.streamId, projection.shards);
        if (!held.has(shard)) continue;
        const position = positions.get(shard) ?? null;
        if (position !== null && event.position <= position) continue;
        let list = byShard.get(shard);
        if (list === undefined) {
          list = [];
          byShard.set(shard, list);
        }
        list.push(event);
      }
      for (const shard of shards) {
        const previous = positions.get(shard) ?? null;
        if (previous !== null && previous >= batch.checkpoint) continue;
        moves.push({ shard, previous, events: byShard.get(shard) ?? [] });
      }
      // Nothing to apply: the checkpoints stay where they are stored until quietMs after the last commit (a later
      // batch, or the subscription's idle batch, moves them), and `positions` keeps what is stored for the
      // compare-and-set.
      const quiet = quietMs > 0 && moves.every((move) => move.events.length === 0);
      if (moves.length === 0 || (quiet && performance.now() - committedAt < quietMs)) {
        await this.#pauseWhenCaughtUp(batch.caughtUp, signal);
        continue;
      }
      try {
        committedAt = performance.now();
        await this.#commit(projection, generation, owner, schema, moves, batch.checkpoint);
      } catch (error) {
        if (error instanceof LostOwnership || moves.every((move) => move.events.length === 0)) throw error;
        // Find the event the read model cannot apply: the batch again, shard by shard, then event by event.
        await this.#isolatePoison(projection, generation, owner, schema, moves, batch.checkpoint, error);
      }
      for (const move of moves) positions.set(move.shard, batch.checkpoint);
      metrics?.batchApplied(
        projection.name,
        moves.map((move) => ({
          shard: move.shard,
          events: move.events.length,
          lastStoredAt: move.events.at(-1)?.storedAt ?? null,
        })),
        (performance.now() - started) / 1000,
        batch.caughtUp,
      );
      await this.#pauseWhenCaughtUp(batch.caughtUp, signal);
    }
  }

  /**
   * After a batch that reached the head: about `caughtUpIntervalMs` for more events to arrive (a backlog never
   * waits). The wait is spread over 0.5–1.5 times the interval: with the same wait every time, the read models of a
   * worker, woken by the same append, kept waking together and sent PostgreSQL their transactions at once, a burst
   * that took both cores from the ESL connector's appends (p99 8.1 ms on average over six runs, 6.7 ms spread).
   */
  async #pauseWhenCaughtUp(caughtUp: boolean, signal: AbortSignal): Promise<void> {
    const interval = this.#options.caughtUpIntervalMs ?? 0;
    if (!caughtUp || interval <= 0) return;
    const random = this.#options.random ?? Math.random;
    await sleep(interval * (0.5 + random()), signal);
  }

  async #commit(
    projection: Projection,
    generation: number,
    owner: string,
    schema: string,
    moves: readonly ShardMove[],
    next: Position,
  ): Promise<void> {
    const { db, faults } = this.#options;
    const events = moves.length === 1 ? (moves[0] as ShardMove).events : mergeByPosition(moves);
    // Read models are derived from the log and their checkpoints move in the same transaction: a commit the
    // database host loses in a crash is projected again, so it need not wait for its WAL flush. The appends,
    // whose commits do wait, then queue behind fewer flushes (the ESL benchmark showed them waiting on WAL
    // sync more than on anything else).
    await db.transaction(
      async (tx) => {
        if (events.length > 0) await projection.apply(tx, events, { schema, memory: this.#memory(schema) });
        if (faults?.beforeCheckpoint !== undefined) {
          for (const move of moves) await faults.beforeCheckpoint(projection.name, move.shard, move.events);
        }
        await moveCheckpoints(tx, { name: projection.name, generation, owner, next, moves });
      },
      { synchronousCommit: false },
    );
  }

  /**
   * A batch failed. Each shard's part is committed on its own, and the part that fails again event by
   * event, so the event the read model cannot apply is found and named; the shards before it keep what
   * they applied. Throws ShardPoisoned for it, or the batch's error when nothing failed a second time (e.g.
   * a lost connection): the runner restarts from the checkpoints on the next lease round.
   */
  async #isolatePoison(
    projection: Projection,
    generation: number,
    owner: string,
    schema: string,
    moves: readonly ShardMove[],
    next: Position,
    batchError: unknown,
  ): Promise<never> {
    for (const move of moves) {
      try {
        await this.#commit(projection, generation, owner, schema, [move], next);
        continue;
      } catch (error) {
        if (error instanceof LostOwnership || move.events.length === 0) throw error;
      }
      let previous = move.previous;
      for (const event of move.events) {
        try {
          await this.#commit(
            projection,
            generation,
            owner,
            schema,
            [{ shard: move.shard, previous, events: [event] }],
            event.position,
          );
          previous = event.position;
        } catch (error) {
          if (error instanceof LostOwnership) throw error;
          const poison = new PoisonEvent(projection.name, event, error);
          await this.#options.db.query(
            'UPDATE projections.checkpoints SET error = $4::jsonb WHERE name = $1 AND generation = $2 AND shard = $3',
            [projection.name, generation, move.shard, JSON.stringify({ ...poison.event, message: poison.message })],
          );
          this.#options.metrics?.poisoned(projection.name, move.shard);
          throw new ShardPoisoned(move.shard, poison);
        }
      }
      // Every event of this shard applied alone: its checkpoint stops at its last event, not at the batch's end.
    }
    throw batchError;
  }

  async #checkpoints(): Promise<CheckpointRow[]> {
    return this.#options.db.query<CheckpointRow>(
      `SELECT name, generation, shard, position, events_applied::text AS events_applied, last_event_at, owner, lease_until, error,
              (owner IS NOT NULL AND lease_until > now()) AS leased
         FROM projections.checkpoints ORDER BY name, generation, shard`,
    );
  }

  async #activeGenerations(): Promise<Map<string, number>> {
    const rows = await this.#options.db.query<{ name: string; active_generation: number }>(
      'SELECT name, active_generation FROM projections.registry',
    );
    return new Map(rows.map((row) => [row.name, row.active_generation]));
  }
}

/** An index of a generation being rebuilt: dropped while the rows are written, built again before the switch. */
interface DeferredIndex {
  readonly table: string;
  readonly name: string;
  readonly definition: string;
}

/**
 * Drops the secondary indexes of the schemas being rebuilt (not primary keys, not unique indexes: upserts need
 * them) and returns their definitions. Growing an index one row at a time through a rebuild's millions of inserts
 * costs far more than building it once from sorted rows; nobody queries a generation before its switch.
 */
async function deferIndexes(db: SqlClient, schemas: readonly string[]): Promise<DeferredIndex[]> {
  const indexes = await db.query<{ table_name: string; index_name: string; definition: string }>(
    `SELECT t.relname AS table_name, i.relname AS index_name, pg_get_indexdef(x.indexrelid) AS definition
       FROM pg_index x
       JOIN pg_class i ON i.oid = x.indexrelid
       JOIN pg_class t ON t.oid = x.indrelid
       JOIN pg_namespace n ON n.oid = i.relnamespace
      WHERE n.nspname = ANY($1::text[]) AND NOT x.indisprimary AND NOT x.indisunique
      ORDER BY t.relname, i.relname`,
    [schemas],
  );
  for (const index of indexes) {
    const schema = index.definition.match(/ ON (?:ONLY )?([a-z0-9_]+)\./)?.[1];
    if (schema === undefined || !schemas.includes(schema)) throw new Error(`unexpected index ${index.definition}`);
    await db.query(`DROP INDEX ${quoteIdentifier(schema)}.${quoteIdentifier(index.index_name)}`);
  }
  return indexes.map((index) => ({ table: index.table_name, name: index.index_name, definition: index.definition }));
}

/** A foreign key of a generation being rebuilt: dropped while the rows are written, checked once before the switch. */
interface DeferredForeignKey {
  readonly schema: string;
  readonly table: string;
  readonly name: string;
  readonly definition: string;
}

/**
 * Drops the foreign keys of the schemas being rebuilt and returns their definitions. Each row inserted into a
 * referencing table (journal lines) fired a trigger that looked up and locked its referenced row; adding the key
 * again at the end checks every row in one query.
 */
async function deferForeignKeys(db: SqlClient, schemas: readonly string[]): Promise<DeferredForeignKey[]> {
  const keys = await db.query<{ schema: string; table: string; name: string; definition: string }>(
    `SELECT n.nspname AS schema, t.relname AS table, c.conname AS name, pg_get_constraintdef(c.oid) AS definition
       FROM pg_constraint c
       JOIN pg_class t ON t.oid = c.conrelid
       JOIN pg_namespace n ON n.oid = t.relnamespace
      WHERE c.contype = 'f' AND n.nspname = ANY($1::text[])
      ORDER BY n.nspname, t.relname, c.conname`,
    [schemas],
  );
  for (const key of keys) {
    await db.query(
      `ALTER TABLE ${quoteIdentifier(key.schema)}.${quoteIdentifier(key.table)} DROP CONSTRAINT ${quoteIdentifier(key.name)}`,
    );
  }
  return keys;
}

/** Adds the deferred foreign keys again; a row that breaks one fails the rebuild before anything switches. */
async function restoreForeignKeys(db: SqlClient, keys: readonly DeferredForeignKey[]): Promise<void> {
  for (const key of keys) {
    await db.query(
      `ALTER TABLE ${quoteIdentifier(key.schema)}.${quoteIdentifier(key.table)} ADD CONSTRAINT ${quoteIdentifier(key.name)} ${key.definition}`,
    );
  }
}

/** Builds the deferred indexes, a few at a time (each build sorts its table once). */
async function buildIndexes(db: SqlClient, indexes: readonly DeferredIndex[]): Promise<void> {
  const queue = [...indexes];
  const builder = async (): Promise<void> => {
    for (let index = queue.shift(); index !== undefined; index = queue.shift()) {
      const definition = index.definition;
      await db.transaction(async (tx) => {
        await tx.query(`SET LOCAL maintenance_work_mem = '${INDEX_BUILD_MEMORY}'`);
        await tx.query(definition);
      });
    }
  };
  await Promise.all(Array.from({ length: Math.min(INDEX_BUILDS_IN_PARALLEL, queue.length) }, builder));
}

async function ensureCheckpoints(db: SqlQueryable, name: string, generation: number, shards: number): Promise<void> {
  await db.query(
    `INSERT INTO projections.checkpoints (name, generation, shard)
     SELECT $1, $2, s FROM generate_series(0, $3 - 1) AS s
     ON CONFLICT DO NOTHING`,
    [name, generation, shards],
  );
}

async function moveCheckpoints(
  tx: SqlQueryable,
  move: {
    readonly name: string;
    readonly generation: number;
    readonly owner: string;
    readonly next: Position;
    readonly moves: readonly ShardMove[];
  },
): Promise<void> {
  const rows = await tx.query(
    `UPDATE projections.checkpoints AS c
        SET position = $4, events_applied = c.events_applied + m.applied, updated_at = now(),
            last_event_at = COALESCE(m.last_event_at, c.last_event_at)
       FROM unnest($5::int[], $6::text[], $7::bigint[], $8::timestamptz[]) AS m (shard, previous, applied, last_event_at)
      WHERE c.name = $1 AND c.generation = $2 AND c.shard = m.shard AND c.owner = $3 AND c.lease_until > now()
        AND c.position IS NOT DISTINCT FROM m.previous
      RETURNING c.shard`,
    [
      move.name,
      move.generation,
      move.owner,
      move.next,
      move.moves.map((shard) => shard.shard),
      move.moves.map((shard) => shard.previous),
      move.moves.map((shard) => shard.events.length),
      move.moves.map((shard) => shard.events.at(-1)?.storedAt ?? null),
    ],
    { name: 'khata_projector_checkpoints' },
  );
  if (rows.length !== move.moves.length) {
    const shards = move.moves.map((shard) => shard.shard).join(',');
    throw new LostOwnership(`${move.name} shards ${shards} are no longer all owned by ${move.owner}`);
  }
}

/** The shards' events in log order (each shard's list is in log order already). */
function mergeByPosition(moves: readonly ShardMove[]): RecordedEvent[] {
  const events = moves.flatMap((move) => move.events);
  return events.sort((a, b) => (a.position < b.position ? -1 : a.position > b.position ? 1 : 0));
}

function sameShards(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((shard, index) => shard === b[index]);
}

function runnerKey(name: string, generation: number): string {
  return `${name}/${generation}`;
}

function shardKey(name: string, generation: number, shard: number): string {
  return `${name}/${generation}/${shard}`;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
