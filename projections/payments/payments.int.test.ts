import { afterAll, beforeAll, expect, it } from 'vitest';
import { eachDatabase, type Harness, type History, playHistory, startHarness } from '../shared/testing.ts';
import { paymentsProjection } from './projection.ts';
import { paymentsByGatewayId, paymentsOfAccount, topUpsOfAccount } from './queries.ts';

eachDatabase('payments read model', (connect) => {
  let h: Harness;
  let history: History;
  let schema: string;
  beforeAll(async () => {
    h = await startHarness(await connect(), [paymentsProjection]);
    history = await playHistory(h);
    schema = await h.schema('payments');
  }, 120_000);
  afterAll(async () => {
    await h?.close();
  });

  it('finds a payment by its gateway id, with the GST-inclusive top-up it paid for', async () => {
    expect(await paymentsByGatewayId(h.db, schema, 'razorpay', 'pay_R1')).toEqual([
      {
        gateway: 'razorpay',
        paymentId: 'pay_R1',
        accountId: history.acme,
        amount: '1180.00',
        purpose: 'topup',
        reference: 'order_R1',
        recordedAt: '2026-11-04T05:00:00.000Z',
        currency: 'INR',
        topUp: expect.objectContaining({
          gross: '1180.00',
          // Karnataka to Karnataka: CGST and SGST at 9% each on ₹1,000.
          taxable: '1000.00',
          tax: { cgst: '90.00', sgst: '90.00', utgst: '0.00', igst: '0.00', total: '180.00' },
          placeOfSupply: '29',
          paymentId: 'razorpay:pay_R1',
        }),
      },
    ]);
    expect(await paymentsByGatewayId(h.db, schema, 'stripe', 'pay_R1')).toEqual([]);
  });

  it('lists an account’s payments and top-ups newest first, page by page', async () => {
    const first = await paymentsOfAccount(h.db, schema, history.acme, { limit: 1 });
    expect(first.items.map((p) => p.paymentId)).toEqual(['pi_S1']);
    const second = await paymentsOfAccount(h.db, schema, history.acme, { limit: 1, cursor: first.nextCursor });
    expect(second.items.map((p) => p.paymentId)).toEqual(['pay_R1']);
    expect(second.nextCursor).toBeNull();
    const topUps = await topUpsOfAccount(h.db, schema, history.acme);
    expect(topUps.items.map((t) => [t.gross, t.taxable, t.paymentId])).toEqual([
      ['5900.00', '5000.00', 'stripe:pi_S1'],
      ['1180.00', '1000.00', 'razorpay:pay_R1'],
      ['2360.00', '2000.00', null],
    ]);
    // Tamil Nadu is another state than the supplier's Karnataka: IGST at 18%.
    const chennai = await topUpsOfAccount(h.db, schema, history.chennai);
    expect(chennai.items.map((t) => [t.gross, t.taxable, t.tax.igst, t.tax.cgst, t.placeOfSupply])).toEqual([
      ['1180.00', '1000.00', '180.00', '0.00', '33'],
      ['590.00', '500.00', '90.00', '0.00', '33'],
    ]);
    expect((await paymentsOfAccount(h.db, schema, history.dormant)).items).toEqual([]);
  });

  it('records a payment reported twice (a retried webhook) once', async () => {
    const again = { paymentId: 'pay_R1', gateway: 'razorpay', amount: '1180.00', purpose: 'topup' };
    expect(await h.run(history.acme, 'RecordPayment', again)).toHaveLength(2);
    await h.settle();
    expect((await paymentsOfAccount(h.db, schema, history.acme)).items).toHaveLength(2);
    expect((await topUpsOfAccount(h.db, schema, history.acme)).items).toHaveLength(3);
  });

  it('keeps both records when two accounts record the same manual payment id', async () => {
    const manual = { paymentId: 'cash-001', gateway: 'manual', amount: '118.00', purpose: 'topup' };
    await h.run(history.chennai, 'RecordPayment', manual);
    await h.run(history.bharat, 'RecordPayment', manual);
    await h.settle();
    const records = await paymentsByGatewayId(h.db, schema, 'manual', 'cash-001');
    expect(records.map((record) => record.accountId).sort()).toEqual([history.bharat, history.chennai].sort());
    expect(records.every((record) => record.topUp?.taxable === '100.00')).toBe(true);
  });

  it('changes nothing when events are applied again', async () => {
    await h.expectReapplyChangesNothing(paymentsProjection, ['payments', 'top_ups']);
  });

  it('rebuilds the same rows as the live generation', async () => {
    await h.expectRebuildMatches('payments', ['payments', 'top_ups']);
  });
});
