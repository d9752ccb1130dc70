import { EventStoreUnavailable } from '@khata/event-store';
import { isConnectionError } from '@khata/sql';

/**
 * The error says a backing store (the event store, PostgreSQL) could not be reached, not that the request was
 * wrong: nothing was written and the same request may be tried again. The API answers 503 for it, and call
 * authorization applies HOT_PROJECTION_UNAVAILABLE_POLICY.
 */
export function isStoreUnavailable(error: unknown): boolean {
  return error instanceof EventStoreUnavailable || isConnectionError(error);
}
