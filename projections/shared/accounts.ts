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
}

/** The account events of a batch, upcast; other streams' events are skipped. */
export function accountEvents(events: readonly RecordedEvent[]): AccountEventAt[] {
  const result: AccountEventAt[] = [];
  for (const recorded of events) {
    const accountId = accountIdOf(recorded.streamId);
    if (accountId === null) continue;
    const recordedAt = recorded.metadata.recordedAt;
    result.push({
      accountId,
      event: upcastAccountEvent(recorded),
      version: recorded.version,
      eventId: recorded.eventId,
      at: typeof recordedAt === 'string' ? new Date(recordedAt) : recorded.storedAt,
    });
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
