import { type AccountState, evolve, initialState, upcastAccountEvent } from '@khata/domain';
import {
  type EventStore,
  type FollowLogOptions,
  followLog,
  type LogFollower,
  type Position,
  type RecordedEvent,
  type SubscriptionBatch,
} from '@khata/event-store';
import type { HotAccount, HotStore, HotUpdate } from './store.ts';

/**
 * The authoritative state of one account, for cold starts and gaps: typically the balances read model's
 * folded state plus the stream events after it (see `loaderFrom`).
 */
export type AccountLoader = (accountId: string) => Promise<HotAccount>;

/** Every account the read side knows, with its folded state (the cold start's source). */
export type AllAccountsLoader = () => Promise<readonly (HotAccount & { readonly accountId: string })[]>;

export interface HotProjectorOptions {
  readonly store: EventStore;
  readonly hot: HotStore;
  readonly loadAccount: AccountLoader;
  readonly loadAll: AllAccountsLoader;
  /**
   * Where to start tailing on a cold start (the balances read model's lowest checkpoint: everything
   * before it is in what `loadAll` returns). Null: the start of the log.
   */
  readonly coldStartPosition: () => Promise<Position | null>;
  readonly batchSize?: number;
  readonly log?: { warn(message: string, fields?: Record<string, unknown>): void };
  /**
   * How the log is followed: `followLog` by default; a process passes its `LogFollowers.follow` so that the
   * hot projector shows in its metrics and `/ready` like its other followers.
   */
  readonly follow?: (options: FollowLogOptions) => LogFollower;
  /**
   * A state this process already holds for an account, without I/O (the ledger writer's). When its version
   * is the one a batch brings the account to, the projector stores that state instead of folding its own
   * copy: the fold of the same committed events is the same state, and the process then keeps it once.
   */
  readonly held?: (accountId: string) => HotAccount | undefined;
  /** Retry bounds after a failed batch (tests shorten them). */
  readonly retryDelayMilliseconds?: FollowLogOptions['retryDelayMilliseconds'];
}

/** The hot projector's follower in logs, metrics and `/ready`. */
export const HOT_PROJECTOR_FOLLOWER_NAME = 'hot-projection';

const HOT_BATCH_SIZE_DEFAULT = 1_000;
/** States the projector keeps in memory so it can evolve without reading them back from the store. */
const LOCAL_ACCOUNTS_MAX = 50_000;

/**
 * Keeps the hot projection up to date: tails the log, evolves each account's state with the domain's
 * own `evolve`, and writes it with the store's version check. A gap (the store lost an account, e.g. a
 * Redis flush or eviction) is filled by reloading the account; a store without a checkpoint is a cold
 * start: everything is loaded from the read model, then the log is tailed from where that was.
 *
 * A failed batch (Redis or the event store unreachable) is tried again with back-off until it goes through,
 * so the projection catches up by itself once they are back; a Redis that comes back empty is refilled
 * account by account as the gaps show, and by the authorizer's reload on a miss.
 */
export class HotProjector {
  readonly #options: HotProjectorOptions;
  readonly #local = new Map<string, HotAccount>();
  #abort: AbortController | null = null;
  #follower: LogFollower | null = null;
  #position: Position | null = null;
  #caughtUp = false;

  constructor(options: HotProjectorOptions) {
    this.#options = options;
  }

  /** The log position the hot projection has applied (null before the first batch). */
  get position(): Position | null {
    return this.#position;
  }

  get caughtUp(): boolean {
    return this.#caughtUp;
  }

