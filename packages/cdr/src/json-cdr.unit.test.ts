import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseJsonCdr } from './json-cdr.ts';
import { CDR_BODY_BYTES_MAX, CDR_VARIABLES_KEPT_MAX, type CdrParseResult, type NormalizedCdr } from './normalize.ts';

// Khata's own fixtures: made-up calls in mod_json_cdr's format (see packages/cdr/fixtures).
const fixture = (name: string): string => readFileSync(new URL(`../fixtures/${name}`, import.meta.url), 'utf8');
const A_LEG = 'khata_a-leg_answered_encode-values.cdr.json';
const B_LEG = 'khata_b-leg_answered_raw-values.cdr.json';
const UNANSWERED = 'khata_a-leg_unanswered_no-answer.cdr.json';
const OLD_FORMAT = 'khata_a-leg_old-format_duplicate-callflow-keys.cdr.txt';

function cdrOf(result: CdrParseResult): NormalizedCdr {
  if (!result.ok) throw new Error(`expected a CDR, got: ${result.reason}`);
  return result.cdr;
}

/** The A-leg fixture with its variables changed (raw values, as with encode-values=false). */
function aLegWith(change: (variables: Record<string, string>) => void): string {
  const document = JSON.parse(fixture(A_LEG)) as { variables: Record<string, string> };
  for (const [name, value] of Object.entries(document.variables)) document.variables[name] = decodeURIComponent(value);
  change(document.variables);
  return JSON.stringify(document);
}

