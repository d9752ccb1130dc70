import {
  type AccountDecider,
  type AccountState,
  type Decided,
  isRejection,
  STATE_SNAPSHOT_VERSION,
  stateFromJson,
  stateToJson,
  upcastAccountEvent,
} from '@khata/domain';
import {
  AppendGuardRefused,
  type AppendResult,
  DuplicateEventId,
  type EventStore,
  type JsonObject,
  type NewEvent,
  type RecordedEvent,
  type StreamAppend,
  type StreamAppendOutcome,
  WrongExpectedVersion,
} from '@khata/event-store';
import { type AccountCommand, CURRENT_EVENT_VERSION } from '@khata/schemas';
import { type ChainedMetadata, chainHash, GENESIS_HASH } from './chain.ts';
import { GroupCommit } from './group-commit.ts';
import { accountStream, eventIdFor } from './ids.ts';
import { type AcceptedEvent, type CommandOutcome, type LoggedOutcome, toLogged } from './outcome.ts';
import type { CommandLog, SnapshotStore } from './stores.ts';

/** Who issued a command and why, recorded in each event's metadata. */
export interface CommandMeta {
  /** `user:<id>`, `system:scheduler`, `freeswitch:<node>`, … */
  readonly actor: string;
  readonly correlationId?: string;
  readonly causationId?: string;
}

/** An account as the writer holds it: state folded up to `version`, and the chain hash of that event. */
export interface LoadedAccount {
  readonly streamId: string;
  readonly state: AccountState;
  readonly version: bigint;
  readonly lastHash: string;
}

export interface AccountWriterOptions {
  readonly store: EventStore;
  readonly commandLog: CommandLog;
  readonly snapshots: SnapshotStore;
  readonly decider: AccountDecider;
  /** The handler's clock: `now` for decisions and `recordedAt` (the domain never reads a clock). */
  readonly clock: () => Date;
  /** Commands for one account decided together and appended in one write. */
  readonly batchMax?: number;
  /** Accounts whose state stays in memory between commands (least recently used leave first). */
  readonly cachedAccountsMax?: number;
  /** Take a snapshot each time a stream passes a multiple of this many events. */
  readonly snapshotEvery?: number;
  /** Appends retried after losing a compare-and-set to another process. */
  readonly appendAttemptsMax?: number;
  /** Called after each successful append, for live updates and tests (errors are ignored). */
  readonly onAppended?: (streamId: string, events: readonly AcceptedEvent[]) => void;
  /**
   * Group commit across accounts: the command-log reads and writes and the appends of all accounts
   * whose batches are ready at the same moment go out together (one statement each). `false` writes
   * each account on its own.
   */
  readonly groupCommit?: false | { readonly accountsMax?: number; readonly inFlightMax?: number };
}

export const BATCH_COMMANDS_MAX = 256;
export const CACHED_ACCOUNTS_MAX = 10_000;
export const SNAPSHOT_EVERY_EVENTS = 500;
export const APPEND_ATTEMPTS_MAX = 8;
/** Accounts whose writes share one group commit. */
export const GROUP_COMMIT_ACCOUNTS_MAX = 1_000;
/**
 * Group commits on their way at once: two keep the database busy while the next group is decided,
 * without holding more pool connections than a burst of single commands would.
 */
export const GROUP_COMMIT_IN_FLIGHT_MAX = 2;
/** Accounts loaded from their snapshot at the same time (the rest wait their turn, not the pool's). */
export const COLD_LOADS_IN_FLIGHT_MAX = 8;
const READ_PAGE_EVENTS = 1_000;
/** How far back a re-submitted command's events are searched for when its log entry is missing. */
const ORIGINAL_SCAN_EVENTS_MAX = 10_000;

interface Pending {
  readonly command: AccountCommand;
  readonly meta: CommandMeta;
  readonly resolve: (outcome: CommandOutcome) => void;
  readonly reject: (error: unknown) => void;
}

interface Queue {
  readonly items: Pending[];
  running: boolean;
}

/**
 * The single writer of each account in this process (SPEC §14: a hot account's commands are batched
 * by one writer rather than fighting over compare-and-set). Commands for one account queue up; the
 * writer takes up to `batchMax` of them, decides them one after another against the evolving state,
 * and appends all their events in one write with the expected version. Another process appending to
 * the same stream makes the append fail with WrongExpectedVersion: the writer then reads what it
 * missed and decides the batch again (bounded).
 *
 * Idempotency: a command id seen before gets its logged outcome; event ids derive from the command id
 * (or from the fact an event records), so even a command whose log entry was lost appends nothing new.
 */
