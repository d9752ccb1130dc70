import { parse as parseUuid, v5 as uuidV5 } from 'uuid';

/** A UUID namespace in the byte form `nameBasedId` takes: parsed once, not on every id. */
export function uuidNamespace(uuid: string): Uint8Array {
  return parseUuid(uuid);
}

/**
 * The name-based (v5) UUID of `name` in `namespace`, as `uuid`'s `v5(name, namespace)` computes it, with the name
 * encoded as UTF-8 by Buffer rather than character by character (ids are derived for every command and event:
 * a few per cent of an ingesting process's time went to `uuid`'s string handling).
 */
export function nameBasedId(name: string, namespace: Uint8Array): string {
  return uuidV5(Buffer.from(name, 'utf8'), namespace);
}

/**
 * Khata's UUID namespace for name-based (v5) ids. Fixed forever: changing it would change every derived
 * event id and defeat retries' deduplication.
 */
export const KHATA_NAMESPACE = '3f0b1c8e-7a2d-5e4f-9b6a-1c2d3e4f5a6b';
const KHATA_NAMESPACE_BYTES = uuidNamespace(KHATA_NAMESPACE);

/**
 * The id of an event the command handler appends. An event that records a fact with its own identity
 * (a CDR's call uuid, a gateway payment id) gets an id from that fact within the stream, so the fact is
 * stored once whichever command reports it; any other event gets an id from its command and its place
 * in the command's decision, so a retried command produces the very same ids.
 */
export function eventIdFor(
  streamId: string,
  commandId: string,
  index: number,
  idempotencyKey: string | undefined,
): string {
  const name = idempotencyKey === undefined ? `command/${commandId}/${index}` : `fact/${streamId}/${idempotencyKey}`;
  return nameBasedId(name, KHATA_NAMESPACE_BYTES);
}

/** The stream of an account. */
export function accountStream(accountId: string): string {
  return `account-${accountId}`;
}

/** The account id of an account stream, or null for another stream. */
export function accountIdOf(streamId: string): string | null {
  return streamId.startsWith('account-') ? streamId.slice('account-'.length) : null;
}
