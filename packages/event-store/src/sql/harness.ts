import type { SqlClient } from '@khata/sql';
import type { ContractTarget } from '../contract.ts';
import type { EventStore, NewEvent } from '../types.ts';
import { validateEvents } from '../validation.ts';

/** Appends through the store's SQL function inside a transaction held open by the caller. */
export function holdOpenAppendWith(client: SqlClient): NonNullable<ContractTarget['holdOpenAppend']> {
  return async (_store: EventStore, stream: string, events: readonly NewEvent[], whileOpen: () => Promise<void>) => {
    const payload = validateEvents(events).map((e) => ({
      id: e.eventId,
      type: e.type,
      sv: e.schemaVersion,
      data: e.data,
      meta: e.metadata,
    }));
    await client.transaction(async (tx) => {
      await tx.query('SELECT * FROM es.append_to_stream($1, $2, $3, $4::jsonb, false)', [
        stream,
        stream.split('-')[0],
        'no_stream',
        JSON.stringify(payload),
      ]);
      await whileOpen();
    });
  };
}

export async function truncateEventStore(client: SqlClient): Promise<void> {
  await client.query('TRUNCATE es.events, es.streams');
  await client.query('ALTER SEQUENCE es.events_global_position_seq RESTART');
}
