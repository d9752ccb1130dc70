import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { backendCpuSecondsBetween, backendCpuSnapshot, ownCpuSeconds } from './cpu.ts';
import { percentile } from './stats.ts';

/**
 * The workloads every store runs, written once against `StoreUnderTest` so both stores do exactly
 * the same calls with the same events. Inputs are built before the clock starts; only store calls
 * are timed.
 */

/** One event as the benchmark hands it to either store (each target maps it to its own API). */
export interface BenchEvent {
  readonly eventId: string;
  readonly type: string;
  readonly data: { readonly [key: string]: string | number | boolean };
  readonly metadata: { readonly [key: string]: string };
}

/** What a store has to offer the benchmark. */
export interface StoreUnderTest {
  readonly label: string;
  /** Appends with an exact expected version (0n: the stream must not exist yet). */
  append(stream: string, events: readonly BenchEvent[], expectedVersion: bigint): Promise<void>;
  /** Reads a whole stream with the store's stream read; returns how many events came back. */
  readStream(stream: string): Promise<number>;
  /** A reader of the global log from its start, one page per `next()`, with the store's own cursor. */
  logReader(pageSizeEvents: number): LogReader;
  /** Empties the store so every workload starts from the same state. */
  reset(): Promise<void>;
  /** VACUUM ANALYZE and CHECKPOINT: fresh statistics, set hint bits, no checkpoint mid-measurement. */
  settle(): Promise<void>;
  /** Opens every pool connection (a few overlapping trivial queries), so no timed call waits for one. */
  openConnections(): Promise<void>;
  /** Process ids of the PostgreSQL backends serving this store (none for PGlite, which runs in process). */
  serverProcessIds(): Promise<number[]>;
  close(): Promise<void>;
}

export interface LogReader {
  /** Reads the page after the previous one; `caughtUp` once nothing lies beyond it. */
  next(): Promise<{ readonly events: number; readonly caughtUp: boolean }>;
}

export type WorkloadName =
  | 'append-sequential-1'
  | 'append-concurrent-32x1'
  | 'append-concurrent-32x100'
  | 'read-stream-10k'
  | 'catch-up-100k';

export interface WorkloadResult {
  readonly workload: WorkloadName;
  readonly events: number;
  readonly durationSeconds: number;
  readonly perSecond: number;
  /** Per call (one append, one stream read, one log page), in milliseconds. */
  readonly latencyP50Ms: number;
  readonly latencyP99Ms: number;
  /** CPU time of the benchmark process (the store's client side; all of PGlite) per 1,000 events. */
  readonly clientCpuMsPer1000Events: number;
  /** CPU time of the PostgreSQL backends serving the store per 1,000 events (0 for PGlite). */
  readonly serverCpuMsPer1000Events: number;
  /** True when the phase hit its time limit before doing all its work. */
  readonly cutShort: boolean;
}

/** How much each workload does. The warm-up runs the same code at a tenth of the size. */
export interface Scale {
  readonly sequentialAppends: number;
  readonly concurrentWriters: number;
  readonly concurrentAppendsPerWriter: number;
  readonly batchWriters: number;
  readonly batchEvents: number;
  readonly batchesPerWriter: number;
  readonly longStreamEvents: number;
  readonly longStreamReads: number;
  readonly logStreams: number;
  readonly logEventsPerStream: number;
  readonly logPageEvents: number;
  readonly catchUpPasses: number;
  /** Every timed phase stops here even if unfinished (and says so), so a slow store cannot hang the run. */
  readonly phaseDurationSecondsMax: number;
  /** VACUUM ANALYZE and CHECKPOINT before each timed phase; the warm-up skips them, it times nothing. */
  readonly settle: boolean;
}

export const FULL_SCALE: Scale = {
  sequentialAppends: 2_000,
  concurrentWriters: 32,
  concurrentAppendsPerWriter: 150,
  batchWriters: 32,
  batchEvents: 100,
  batchesPerWriter: 15,
  longStreamEvents: 10_000,
  longStreamReads: 10,
  logStreams: 100,
  logEventsPerStream: 1_000,
  logPageEvents: 1_000,
  catchUpPasses: 1,
  phaseDurationSecondsMax: 60,
  settle: true,
};

export const WARM_UP_SCALE: Scale = {
  ...FULL_SCALE,
  sequentialAppends: 200,
  concurrentAppendsPerWriter: 15,
  batchesPerWriter: 2,
  longStreamEvents: 1_000,
  longStreamReads: 5,
  logStreams: 10,
  settle: false,
};

/** For trying the harness out: a few seconds per store, numbers not worth reporting. */
export const QUICK_SCALE: Scale = {
  ...WARM_UP_SCALE,
  sequentialAppends: 500,
  concurrentAppendsPerWriter: 30,
  batchesPerWriter: 3,
  longStreamEvents: 2_000,
  longStreamReads: 5,
  logStreams: 20,
  settle: true,
};

