/**
 * Batch CDR ingestion over HTTP (`app.inject()` on a whole Khata, embedded in-memory database): per-CDR
 * outcomes across accounts, a repeated CDR charged once, a malformed batch refused whole with a problem
 * that names the CDR, and the bounds on items and bytes.
 */
import { randomUUID } from 'node:crypto';
import { Money } from '@khata/domain';
import { balanceOf } from '@khata/projections';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPrepaidAccount, type TestApi, testApi } from '../testing.ts';
import { CDR_BATCH_BODY_BYTES_MAX, CDR_BATCH_ITEMS_MAX } from './cdr-batch.ts';

const ANSWERED_AT = '2026-11-03T05:30:00.000Z';
let api: TestApi;

beforeAll(async () => {
  api = await testApi({ clock: () => new Date('2026-11-03T06:00:00.000Z') });
}, 60_000);
afterAll(async () => {
  await api?.close();
});

function customer(plan: string): Promise<string> {
  return openPrepaidAccount(api, { legalName: 'Batch Calls Pvt Ltd', topUp: '11800.00', planId: plan });
}

function cdr(accountId: string, callId: string, seconds: number) {
  return {
    accountId,
    callId,
    leg: 'A' as const,
    destination: '+919845012345',
    startedAt: ANSWERED_AT,
    answeredAt: seconds === 0 ? null : ANSWERED_AT,
    billableMilliseconds: seconds * 1_000,
  };
}

const post = (payload: unknown, headers: Record<string, string> = {}) =>
  api.app.inject({
    method: 'POST',
    url: '/api/v1/cdrs/batch',
    headers: { authorization: `Bearer ${api.token('system')}`, ...headers },
    payload: payload as object,
  });

async function walletOf(accountId: string): Promise<string> {
  await api.settle();
  const balance = await balanceOf(api.khata.readDb, await api.khata.readModelSchema('balances'), accountId);
  return balance?.wallet ?? 'missing';
}

async function versionOf(accountId: string): Promise<bigint> {
  return (await api.khata.eventStore.readStream(`account-${accountId}`, { maxCount: 1 })).version;
}

describe('POST /api/v1/cdrs/batch', () => {
  it('rates each CDR on its own account and answers each one, a refusal not failing the others', async () => {
    const starter = await customer('starter');
    const professional = await customer('professional');
    const before = Money.parse(await walletOf(starter));
    const stranger = randomUUID();
    const response = await post({
      cdrs: [
        // 100 free minutes on Starter: 6,000 s free, then 61 s more cost two started minutes at ₹1.99.
        cdr(starter, 'c-1', 6_000),
        cdr(professional, 'p-1', 90),
        cdr(stranger, 's-1', 30),
        cdr(starter, 'c-2', 61),
        cdr(starter, 'c-3', 0),
      ],
    });
    expect(response.statusCode).toBe(200);
    const body = response.json();
    expect(body).toMatchObject({ accepted: 4, rejected: 1 });
    expect(
      body.results.map((r: { status: string; cost: string | null; code: string | null }) => [r.status, r.cost, r.code]),
    ).toEqual([
      ['accepted', '0.00', null],
      ['accepted', '0.00', null],
      ['rejected', null, 'UNKNOWN_ACCOUNT'],
      ['accepted', '3.98', null],
      ['accepted', '0.00', null],
    ]);
    expect(Money.parse(await walletOf(starter)).equals(before.minus(Money.parse('3.98')))).toBe(true);
  });

  it('charges a CDR once however often it is posted, in the same batch or a later one', async () => {
    const accountId = await customer('starter');
    const first = await post({ cdrs: [cdr(accountId, 'r-1', 6_030), cdr(accountId, 'r-1', 6_030)] });
    expect(first.statusCode).toBe(200);
    const [once, twice] = first.json().results;
    expect(twice).toMatchObject({ status: 'accepted', commandId: once.commandId, cost: once.cost });
    const version = await versionOf(accountId);
    const wallet = await walletOf(accountId);
    const again = await post({ cdrs: [cdr(accountId, 'r-2', 60), cdr(accountId, 'r-1', 6_030)] });
    expect(again.json().results[1]).toEqual({ ...once, index: 1 });
    expect(await versionOf(accountId)).toBe(version + 1n);
    expect(Money.parse(await walletOf(accountId)).equals(Money.parse(wallet).minus(Money.parse('1.99')))).toBe(true);
  });

  it('refuses a batch with one malformed CDR whole, naming it, and rates none of it', async () => {
    const accountId = await customer('starter');
    const version = await versionOf(accountId);
    const response = await post({
      cdrs: [cdr(accountId, 'ok-1', 60), { ...cdr(accountId, 'bad-1', 60), billableMilliseconds: -5 }],
    });
    expect(response.statusCode).toBe(400);
    expect(response.headers['content-type']).toContain('application/problem+json');
    expect(response.json().errors).toEqual(
      expect.arrayContaining([expect.objectContaining({ pointer: '/body/cdrs/1/billableMilliseconds' })]),
    );
    expect(await versionOf(accountId)).toBe(version);
  });

  it(`refuses an empty batch, more than ${CDR_BATCH_ITEMS_MAX} CDRs, and a body over its byte limit`, async () => {
    const accountId = await customer('starter');
    const version = await versionOf(accountId);
    expect((await post({ cdrs: [] })).statusCode).toBe(400);
    const many = Array.from({ length: CDR_BATCH_ITEMS_MAX + 1 }, (_, i) => cdr(accountId, `m-${i}`, 10));
    const tooMany = await post({ cdrs: many });
    expect(tooMany.statusCode).toBe(400);
    expect(tooMany.json().code).toBe('VALIDATION_FAILED');
    const huge = await api.app.inject({
      method: 'POST',
      url: '/api/v1/cdrs/batch',
      headers: { authorization: `Bearer ${api.token('system')}`, 'content-type': 'application/json' },
      payload: `{"cdrs":[${' '.repeat(CDR_BATCH_BODY_BYTES_MAX)}]}`,
    });
    expect(huge.statusCode).toBe(413);
    expect(await versionOf(accountId)).toBe(version);
  });

  it('lets only the system and administrators post CDRs', async () => {
    const accountId = await customer('starter');
    const version = await versionOf(accountId);
    const response = await api.app.inject({
      method: 'POST',
      url: '/api/v1/cdrs/batch',
      headers: { authorization: `Bearer ${api.customer(accountId)}` },
      payload: { cdrs: [cdr(accountId, 'x-1', 60)] },
    });
    expect(response.statusCode).toBe(403);
    expect(await versionOf(accountId)).toBe(version);
  });
});
