import { describe, expect, it } from 'vitest';
import { InvalidAppend } from './errors.ts';
import type { JsonObject } from './types.ts';
import { validateEvents } from './validation.ts';

const eventId = '5f0c7d2e-8a41-4c3b-9e6f-1a2b3c4d5e6f';

const failure = (data: unknown, metadata?: unknown): InvalidAppend => {
  try {
    validateEvents([{ eventId, type: 'Test', data, metadata } as never]);
  } catch (error) {
    if (error instanceof InvalidAppend) return error;
    throw error;
  }
  throw new Error('expected validation to fail');
};

describe('event validation', () => {
  it('names the exact path of a value that is not JSON', () => {
    expect(failure({ lines: [{ amount: '1.00' }, { amount: Number.NaN }] }).field).toBe(
      'events[0].data.lines[1].amount',
    );
    expect(failure({ a: { b: [1, 2, [3, undefined]] } }).field).toBe('events[0].data.a.b[2][1]');
    expect(failure({ when: new Date(0) }).field).toBe('events[0].data.when');
    expect(failure({}, { trace: 1n }).field).toBe('events[0].metadata.trace');
  });

  it('refuses nesting past the depth limit, which also stops cycles', () => {
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    expect(failure(cycle).message).toMatch(/nested deeper than/);
  });

  it('accepts JSON, including null-prototype objects, and serializes it once', () => {
    const data = Object.assign(Object.create(null) as JsonObject, { n: 1, s: 'x', l: [null, true] });
    const [validated] = validateEvents([{ eventId, type: 'Test', data }]);
    expect(validated?.dataJson).toBe('{"n":1,"s":"x","l":[null,true]}');
    expect(validated?.metadataJson).toBe('{}');
  });
});
