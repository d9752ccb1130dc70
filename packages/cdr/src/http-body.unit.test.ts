import { readFileSync } from 'node:fs';
import { encodeEventValue } from '@khata/esl/protocol';
import { describe, expect, it } from 'vitest';
import { parseCdrHttpBody } from './http-body.ts';
import { CDR_BODY_BYTES_MAX } from './normalize.ts';

const fixture = (name: string): string => readFileSync(new URL(`../fixtures/${name}`, import.meta.url), 'utf8');
const B_LEG = fixture('khata_b-leg_answered_raw-values.cdr.json');
const B_LEG_UUID = 'c4d9a2e7-81b3-4f6c-a0d5-9e2b7f3c1a68';
const XML_A_LEG = fixture('khata_a-leg_answered.cdr.xml');

describe('CDR webhook bodies (mod_json_cdr / mod_xml_cdr encode settings)', () => {
  it('encode=false: a raw JSON body', () => {
    const result = parseCdrHttpBody(Buffer.from(B_LEG), { contentType: 'application/json' });
    expect(result.ok && result.cdr.callId).toBe(B_LEG_UUID);
  });

  it('encode=true: cdr= with the document form-encoded as FreeSWITCH encodes it', () => {
    const body = `cdr=${encodeEventValue(B_LEG)}`;
    const result = parseCdrHttpBody(body, { contentType: 'application/x-www-form-urlencoded' });
    expect(result.ok && result.cdr.variables.originator).toBe('7b1e4c52-3f0a-4d8e-9c61-2a5f0e8d9b34');
  });

  it('encode=base64: the + of the base64 text arrives unescaped and is not read as a space', () => {
    const encoded = Buffer.from(B_LEG).toString('base64');
    expect(encoded).toContain('+');
    const body = `cdr=${encoded}`;
    const explicit = parseCdrHttpBody(body, { contentType: 'application/x-www-form-base64-encoded' });
    const sniffed = parseCdrHttpBody(body);
    expect(explicit.ok && explicit.cdr.callId).toBe(B_LEG_UUID);
    expect(sniffed).toEqual(explicit);
  });

  it('sniffs the encoding when there is no Content-Type', () => {
    expect(parseCdrHttpBody(B_LEG).ok).toBe(true);
    expect(parseCdrHttpBody(`cdr=${encodeEventValue(B_LEG)}`).ok).toBe(true);
    expect(parseCdrHttpBody(XML_A_LEG).ok).toBe(true);
  });

  it('mod_xml_cdr: encode=true (form), encode=false (plaintext field) and textxml', () => {
    const expected = parseCdrHttpBody(XML_A_LEG, { contentType: 'text/xml' });
    expect(expected.ok).toBe(true);
    expect(
      parseCdrHttpBody(`cdr=${encodeEventValue(XML_A_LEG)}`, { contentType: 'application/x-www-form-urlencoded' }),
    ).toEqual(expected);
    expect(parseCdrHttpBody(`cdr=${XML_A_LEG}`, { contentType: 'application/x-www-form-plaintext' })).toEqual(expected);
  });

  it('passes the ?uuid= hint through: a matching one is accepted, another call is refused', () => {
    expect(parseCdrHttpBody(B_LEG, { uuidHint: B_LEG_UUID }).ok).toBe(true);
    expect(parseCdrHttpBody(B_LEG, { uuidHint: '7b1e4c52-3f0a-4d8e-9c61-2a5f0e8d9b34' })).toMatchObject({
      ok: false,
      field: 'uuid',
    });
  });

  it.each([
    ['a form without cdr', 'other=1', 'application/x-www-form-urlencoded', 'cdr'],
    ['broken base64', 'cdr=%%%', 'application/x-www-form-base64-encoded', 'cdr'],
    ['neither JSON nor XML', 'hello', 'text/plain', 'body'],
  ])('returns %s as an error value', (_case, body, contentType, field) => {
    expect(parseCdrHttpBody(body, { contentType })).toMatchObject({ ok: false, field });
  });

  it('refuses a body over CDR_BODY_BYTES_MAX', () => {
    expect(parseCdrHttpBody(new Uint8Array(CDR_BODY_BYTES_MAX + 1))).toMatchObject({ ok: false, field: 'body' });
  });
});
