/**
 * The hot projector through an outage of its store (Redis down, or answering errors): it must retry the
 * failed batch until the store is back, and then hold exactly the authority's state — including the batch
 * whose write failed half way, which it must not skip because it had already evolved it in memory.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { type HotAccount, type HotApplyResult, type HotStore, type HotUpdate, MemoryHotStore } from './store.ts';
import { ledgerWithAccount, startedProjector, until } from './test-support.ts';

const FAST_RETRY = { min: 5, max: 20 };

/** A hot store that can be taken down: while down, every call fails as a lost Redis connection would. */
class FlakyHotStore implements HotStore {
  readonly kind = 'memory';
  readonly inner = new MemoryHotStore();
  down = false;
  /** Calls refused while down. */
  refused = 0;

  #check(): void {
    if (!this.down) return;
    this.refused += 1;
    throw new Error('Connection is closed.');
  }
  async get(accountId: string): Promise<HotAccount | null> {
    this.#check();
    return this.inner.get(accountId);
  }
  async apply(updates: readonly HotUpdate[], checkpoint: Parameters<HotStore['apply']>[1]): Promise<HotApplyResult[]> {
    this.#check();
    return this.inner.apply(updates, checkpoint);
  }
  async checkpoint() {
    this.#check();
    return this.inner.checkpoint();
  }
  clear() {
    return this.inner.clear();
  }
  close() {
    return this.inner.close();
  }
}

describe('hot projector through a store outage', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function setUp() {
    const { store, ledger, accountId, run } = await ledgerWithAccount('590.00');
    const hot = new FlakyHotStore();
    const projector = await startedProjector(store, hot, { retryDelayMilliseconds: FAST_RETRY });
    cleanups.push(() => projector.stop());
    const matchesLedger = async () => {
      if (hot.down) return false;
      const [held, authority] = await Promise.all([hot.get(accountId), ledger.load(accountId)]);
      return (
        held?.version === authority.version && held.state.balance.toString() === authority.state.balance.toString()
      );
    };
    await until(matchesLedger);
    return { store, ledger, accountId, run, hot, projector, matchesLedger };
  }

  it('retries while the store is down and catches up, with the top-up made during the outage, once it is back', async () => {
    const { run, hot, projector, matchesLedger, ledger, accountId } = await setUp();
    hot.down = true;
    await run('TopUpWallet', { amount: '1180.00' });
    await until(() => hot.refused >= 2);
    expect(projector.follower?.status.state).toBe('retrying');
    expect(projector.follower?.status.consecutiveFailures).toBeGreaterThanOrEqual(1);
    hot.down = false;
    await until(matchesLedger);
    expect(projector.follower?.status.state).toBe('following');
    expect((await hot.get(accountId))?.state.balance.toString()).toBe(
      (await ledger.load(accountId)).state.balance.toString(),
    );
    // And it goes on following: a later event arrives too.
    await run('TopUpWallet', { amount: '118.00' });
    await until(matchesLedger);
  });

  it('does not skip a batch it had evolved in memory when the write of that batch failed', async () => {
    const { run, hot, matchesLedger } = await setUp();
    // The first write of the next batch fails after the projector has evolved the account's new state.
    const apply = hot.inner.apply.bind(hot.inner);
    let failNext = true;
    hot.inner.apply = async (updates, checkpoint) => {
      if (failNext && updates.length > 0) {
        failNext = false;
        throw new Error('READONLY You can not write against a read only replica.');
      }
      return apply(updates, checkpoint);
    };
    await run('TopUpWallet', { amount: '1180.00' });
    await until(() => !failNext);
    await until(matchesLedger);
  });

  it('refills a store that came back empty (a restarted Redis) from the gaps it finds', async () => {
    const { run, hot, matchesLedger, accountId } = await setUp();
    hot.down = true;
    await run('TopUpWallet', { amount: '1180.00' });
    await until(() => hot.refused >= 1);
    await hot.inner.clear();
    hot.down = false;
    await until(matchesLedger);
    expect(await hot.get(accountId)).not.toBeNull();
  });
});
