/**
 * Shipped migrations never change (an applied migration whose text changed stops start-up). Several are derived from
 * an earlier one's text, so an edit of that text would change them too: their digests are pinned here.
 */
import { createHash } from 'node:crypto';
import { eventStoreMigrations } from '@khata/event-store';
import type { MigrationSet } from '@khata/sql';
import { expect, it } from 'vitest';
import { ledgerMigrations } from './schema.ts';

const digests = (set: MigrationSet) =>
  Object.fromEntries(
    set.migrations.map((migration) => [
      migration.version,
      createHash('sha256').update(migration.sql).digest('hex').slice(0, 12),
    ]),
  );

it('keeps the text of every shipped event store and ledger migration', () => {
  expect(digests(eventStoreMigrations)).toEqual({
    1: '31b015e2c5d4',
    2: 'afb8a37f3ad3',
    3: 'e4d2b2a9882d',
    4: 'e49d52fa5edf',
  });
  expect(digests(ledgerMigrations)).toEqual({
    1: 'e137f9386024',
    2: '10f961aae540',
    3: '10a9c9941aa8',
    4: '8df812480564',
  });
});
