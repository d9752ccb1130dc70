/**
 * `POST /calls/authorize` when no authority can answer: the `StartCall` append fails because the event store
 * is unreachable. HOT_PROJECTION_UNAVAILABLE_POLICY decides: fail-closed answers 503 (nothing written),
 * fail-open lets the call through for at most HOT_PROJECTION_FAIL_OPEN_SECONDS without a reservation. A sure
 * "no" from the hot projection is still a "no" either way.
 */
import { randomUUID } from 'node:crypto';
import { EventStoreUnavailable } from '@khata/event-store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPrepaidAccount, type TestApi, testApi } from '../testing.ts';
import { LEDGER_UNAVAILABLE } from './calls.ts';

const INDIA = '+919845012345';
const FAIL_OPEN_SECONDS = 90;

/** Makes every StartCall fail as an unreachable event store would; returns how to undo it. */
function ledgerDown(api: TestApi): () => void {
  const { ledger } = api.khata;
  const execute = ledger.execute.bind(ledger);
  ledger.execute = async (command, meta) => {
    if ((command as { type?: string }).type === 'StartCall') throw new EventStoreUnavailable('connection refused');
    return execute(command, meta);
  };
  return () => {
    ledger.execute = execute;
  };
}

for (const policy of ['fail-closed', 'fail-open'] as const) {
  describe(`POST /calls/authorize while the ledger is down (${policy})`, () => {
    let api: TestApi;
    let funded: string;
    let broke: string;
    let restore: () => void;
    beforeAll(async () => {
      api = await testApi({
        env: {
          HOT_PROJECTION_UNAVAILABLE_POLICY: policy,
          HOT_PROJECTION_FAIL_OPEN_SECONDS: String(FAIL_OPEN_SECONDS),
        },
      });
      funded = await openPrepaidAccount(api, { topUp: '1180.00', planId: 'starter' });
      broke = await openPrepaidAccount(api);
      restore = ledgerDown(api);
    }, 120_000);
    afterAll(async () => {
      restore?.();
      await api?.close();
    });

    const authorize = (accountId: string, callId = randomUUID()) =>
      api.app.inject({
        method: 'POST',
        url: '/api/v1/calls/authorize',
        headers: { authorization: `Bearer ${api.token('system')}` },
        payload: { callId, accountCode: accountId, destination: INDIA },
      });

    it(
      policy === 'fail-closed'
        ? 'answers 503 problem+json and writes nothing'
        : 'lets the call through, capped, with the reason LEDGER_UNAVAILABLE, and writes nothing',
      async () => {
        const before = (await api.khata.eventStore.readStream(`account-${funded}`)).events.length;
        const response = await authorize(funded);
        if (policy === 'fail-closed') {
          expect(response.statusCode).toBe(503);
          expect(response.headers['content-type']).toContain('application/problem+json');
          expect(response.json()).toMatchObject({ status: 503, code: 'SERVICE_UNAVAILABLE' });
        } else {
          expect(response.statusCode).toBe(200);
          expect(response.json()).toEqual({
            authorized: true,
            maxSeconds: FAIL_OPEN_SECONDS,
            reason: LEDGER_UNAVAILABLE,
            accountId: funded,
          });
        }
        expect((await api.khata.eventStore.readStream(`account-${funded}`)).events).toHaveLength(before);
      },
    );

    it('still refuses what the hot projection refuses', async () => {
      const response = await authorize(broke);
      expect(response.statusCode).toBe(200);
      expect(response.json()).toMatchObject({ authorized: false, maxSeconds: 0 });
      expect(response.json().reason).not.toBe(LEDGER_UNAVAILABLE);
    });
  });
}
