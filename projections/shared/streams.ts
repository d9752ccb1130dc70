import type { RecordedEvent } from '@khata/event-store';
import { quoteIdentifier, type SqlQueryable } from '@khata/sql';
import { type AccountEventAt, accountEvents, groupBy } from './accounts.ts';
import { writeRowsAsJson } from './rows.ts';

/**
 * How far a read model has applied each account stream, for read models whose rows do not carry a
 * stream version of their own. The projector already applies each event exactly once (checkpoint and
 * rows in one transaction); this makes applying one twice harmless as well, which additive rows
 * (`calls = calls + 1`) would not otherwise be.
 */
export const streamVersionsSql = (schema: string): string => `
CREATE TABLE ${schema}.stream_versions (
  account_id     uuid   PRIMARY KEY,
  stream_version bigint NOT NULL
);`;

export interface StreamVersionsTable {
  account_id: string;
  stream_version: string;
}

/**
 * The events of each account that come after `appliedVersion`, in stream order. For a read model that reads whole
 * streams (`contiguous`), a version that skips one is a bug (it must see every event of the streams it reads) and
 * stops the projection; one that reads only some event types (an `eventTypes` filter) sees gaps by design, and its
 * checkpoint, moved in the same transaction, is what makes it see every event it reads once.
 */
export function eventsAfter(
  accountId: string,
  events: readonly AccountEventAt[],
  appliedVersion: bigint,
  contiguous = true,
): AccountEventAt[] {
  const pending: AccountEventAt[] = [];
  let version = appliedVersion;
  for (const event of events) {
    if (event.version <= version) continue;
    if (contiguous && event.version !== version + 1n) {
      throw new Error(`account ${accountId}: event version ${event.version} after ${version} (gap)`);
    }
    pending.push(event);
    version = event.version;
  }
  return pending;
}

/**
 * Each account's events of this batch that the read model in `schema` has not applied yet. `contiguous: false` for
 * a read model whose filter names the event types it reads (see eventsAfter).
 */
export async function unappliedEvents(
  tx: SqlQueryable,
  schema: string,
  events: readonly RecordedEvent[],
  { contiguous = true }: { readonly contiguous?: boolean } = {},
): Promise<Map<string, AccountEventAt[]>> {
  const byAccount = groupBy(accountEvents(events), (event) => event.accountId);
  if (byAccount.size === 0) return byAccount;
  // One array parameter, whatever the number of accounts (a rebuild's chunk touches thousands).
  const rows = await tx.query<{ account_id: string; stream_version: string }>(
    `SELECT account_id, stream_version FROM ${quoteIdentifier(schema)}.stream_versions WHERE account_id = ANY($1::uuid[])`,
    [[...byAccount.keys()]],
  );
  const applied = new Map(rows.map((row) => [row.account_id, BigInt(row.stream_version)]));
  const pending = new Map<string, AccountEventAt[]>();
  for (const [accountId, accountEventsInBatch] of byAccount) {
    const unapplied = eventsAfter(accountId, accountEventsInBatch, applied.get(accountId) ?? 0n, contiguous);
    if (unapplied.length > 0) pending.set(accountId, unapplied);
  }
  return pending;
}

/** Records the last version applied of each account in `pending` (in the same transaction as the rows). */
export async function saveStreamVersions(
  tx: SqlQueryable,
  schema: string,
  pending: ReadonlyMap<string, readonly AccountEventAt[]>,
): Promise<void> {
  const rows: StreamVersionsTable[] = [];
  for (const [accountId, events] of pending) {
    const last = events.at(-1);
    if (last !== undefined) rows.push({ account_id: accountId, stream_version: last.version.toString() });
  }
  await writeRowsAsJson(tx, schema, 'stream_versions', rows, {
    conflict: ['account_id'],
    update: ['stream_version'],
  });
}
