import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeBytesLeniently, decodeEventValue, encodeEventValue } from './url-encoding.ts';

describe("FreeSWITCH's URL encoding of event values", () => {
  // The worked examples of research/esl-protocol.md §5, taken from real captures.
  it.each([
    ['2012-10-05 13:41:38', '2012-10-05%2013%3A41%3A38'],
    ['::1', '%3A%3A1'],
    ['Tue, 07 Jul 2015 14:52:08 GMT', 'Tue,%2007%20Jul%202015%2014%3A52%3A08%20GMT'],
    ['sofia/internal/1001@192.168.56.202', 'sofia/internal/1001%40192.168.56.202'],
    ['*prepaid', '*prepaid'],
    ['ARRAY::1003|:1003', 'ARRAY%3A%3A1003%7C%3A1003'],
    ['+OK\n', '%2BOK%0A'],
    ['"1001" <sip:1001@h>;tag=x', '%221001%22%20%3Csip%3A1001%40h%3E%3Btag%3Dx'],
    ['José', 'Jos%C3%A9'],
  ])('encodes %j as %j and decodes it back', (raw, wire) => {
    expect(encodeEventValue(raw)).toBe(wire);
    expect(decodeEventValue(wire)).toBe(raw);
  });

  it('leaves a % that already starts an escape alone, as FreeSWITCH does (so such text decodes lossily)', () => {
    expect(encodeEventValue('100%41')).toBe('100%41');
    expect(encodeEventValue('100% sure')).toBe('100%25%20sure');
  });

  it('decodes a Latin-1 escape (%E9) as é instead of throwing like decodeURIComponent', () => {
    expect(() => decodeURIComponent('Jos%E9')).toThrow(URIError);
    expect(decodeEventValue('Jos%E9')).toBe('José');
    expect(decodeEventValue('Jos%E9 and Jos%C3%A9')).toBe('José and José');
  });

  it('keeps incomplete escapes literal and reads + as a space only in form bodies', () => {
    expect(decodeEventValue('50%')).toBe('50%');
    expect(decodeEventValue('%G1%4')).toBe('%G1%4');
    expect(decodeEventValue('a+b')).toBe('a+b');
    expect(decodeEventValue('a+b%2Bc', true)).toBe('a b+c');
  });

  it('round-trips any text that contains no escape-like % sequence', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'grapheme' }).filter((text) => !/%[0-9A-Fa-f]{2}/.test(text)),
        (text) => {
          const encoded = encodeEventValue(text);
          expect(encoded).toMatch(/^[\x21-\x7e]*$/);
          expect(decodeEventValue(encoded)).toBe(text);
        },
      ),
    );
  });

  it('never throws on any input, whatever bytes its escapes name', () => {
    const escapes = fc.integer({ min: 0, max: 255 }).map((byte) => `%${byte.toString(16).padStart(2, '0')}`);
    fc.assert(
      fc.property(fc.array(fc.oneof(escapes, fc.string({ maxLength: 3 }))), (parts) => {
        expect(typeof decodeEventValue(parts.join(''))).toBe('string');
      }),
    );
  });

  it('decodes bytes leniently: UTF-8 where it is UTF-8, Latin-1 for stray bytes', () => {
    expect(decodeBytesLeniently(new Uint8Array([0x4a, 0xc3, 0xa9, 0xe9, 0x80]))).toBe('Jéé\u0080');
  });
});
