/**
 * Cursor pagination for read-model queries (SPEC §13: `limit`, `cursor`, `nextCursor`). A cursor is
 * the sort key of the last row returned, wrapped as opaque base64url JSON and tagged with the list it
 * belongs to; the next page starts strictly after it (keyset pagination), so rows inserted meanwhile
 * never shift a page and deep pages cost what the first one does.
 */

export const PAGE_LIMIT_DEFAULT = 50;
export const PAGE_LIMIT_MAX = 200;

export interface PageRequest {
  /** Rows wanted, 1 to PAGE_LIMIT_MAX (larger asks get PAGE_LIMIT_MAX); PAGE_LIMIT_DEFAULT when absent. */
  readonly limit?: number;
  /** `nextCursor` of the previous page; the first page when absent. */
  readonly cursor?: string | null;
}

export interface Page<Item> {
  readonly items: readonly Item[];
  /** Pass back as `cursor` for the next page; null on the last page. */
  readonly nextCursor: string | null;
}

/** A query was asked for something it cannot answer (a forged cursor, a malformed filter): the caller's fault. */
export class InvalidReadRequest extends Error {
  override readonly name = 'InvalidReadRequest';
  readonly code: 'INVALID_CURSOR' | 'INVALID_LIMIT' | 'INVALID_FILTER';
  readonly retryable = false;

  constructor(code: InvalidReadRequest['code'], message: string) {
    super(message);
    this.code = code;
  }
}

/** How many rows a page has. */
export function pageLimit(limit: number | undefined): number {
  if (limit === undefined) return PAGE_LIMIT_DEFAULT;
  if (!Number.isInteger(limit) || limit < 1) {
    throw new InvalidReadRequest('INVALID_LIMIT', `limit must be a positive integer, got ${limit}`);
  }
  return Math.min(limit, PAGE_LIMIT_MAX);
}

/** What each part of a sort key must look like; checked before it reaches SQL. */
export type KeyPart = 'instant' | 'uuid' | 'text' | 'integer';

const KEY_PATTERNS: Record<KeyPart, RegExp> = {
  instant: /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$/,
  uuid: /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/,
  text: /^[\s\S]{0,200}$/,
  integer: /^\d{1,19}$/,
};

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const LOCAL_DATE = /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$/;

/** True for a UUID: ids of other shapes match nothing, and must not reach a uuid column as an error. */
export function isUuid(value: string): boolean {
  return UUID.test(value);
}

/** Checks a filter value before it reaches SQL: a bad one is the caller's mistake, not a server error. */
export function checkFilter(name: string, value: string, shape: 'uuid' | 'date' | 'instant'): string {
  const ok =
    shape === 'uuid'
      ? UUID.test(value)
      : shape === 'date'
        ? LOCAL_DATE.test(value)
        : KEY_PATTERNS.instant.test(value) && !Number.isNaN(Date.parse(value));
  if (!ok) throw new InvalidReadRequest('INVALID_FILTER', `${name} is not a valid ${shape}: ${value.slice(0, 80)}`);
  return value;
}

/** Checks that a filter value is one of `allowed`. */
export function checkChoice<T extends string>(name: string, value: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(value)) {
    throw new InvalidReadRequest('INVALID_FILTER', `${name} must be one of ${allowed.join(', ')}`);
  }
  return value as T;
}

export function encodeCursor(list: string, key: readonly string[]): string {
  return Buffer.from(JSON.stringify([list, ...key]), 'utf8').toString('base64url');
}

/** The sort key a cursor of `list` carries, checked part by part against `shape`. */
export function decodeCursor(list: string, cursor: string, shape: readonly KeyPart[]): string[] {
  const invalid = () => new InvalidReadRequest('INVALID_CURSOR', `not a cursor of this list: ${cursor.slice(0, 80)}`);
  if (cursor.length > 1_000 || !/^[A-Za-z0-9_-]*$/.test(cursor)) throw invalid();
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw invalid();
  }
  if (!Array.isArray(decoded) || decoded.length !== shape.length + 1 || decoded[0] !== list) throw invalid();
  const key = decoded.slice(1);
  for (let i = 0; i < shape.length; i += 1) {
    const part = key[i];
    if (typeof part !== 'string' || !KEY_PATTERNS[shape[i] as KeyPart].test(part)) throw invalid();
    if (shape[i] === 'instant' && Number.isNaN(Date.parse(part))) throw invalid();
  }
  return key as string[];
}

/**
 * A page from rows fetched with `limit + 1`: the extra row only says there is a next page, whose cursor
 * is the key of the last row kept.
 */
export function pageOf<Row, Item>(
  rows: readonly Row[],
  limit: number,
  list: string,
  keyOf: (row: Row) => readonly string[],
  toItem: (row: Row) => Item,
): Page<Item> {
  const kept = rows.slice(0, limit);
  const last = kept.at(-1);
  return {
    items: kept.map(toItem),
    nextCursor: rows.length > limit && last !== undefined ? encodeCursor(list, keyOf(last)) : null,
  };
}
