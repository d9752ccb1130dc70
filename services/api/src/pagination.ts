import { ApiProblem } from './problems.ts';

/** Items per page when the caller does not say, and the most it may ask for. */
export const PAGE_LIMIT_DEFAULT = 50;
export const PAGE_LIMIT_MAX = 200;

export function pageLimit(limit: string | undefined): number {
  if (limit === undefined) return PAGE_LIMIT_DEFAULT;
  const value = Number(limit);
  if (!Number.isInteger(value) || value < 1 || value > PAGE_LIMIT_MAX) {
    throw new ApiProblem(400, 'VALIDATION_FAILED', 'Invalid request', `limit must be 1 to ${PAGE_LIMIT_MAX}`, {
      errors: [{ pointer: '/querystring/limit', message: `must be 1 to ${PAGE_LIMIT_MAX}` }],
    });
  }
  return value;
}

/** Cursors are opaque to clients: base64url of the last item's sort key. */
export function encodeCursor(key: object): string {
  return Buffer.from(JSON.stringify(key)).toString('base64url');
}

export function decodeCursor<T extends object>(cursor: string | undefined): T | null {
  if (cursor === undefined) return null;
  try {
    const parsed: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (parsed !== null && typeof parsed === 'object') return parsed as T;
  } catch {
    // fall through
  }
  throw new ApiProblem(400, 'INVALID_CURSOR', 'Invalid cursor', 'the cursor is not one this API returned', {
    errors: [{ pointer: '/querystring/cursor', message: 'is not a cursor this API returned' }],
  });
}
