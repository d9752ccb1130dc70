import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { allValues, JSON_NESTING_DEPTH_MAX, type JsonObject, parseJsonKeepingDuplicates } from './tolerant-json.ts';

describe('JSON with duplicate keys', () => {
  it('parses any JSON exactly as JSON.parse does when no key repeats', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const text = JSON.stringify(value);
        const parsed = parseJsonKeepingDuplicates(text);
        expect(parsed.ok).toBe(true);
        // Compare through JSON text: objects from the parser have no prototype.
        if (parsed.ok) expect(JSON.stringify(parsed.value)).toBe(text);
      }),
    );
  });

  it('keeps every value of a repeated key in document order, and the last as the plain value', () => {
    const parsed = parseJsonKeepingDuplicates('{"a":1,"callflow":{"i":2},"b":true,"callflow":{"i":1}}');
    if (!parsed.ok) throw new Error(parsed.reason);
    const object = parsed.value as JsonObject;
    expect(JSON.stringify(object.callflow)).toBe('{"i":1}');
    expect(allValues(object, 'callflow').map((value) => JSON.stringify(value))).toEqual(['{"i":2}', '{"i":1}']);
    expect(allValues(object, 'a')).toEqual([1]);
    expect(allValues(object, 'missing')).toEqual([]);
  });

  it.each([
    ['truncated', '{"a":'],
    ['trailing text', '{} x'],
    ['bad escape', '"\\q"'],
    ['unterminated string', '"abc'],
    ['too deep', `${'['.repeat(JSON_NESTING_DEPTH_MAX + 2)}${']'.repeat(JSON_NESTING_DEPTH_MAX + 2)}`],
  ])('reports %s as an error value', (_case, text) => {
    expect(parseJsonKeepingDuplicates(text).ok).toBe(false);
  });
});
