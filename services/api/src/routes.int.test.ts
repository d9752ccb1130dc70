/**
 * Every route, checked generically: it has schemas (so OpenAPI documents it and bad input is refused),
 * and the role matrix holds for every route × role (customers only on their own accounts, 404 for
 * others'; staff roles only where allowed; nobody without a token).
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Role } from './principal.ts';
import { type TestApi, testApi } from './testing.ts';

let api: TestApi;
let ownAccount: string;
let customerToken: string;

beforeAll(async () => {
  api = await testApi();
  const created = await api.app.inject({
    method: 'POST',
    url: '/api/v1/accounts',
    headers: { authorization: `Bearer ${api.token('admin')}` },
    payload: {
      legalName: 'Matrix Pvt Ltd',
      contact: { name: 'M', email: 'm@matrix.example', phone: '+91 98450 00001' },
      billingAddress: { line1: '1 Road', city: 'Pune', stateCode: '27', postalCode: '411001', country: 'IN' },
      billingMode: 'prepaid',
    },
  });
  ownAccount = created.json().accountId;
  customerToken = api.customer(ownAccount);
  await api.settle();
}, 60_000);
afterAll(async () => {
  await api?.close();
});

const v1 = () => api.app.routeTable.filter((route) => route.url.startsWith('/api/v1'));

function concrete(url: string, accountId: string): string {
  return url
    .replace(':id', accountId)
    .replace(':topupId', randomUUID())
    .replace(':number', '101')
    .replace(':callId', 'call-1');
}

describe('every route', () => {
  it('declares who may call it and has response schemas (and body schemas where it takes a body)', () => {
    const routes = v1();
    expect(routes.length).toBeGreaterThan(15);
    for (const route of routes) {
      const label = `${route.method} ${route.url}`;
      expect(route.access, `${label} declares access`).toBeDefined();
      const schema = route.schema as { response?: object; body?: object } | undefined;
      expect(schema?.response, `${label} has response schemas`).toBeDefined();
      // Actions named by their path take no body.
      if (
        ['POST', 'PUT', 'PATCH'].includes(route.method) &&
        !/\/(confirm|verify|logout|setup-mfa|unlock)$/.test(route.url)
      ) {
        expect(schema?.body, `${label} has a body schema`).toBeDefined();
      }
    }
  });

  it('is documented in the OpenAPI document', async () => {
    const document = (await api.app.inject({ method: 'GET', url: '/api-docs/json' })).json() as {
      paths: Record<string, Record<string, unknown>>;
    };
    for (const route of v1()) {
      if (route.websocket) continue;
      const path = route.url.replaceAll(/:(\w+)/g, '{$1}');
      expect(
        document.paths[path]?.[route.method.toLowerCase()],
        `${route.method} ${route.url} in OpenAPI`,
      ).toBeDefined();
    }
  });

  it('enforces the role matrix on every route', async () => {
    const roles: Role[] = ['customer', 'admin', 'auditor', 'finance', 'system'];
    for (const route of v1()) {
      if (route.websocket) continue;
      const access = route.access;
      if (access === undefined) continue;
      if (access.public === true) {
        const anonymous = await api.app.inject({
          method: route.method as 'GET',
          url: concrete(route.url, ownAccount),
          payload: {},
        });
        expect([401, 403], `anonymous ${route.method} ${route.url} is public`).not.toContain(
          anonymous.statusCode === 401 && anonymous.json().code === 'UNAUTHENTICATED' ? 401 : 0,
        );
        continue;
      }
      for (const role of roles) {
        const token = role === 'customer' ? customerToken : api.token(role);
        const response = await api.app.inject({
          method: route.method as 'GET',
          url: concrete(route.url, ownAccount),
          headers: { authorization: `Bearer ${token}` },
          ...(['POST', 'PUT', 'PATCH'].includes(route.method) ? { payload: {} } : {}),
        });
        const label = `${role} ${route.method} ${route.url} → ${response.statusCode}`;
        if (access.roles.includes(role)) expect([401, 403], label).not.toContain(response.statusCode);
        else expect(response.statusCode, label).toBe(403);
        expect(response.statusCode, label).toBeLessThan(500);
      }
      const anonymous = await api.app.inject({ method: route.method as 'GET', url: concrete(route.url, ownAccount) });
      expect(anonymous.statusCode, `anonymous ${route.method} ${route.url}`).toBe(401);
    }
  });

  it('hides other customers’ accounts behind 404 on every account route', async () => {
    const stranger = randomUUID();
    for (const route of v1().filter((r) => r.access?.account === 'params.id' && r.access.roles.includes('customer'))) {
      const response = await api.app.inject({
        method: route.method as 'GET',
        url: concrete(route.url, stranger),
        headers: { authorization: `Bearer ${customerToken}` },
        ...(['POST', 'PUT', 'PATCH'].includes(route.method) ? { payload: {} } : {}),
      });
      expect(response.statusCode, `${route.method} ${route.url}`).toBe(404);
      expect(response.headers['content-type']).toContain('application/problem+json');
    }
  });
});