/** Bound on the pages a catch-up pass may read: twice what the log needs, so a loop cannot run away. */
function logPagesMax(scale: Scale): number {
  return 2 * Math.ceil((scale.logStreams * scale.logEventsPerStream) / scale.logPageEvents) + 2;
}

let eventSequence = 0;

/**
 * A rated call as the billing ledger records it: about 400 bytes of data and metadata, similar to
 * Khata's CdrRated. Only the ids differ between events, so both stores store the same bytes.
 */
export function billingEvent(accountNumber: number): BenchEvent {
  eventSequence += 1;
  const callId = randomUUID();
  return {
    eventId: randomUUID(),
    type: 'CdrRated',
    data: {
      accountId: `acct-${accountNumber.toString().padStart(8, '0')}`,
      callId,
      direction: 'outbound',
      callingNumber: '+918040001234',
      calledNumber: `+9198${(eventSequence % 100_000_000).toString().padStart(8, '0')}`,
      answeredAt: '2025-06-01T10:15:00.000+05:30',
      durationSeconds: 60 + (eventSequence % 600),
      billableSeconds: 60 + (eventSequence % 600),
      tariffId: 'india-outbound-mobile-2025',
      ratePaisePerMinute: 45,
      amount: '0.4500',
      taxAmount: '0.0810',
    },
    metadata: {
      commandId: randomUUID(),
      correlationId: callId,
      actor: 'rater',
      recordedAt: '2025-06-01T10:16:00.000+05:30',
    },
  };
}

function events(count: number, accountNumber: number): BenchEvent[] {
  return Array.from({ length: count }, () => billingEvent(accountNumber));
}

class Phase {
  readonly #store: StoreUnderTest;
  readonly #deadlineMs: number;
  #startMs = 0;
  #clientCpuSeconds = 0;
  #serverCpu = new Map<number, number>();
  readonly latenciesMs: number[] = [];
  events = 0;
  cutShort = false;

  private constructor(store: StoreUnderTest, scale: Scale) {
    this.#store = store;
    this.#deadlineMs = scale.phaseDurationSecondsMax * 1000;
  }

  /** Starts the clock (and the CPU meters) once everything the phase needs is prepared. */
  static async start(store: StoreUnderTest, scale: Scale): Promise<Phase> {
    if (scale.settle) await store.settle();
    // The other store ran meanwhile and the pool may have closed idle connections: open them again
    // now rather than inside the timed phase.
    await store.openConnections();
    const phase = new Phase(store, scale);
    phase.#serverCpu = backendCpuSnapshot(await store.serverProcessIds());
    phase.#clientCpuSeconds = ownCpuSeconds();
    phase.#startMs = performance.now();
    return phase;
  }

