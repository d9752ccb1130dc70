import type { EventFilter, RecordedEvent } from './types.ts';

/** The filter rule every adapter applies (the SQL adapters push the same rule into the query). */
export function matchesFilter(event: RecordedEvent, filter: EventFilter | undefined): boolean {
  if (filter === undefined) return true;
  const { streamPrefixes, eventTypes } = filter;
  if (streamPrefixes !== undefined && !streamPrefixes.some((prefix) => event.streamId.startsWith(prefix))) {
    return false;
  }
  if (eventTypes !== undefined && !eventTypes.includes(event.type)) return false;
  return true;
}
