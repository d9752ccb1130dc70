import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestApi, testApi } from './testing.ts';

let api: TestApi;
beforeAll(async () => {
  api = await testApi();
}, 60_000);
afterAll(async () => {
  await api?.close();
});

const accountBody = () => ({
  legalName: 'Acme Contact Centre Pvt Ltd',
  contact: { name: 'Asha Rao', email: 'asha@acme.example', phone: '+91 98450 00000' },
  billingAddress: { line1: '12 MG Road', city: 'Bengaluru', stateCode: '29', postalCode: '560001', country: 'IN' },
  billingMode: 'prepaid',
});

describe('api skeleton', () => {
  it('opens an account, takes a confirmed top-up, and shows the balance', async () => {
    const admin = { authorization: `Bearer ${api.token('admin')}` };
    const created = await api.app.inject({
      method: 'POST',
      url: '/api/v1/accounts',
      headers: admin,
      payload: accountBody(),
    });
    expect(created.statusCode).toBe(201);
    const { accountId } = created.json();
    const customer = { authorization: `Bearer ${api.customer(accountId)}` };
    const topup = await api.app.inject({
      method: 'POST',
      url: `/api/v1/accounts/${accountId}/topups`,
      headers: customer,
      payload: { amount: '1180.00' },
    });
    expect(topup.statusCode).toBe(201);
    const confirmed = await api.app.inject({
      method: 'POST',
      url: `/api/v1/accounts/${accountId}/topups/${topup.json().topupId}/confirm`,
      headers: admin,
    });
    expect(confirmed.json()).toMatchObject({ status: 'confirmed' });
    await api.settle();
    const balance = await api.app.inject({
      method: 'GET',
      url: `/api/v1/accounts/${accountId}/balance`,
      headers: customer,
    });
    expect(balance.json()).toMatchObject({
      wallet: '1000.00',
      reserved: '0.00',
      available: '1000.00',
      currency: 'INR',
    });
    const other = await api.app.inject({
      method: 'GET',
      url: `/api/v1/accounts/${randomUUID()}/balance`,
      headers: customer,
    });
    expect(other.statusCode).toBe(404);
    expect(other.headers['content-type']).toContain('application/problem+json');
  });

  it('answers unknown routes, bad bodies and missing credentials with problem+json', async () => {
    const admin = { authorization: `Bearer ${api.token('admin')}` };
    const unknown = await api.app.inject({ method: 'GET', url: '/api/v1/nope', headers: admin });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json()).toMatchObject({ status: 404, title: 'Not found' });
    const bad = await api.app.inject({
      method: 'POST',
      url: '/api/v1/accounts',
      headers: admin,
      payload: { ...accountBody(), billingMode: 'barter', extra: 1 },
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().errors).toEqual(expect.arrayContaining([expect.objectContaining({ pointer: '/body/extra' })]));
    const anonymous = await api.app.inject({ method: 'GET', url: `/api/v1/accounts/${randomUUID()}/balance` });
    expect(anonymous.statusCode).toBe(401);
  });
});
