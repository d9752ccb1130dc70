import { InvalidAppend } from './errors.ts';
import {
  APPEND_EVENTS_MAX,
  EVENT_SIZE_BYTES_MAX,
  EVENT_TYPE_LENGTH_MAX,
  JSON_DEPTH_MAX,
  STREAM_NAME_LENGTH_MAX,
} from './limits.ts';
import type { EventMetadata, JsonObject, NewEvent } from './types.ts';

/** An event that passed validation, with its JSON serialized once for whichever adapter writes it. */
export interface ValidatedEvent {
  readonly eventId: string;
  readonly type: string;
  readonly schemaVersion: number;
  readonly data: JsonObject;
  readonly metadata: EventMetadata;
  readonly dataJson: string;
  readonly metadataJson: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const EVENT_TYPE = /^[A-Za-z][A-Za-z0-9_.:-]*$/;
// Printable, no whitespace; `$` is reserved for system streams (EventStoreDB uses it).
const STREAM_NAME = /^[^\s$\p{Cc}][^\s\p{Cc}]*$/u;

export function validateStreamName(stream: unknown): string {
  if (typeof stream !== 'string' || stream.length === 0) {
    throw new InvalidAppend('INVALID_STREAM_NAME', 'stream', 'must be a non-empty string');
  }
  if (stream.length > STREAM_NAME_LENGTH_MAX) {
    throw new InvalidAppend('INVALID_STREAM_NAME', 'stream', `longer than ${STREAM_NAME_LENGTH_MAX} characters`);
  }
  if (!STREAM_NAME.test(stream)) {
    throw new InvalidAppend(
      'INVALID_STREAM_NAME',
      'stream',
      'must not start with `$` or contain whitespace or control characters',
    );
  }
  return stream;
}

/** The category of a stream: the part before the first `-` (`account-42` → `account`). */
export function streamCategory(stream: string): string {
  const dash = stream.indexOf('-');
  return dash === -1 ? stream : stream.slice(0, dash);
}

export function validateEvents(events: readonly NewEvent[]): ValidatedEvent[] {
  if (!Array.isArray(events) || events.length === 0) {
    throw new InvalidAppend('INVALID_EVENT', 'events', 'must be a non-empty array');
  }
  if (events.length > APPEND_EVENTS_MAX) {
    throw new InvalidAppend('TOO_MANY_EVENTS', 'events', `more than ${APPEND_EVENTS_MAX} events in one append`);
  }
  const seen = new Set<string>();
  return events.map((event, index) => {
    const validated = validateEvent(event, `events[${index}]`);
    if (seen.has(validated.eventId)) {
      throw new InvalidAppend('INVALID_EVENT', `events[${index}].eventId`, 'appears twice in one append');
    }
    seen.add(validated.eventId);
    return validated;
  });
}

function validateEvent(event: NewEvent, field: string): ValidatedEvent {
  if (typeof event !== 'object' || event === null) {
    throw new InvalidAppend('INVALID_EVENT', field, 'must be an object');
  }
  const eventId = typeof event.eventId === 'string' ? event.eventId.toLowerCase() : '';
  if (!UUID.test(eventId)) {
    throw new InvalidAppend('INVALID_EVENT', `${field}.eventId`, 'must be a UUID');
  }
  if (typeof event.type !== 'string' || event.type.length > EVENT_TYPE_LENGTH_MAX || !EVENT_TYPE.test(event.type)) {
    throw new InvalidAppend('INVALID_EVENT', `${field}.type`, 'must be an identifier such as CdrRated');
  }
  const schemaVersion = event.schemaVersion ?? 1;
  if (!Number.isSafeInteger(schemaVersion) || schemaVersion < 1 || schemaVersion > 32_767) {
    throw new InvalidAppend('INVALID_EVENT', `${field}.schemaVersion`, 'must be an integer from 1 to 32767');
  }
  assertJsonObject(event.data, `${field}.data`);
  const metadata = event.metadata ?? {};
  assertJsonObject(metadata, `${field}.metadata`);
  const dataJson = JSON.stringify(event.data);
  const metadataJson = JSON.stringify(metadata);
  const bytes = Buffer.byteLength(dataJson) + Buffer.byteLength(metadataJson);
  if (bytes > EVENT_SIZE_BYTES_MAX) {
    throw new InvalidAppend(
      'EVENT_TOO_LARGE',
      field,
      `${bytes} bytes of data and metadata; the limit is ${EVENT_SIZE_BYTES_MAX}`,
    );
  }
  return {
    eventId,
    type: event.type,
    schemaVersion,
    data: event.data,
    metadata,
    dataJson,
    metadataJson,
  };
}

function assertJsonObject(value: unknown, field: string): void {
  if (!isPlainObject(value)) {
    throw new InvalidAppend('INVALID_EVENT', field, 'must be a JSON object');
  }
  const problem = jsonProblem(value, 0);
  if (problem !== undefined) throw new InvalidAppend('INVALID_EVENT', `${field}${problem.path}`, problem.reason);
}

interface JsonProblem {
  path: string;
  readonly reason: string;
}

/**
 * Accepts exactly what survives a JSON round trip unchanged: plain objects, arrays, strings, finite
 * numbers, booleans and null. Anything else (undefined, NaN, bigint, Date, functions, class instances,
 * cycles) would be silently altered by JSON.stringify, so it is refused instead. The path to the
 * offending value is built only on the way out of a failure, so a valid event allocates nothing.
 */
function jsonProblem(value: unknown, depth: number): JsonProblem | undefined {
  if (depth > JSON_DEPTH_MAX) return { path: '', reason: `nested deeper than ${JSON_DEPTH_MAX} levels` };
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return undefined;
    case 'number':
      return Number.isFinite(value) ? undefined : { path: '', reason: 'is not a finite number' };
    case 'object': {
      if (value === null) return undefined;
      if (Array.isArray(value)) {
        for (let index = 0; index < value.length; index++) {
          const problem = jsonProblem(value[index], depth + 1);
          if (problem !== undefined) {
            problem.path = `[${index}]${problem.path}`;
            return problem;
          }
        }
        return undefined;
      }
      if (!isPlainObject(value)) return { path: '', reason: 'is not a plain JSON object' };
      for (const key in value) {
        if (!Object.hasOwn(value, key)) continue;
        const problem = jsonProblem(value[key], depth + 1);
        if (problem !== undefined) {
          problem.path = `.${key}${problem.path}`;
          return problem;
        }
      }
      return undefined;
    }
    default:
      return { path: '', reason: `${typeof value} is not JSON` };
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const prototype = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

export function validateReadCount(count: number | undefined, fallback: number, max: number): number {
  const value = count ?? fallback;
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new RangeError(`maxCount must be a positive integer, got ${String(count)}`);
  }
  return Math.min(value, max);
}