  async start(): Promise<void> {
    if (this.#abort !== null) return;
    let from = await this.#options.hot.checkpoint();
    if (from === null) from = await this.coldStart();
    this.#position = from;
    const abort = new AbortController();
    this.#abort = abort;
    const { batchSize, retryDelayMilliseconds } = this.#options;
    this.#follower = (this.#options.follow ?? followLog)({
      name: HOT_PROJECTOR_FOLLOWER_NAME,
      store: this.#options.store,
      after: from,
      filter: { streamPrefixes: ['account-'] },
      batchSize: batchSize ?? HOT_BATCH_SIZE_DEFAULT,
      // Authorization reads what it holds: it does not wait for the worker's read models when they catch up.
      latencyCritical: true,
      signal: abort.signal,
      ...(retryDelayMilliseconds === undefined ? {} : { retryDelayMilliseconds }),
      handle: (batch) => this.#handle(batch),
      onStatus: (status, error) => {
        if (error !== null && this.#options.follow === undefined) {
          this.#options.log?.warn('hot projection failed; retrying', { error: status.lastError });
        }
      },
    });
  }

  async stop(): Promise<void> {
    this.#abort?.abort();
    this.#abort = null;
    await this.#follower?.done;
    this.#follower = null;
  }

  /** Its follower (null when stopped): whether it is failing, and since when. */
  get follower(): LogFollower | null {
    return this.#follower;
  }

  /** Loads every account from the read model and returns the position to tail from. */
  async coldStart(): Promise<Position | null> {
    const from = await this.#options.coldStartPosition();
    const accounts = await this.#options.loadAll();
    const updates: HotUpdate[] = accounts.map((account) => ({
      accountId: account.accountId,
      fromVersion: 1n,
      toVersion: account.version,
      state: account.state,
    }));
    const CHUNK = 500;
    for (let i = 0; i < updates.length; i += CHUNK) await this.#options.hot.apply(updates.slice(i, i + CHUNK), null);
    if (from !== null) await this.#options.hot.apply([], from);
    return from;
  }

  /** Reloads one account into the store (a gap, or a miss on the authorization path). */
  async reload(accountId: string): Promise<HotAccount> {
    const account = await this.#options.loadAccount(accountId);
    await this.#options.hot.apply(
      [{ accountId, fromVersion: 1n, toVersion: account.version, state: account.state }],
      null,
    );
    this.#remember(accountId, account);
    return account;
  }

  async #handle(batch: SubscriptionBatch): Promise<void> {
    try {
      await this.#applyBatch(batch.events, batch.checkpoint);
    } catch (error) {
      // Part of the batch may be in memory but not in the store: forget it, so the retry reads each
      // account's base from the store again instead of skipping events the store never got.
      this.#local.clear();
      this.#caughtUp = false;
      throw error;
    }
    this.#position = batch.checkpoint;
    this.#caughtUp = batch.caughtUp;
  }

  async #applyBatch(events: readonly RecordedEvent[], checkpoint: Position): Promise<void> {
    const byAccount = new Map<string, RecordedEvent[]>();
    for (const event of events) {
      const accountId = event.streamId.slice('account-'.length);
      const list = byAccount.get(accountId);
      if (list === undefined) byAccount.set(accountId, [event]);
      else list.push(event);
    }
    const updates: HotUpdate[] = [];
    for (const [accountId, accountEvents] of byAccount) {
      const first = accountEvents[0] as RecordedEvent;
      const last = accountEvents[accountEvents.length - 1] as RecordedEvent;
      const held = this.#options.held?.(accountId);
      if (held !== undefined && held.version === last.version) {
        // The whole state at `last.version`: stored as a reload is, from the stream's first event.
        updates.push({ accountId, fromVersion: 1n, toVersion: held.version, state: held.state });
        this.#remember(accountId, held);
        continue;
      }
      let base = this.#local.get(accountId);
      if (base === undefined || base.version < first.version - 1n) {
        base = (await this.#options.hot.get(accountId)) ?? undefined;
      }
      // A brand-new account starts from the initial state; otherwise a missing base is filled below.
      let state: AccountState;
      let version: bigint;
      if (base !== undefined && base.version >= first.version - 1n) {
        state = base.state;
        version = base.version;
      } else if (first.version === 1n) {
        state = initialState();
        version = 0n;
      } else {
        updates.push(await this.#reloaded(accountId));
        continue;
      }
      const fromVersion = version + 1n;
      for (const event of accountEvents) {
        if (event.version <= version) continue;
        state = evolve(state, upcastAccountEvent(event));
        version = event.version;
      }
      if (version >= fromVersion) {
        updates.push({ accountId, fromVersion, toVersion: version, state });
        this.#remember(accountId, { version, state });
      }
    }
    const results = await this.#options.hot.apply(updates, null);
    const gaps = updates.filter((_, index) => results[index] === 'gap');
    for (const gap of gaps) await this.reload(gap.accountId);
    // The checkpoint moves only once every account of the batch is in the store.
    await this.#options.hot.apply([], checkpoint);
  }

  async #reloaded(accountId: string): Promise<HotUpdate> {
    const account = await this.#options.loadAccount(accountId);
    this.#remember(accountId, account);
    return { accountId, fromVersion: 1n, toVersion: account.version, state: account.state };
  }

  #remember(accountId: string, account: HotAccount): void {
    this.#local.delete(accountId);
    this.#local.set(accountId, account);
    if (this.#local.size > LOCAL_ACCOUNTS_MAX) {
      const oldest = this.#local.keys().next().value;
      if (oldest !== undefined) this.#local.delete(oldest);
    }
  }
}

/**
 * An account loader over the balances read model (folded state + version) and the event store (the
 * events after that version): authoritative even when the read model lags.
 */
export function loaderFrom(
  readState: (accountId: string) => Promise<HotAccount | null>,
  store: EventStore,
): AccountLoader {
  const PAGE = 1_000;
  return async (accountId) => {
    const stored = await readState(accountId);
    let state = stored?.state ?? initialState();
    let version = stored?.version ?? 0n;
    for (;;) {
      const { events } = await store.readStream(`account-${accountId}`, { fromVersion: version + 1n, maxCount: PAGE });
      for (const event of events) {
        state = evolve(state, upcastAccountEvent(event));
        version = event.version;
      }
      if (events.length < PAGE) break;
    }
    return { version, state };
  };
}
