import { describe, expect, it } from 'vitest';
import { derivedSql } from './migrate.ts';

describe('derivedSql', () => {
  it('replaces each passage in turn, later ones seeing the earlier replacements', () => {
    const text = 'CREATE FUNCTION f() AS $$ SELECT 1 $$;';
    expect(
      derivedSql(text, [
        ['CREATE FUNCTION', 'CREATE OR REPLACE FUNCTION'],
        ['OR REPLACE FUNCTION f()', 'OR REPLACE FUNCTION f() SET enable_seqscan = off'],
      ]),
    ).toBe('CREATE OR REPLACE FUNCTION f() SET enable_seqscan = off AS $$ SELECT 1 $$;');
  });

  it('refuses a passage that is missing or repeated, so an edit of the earlier text cannot derive something else', () => {
    expect(() => derivedSql('SELECT 1; SELECT 1;', [['SELECT 1', 'SELECT 2']])).toThrow(/exactly one occurrence/);
    expect(() => derivedSql('SELECT 1;', [['SELECT 3', 'SELECT 2']])).toThrow(/exactly one occurrence of: SELECT 3/);
  });
});
