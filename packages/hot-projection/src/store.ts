import { type AccountState, STATE_SNAPSHOT_VERSION, stateFromJson, stateToJson } from '@khata/domain';
import type { Position } from '@khata/event-store';
import type { Redis } from 'ioredis';

/** An account as the hot projection holds it: folded state at a stream version. */
export interface HotAccount {
  readonly version: bigint;
  readonly state: AccountState;
}

/** A state to store for an account, computed from events `fromVersion`..`toVersion`. */
export interface HotUpdate {
  readonly accountId: string;
  readonly fromVersion: bigint;
  readonly toVersion: bigint;
  readonly state: AccountState;
}

export type HotApplyResult = 'applied' | 'skipped' | 'gap';

/**
 * Where call authorization reads account state: in process, or in Redis shared by API replicas. Writes
 * are version-checked: an update whose events end at or below the stored version is skipped (applying
 * an event twice has no effect); one that starts past the stored version + 1 is a gap, which the caller
 * fills by reloading the account.
 */
export interface HotStore {
  readonly kind: 'memory' | 'redis';
  get(accountId: string): Promise<HotAccount | null>;
  /** Applies updates (and moves the checkpoint, when given, in the same atomic step). */
  apply(updates: readonly HotUpdate[], checkpoint: Position | null): Promise<HotApplyResult[]>;
  checkpoint(): Promise<Position | null>;
  /** Forgets everything (tests; an operator's reset). */
  clear(): Promise<void>;
  close(): Promise<void>;
}

function decide(stored: bigint | undefined, update: HotUpdate): HotApplyResult {
  const current = stored ?? 0n;
  if (update.toVersion <= current) return 'skipped';
  if (update.fromVersion <= current + 1n) return 'applied';
  return 'gap';
}

export class MemoryHotStore implements HotStore {
  readonly kind = 'memory';
  readonly #accounts = new Map<string, HotAccount>();
  #checkpoint: Position | null = null;

  async get(accountId: string): Promise<HotAccount | null> {
    return this.#accounts.get(accountId) ?? null;
  }

  /** Synchronous read for the in-process fast path (no promise, no copy). */
  peek(accountId: string): HotAccount | undefined {
    return this.#accounts.get(accountId);
  }

