/**
 * The hot projector beside a ledger writer in the same process: where the writer already holds an
 * account's state at the version a batch reaches, the projection stores that same object instead of a
 * copy of its own fold (one copy of every open reservation instead of two); where the writer is at any
 * other version, the projector folds the events itself.
 */
import { randomUUID } from 'node:crypto';
import { type AccountState, stateToJson } from '@khata/domain';
import { MemoryEventStore } from '@khata/event-store';
import { Ledger, MemoryCommandLog, MemorySnapshotStore } from '@khata/ledger';
import { catalogRules } from '@khata/ledger/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { HotProjector, loaderFrom } from './projector.ts';
import { type HotAccount, MemoryHotStore } from './store.ts';

const NOW = Date.parse('2026-11-02T04:30:00.000Z');
const META = { actor: 'user:test' };
const WAIT_MS_MAX = 10_000;

async function until(condition: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = performance.now() + WAIT_MS_MAX;
  while (!(await condition())) {
    if (performance.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('hot projector sharing the ledger writer’s states', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function setUp(held: (ledger: Ledger) => (accountId: string) => HotAccount | undefined) {
    const store = new MemoryEventStore();
    const ledger = new Ledger({
      store,
      commandLog: new MemoryCommandLog(),
      snapshots: new MemorySnapshotStore(),
      rules: catalogRules,
      clock: () => new Date(NOW),
    });
    const accountId = randomUUID();
    const run = async (type: string, fields: object) => {
      const outcome = await ledger.execute({ type, commandId: randomUUID(), accountId, ...fields }, META);
      if (outcome.status !== 'accepted') throw new Error(`${type}: ${outcome.rejection.code}`);
    };
    await run('OpenAccount', {
      legalName: 'Acme',
      contact: { name: 'Asha', email: 'a@acme.example', phone: '+91 98450 00000' },
      billingAddress: { line1: '1 MG Road', city: 'Bengaluru', stateCode: '29', postalCode: '560001', country: 'IN' },
      billingMode: 'prepaid',
    });
    await run('TopUpWallet', { amount: '2360.00' });
    const hot = new MemoryHotStore();
    const projector = new HotProjector({
      store,
      hot,
      loadAccount: loaderFrom(async () => null, store),
      loadAll: async () => [],
      coldStartPosition: async () => null,
      held: held(ledger),
    });
    cleanups.push(() => projector.stop());
    await projector.start();
    return { store, ledger, accountId, run, hot };
  }

  /** The account folded from its stream alone, as an auditor would. */
  async function folded(store: MemoryEventStore, accountId: string): Promise<HotAccount> {
    return loaderFrom(async () => null, store)(accountId);
  }

  it('stores the writer’s own state object when the batch ends at the writer’s version, equal to a fold', async () => {
    const { store, ledger, accountId, run, hot } = await setUp((ledger) => (id) => ledger.writer.held(id));
    await run('Subscribe', { planId: 'professional', cycle: 'monthly' });
    await run('StartCall', { callId: randomUUID(), destination: '+919845012345', at: new Date(NOW).toISOString() });
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
