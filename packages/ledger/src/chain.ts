import { hash } from 'node:crypto';
import type { EventStore, JsonObject, RecordedEvent } from '@khata/event-store';
import canonicalize from 'canonicalize';

/**
 * Tamper evidence (SPEC §2): each event's metadata carries `chainHash` = SHA-256 of the previous event's
 * chain hash followed by this event's canonical JSON (RFC 8785), so editing, removing or reordering any
 * stored event breaks every later link. The first event links to `GENESIS_HASH`.
 */
export const GENESIS_HASH = '0'.repeat(64);

/** Metadata fields that are part of what the chain protects (everything but the hash itself). */
export interface ChainedMetadata {
  readonly commandId: string;
  readonly correlationId: string;
  readonly causationId: string;
  readonly actor: string;
  readonly recordedAt: string;
}

export interface ChainInput {
  readonly streamId: string;
  readonly version: bigint;
  readonly eventId: string;
  readonly type: string;
  readonly schemaVersion: number;
  readonly data: unknown;
  readonly metadata: ChainedMetadata;
}

export function chainHash(previousHash: string, event: ChainInput): string {
  const canonical = canonicalize({
    streamId: event.streamId,
    version: event.version.toString(),
    eventId: event.eventId,
    type: event.type,
    schemaVersion: event.schemaVersion,
    data: event.data,
    metadata: {
      commandId: event.metadata.commandId,
      correlationId: event.metadata.correlationId,
      causationId: event.metadata.causationId,
      actor: event.metadata.actor,
      recordedAt: event.metadata.recordedAt,
    },
  });
  if (canonical === undefined) throw new Error('event is not canonicalizable JSON');
  // One-shot hashing: about a third cheaper per event than a Hash object for inputs of this size (~1 KiB).
  return hash('sha256', previousHash + canonical, 'hex');
}

export interface ChainBreak {
  readonly version: string;
  readonly eventId: string;
  readonly expected: string;
  readonly actual: string | null;
}

export interface ChainReport {
  readonly streamId: string;
  readonly ok: boolean;
  readonly eventsChecked: number;
  /** The chain hash of the last event checked (the stream's head when ok). */
  readonly lastHash: string;
  /** The first link that does not hold, when not ok. */
  readonly firstBreak: ChainBreak | null;
}

const VERIFY_PAGE_SIZE = 1_000;

function chainedMetadata(event: RecordedEvent): ChainedMetadata {
  const m = event.metadata;
  return {
    commandId: String(m.commandId ?? ''),
    correlationId: String(m.correlationId ?? ''),
    causationId: String(m.causationId ?? ''),
    actor: String(m.actor ?? ''),
    recordedAt: String(m.recordedAt ?? ''),
  };
}

/** Recomputes a stream's chain from its first event and reports the first link that does not hold. */
export async function verifyStream(store: EventStore, streamId: string): Promise<ChainReport> {
  let previous = GENESIS_HASH;
  let checked = 0;
  let from = 1n;
  for (;;) {
    const { events } = await store.readStream(streamId, { fromVersion: from, maxCount: VERIFY_PAGE_SIZE });
    for (const event of events) {
      const expected = chainHash(previous, {
        streamId,
        version: event.version,
        eventId: event.eventId,
        type: event.type,
        schemaVersion: event.schemaVersion,
        data: event.data as JsonObject,
        metadata: chainedMetadata(event),
      });
      const actual = typeof event.metadata.chainHash === 'string' ? event.metadata.chainHash : null;
      if (actual !== expected) {
        return {
          streamId,
          ok: false,
          eventsChecked: checked,
          lastHash: previous,
          firstBreak: { version: event.version.toString(), eventId: event.eventId, expected, actual },
        };
      }
      previous = expected;
      checked += 1;
    }
    if (events.length < VERIFY_PAGE_SIZE) break;
    from += BigInt(events.length);
  }
  return { streamId, ok: true, eventsChecked: checked, lastHash: previous, firstBreak: null };
}
