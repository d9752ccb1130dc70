import { Money } from '@khata/domain';
import type { Projection } from '@khata/projector';
import { queryBuilder, run } from '@khata/sql';
import { accountEvents } from '../shared/accounts.ts';
import { statementSlices } from '../shared/rows.ts';
import { type PaymentsDatabase, type PaymentsTable, paymentsMigrations, type TopUpsTable } from './migrations.ts';

const db = queryBuilder<PaymentsDatabase>();

const money = (amount: string) => Money.parse(amount).toString();

/**
 * Payments and top-ups, inserted as they are recorded. Each row's key (the gateway payment, the event)
 * makes a second insert a no-op, so a batch applied twice changes nothing without a version check.
 */
export const paymentsProjection: Projection = {
  name: 'payments',
  description: 'payments recorded per gateway payment id, and wallet top-ups with their GST split',
  migrations: paymentsMigrations,
  // Only its event types (see the accounts read model).
  filter: { streamPrefixes: ['account-'], eventTypes: ['PaymentRecorded', 'WalletToppedUp'] },
  shards: 4,
  async apply(tx, events, { schema }) {
    const payments: PaymentsTable[] = [];
    const topUps: TopUpsTable[] = [];
    for (const { accountId, event, version, eventId, at } of accountEvents(events)) {
      if (event.type === 'PaymentRecorded') {
        const { data } = event;
        payments.push({
          gateway: data.gateway,
          payment_id: data.paymentId,
          account_id: accountId,
          amount: money(data.amount),
          purpose: data.purpose,
          reference: data.reference,
          recorded_at: new Date(data.recordedAt),
          event_id: eventId,
          stream_version: version.toString(),
        });
      } else if (event.type === 'WalletToppedUp') {
        const { data } = event;
        topUps.push({
          event_id: eventId,
          account_id: accountId,
          gross: money(data.gross),
          taxable: money(data.taxable),
          cgst: money(data.tax.cgst),
          sgst: money(data.tax.sgst),
          utgst: money(data.tax.utgst),
          igst: money(data.tax.igst),
          supplier_state: data.supplierState,
          place_of_supply: data.placeOfSupply,
          payment_id: data.paymentId,
          topped_up_at: at,
          stream_version: version.toString(),
        });
      }
    }
    for (const slice of statementSlices(payments, 9)) {
      await run(
        tx,
        db
          .withSchema(schema)
          .insertInto('payments')
          .values(slice)
          .onConflict((conflict) => conflict.doNothing()),
      );
    }
    for (const slice of statementSlices(topUps, 13)) {
      await run(
        tx,
        db
          .withSchema(schema)
          .insertInto('top_ups')
          .values(slice)
          .onConflict((conflict) => conflict.doNothing()),
      );
    }
  },
};