export class AccountWriter {
  readonly #options: Required<Omit<AccountWriterOptions, 'onAppended' | 'groupCommit'>> &
    Pick<AccountWriterOptions, 'onAppended'>;
  readonly #queues = new Map<string, Queue>();
  readonly #cache = new Map<string, LoadedAccount>();
  readonly #logReads: GroupCommit<readonly string[], ReadonlyMap<string, LoggedOutcome>> | null;
  readonly #logWrites: GroupCommit<readonly LoggedOutcome[], null> | null;
  readonly #appends: GroupCommit<StreamAppend, StreamAppendOutcome> | null;
  #coldLoads = 0;
  /** Snapshot saves on their way: a command is answered without waiting for them (`settled` does). */
  readonly #snapshotSaves = new Set<Promise<void>>();
  readonly #coldWaiting: (() => void)[] = [];

  constructor(options: AccountWriterOptions) {
    this.#options = {
      batchMax: BATCH_COMMANDS_MAX,
      cachedAccountsMax: CACHED_ACCOUNTS_MAX,
      snapshotEvery: SNAPSHOT_EVERY_EVENTS,
      appendAttemptsMax: APPEND_ATTEMPTS_MAX,
      ...options,
    };
    const group = options.groupCommit ?? {};
    if (group === false) {
      this.#logReads = null;
      this.#logWrites = null;
      this.#appends = null;
      return;
    }
    const bounds = {
      itemsMax: group.accountsMax ?? GROUP_COMMIT_ACCOUNTS_MAX,
      inFlightMax: group.inFlightMax ?? GROUP_COMMIT_IN_FLIGHT_MAX,
    };
    const { commandLog, store } = options;
    this.#logReads = new GroupCommit(async (lists) => {
      const found = await commandLog.getMany(lists.flat());
      return lists.map(() => found);
    }, bounds);
    this.#logWrites = new GroupCommit(async (lists) => {
      await commandLog.putMany(lists.flat());
      return lists.map(() => null);
    }, bounds);
    this.#appends =
      store.appendToStreams === undefined
        ? null
        : new GroupCommit(
            (appends) => (store.appendToStreams as NonNullable<EventStore['appendToStreams']>)(appends),
            bounds,
          );
  }

  /** Queues a (schema-valid) command behind the account's earlier ones; resolves with its outcome. */
  submit(command: AccountCommand, meta: CommandMeta): Promise<CommandOutcome> {
    const streamId = accountStream(command.accountId);
    return new Promise((resolve, reject) => {
      let queue = this.#queues.get(streamId);
      if (queue === undefined) {
        queue = { items: [], running: false };
        this.#queues.set(streamId, queue);
      }
      queue.items.push({ command, meta, resolve, reject });
      if (!queue.running) {
        queue.running = true;
        queueMicrotask(() => void this.#drain(streamId, queue as Queue));
      }
    });
  }

  /** The account's current state (from memory, a snapshot and the stream), for reads that need the authority. */
  async load(accountId: string): Promise<LoadedAccount> {
    const streamId = accountStream(accountId);
    const cached = this.#cache.get(streamId);
    return cached === undefined ? this.#coldLoad(streamId) : this.#catchUp(cached);
  }

  /**
   * The state this writer holds for the account, without reading anything (undefined when it holds none).
   * It is the fold of events the store has committed, up to `version`: an append's state is kept only
   * once the append succeeded.
   */
  held(accountId: string): { readonly version: bigint; readonly state: AccountState } | undefined {
    return this.#cache.get(accountStream(accountId));
  }

  /** Forgets cached state, e.g. after a test rewrites a stream. */
  forget(accountId: string): void {
    this.#cache.delete(accountStream(accountId));
  }

  async #drain(streamId: string, queue: Queue): Promise<void> {
    try {
      while (queue.items.length > 0) {
        const batch = queue.items.splice(0, this.#options.batchMax);
        try {
          await this.#process(streamId, batch);
        } catch (error) {
          for (const item of batch) item.reject(error);
          this.#cache.delete(streamId);
        }
      }
    } finally {
      queue.running = false;
      if (queue.items.length > 0) {
        queue.running = true;
        queueMicrotask(() => void this.#drain(streamId, queue));
      } else {
        this.#queues.delete(streamId);
      }
    }
  }

  /**
   * The logged outcomes of `commandIds` (all of one account: the writer works stream by stream), as they were
   * answered first: an accepted command's events are named in the log, and their data is read back from the
   * stream, one read for the entries whose events lie close together (a retried batch's, typically).
   */
  async #logged(commandIds: readonly string[]): Promise<ReadonlyMap<string, CommandOutcome>> {
    const logged = await (this.#logReads === null
      ? this.#options.commandLog.getMany(commandIds)
      : this.#logReads.submit(commandIds));
    const outcomes = new Map<string, CommandOutcome>();
    const named: Extract<LoggedOutcome, { status: 'accepted' }>[] = [];
    for (const commandId of commandIds) {
      const entry = logged.get(commandId);
      if (entry === undefined) continue;
      if (entry.status === 'rejected' || entry.events.every((event) => event.data !== undefined)) {
        outcomes.set(commandId, entry as CommandOutcome);
      } else {
        named.push(entry);
      }
    }
    if (named.length === 0) return outcomes;
    const stored = await this.#eventsNamed(named);
    for (const entry of named) {
      outcomes.set(entry.commandId, {
        ...entry,
        events: entry.events.map((event) => {
          const found = stored.get(event.eventId);
          if (found === undefined || found.streamId !== entry.streamId || found.version.toString() !== event.version) {
            throw new Error(
              `command ${entry.commandId}: its log entry names event ${event.eventId} at version ${event.version} of ${entry.streamId}, which the stream does not hold there`,
            );
          }
          return accepted(found);
        }),
      });
    }
    return outcomes;
  }

  /**
   * The events the entries name, by id: read in ranges of the stream of at most READ_PAGE_EVENTS versions, each
   * covering as many entries' events as fit in it.
   */
  async #eventsNamed(
    entries: readonly Extract<LoggedOutcome, { status: 'accepted' }>[],
  ): Promise<Map<string, RecordedEvent>> {
    const wanted = entries
      .flatMap((entry) => entry.events.map((event) => ({ streamId: entry.streamId, version: BigInt(event.version) })))
      .sort((a, b) => (a.streamId < b.streamId ? -1 : a.streamId > b.streamId ? 1 : Number(a.version - b.version)));
    const ranges: { streamId: string; from: bigint; to: bigint }[] = [];
    for (const { streamId, version } of wanted) {
      const last = ranges.at(-1);
      if (last !== undefined && last.streamId === streamId && version - last.from < BigInt(READ_PAGE_EVENTS)) {
        if (version > last.to) last.to = version;
      } else {
        ranges.push({ streamId, from: version, to: version });
      }
    }
    const found = new Map<string, RecordedEvent>();
    for (const { streamId, from, to } of ranges) {
      const { events } = await this.#options.store.readStream(streamId, {
        fromVersion: from,
        maxCount: Number(to - from + 1n),
      });
      for (const event of events) found.set(event.eventId, event);
    }
    return found;
  }

  async #log(outcomes: readonly CommandOutcome[]): Promise<void> {
    if (outcomes.length === 0) return;
    const entries = outcomes.map(toLogged);
    if (this.#logWrites === null) await this.#options.commandLog.putMany(entries);
    else await this.#logWrites.submit(entries);
  }

  /**
   * Appends the batch's events; `outcomes` go with them as the store's companions, so a SQL store writes them to
   * the command log in the same statement (`logged`). Otherwise the caller writes the log after the append.
   */
  async #append(
    stream: string,
    events: readonly NewEvent[],
    expected: bigint,
    outcomes: readonly CommandOutcome[],
    guarded: boolean,
  ): Promise<{ readonly result: AppendResult; readonly logged: boolean }> {
    const wanted = expected === 0n ? ('no_stream' as const) : expected;
    if (this.#appends === null) {
      return { result: await this.#options.store.appendToStream(stream, events, { expected: wanted }), logged: false };
    }
    const outcome = await this.#appends.submit({
      stream,
      events,
      expected: wanted,
      companions: outcomes.map(toLogged) as unknown as readonly JsonObject[],
      ...(guarded ? { guarded: true } : {}),
    });
    if (!outcome.ok) throw outcome.error;
    return { result: outcome.result, logged: outcome.companionsRecorded === true };
  }

  async #process(streamId: string, batch: readonly Pending[]): Promise<void> {
    if (this.#appends !== null && this.#options.store.guardsCompanions === true) {
      // Without reading the command log first: the append itself is refused if any of these commands is in the
      // log already (one round trip per command instead of two). A batch that appends nothing, or whose append
      // is refused or cannot be checked, takes the path below.
      const { fresh, waiting } = withoutTwins(batch, new Map());
      try {
        const outcomes = await this.#decideAndAppend(streamId, fresh, true);
        answer(waiting, outcomes);
        return;
      } catch (error) {
        if (!(error instanceof AppendGuardRefused)) throw error;
      }
    }
    const logged = await this.#logged(batch.map((item) => item.command.commandId));
    const { fresh, waiting } = withoutTwins(batch, logged);
    if (fresh.length === 0) return;
    answer(waiting, await this.#decideAndAppend(streamId, fresh));
  }

  /**
   * `guarded`: the commands were not looked up in the log; the append must be refused if one of them is there,
   * and a batch that appends nothing is not answered here (AppendGuardRefused: the caller reads the log).
   */
  async #decideAndAppend(
    streamId: string,
    items: readonly Pending[],
    guarded = false,
  ): Promise<Map<string, CommandOutcome>> {
    for (let attempt = 1; ; attempt += 1) {
      // This process is the account's only writer almost always, so its cached state is current and
      // reading the stream first would only add a round trip to every command. The append's
      // compare-and-set catches the rare write from elsewhere. A rejection writes nothing and so
      // proves nothing about freshness: it is decided again on state read from the stream.
      const cached = attempt === 1 ? this.#cache.get(streamId) : undefined;
      const known = cached ?? this.#cache.get(streamId);
      let loaded = cached ?? (known === undefined ? await this.#coldLoad(streamId) : await this.#catchUp(known));
      const now = this.#options.clock();
      let draft = this.#decideAll(loaded, items, now);
      if (cached !== undefined && draft.outcomes.some((outcome) => outcome.status === 'rejected')) {
        loaded = await this.#catchUp(cached);
        draft = this.#decideAll(loaded, items, now);
      }
      const outcomes = new Map<string, CommandOutcome>();
      if (guarded && draft.events.length === 0) throw new AppendGuardRefused(streamId, 'unchecked');
      if (draft.events.length === 0) {
        for (const outcome of draft.outcomes) outcomes.set(outcome.commandId, outcome);
        await this.#log(draft.outcomes);
        return outcomes;
      }
      let logged: boolean;
      try {
        const appended = await this.#append(streamId, draft.events, loaded.version, draft.outcomes, guarded);
        const result = appended.result;
        logged = appended.logged;
        if (result.nextVersion !== draft.version) {
          // The store already had these exact events (same ids, same content): the append was a retry
          // of one that succeeded. Nothing was written now; recover what was.
          this.#cache.delete(streamId);
          return this.#oneByOne(streamId, items);
        }
      } catch (error) {
        if (error instanceof WrongExpectedVersion && attempt < this.#options.appendAttemptsMax) {
          // Another process wrote to this account: read what we missed and decide again.
          await pause(attempt);
          continue;
        }
        if (error instanceof DuplicateEventId) return this.#oneByOne(streamId, items);
        throw error;
      }
      this.#remember({ streamId, state: draft.state, version: draft.version, lastHash: draft.lastHash });
      if (!logged) await this.#log(draft.outcomes);
      for (const outcome of draft.outcomes) outcomes.set(outcome.commandId, outcome);
      this.#notify(streamId, draft.outcomes);
      this.#maybeSnapshot(streamId, loaded.version, draft);
      return outcomes;
    }
  }

  /**
   * An event id in the batch already exists with other content: some command in it was applied before
   * (its log entry lost, or a fact such as a CDR reported twice). Each command alone tells which.
   */
  async #oneByOne(streamId: string, items: readonly Pending[]): Promise<Map<string, CommandOutcome>> {
    const outcomes = new Map<string, CommandOutcome>();
    if (items.length === 1) {
      const [item] = items as [Pending];
      this.#cache.delete(streamId);
      outcomes.set(item.command.commandId, await this.#originalOutcome(streamId, item));
      return outcomes;
    }
    for (const item of items) {
      const single = await this.#decideAndAppend(streamId, [item]);
      for (const [id, outcome] of single) outcomes.set(id, outcome);
    }
    return outcomes;
  }

  /**
   * The outcome of a command whose events (or whose fact's event) are already stored: found by their
   * derived ids among the stream's recent events. The command log records it for next time.
   */
  async #originalOutcome(streamId: string, item: Pending): Promise<CommandOutcome> {
    const loaded = await this.load(item.command.accountId);
    const draft = this.#decideAll(loaded, [item], this.#options.clock());
    const wanted = new Set(draft.events.map((event) => event.eventId));
    const found: AcceptedEvent[] = [];
    let before = loaded.version;
    let scanned = 0;
    while (before > 0n && scanned < ORIGINAL_SCAN_EVENTS_MAX && found.length < wanted.size) {
      const { events } = await this.#options.store.readStream(streamId, {
        direction: 'backwards',
        fromVersion: before,
        maxCount: READ_PAGE_EVENTS,
      });
      for (const event of events) {
        if (wanted.has(event.eventId)) found.unshift(accepted(event));
      }
      scanned += events.length;
      if (events.length === 0) break;
      before -= BigInt(events.length);
    }
    const outcome: CommandOutcome = {
      status: 'accepted',
      commandId: item.command.commandId,
      streamId,
      events: found,
      streamVersion: loaded.version.toString(),
    };
    await this.#log([outcome]);
    return outcome;
  }

  #decideAll(
    loaded: LoadedAccount,
    items: readonly Pending[],
    now: Date,
  ): {
    events: NewEvent[];
    outcomes: CommandOutcome[];
    state: AccountState;
    version: bigint;
    lastHash: string;
  } {
    const { decider } = this.#options;
    let { state, version, lastHash } = loaded;
    const events: NewEvent[] = [];
    const outcomes: CommandOutcome[] = [];
    const recordedAt = now.toISOString();
    for (const { command, meta } of items) {
      const decision = decider.decide(command, state, now);
      if (isRejection(decision)) {
        outcomes.push({
          status: 'rejected',
          commandId: command.commandId,
          streamId: loaded.streamId,
          rejection: decision,
        });
        continue;
      }
      const appended: AcceptedEvent[] = [];
      decision.forEach((decided: Decided, index) => {
        version += 1n;
        const eventId = eventIdFor(loaded.streamId, command.commandId, index, decided.idempotencyKey);
        const metadata: ChainedMetadata = {
          commandId: command.commandId,
          correlationId: meta.correlationId ?? command.commandId,
          causationId: meta.causationId ?? command.commandId,
          actor: meta.actor,
          recordedAt,
        };
        const schemaVersion = CURRENT_EVENT_VERSION[decided.type];
        lastHash = chainHash(lastHash, {
          streamId: loaded.streamId,
          version,
          eventId,
          type: decided.type,
          schemaVersion,
          data: decided.data,
          metadata,
        });
        events.push({
          eventId,
          type: decided.type,
          schemaVersion,
          data: decided.data as JsonObject,
          metadata: { ...metadata, chainHash: lastHash },
        });
        state = decider.evolve(state, decided);
        appended.push({ eventId, type: decided.type, version: version.toString(), data: decided.data });
      });
      outcomes.push({
        status: 'accepted',
        commandId: command.commandId,
        streamId: loaded.streamId,
        events: appended,
        streamVersion: version.toString(),
      });
    }
    return { events, outcomes, state, version, lastHash };
  }

  /** State of an account this writer holds nothing of: its snapshot, then the stream after it. */
  async #coldLoad(streamId: string): Promise<LoadedAccount> {
    // A batch for a thousand accounts this process has not seen (after a restart) would otherwise queue
    // two thousand reads on the pool at once, and later ones would time out waiting for a connection.
    if (this.#coldLoads >= COLD_LOADS_IN_FLIGHT_MAX) {
      await new Promise<void>((resume) => this.#coldWaiting.push(resume));
    }
    this.#coldLoads += 1;
    try {
      return await this.#catchUp(await this.#fromSnapshot(streamId));
    } finally {
      this.#coldLoads -= 1;
      this.#coldWaiting.shift()?.();
    }
  }

  async #fromSnapshot(streamId: string): Promise<LoadedAccount> {
    const snapshot = await this.#options.snapshots.load(streamId);
    if (snapshot !== null && snapshot.shapeVersion === STATE_SNAPSHOT_VERSION) {
      return { streamId, state: stateFromJson(snapshot.state), version: snapshot.version, lastHash: snapshot.lastHash };
    }
    return { streamId, state: this.#options.decider.initialState(), version: 0n, lastHash: GENESIS_HASH };
  }

  /** Applies the events stored after `loaded.version`. */
  async #catchUp(loaded: LoadedAccount): Promise<LoadedAccount> {
    let { state, version, lastHash } = loaded;
    for (;;) {
      const { events } = await this.#options.store.readStream(loaded.streamId, {
        fromVersion: version + 1n,
        maxCount: READ_PAGE_EVENTS,
      });
      for (const event of events) {
        state = this.#options.decider.evolve(state, upcastAccountEvent(event));
        version = event.version;
        lastHash = typeof event.metadata.chainHash === 'string' ? event.metadata.chainHash : lastHash;
      }
      if (events.length < READ_PAGE_EVENTS) break;
    }
    const current = { streamId: loaded.streamId, state, version, lastHash };
    this.#remember(current);
    return current;
  }

  #remember(loaded: LoadedAccount): void {
    this.#cache.delete(loaded.streamId);
    this.#cache.set(loaded.streamId, loaded);
    if (this.#cache.size > this.#options.cachedAccountsMax) {
      const oldest = this.#cache.keys().next().value;
      if (oldest !== undefined) this.#cache.delete(oldest);
    }
  }

  #notify(streamId: string, outcomes: readonly CommandOutcome[]): void {
    const { onAppended } = this.#options;
    if (onAppended === undefined) return;
    const events = outcomes.flatMap((outcome) => (outcome.status === 'accepted' ? outcome.events : []));
    try {
      onAppended(streamId, events);
    } catch {
      // A listener's failure must not turn an appended command into an error.
    }
  }

  /**
   * Saves a snapshot when the batch crossed a multiple of `snapshotEvery`, in the background: the appended events
   * are durable already, so neither the batch's commands nor the account's next ones wait for it (awaited, one
   * command in every 500 of an account paid a second round trip and commit, and the commands queued behind it
   * waited too). Saves only move a snapshot forward, so two on their way for one stream cannot regress it.
   */
  #maybeSnapshot(
    streamId: string,
    previousVersion: bigint,
    draft: { state: AccountState; version: bigint; lastHash: string },
  ): void {
    const every = BigInt(this.#options.snapshotEvery);
    if (draft.version / every === previousVersion / every) return;
    const save = this.#options.snapshots
      .save({
        streamId,
        version: draft.version,
        shapeVersion: STATE_SNAPSHOT_VERSION,
        state: stateToJson(draft.state),
        lastHash: draft.lastHash,
      })
      .catch(() => {
        // A snapshot is only a cache: failing to save one costs a longer replay later, nothing else.
      });
    this.#snapshotSaves.add(save);
    void save.finally(() => this.#snapshotSaves.delete(save));
  }

  /** Resolves once the snapshot saves started so far have finished (before closing the stores, and in tests). */
  async settled(): Promise<void> {
    while (this.#snapshotSaves.size > 0) await Promise.all(this.#snapshotSaves);
  }
}

function accepted(event: RecordedEvent): AcceptedEvent {
  return { eventId: event.eventId, type: event.type, version: event.version.toString(), data: event.data };
}

function pause(attempt: number): Promise<void> {
  const ceilingMs = Math.min(5 * 2 ** attempt, 200);
  return new Promise((resolve) => setTimeout(resolve, Math.random() * ceilingMs));
}

/**
 * The commands of a batch not answered yet: those in `logged` get their logged outcome now, and a command that
 * appears twice is decided once (the second gets the first's outcome).
 */
function withoutTwins(
  batch: readonly Pending[],
  logged: ReadonlyMap<string, CommandOutcome>,
): { fresh: Pending[]; waiting: Map<string, Pending[]> } {
  const fresh: Pending[] = [];
  const waiting = new Map<string, Pending[]>();
  for (const item of batch) {
    const previous = logged.get(item.command.commandId);
    if (previous !== undefined) {
      item.resolve(previous);
      continue;
    }
    const twins = waiting.get(item.command.commandId);
    if (twins !== undefined) {
      twins.push(item);
      continue;
    }
    waiting.set(item.command.commandId, [item]);
    fresh.push(item);
  }
  return { fresh, waiting };
}

function answer(waiting: ReadonlyMap<string, readonly Pending[]>, outcomes: ReadonlyMap<string, CommandOutcome>): void {
  for (const [commandId, items] of waiting) {
    const outcome = outcomes.get(commandId);
    for (const item of items) {
      if (outcome === undefined) item.reject(new Error(`no outcome for command ${commandId}`));
      else item.resolve(outcome);
    }
  }
}