describe('mod_json_cdr documents', () => {
  it('normalizes an answered A-leg whose variable values are URL-encoded (encode-values=true)', () => {
    const cdr = cdrOf(parseJsonCdr(fixture(A_LEG)));
    expect(cdr).toEqual({
      callId: '7b1e4c52-3f0a-4d8e-9c61-2a5f0e8d9b34',
      leg: 'A',
      direction: 'inbound',
      accountCode: 'acme-telecom',
      callerNumber: '+919876500001',
      destination: '+914023456789',
      context: 'default',
      startedAt: '2026-03-02T04:35:00.250Z',
      answeredAt: '2026-03-02T04:35:07.762Z',
      endedAt: '2026-03-02T04:36:31.219Z',
      billableMilliseconds: 83_457,
      durationMilliseconds: 90_970,
      hangupCause: 'NORMAL_CLEARING',
      otherLegCallId: 'c4d9a2e7-81b3-4f6c-a0d5-9e2b7f3c1a68',
      sipCallId: '3c8a51f0e2b94d7a@10.20.0.9',
      variables: expect.objectContaining({
        accountcode: 'acme-telecom',
        billing_auth: 'OK',
        billing_max_sec: '1800',
        execute_on_answer: 'sched_hangup +1800 ALLOTTED_TIMEOUT',
        caller_id: '"Acme Support" <+919876500001>',
        billsec: '84',
      }),
      format: 'json-cdr',
    });
  });

  it('recognizes the B-leg of the same call by its originator and points back at the A-leg', () => {
    const cdr = cdrOf(parseJsonCdr(fixture(B_LEG)));
    expect(cdr).toMatchObject({
      callId: 'c4d9a2e7-81b3-4f6c-a0d5-9e2b7f3c1a68',
      leg: 'B',
      direction: 'outbound',
      otherLegCallId: '7b1e4c52-3f0a-4d8e-9c61-2a5f0e8d9b34',
      sipCallId: '9f1d2c3b-b-leg@10.20.0.5',
    });
    // Raw values (encode-values=false) are left alone: the `+` and `~` survive.
    expect(cdr.variables.originator).toBe('7b1e4c52-3f0a-4d8e-9c61-2a5f0e8d9b34');
  });

  it('still calls a leg B from its caller profile when the originator variable is missing', () => {
    const document = JSON.parse(fixture(B_LEG)) as { variables: Record<string, string> };
    delete document.variables.originator;
    delete document.variables.last_bridge_role;
    expect(cdrOf(parseJsonCdr(JSON.stringify(document))).leg).toBe('B');
  });

  it('gives an unanswered call no answer time and nothing billable', () => {
    const cdr = cdrOf(parseJsonCdr(fixture(UNANSWERED)));
    expect(cdr).toMatchObject({
      callId: 'e8a3f1b2-4c5d-4e6f-9a7b-1c2d3e4f5a6b',
      leg: 'A',
      destination: '+912212345678',
      answeredAt: null,
      billableMilliseconds: 0,
      durationMilliseconds: 31_005,
      hangupCause: 'NO_ANSWER',
      otherLegCallId: null,
    });
  });

  it('keeps every value of duplicate "callflow" keys and reads the newest profile (JSON.parse would not)', () => {
    const text = fixture(OLD_FORMAT);
    const naive = JSON.parse(text) as { callflow: { caller_profile: { context: string } } };
    expect(naive.callflow.caller_profile.context).toBe('khata_park');
    const cdr = cdrOf(parseJsonCdr(text));
    expect(cdr).toMatchObject({
      callId: '0d1e2f3a-4b5c-4d6e-8f7a-9b0c1d2e3f4a',
      context: 'default',
      billableMilliseconds: 45_001,
      otherLegCallId: 'c4d9a2e7-81b3-4f6c-a0d5-9e2b7f3c1a68',
    });
  });

  it('bills billmsec when billusec is missing, and billsec only when both are', () => {
    const withoutMicroseconds = aLegWith((variables) => {
      delete variables.billusec;
    });
    expect(cdrOf(parseJsonCdr(withoutMicroseconds)).billableMilliseconds).toBe(83_456);
    const secondsOnly = aLegWith((variables) => {
      delete variables.billusec;
      delete variables.billmsec;
    });
    expect(cdrOf(parseJsonCdr(secondsOnly)).billableMilliseconds).toBe(84_000);
  });

  it('falls back to answered-to-hangup microseconds when no bill variable exists', () => {
    const untimed = aLegWith((variables) => {
      delete variables.billusec;
      delete variables.billmsec;
      delete variables.billsec;
    });
    // end_uepoch 1772426191219257 − answer_uepoch 1772426107762468 = 83456789 µs.
    expect(cdrOf(parseJsonCdr(untimed)).billableMilliseconds).toBe(83_457);
  });

  it('takes the times from the caller profile when the *_uepoch variables are absent', () => {
    const cdr = cdrOf(
      parseJsonCdr(
        aLegWith((variables) => {
          delete variables.start_uepoch;
          delete variables.answer_uepoch;
          delete variables.end_uepoch;
        }),
      ),
    );
    expect(cdr).toMatchObject({
      startedAt: '2026-03-02T04:35:00.250Z',
      answeredAt: '2026-03-02T04:35:07.762Z',
      endedAt: '2026-03-02T04:36:31.219Z',
    });
  });

  it('bounds the variables it keeps', () => {
    const crowded = aLegWith((variables) => {
      for (let index = 0; index < 200; index++) variables[`billing_extra_${index}`] = 'x'.repeat(2_000);
    });
    const cdr = cdrOf(parseJsonCdr(crowded));
    const values = Object.values(cdr.variables);
    expect(values.length).toBe(CDR_VARIABLES_KEPT_MAX);
    expect(Math.max(...values.map((value) => value.length))).toBeLessThanOrEqual(512);
  });

  it.each([
    ['not JSON', '{"variables": {', undefined],
    ['not an object', '[1, 2]', undefined],
    ['no variables', '{"callflow": []}', 'variables'],
    ['no uuid anywhere', JSON.stringify({ variables: { hangup_cause: 'NORMAL_CLEARING' }, callflow: [] }), 'uuid'],
  ])('refuses %s as a value, without throwing', (_case, body, field) => {
    const result = parseJsonCdr(body);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.field).toBe(field);
  });

  it('names the field when a number is not a number', () => {
    const result = parseJsonCdr(
      aLegWith((variables) => {
        variables.billusec = '83456789.5';
      }),
    );
    expect(result).toEqual({ ok: false, reason: expect.stringContaining('billusec'), field: 'billusec' });
  });

  it('refuses a call that ends before it starts', () => {
    const result = parseJsonCdr(
      aLegWith((variables) => {
        variables.end_uepoch = '1000000';
      }),
    );
    expect(result).toMatchObject({ ok: false, field: 'end_uepoch' });
  });

  it('refuses a body over CDR_BODY_BYTES_MAX before parsing it', () => {
    const result = parseJsonCdr(`{"variables":{"padding":"${'x'.repeat(CDR_BODY_BYTES_MAX)}"}}`);
    expect(result).toMatchObject({ ok: false, field: 'body' });
  });
});
