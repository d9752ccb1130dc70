/**
 * The hot projector beside a ledger writer in the same process: where the writer already holds an
 * account's state at the version a batch reaches, the projection stores that same object instead of a
 * copy of its own fold (one copy of every open reservation instead of two); where the writer is at any
 * other version, the projector folds the events itself.
 */
import { randomUUID } from 'node:crypto';
import { type AccountState, stateToJson } from '@khata/domain';
import type { MemoryEventStore } from '@khata/event-store';
import type { Ledger } from '@khata/ledger';
import { afterEach, describe, expect, it } from 'vitest';
import { loaderFrom } from './projector.ts';
import { type HotAccount, MemoryHotStore } from './store.ts';
import { ledgerWithAccount, startedProjector, until } from './test-support.ts';

describe('hot projector sharing the ledger writer’s states', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function setUp(held: (ledger: Ledger) => (accountId: string) => HotAccount | undefined) {
    const { store, ledger, accountId, run, now } = await ledgerWithAccount('2360.00');
    const hot = new MemoryHotStore();
    const projector = await startedProjector(store, hot, { held: held(ledger) });
    cleanups.push(() => projector.stop());
    return { store, ledger, accountId, run, hot, now };
  }

  /** The account folded from its stream alone, as an auditor would. */
  async function folded(store: MemoryEventStore, accountId: string): Promise<HotAccount> {
    return loaderFrom(async () => null, store)(accountId);
  }

  it('stores the writer’s own state object when the batch ends at the writer’s version, equal to a fold', async () => {
    const { store, ledger, accountId, run, hot, now } = await setUp((ledger) => (id) => ledger.writer.held(id));
    await run('Subscribe', { planId: 'professional', cycle: 'monthly' });
    await run('StartCall', { callId: randomUUID(), destination: '+919845012345', at: now.toISOString() });
    await run('TopUpWallet', { amount: '118.00' });
    const writers = ledger.writer.held(accountId);
    if (writers === undefined) throw new Error('the writer holds no state for the account');
    await until(() => hot.peek(accountId)?.version === writers.version);
    const stored = hot.peek(accountId) as HotAccount;
    expect(stored.state).toBe(writers.state);
    expect(stored.state.reservations.size).toBe(1);
    const audit = await folded(store, accountId);
    expect(stateToJson(stored.state)).toEqual(stateToJson(audit.state));
  });

  it('folds the events itself when the writer holds the account at another version', async () => {
    // A writer that is always one event ahead of the log the projector reads, with a state of its own.
    const bogus = { balance: 'not a state' } as unknown as AccountState;
    const { store, accountId, run, hot } = await setUp((ledger) => (id) => {
      const writers = ledger.writer.held(id);
      return writers === undefined ? undefined : { version: writers.version + 1n, state: bogus };
    });
    await run('TopUpWallet', { amount: '118.00' });
    const audit = await folded(store, accountId);
    await until(() => hot.peek(accountId)?.version === audit.version);
    const stored = hot.peek(accountId) as HotAccount;
    expect(stored.state).not.toBe(bogus);
    expect(stateToJson(stored.state)).toEqual(stateToJson(audit.state));
  });
});
