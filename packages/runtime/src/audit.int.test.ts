import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import { loadConfig } from '@khata/config';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyAccount } from './audit.ts';
import { type Khata, openKhata } from './khata.ts';

const ROOT = resolve(import.meta.dirname, '../../..');
const INDIA = '+919845012345';
let khata: Khata;
let now = Date.parse('2026-11-02T04:30:00.000Z');

beforeAll(async () => {
  const config = loadConfig({ KHATA_DATA_DIR: 'memory://', JWT_KEYS_DIR: 'memory://' }, { cwd: ROOT });
  khata = await openKhata(config, {
    roles: { api: true, worker: true },
    migrate: true,
    clock: () => new Date(now),
    passwordCost: { logN: 10, blockSize: 8, parallelization: 1 },
  });
  await khata.start();
}, 60_000);
afterAll(async () => {
  await khata?.close();
});

async function customerWithHistory(): Promise<string> {
  const accountId = randomUUID();
  const run = async (type: string, fields: object) => {
    const outcome = await khata.ledger.execute(
      { type, commandId: randomUUID(), accountId, ...fields },
      { actor: 'user:test' },
    );
    if (outcome.status !== 'accepted') throw new Error(`${type}: ${outcome.rejection.code}`);
  };
  const at = () => new Date(now).toISOString();
  await run('OpenAccount', {
    legalName: 'Audit Trail Pvt Ltd',
    contact: { name: 'A', email: 'a@audit.example', phone: '+91 98450 00009' },
    billingAddress: { line1: '1 Road', city: 'Bengaluru', stateCode: '29', postalCode: '560001', country: 'IN' },
    billingMode: 'prepaid',
  });
  await run('TopUpWallet', { amount: '5900.00' });
  await run('Subscribe', { planId: 'professional', cycle: 'monthly' });
  await run('AssignNumber', {
    kind: 'toll-free',
    number: `1800${String(Math.floor(Math.random() * 1e7)).padStart(7, '0')}`,
  });
  await run('AssignNumber', { kind: 'extension', number: '101' });
  await run('AddAddOn', { addOnId: 'extra-extension', quantity: 1 });
  await run('StartCall', { callId: 'rated-call', destination: INDIA, at: at() });
  await run('RateCdr', {
    cdr: {
      callId: 'rated-call',
      leg: 'A',
      destination: INDIA,
      startedAt: at(),
      answeredAt: at(),
      billableMilliseconds: 125_000,
    },
  });
  await run('StartCall', { callId: 'uk-call', destination: '+447911123456', at: at() });
  await run('RateCdr', {
    cdr: {
      callId: 'uk-call',
      leg: 'A',
      destination: '+447911123456',
      startedAt: at(),
      answeredAt: at(),
      billableMilliseconds: 61_000,
    },
  });
  await run('AdjustWallet', { amount: '-10.00', reason: 'correction' });
  now += 15 * 86_400_000;
  await run('ChangePlan', { planId: 'call-center' });
  // Started after the clock moved, so that its reservation stays open for the whole test.
  await run('StartCall', { callId: 'open-call', destination: INDIA, at: at() });
  return accountId;
}

describe('audit verification', () => {
  it('finds no difference between the replay, every read model, the hot projection and the chain', async () => {
    const accountId = await customerWithHistory();
    const report = await verifyAccount(khata, accountId);
    expect(report.differences).toEqual([]);
    expect(report).toMatchObject({ ok: true, chain: { ok: true }, eventsReplayed: 15 });
  });

  it('compares again when the account moves on during the verification, instead of reporting it', async () => {
    const accountId = await customerWithHistory();
    let reads = 0;
    // The first replay is followed by a new event, as when a call starts while the auditor checks.
    const busy = Object.create(khata, {
      eventStore: {
        value: Object.create(khata.eventStore, {
          readStream: {
            value: async (...args: Parameters<typeof khata.eventStore.readStream>) => {
              const page = await khata.eventStore.readStream(...args);
              if (++reads === 1) {
                await khata.ledger.execute(
                  { type: 'AdjustWallet', commandId: randomUUID(), accountId, amount: '1.00', reason: 'goodwill' },
                  { actor: 'user:test' },
                );
                // The read models have it before the verifier compares them, so that it must notice they moved on
                // (without this wait they might still be at the replayed version, and the test would pass
                // without comparing again).
                const head = await khata.eventStore.headPosition();
                if (head !== null) await khata.projector.waitFor(head);
              }
              return page;
            },
          },
        }),
      },
    }) as Khata;
    const report = await verifyAccount(busy, accountId);
    expect(report.differences).toEqual([]);
    expect(report).toMatchObject({ ok: true, eventsReplayed: 16 });
  });

  it('names the read model that disagrees, and a broken hash chain', async () => {
    const accountId = await customerWithHistory();
    await verifyAccount(khata, accountId);
    await khata.readDb.query(
      `UPDATE ${await khata.readModelSchema('balances')}.balances SET balance = balance + 1 WHERE account_id = $1`,
      [accountId],
    );
    await khata.readDb.query(
      `UPDATE ${await khata.readModelSchema('accounts')}.accounts SET status = 'suspended' WHERE account_id = $1`,
      [accountId],
    );
    await khata.readDb.query(
      `UPDATE es.events SET data = jsonb_set(data, '{reason}', '"edited"') WHERE stream_id = $1 AND event_type = 'WalletAdjusted'`,
      [`account-${accountId}`],
    );
    const stream = await khata.eventStore.readStream(`account-${accountId}`);
    const edited = stream.events.find((event) => event.type === 'WalletAdjusted');
    const report = await verifyAccount(khata, accountId);
    expect(report.ok).toBe(false);
    expect(report.chain).toMatchObject({ ok: false, firstBreak: { version: String(edited?.version) } });
    expect(report.differences).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ source: 'balances', field: 'wallet' }),
        expect.objectContaining({ source: 'accounts', field: 'status', expected: 'active', actual: 'suspended' }),
      ]),
    );
  });
});
