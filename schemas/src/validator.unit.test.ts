import { describe, expect, it } from 'vitest';
import { createValidator, describeIssues } from './validator.ts';

describe('schema validator', () => {
  const validate = createValidator<{ name: string; count: number }>({
    $id: 'https://khata.dev/schemas/test-thing.json',
    type: 'object',
    additionalProperties: false,
    required: ['name', 'count'],
    properties: {
      name: { type: 'string', minLength: 1 },
      count: { type: 'integer', minimum: 0 },
      at: { type: 'string', format: 'date-time' },
    },
  });

  it('accepts a matching document', () => {
    expect(validate({ name: 'x', count: 1 })).toEqual({ ok: true, value: { name: 'x', count: 1 } });
  });

  it('lists every issue with a JSON pointer to it', () => {
    const result = validate({ count: -1, extra: true, at: 'yesterday' });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.issues).toEqual(
      expect.arrayContaining([
        { path: '/name', message: 'is required' },
        { path: '/extra', message: 'is not allowed here' },
        { path: '/count', message: 'must be >= 0' },
        { path: '/at', message: 'must match format "date-time"' },
      ]),
    );
    expect(describeIssues(result.issues)).toContain('/name: is required');
  });
});
