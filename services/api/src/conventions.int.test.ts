/**
 * The API's conventions (SPEC §13): idempotency keys, body limits, bad input changing nothing, live
 * updates over WebSocket, and the audit routes.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { BODY_BYTES_MAX } from './app.ts';
import { type TestApi, testApi } from './testing.ts';

let api: TestApi;
let admin: { authorization: string };
let accountId: string;

const accountBody = () => ({
  legalName: 'Conventions Pvt Ltd',
  contact: { name: 'C', email: 'c@conventions.example', phone: '+91 98450 00002' },
  billingAddress: { line1: '1 Road', city: 'Chennai', stateCode: '33', postalCode: '600001', country: 'IN' },
  billingMode: 'prepaid',
});

beforeAll(async () => {
  api = await testApi();
  admin = { authorization: `Bearer ${api.token('admin')}` };
  const created = await api.app.inject({
    method: 'POST',
    url: '/api/v1/accounts',
    headers: admin,
    payload: accountBody(),
  });
  accountId = created.json().accountId;
  await api.settle();
}, 60_000);
afterAll(async () => {
  await api?.close();
});

async function streamVersion(): Promise<bigint> {
  return (await api.khata.eventStore.readStream(`account-${accountId}`, { direction: 'backwards', maxCount: 1 }))
    .version;
}

describe('Idempotency-Key', () => {
  it('replays the stored response for the same key and body, and charges once', async () => {
    const headers = { ...admin, 'idempotency-key': `adj-${randomUUID()}` };
    const payload = { amount: '10.00', reason: 'goodwill' };
    const first = await api.app.inject({
      method: 'POST',
      url: `/api/v1/accounts/${accountId}/wallet/adjustments`,
      headers,
      payload,
    });
    expect(first.statusCode).toBe(201);
    const before = await streamVersion();
    const second = await api.app.inject({
      method: 'POST',
      url: `/api/v1/accounts/${accountId}/wallet/adjustments`,
      headers,
      payload,
    });
    expect(second.statusCode).toBe(201);
    expect(second.headers['idempotent-replayed']).toBe('true');
    expect(second.json()).toEqual(first.json());
    expect(await streamVersion()).toBe(before);
  });

  it('refuses the same key with another body (422) and while the first is running (409)', async () => {
    const key = `adj-${randomUUID()}`;
    const headers = { ...admin, 'idempotency-key': key };
    await api.app.inject({
      method: 'POST',
      url: `/api/v1/accounts/${accountId}/wallet/adjustments`,
      headers,
      payload: { amount: '1.00', reason: 'a' },
    });
    const other = await api.app.inject({
      method: 'POST',
      url: `/api/v1/accounts/${accountId}/wallet/adjustments`,
      headers,
      payload: { amount: '2.00', reason: 'a' },
    });
    expect(other.statusCode).toBe(422);
    expect(other.json()).toMatchObject({ code: 'IDEMPOTENCY_KEY_REUSED' });

    const racing = `race-${randomUUID()}`;
    const results = await Promise.all(
      Array.from({ length: 5 }, () =>
        api.app.inject({
          method: 'POST',
          url: `/api/v1/accounts/${accountId}/wallet/adjustments`,
          headers: { ...admin, 'idempotency-key': racing },
          payload: { amount: '3.00', reason: 'race' },
        }),
      ),
    );
    const statuses = results.map((r) => r.statusCode).sort();
    expect(statuses.filter((s) => s === 201).length).toBeGreaterThanOrEqual(1);
    expect(statuses.every((s) => s === 201 || s === 409)).toBe(true);
    for (const r of results.filter((x) => x.statusCode === 409))
      expect(r.json()).toMatchObject({ code: 'IDEMPOTENCY_KEY_IN_USE' });
    const adjustments = (await api.khata.eventStore.readStream(`account-${accountId}`)).events.filter(
      (e) => e.type === 'WalletAdjusted' && e.data.reason === 'race',
    );
    expect(adjustments).toHaveLength(1);
  });
});

describe('bad input', () => {
  const cases: [string, string, string, unknown][] = [
    ['a wrong type', 'POST', '/wallet/adjustments', { amount: 10, reason: 'x' }],
    ['a missing field', 'POST', '/wallet/adjustments', { amount: '10.00' }],
    ['an unknown field', 'POST', '/wallet/adjustments', { amount: '10.00', reason: 'x', sneaky: true }],
    ['a float amount with too many decimals', 'POST', '/wallet/adjustments', { amount: '10.00001', reason: 'x' }],
    ['an invalid number', 'POST', '/numbers', { kind: 'toll-free', number: 'abc' }],
    ['an empty profile update', 'PATCH', '', {}],
    ['a GSTIN with a bad check character', 'PATCH', '', { gstin: '27AAPFU0939F1ZX' }],
  ];
  for (const [label, method, path, payload] of cases) {
    it(`answers ${label} with a 4xx problem and appends nothing`, async () => {
      const before = await streamVersion();
      const response = await api.app.inject({
        method: method as 'POST',
        url: `/api/v1/accounts/${accountId}${path}`,
        headers: admin,
        payload: payload as object,
      });
      expect(response.statusCode).toBeGreaterThanOrEqual(400);
      expect(response.statusCode).toBeLessThan(500);
      expect(response.headers['content-type']).toContain('application/problem+json');
      expect(response.json()).toMatchObject({
        type: expect.stringMatching(/^https:\/\/khata\.dev\/problems\//),
        status: response.statusCode,
      });
      expect(JSON.stringify(response.json())).not.toMatch(/at \w+ \(|node_modules/);
      expect(await streamVersion()).toBe(before);
    });
  }

  it('refuses a body over the limit with 413 and malformed JSON with 400', async () => {
    const big = await api.app.inject({
      method: 'POST',
      url: `/api/v1/accounts/${accountId}/wallet/adjustments`,
      headers: { ...admin, 'content-type': 'application/json' },
      payload: JSON.stringify({ amount: '1.00', reason: 'x'.repeat(BODY_BYTES_MAX) }),
    });
    expect(big.statusCode).toBe(413);
    expect(big.json()).toMatchObject({ code: 'PAYLOAD_TOO_LARGE' });
    const broken = await api.app.inject({
      method: 'POST',
      url: `/api/v1/accounts/${accountId}/wallet/adjustments`,
      headers: { ...admin, 'content-type': 'application/json' },
      payload: '{"amount": ',
    });
    expect(broken.statusCode).toBe(400);
    expect(broken.headers['content-type']).toContain('application/problem+json');
  });

  it('echoes the caller’s request id, or makes one', async () => {
    const given = await api.app.inject({ method: 'GET', url: '/health', headers: { 'x-request-id': 'trace-123' } });
    expect(given.headers['x-request-id']).toBe('trace-123');
    const made = await api.app.inject({ method: 'GET', url: '/health' });
    expect(made.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe('live updates', () => {
  it('sends a customer the balance changes of its own account, and nothing of others', async () => {
    const address = await api.app.listen({ host: '127.0.0.1', port: 0 });
    const token = api.customer(accountId);
    const socket = new WebSocket(`${address.replace('http', 'ws')}/api/v1/stream?access_token=${token}`);
    const messages: { type: string; accountId?: string; data?: Record<string, unknown> }[] = [];
    socket.on('message', (raw) => messages.push(JSON.parse(String(raw))));
    await new Promise((resolve, reject) => {
      socket.once('open', resolve);
      socket.once('error', reject);
    });
    for (let i = 0; i < 100 && messages.length === 0; i += 1) await new Promise((r) => setTimeout(r, 10));
    expect(messages[0]).toMatchObject({ type: 'hello', role: 'customer' });
    const other = await api.app.inject({
      method: 'POST',
      url: '/api/v1/accounts',
      headers: admin,
      payload: accountBody(),
    });
    await api.app.inject({
      method: 'POST',
      url: `/api/v1/accounts/${other.json().accountId}/wallet/adjustments`,
      headers: admin,
      payload: { amount: '5.00', reason: 'other' },
    });
    await api.app.inject({
      method: 'POST',
      url: `/api/v1/accounts/${accountId}/wallet/adjustments`,
      headers: admin,
      payload: { amount: '7.00', reason: 'mine' },
    });
    for (let i = 0; i < 300 && !messages.some((m) => m.type === 'balance.changed'); i += 1)
      await new Promise((r) => setTimeout(r, 10));
    const updates = messages.filter((m) => m.type === 'balance.changed');
    expect(updates.length).toBeGreaterThanOrEqual(1);
    expect(updates.every((m) => m.accountId === accountId)).toBe(true);
    expect(updates.at(-1)?.data).toMatchObject({ currency: 'INR' });
    socket.close();
  });

  it('refuses a WebSocket without credentials', async () => {
    const address = api.app.server.address() as { port: number };
    const socket = new WebSocket(`ws://127.0.0.1:${address.port}/api/v1/stream`);
    const status = await new Promise<number>((resolve) => {
      socket.on('unexpected-response', (_request, response) => resolve(response.statusCode ?? 0));
      socket.on('open', () => resolve(101));
    });
    expect(status).toBe(401);
  });
});

describe('audit', () => {
  it('lists events with hash-chain fields, replays state as of an instant, and verifies the account', async () => {
    const auditor = { authorization: `Bearer ${api.token('auditor')}` };
    const events = await api.app.inject({
      method: 'GET',
      url: `/api/v1/audit/accounts/${accountId}/events?limit=2`,
      headers: auditor,
    });
    expect(events.statusCode).toBe(200);
    const page = events.json();
    expect(page.items).toHaveLength(2);
    expect(page.items[0]).toMatchObject({
      type: 'AccountOpened',
      version: '1',
      chainHash: expect.stringMatching(/^[0-9a-f]{64}$/),
    });
    const next = await api.app.inject({
      method: 'GET',
      url: `/api/v1/audit/accounts/${accountId}/events?cursor=${page.nextCursor}`,
      headers: auditor,
    });
    expect(next.json().items[0].version).toBe('3');
    const asOf = await api.app.inject({
      method: 'GET',
      url: `/api/v1/audit/accounts/${accountId}/state?asOf=2000-01-01T00:00:00Z`,
      headers: auditor,
    });
    expect(asOf.json()).toMatchObject({ version: '0', eventsReplayed: 0 });
    const now = await api.app.inject({
      method: 'GET',
      url: `/api/v1/audit/accounts/${accountId}/state`,
      headers: auditor,
    });
    expect(now.json().state).toMatchObject({ status: 'active' });
    await api.settle();
    const verify = await api.app.inject({
      method: 'POST',
      url: `/api/v1/audit/accounts/${accountId}/verify`,
      headers: auditor,
    });
    expect(verify.json()).toMatchObject({ ok: true, differences: [], chain: { ok: true } });
    const customer = await api.app.inject({
      method: 'POST',
      url: `/api/v1/audit/accounts/${accountId}/verify`,
      headers: { authorization: `Bearer ${api.customer(accountId)}` },
    });
    expect(customer.statusCode).toBe(403);
  });
});
