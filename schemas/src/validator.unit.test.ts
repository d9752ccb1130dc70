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

  it('checks a discriminated oneOf against the branch its tag names only, and names an unknown tag', () => {
    const shape = (kind: string, field: string) => ({
      $id: `https://khata.dev/schemas/test-${kind}.json`,
      type: 'object',
      additionalProperties: false,
      required: ['kind', field],
      properties: { kind: { const: kind }, [field]: { type: 'integer' } },
    });
    const validateEither = createValidator({
      $id: 'https://khata.dev/schemas/test-either.json',
      type: 'object',
      properties: { kind: { type: 'string' } },
      required: ['kind'],
      discriminator: { propertyName: 'kind' },
      oneOf: [shape('a', 'count'), shape('b', 'size')],
    });
    expect(validateEither({ kind: 'b', size: 2 }).ok).toBe(true);
    // Only branch `b` is reported: nothing about `count`, which belongs to `a`.
    expect(validateEither({ kind: 'b', size: 'x' })).toEqual({
      ok: false,
      issues: [{ path: '/size', message: 'must be integer' }],
    });
    expect(validateEither({ kind: 'c' })).toEqual({
      ok: false,
      issues: [{ path: '/kind', message: '"c" is not one of the kinds this schema accepts' }],
    });
    expect(validateEither({ size: 2 })).toEqual({ ok: false, issues: [{ path: '/kind', message: 'is required' }] });
  });
});
