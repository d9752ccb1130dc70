import { upcastAccountEvent } from '@khata/domain';
import type { RecordedEvent } from '@khata/event-store';
import type { AccountEvent } from '@khata/schemas';

/** The account id of an `account-<id>` stream, or null. */
export function accountIdOf(streamId: string): string | null {
  return streamId.startsWith('account-') ? streamId.slice('account-'.length) : null;
}

/** An account event at its current schema version, with where it sits in its stream. */
export interface AccountEventAt {
  readonly accountId: string;
  readonly event: AccountEvent;
  readonly version: bigint;
  readonly eventId: string;
  /** When the command that produced it was decided (the handler's clock), else when it was stored. */
  readonly at: Date;
  /** `at` as ISO 8601 text, as the event's metadata carries it (a time column of a JSON row takes it as is). */
  readonly atText: string;
}

/**
 * Each recorded event's upcast form, kept while the recorded event is alive: the read models of one process are
 * handed the same recorded events (a rebuild's chunk, the log window's page), and each would otherwise upcast every
 * event and parse its time again (7 read models: 9 % of a rebuild's main thread). Read-only, like the events.
 */
const upcast = new WeakMap<RecordedEvent, AccountEventAt>();

/** The account events of a batch, upcast; other streams' events are skipped. */
export function accountEvents(events: readonly RecordedEvent[]): AccountEventAt[] {
  const result: AccountEventAt[] = [];
  for (const recorded of events) {
    const known = upcast.get(recorded);
    if (known !== undefined) {
      result.push(known);
      continue;
    }
    const accountId = accountIdOf(recorded.streamId);
    if (accountId === null) continue;
    const recordedAt = recorded.metadata.recordedAt;
    const item: AccountEventAt = {
      accountId,
      event: upcastAccountEvent(recorded),
      version: recorded.version,
      eventId: recorded.eventId,
      at: typeof recordedAt === 'string' ? new Date(recordedAt) : recorded.storedAt,
      atText: typeof recordedAt === 'string' ? recordedAt : recorded.storedAt.toISOString(),
    };
    upcast.set(recorded, item);
    result.push(item);
  }
  return result;
}

/** Groups items by key, keeping their order within each group. */
export function groupBy<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    const group = groups.get(k);
    if (group === undefined) groups.set(k, [item]);
    else group.push(item);
  }
  return groups;
}
