import { describe, expect, it } from 'vitest';
import { copyTarget, copyText, copyValue, tableColumns } from './copy.ts';

describe('COPY text format', () => {
  it('writes NULL as \\N and escapes the backslash, newline, carriage return and tab a text holds', () => {
    expect(copyValue(null)).toBe('\\N');
    expect(copyValue(undefined)).toBe('\\N');
    expect(copyValue('plain ₹ text')).toBe('plain ₹ text');
    expect(copyValue('a\tb\nc\rd\\e')).toBe('a\\tb\\nc\\rd\\\\e');
    // The text "\N" is not NULL: its backslash is doubled.
    expect(copyValue('\\N')).toBe('\\\\N');
  });

  it('writes numbers, bigints, booleans and instants as their columns read them', () => {
    expect(copyValue(0)).toBe('0');
    expect(copyValue(-125)).toBe('-125');
    expect(copyValue(9_007_199_254_740_993n)).toBe('9007199254740993');
    expect(copyValue('12.3400')).toBe('12.3400');
    expect(copyValue(true)).toBe('t');
    expect(copyValue(false)).toBe('f');
    expect(copyValue(new Date('2026-11-02T04:30:00.123Z'))).toBe('2026-11-02T04:30:00.123Z');
  });

  it('refuses what a column cannot read back as it was', () => {
    expect(() => copyValue(Number.NaN)).toThrow(/finite/);
    expect(() => copyValue(Number.POSITIVE_INFINITY)).toThrow(/finite/);
    expect(() => copyValue(new Date('not a date'))).toThrow(/invalid Date/);
    expect(() => copyValue({ a: 1 })).toThrow(/scalar/);
    expect(() => copyValue([1, 2])).toThrow(/scalar/);
  });

  it('writes one line per row, its values in the order of the columns, tab-separated', () => {
    const rows = [
      { id: 'a', n: 1, note: null },
      { note: 'two\tparts', n: 2, id: 'b' },
    ];
    expect(copyText(rows, ['id', 'n', 'note'])).toBe('a\t1\t\\N\nb\t2\ttwo\\tparts\n');
    expect(copyText([], ['id'])).toBe('');
  });

  it('quotes the target and its columns', () => {
    expect(copyTarget('rm_calls_g2', 'calls', ['account_id', 'call_id'])).toBe(
      '"rm_calls_g2"."calls" ("account_id", "call_id")',
    );
    expect(() => copyTarget('rm_calls_g2', 'calls; DROP TABLE x', ['a'])).toThrow(/identifier/);
  });

  it('lists every column of a row type or does not compile', () => {
    interface Row {
      id: string;
      n: number;
    }
    expect(tableColumns<Row>()('id', 'n')).toEqual(['id', 'n']);
    // @ts-expect-error: the column n is missing
    expect(tableColumns<Row>()('id')).toEqual(['id']);
    // @ts-expect-error: no such column
    expect(tableColumns<Row>()('id', 'n', 'other')).toEqual(['id', 'n', 'other']);
  });
});