  /** False once the time limit has passed; the phase then reports what it finished. */
  hasTime(): boolean {
    if (performance.now() - this.#startMs < this.#deadlineMs) return true;
    this.cutShort = true;
    return false;
  }

  async timed<T>(call: () => Promise<T>): Promise<T> {
    const startMs = performance.now();
    const result = await call();
    this.latenciesMs.push(performance.now() - startMs);
    return result;
  }

  async finish(workload: WorkloadName): Promise<WorkloadResult> {
    const durationSeconds = (performance.now() - this.#startMs) / 1000;
    const clientCpuSeconds = ownCpuSeconds() - this.#clientCpuSeconds;
    const serverCpuSeconds = backendCpuSecondsBetween(
      this.#serverCpu,
      backendCpuSnapshot(await this.#store.serverProcessIds()),
    );
    const latencies = this.latenciesMs.length === 0 ? [0] : this.latenciesMs;
    const perThousandEventsMs = (seconds: number): number =>
      this.events === 0 ? 0 : (seconds * 1000 * 1000) / this.events;
    return {
      workload,
      events: this.events,
      durationSeconds,
      perSecond: this.events / durationSeconds,
      latencyP50Ms: percentile(latencies, 0.5),
      latencyP99Ms: percentile(latencies, 0.99),
      clientCpuMsPer1000Events: perThousandEventsMs(clientCpuSeconds),
      serverCpuMsPer1000Events: perThousandEventsMs(serverCpuSeconds),
      cutShort: this.cutShort,
    };
  }
}

/** 1. One writer appends single events to one stream, each with the exact version it expects (CAS). */
async function appendSequential(store: StoreUnderTest, scale: Scale): Promise<WorkloadResult> {
  const stream = 'account-sequential';
  await store.append(stream, events(1, 0), 0n);
  const inputs = Array.from({ length: scale.sequentialAppends }, () => events(1, 0));
  const phase = await Phase.start(store, scale);
  let version = 1n;
  for (const input of inputs) {
    if (!phase.hasTime()) break;
    await phase.timed(() => store.append(stream, input, version));
    version += 1n;
    phase.events += 1;
  }
  return phase.finish('append-sequential-1');
}

/** Writers each own a stream and append to it back to back with CAS; all writers run at once. */
async function appendConcurrent(
  store: StoreUnderTest,
  scale: Scale,
  writers: number,
  appendsPerWriter: number,
  eventsPerAppend: number,
  workload: WorkloadName,
): Promise<WorkloadResult> {
  const streams = Array.from({ length: writers }, (_, writer) => `account-${workload}-${writer}`);
  // Each stream exists before the clock starts, so every timed append is the same CAS update.
  await Promise.all(streams.map((stream, writer) => store.append(stream, events(1, writer), 0n)));
  const inputs = streams.map((_, writer) =>
    Array.from({ length: appendsPerWriter }, () => events(eventsPerAppend, writer)),
  );
  const phase = await Phase.start(store, scale);
  await Promise.all(
    streams.map(async (stream, writer) => {
      let version = 1n;
      for (const input of inputs[writer] as BenchEvent[][]) {
        if (!phase.hasTime()) return;
        await phase.timed(() => store.append(stream, input, version));
        version += BigInt(input.length);
        phase.events += input.length;
      }
    }),
  );
  return phase.finish(workload);
}

/** 4. Reads one long stream whole, again and again. */
async function readLongStream(store: StoreUnderTest, scale: Scale): Promise<WorkloadResult> {
  const stream = 'account-long';
  const chunkEvents = 100;
  for (let version = 0; version < scale.longStreamEvents; version += chunkEvents) {
    await store.append(stream, events(chunkEvents, 1), BigInt(version));
  }
  // One untimed read so both stores start from pages already in shared buffers.
  await store.readStream(stream);
  const phase = await Phase.start(store, scale);
  for (let read = 0; read < scale.longStreamReads; read += 1) {
    if (!phase.hasTime()) break;
    const count = await phase.timed(() => store.readStream(stream));
    if (count !== scale.longStreamEvents) {
      throw new Error(`${store.label} read ${count} events of a ${scale.longStreamEvents}-event stream`);
    }
    phase.events += count;
  }
  return phase.finish('read-stream-10k');
}

/** Reads the global log from its start to its end; returns the events read. */
async function readWholeLog(store: StoreUnderTest, scale: Scale, phase: Phase): Promise<number> {
  const reader = store.logReader(scale.logPageEvents);
  let count = 0;
  for (let page = 0; page < logPagesMax(scale); page += 1) {
    const result = await phase.timed(() => reader.next());
    count += result.events;
    if (result.caughtUp) return count;
  }
  throw new Error(`${store.label} did not catch up within ${logPagesMax(scale)} pages`);
}

/**
 * 5. Reads the whole global log in pages, as a projection catching up from the start does. The log is
 * written by one writer, so each transaction's events are contiguous in both stores' orders and a
 * reader that keeps only the sequence number as its checkpoint (Emmett 0.42) still sees every event.
 */
async function catchUp(store: StoreUnderTest, scale: Scale): Promise<WorkloadResult> {
  for (let stream = 0; stream < scale.logStreams; stream += 1) {
    await store.append(`account-log-${stream}`, events(scale.logEventsPerStream, stream), 0n);
  }
  const expected = scale.logStreams * scale.logEventsPerStream;
  // The log was just written, so both stores start with its pages in shared buffers (it takes about
  // 85 MB with its indexes in either store; the default is 128 MB): no untimed pass is needed.
  const phase = await Phase.start(store, scale);
  for (let pass = 0; pass < scale.catchUpPasses; pass += 1) {
    if (!phase.hasTime()) break;
    const count = await readWholeLog(store, scale, phase);
    if (count !== expected) throw new Error(`${store.label} caught up ${count} events of ${expected}`);
    phase.events += count;
  }
  return phase.finish('catch-up-100k');
}

export const WORKLOAD_NAMES: readonly WorkloadName[] = [
  'append-sequential-1',
  'append-concurrent-32x1',
  'append-concurrent-32x100',
  'read-stream-10k',
  'catch-up-100k',
];

/** Runs one workload from an empty store. */
export async function runWorkload(
  store: StoreUnderTest,
  scale: Scale,
  workload: WorkloadName,
): Promise<WorkloadResult> {
  await store.reset();
  switch (workload) {
    case 'append-sequential-1':
      return appendSequential(store, scale);
    case 'append-concurrent-32x1':
      return appendConcurrent(
        store,
        scale,
        scale.concurrentWriters,
        scale.concurrentAppendsPerWriter,
        1,
        'append-concurrent-32x1',
      );
    case 'append-concurrent-32x100':
      return appendConcurrent(
        store,
        scale,
        scale.batchWriters,
        scale.batchesPerWriter,
        scale.batchEvents,
        'append-concurrent-32x100',
      );
    case 'read-stream-10k':
      return readLongStream(store, scale);
    case 'catch-up-100k':
      return catchUp(store, scale);
  }
}
