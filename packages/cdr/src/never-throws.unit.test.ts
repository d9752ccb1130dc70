import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseHangupEventText } from './hangup-event.ts';
import { parseCdrHttpBody } from './http-body.ts';
import { parseJsonCdr } from './json-cdr.ts';
import { parseXmlCdr } from './xml-cdr.ts';

const fixture = (name: string): Buffer => readFileSync(new URL(`../fixtures/${name}`, import.meta.url));
const SEEDS = [
  fixture('khata_a-leg_answered_encode-values.cdr.json'),
  fixture('khata_a-leg_old-format_duplicate-callflow-keys.cdr.txt'),
  fixture('khata_a-leg_answered.cdr.xml'),
  fixture('khata_chc_a-leg_answered.plain'),
];

/** A real-looking document with a few bytes changed and maybe cut short: what a broken proxy or a bug delivers. */
const damaged = fc
  .record({
    seed: fc.constantFrom(...SEEDS),
    flips: fc.array(fc.record({ at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }), { maxLength: 8 }),
    keep: fc.double({ min: 0, max: 1, noNaN: true }),
  })
  .map(({ seed, flips, keep }) => {
    const bytes = Buffer.from(seed);
    for (const { at, byte } of flips) bytes[at % bytes.length] = byte;
    return bytes.subarray(0, Math.ceil(bytes.length * keep));
  });

describe('CDR parsers on hostile input', () => {
  it('return a value, never throw, for damaged documents and arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.oneof(damaged, fc.uint8Array({ maxLength: 2_000 })), (bytes) => {
        for (const result of [
          parseCdrHttpBody(bytes),
          parseJsonCdr(bytes),
          parseXmlCdr(bytes),
          parseHangupEventText(bytes),
          parseCdrHttpBody(bytes, { contentType: 'application/x-www-form-base64-encoded' }),
          parseCdrHttpBody(bytes, { contentType: 'application/x-www-form-urlencoded' }),
        ]) {
          expect(typeof result.ok).toBe('boolean');
          if (!result.ok) expect(result.reason.length).toBeGreaterThan(0);
        }
      }),
      { numRuns: 300 },
    );
  });
});
