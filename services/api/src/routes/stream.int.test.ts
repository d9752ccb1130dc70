/**
 * The live feed (`GET /api/v1/stream`) across an event-store outage: its log subscription fails (a dropped
 * connection) and the feed resumes by itself, without losing or repeating updates.
 */
import { type InterruptibleEventStore, interruptible } from '@khata/event-store/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { type Api, buildApp } from '../app.ts';
import { type Principal, staticTokens } from '../principal.ts';
import { type TestApi, testApi } from '../testing.ts';
import { LIVE_UPDATES_FOLLOWER_NAME } from './stream.ts';

const WAIT_MILLISECONDS = 15_000;
/** After the expected updates, how long to listen for one that should not come (a repeat). */
const QUIET_MILLISECONDS = 500;

async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = performance.now() + WAIT_MILLISECONDS;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

let api: TestApi;
let live: Api;
let accountId: string;
let outage: InterruptibleEventStore;
const principals = new Map<string, Principal>();

beforeAll(async () => {
  api = await testApi();
  const created = await api.app.inject({
    method: 'POST',
    url: '/api/v1/accounts',
    headers: { authorization: `Bearer ${api.token('admin')}` },
    payload: {
      legalName: 'Live Feed Pvt Ltd',
      contact: { name: 'L', email: 'l@live.example', phone: '+91 98450 00004' },
      billingAddress: { line1: '1 Road', city: 'Pune', stateCode: '27', postalCode: '411001', country: 'IN' },
      billingMode: 'prepaid',
    },
  });
  accountId = created.json().accountId;
  await api.settle();
  principals.set('live-customer', {
    userId: 'live-customer',
    role: 'customer',
    accountIds: [accountId],
    sessionId: null,
  });
  // The same Khata, but the feed reads the log through a store whose subscriptions fail on demand.
  outage = interruptible(api.khata.eventStore);
  live = await buildApp({
    khata: { ...api.khata, eventStore: outage.store },
    authenticate: staticTokens(principals),
  });
  await live.listen({ host: '127.0.0.1', port: 0 });
}, 120_000);
afterAll(async () => {
  await live?.close();
  await api?.close();
});

async function adjust(amount: string, reason: string): Promise<void> {
  const response = await api.app.inject({
    method: 'POST',
    url: `/api/v1/accounts/${accountId}/wallet/adjustments`,
    headers: { authorization: `Bearer ${api.token('admin')}` },
    payload: { amount, reason },
  });
  expect(response.statusCode).toBe(201);
  await api.settle();
}

describe('live updates across an event-store outage', () => {
  it('keeps sending balance.changed after the feed’s log subscription failed, once per change', async () => {
    const address = live.server.address() as { port: number };
    const socket = new WebSocket(`ws://127.0.0.1:${address.port}/api/v1/stream`, {
      headers: { authorization: 'Bearer live-customer' },
    });
    const messages: { type: string; accountId?: string; data?: Record<string, unknown> }[] = [];
    socket.on('message', (raw) => messages.push(JSON.parse(String(raw))));
    await new Promise((resolve, reject) => {
      socket.once('open', resolve);
      socket.once('error', reject);
    });
    try {
      await until(() => messages.some((message) => message.type === 'hello'), 'the hello');
      const balanceChanges = () => messages.filter((message) => message.type === 'balance.changed');
      const feed = () => api.khata.followers.statuses().find((status) => status.name === LIVE_UPDATES_FOLLOWER_NAME);
      await until(() => feed() !== undefined, 'the feed to follow the log');

      await adjust('7.00', 'before the outage');
      await until(() => balanceChanges().length === 1, 'the update before the outage');

      outage.fail();
      await until(() => (feed()?.consecutiveFailures ?? 0) >= 1, 'the feed to notice the outage');
      await adjust('3.00', 'during the outage');
      outage.recover();
      await adjust('4.00', 'after the outage');
      await until(() => balanceChanges().length >= 3, 'the updates of the outage and after it');
      await new Promise((resolve) => setTimeout(resolve, QUIET_MILLISECONDS));

      expect(balanceChanges()).toHaveLength(3);
      expect(balanceChanges().every((message) => message.accountId === accountId)).toBe(true);
      expect(feed()).toMatchObject({ state: 'following', restarts: 1 });
    } finally {
      socket.close();
    }
  });
});