  async apply(updates: readonly HotUpdate[], checkpoint: Position | null): Promise<HotApplyResult[]> {
    const results = updates.map((update) => {
      const result = decide(this.#accounts.get(update.accountId)?.version, update);
      if (result === 'applied')
        this.#accounts.set(update.accountId, { version: update.toVersion, state: update.state });
      return result;
    });
    if (checkpoint !== null && (this.#checkpoint === null || checkpoint > this.#checkpoint))
      this.#checkpoint = checkpoint;
    return results;
  }

  async checkpoint(): Promise<Position | null> {
    return this.#checkpoint;
  }

  async clear(): Promise<void> {
    this.#accounts.clear();
    this.#checkpoint = null;
  }

  async close(): Promise<void> {}
}

/**
 * The apply step as one Lua script, so version checks, writes and the checkpoint move are atomic.
 * KEYS[1] = checkpoint key, KEYS[2..] = account keys; ARGV = checkpoint ('' for none), count, then
 * (fromVersion, toVersion, state JSON) per account. Returns 1 applied, 0 skipped, -1 gap per account.
 * Versions are stream event counts, far below 2^53, so Lua's numbers hold them exactly.
 */
const APPLY_SCRIPT = `
local results = {}
local count = tonumber(ARGV[2])
for i = 1, count do
  local key = KEYS[i + 1]
  local from = tonumber(ARGV[3 + (i - 1) * 3])
  local to = tonumber(ARGV[4 + (i - 1) * 3])
  local stored = tonumber(redis.call('HGET', key, 'v') or '0')
  if to <= stored then
    results[i] = 0
  elseif from <= stored + 1 then
    redis.call('HSET', key, 'v', to, 's', ARGV[5 + (i - 1) * 3])
    results[i] = 1
  else
    results[i] = -1
  end
end
if ARGV[1] ~= '' then
  local current = redis.call('GET', KEYS[1])
  if (not current) or current < ARGV[1] then redis.call('SET', KEYS[1], ARGV[1]) end
end
return results
`;

/**
 * Reads several accounts in one round trip, each state only when its version differs from the one the
 * caller already decoded. KEYS = account keys; ARGV = the caller's versions ('' for none), in order.
 * Per key: false (no such account), {v} (unchanged), or {v, s}.
 */
const GET_MANY_SCRIPT = `
local results = {}
for i = 1, #KEYS do
  local v = redis.call('HGET', KEYS[i], 'v')
  if not v then
    results[i] = false
  elseif v == ARGV[i] then
    results[i] = {v}
  else
    results[i] = {v, redis.call('HGET', KEYS[i], 's')}
  end
end
return results
`;

type GetReply = [string] | [string, string] | null;

interface KhataRedis extends Redis {
  khataHotApply(keys: number, ...args: (string | number)[]): Promise<number[]>;
  khataHotGetMany(keys: number, ...args: string[]): Promise<GetReply[]>;
}

const DECODED_CACHE_MAX = 10_000;
/**
 * Accounts read by one script call. Authorizations that arrive together (one turn of the event loop)
 * share a round trip: under load that is one write and one read on the socket for many requests
 * instead of one each, which is what a Redis round trip mostly costs.
 */
export const GET_BATCH_ACCOUNTS_MAX = 256;

interface PendingGet {
  readonly accountId: string;
  readonly resolve: (account: HotAccount | null) => void;
  readonly reject: (error: unknown) => void;
}

/**
 * The hot projection in Redis: one hash per account (`v` version, `s` state JSON) and the checkpoint.
 * All keys share the `{khata}` hash tag so a script may touch several of them (one cluster slot).
 */
export class RedisHotStore implements HotStore {
  readonly kind = 'redis';
  readonly #redis: KhataRedis;
  readonly #prefix: string;
  /** Decoded states by account, reused while Redis reports the same version. */
  readonly #decoded = new Map<string, HotAccount>();
  /** Reads waiting for the next batch (see GET_BATCH_ACCOUNTS_MAX). */
  #waiting: PendingGet[] = [];
  #flushScheduled = false;

  constructor(redis: Redis, options: { readonly keyPrefix?: string } = {}) {
    this.#prefix = `{khata}:${options.keyPrefix ?? ''}hot:`;
    redis.defineCommand('khataHotApply', { lua: APPLY_SCRIPT });
    redis.defineCommand('khataHotGetMany', { lua: GET_MANY_SCRIPT });
    this.#redis = redis as KhataRedis;
  }

  #key(accountId: string): string {
    return `${this.#prefix}account:${accountId}`;
  }

  /** Queued with the other reads of this turn of the event loop and sent with them in one script call. */
  get(accountId: string): Promise<HotAccount | null> {
    return new Promise((resolve, reject) => {
      this.#waiting.push({ accountId, resolve, reject });
      if (this.#flushScheduled) return;
      this.#flushScheduled = true;
      // setImmediate, not a microtask: every request whose bytes arrived in this turn gets to queue first.
      setImmediate(() => {
        this.#flushScheduled = false;
        this.#flushGets();
      });
    });
  }

  #flushGets(): void {
    while (this.#waiting.length > 0) {
      const batch = this.#waiting.splice(0, GET_BATCH_ACCOUNTS_MAX);
      // The same account asked for twice in one batch is read once.
      const byAccount = new Map<string, PendingGet[]>();
      for (const pending of batch) {
        const same = byAccount.get(pending.accountId);
        if (same === undefined) byAccount.set(pending.accountId, [pending]);
        else same.push(pending);
      }
      const accountIds = [...byAccount.keys()];
      const keys = accountIds.map((accountId) => this.#key(accountId));
      // What this process had decoded when asking: an unchanged version means exactly that state.
      const known = accountIds.map((accountId) => this.#decoded.get(accountId));
      const knownVersions = known.map((account) => account?.version.toString() ?? '');
      this.#redis.khataHotGetMany(keys.length, ...keys, ...knownVersions).then(
        (replies) => {
          accountIds.forEach((accountId, index) => {
            let account: HotAccount | null;
            try {
              account = this.#decode(accountId, replies[index] ?? null, known[index]);
            } catch (error) {
              for (const pending of byAccount.get(accountId) ?? []) pending.reject(error);
              return;
            }
            for (const pending of byAccount.get(accountId) ?? []) pending.resolve(account);
          });
        },
        (error: unknown) => {
          for (const pending of batch) pending.reject(error);
        },
      );
    }
  }

  #decode(accountId: string, reply: GetReply, known: HotAccount | undefined): HotAccount | null {
    if (reply === null) {
      this.#decoded.delete(accountId);
      return null;
    }
    if (reply.length === 1 && known !== undefined && known.version.toString() === reply[0]) return known;
    const [version, json] = reply;
    if (json === undefined) return null;
    const parsed = JSON.parse(json) as { shape: number; state: { [key: string]: unknown } };
    if (parsed.shape !== STATE_SNAPSHOT_VERSION) return null;
    const account = { version: BigInt(version), state: stateFromJson(parsed.state) };
    this.#decoded.delete(accountId);
    this.#decoded.set(accountId, account);
    if (this.#decoded.size > DECODED_CACHE_MAX) {
      const oldest = this.#decoded.keys().next().value;
      if (oldest !== undefined) this.#decoded.delete(oldest);
    }
    return account;
  }

  async apply(updates: readonly HotUpdate[], checkpoint: Position | null): Promise<HotApplyResult[]> {
    const keys = [`${this.#prefix}checkpoint`, ...updates.map((update) => this.#key(update.accountId))];
    const args: (string | number)[] = [checkpoint ?? '', updates.length];
    for (const update of updates) {
      args.push(
        update.fromVersion.toString(),
        update.toVersion.toString(),
        JSON.stringify({ shape: STATE_SNAPSHOT_VERSION, state: stateToJson(update.state) }),
      );
    }
    const replies = await this.#redis.khataHotApply(keys.length, ...keys, ...args);
    return replies.map((reply) => (reply === 1 ? 'applied' : reply === 0 ? 'skipped' : 'gap'));
  }

  async checkpoint(): Promise<Position | null> {
    return ((await this.#redis.get(`${this.#prefix}checkpoint`)) as Position | null) ?? null;
  }

  async clear(): Promise<void> {
    this.#decoded.clear();
    const BATCH = 500;
    let cursor = '0';
    do {
      const [next, keys] = await this.#redis.scan(cursor, 'MATCH', `${this.#prefix}*`, 'COUNT', BATCH);
      if (keys.length > 0) await this.#redis.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  }

  async close(): Promise<void> {
    this.#redis.disconnect();
  }
}
