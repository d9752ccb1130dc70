import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseXmlCdr } from './xml-cdr.ts';

const fixture = (name: string): string => readFileSync(new URL(`../fixtures/${name}`, import.meta.url), 'utf8');
const XML_A_LEG = 'khata_a-leg_answered.cdr.xml';

describe('mod_xml_cdr documents', () => {
  it('normalizes an answered A-leg: decoded values, the newest profile by profile_index', () => {
    const result = parseXmlCdr(fixture(XML_A_LEG));
    if (!result.ok) throw new Error(result.reason);
    expect(result.cdr).toMatchObject({
      callId: '5c6d7e8f-9a0b-4c1d-8e2f-3a4b5c6d7e8f',
      leg: 'A',
      direction: 'inbound',
      accountCode: 'acme-telecom',
      callerNumber: '+919876500001',
      destination: '+914023456789',
      // Profile 1 (the park) ran in khata_park; profile 2, listed first, is the newest.
      context: 'default',
      answeredAt: '2026-03-02T05:05:03.250Z',
      billableMilliseconds: 12_001,
      hangupCause: 'NORMAL_CLEARING',
      otherLegCallId: 'c4d9a2e7-81b3-4f6c-a0d5-9e2b7f3c1a68',
      sipCallId: 'xml-1@10.20.0.9',
      format: 'xml-cdr',
    });
  });

  it('decodes a Latin-1 escape (%E9) without failing, and reads a repeated element as an array variable', () => {
    const reordered = fixture(XML_A_LEG).replace(
      '<billing_auth>OK</billing_auth>',
      '<billing_name>Jos%E9</billing_name>',
    );
    const withRepeat = reordered.replace(
      '<nolocal:req_uuid>',
      '<billing_route>a</billing_route><billing_route>b%20c</billing_route><nolocal:req_uuid>',
    );
    const result = parseXmlCdr(withRepeat);
    if (!result.ok) throw new Error(result.reason);
    expect(result.cdr.variables.billing_name).toBe('José');
    expect(result.cdr.variables.billing_route).toBe('ARRAY::a|:b c');
  });

  it('refuses a document with a DOCTYPE instead of expanding its entities', () => {
    const hostile = `<?xml version="1.0"?><!DOCTYPE cdr [<!ENTITY a "aaaaaaaaaa">]><cdr><variables><uuid>&a;</uuid></variables></cdr>`;
    expect(parseXmlCdr(hostile)).toMatchObject({ ok: false, reason: expect.stringContaining('DOCTYPE') });
  });

  it.each([
    ['malformed XML', '<cdr><variables><uuid>x</variables></cdr>', undefined],
    ['another root', '<event><headers/></event>', 'cdr'],
    ['no variables', '<cdr><callflow profile_index="1"/></cdr>', 'variables'],
  ])('refuses %s as a value', (_case, body, field) => {
    const result = parseXmlCdr(body);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.field).toBe(field);
  });

  it('matches the uuid hint, including the a_ prefix of prefix-a-leg', () => {
    expect(parseXmlCdr(fixture(XML_A_LEG), { uuidHint: 'a_5c6d7e8f-9a0b-4c1d-8e2f-3a4b5c6d7e8f' }).ok).toBe(true);
    expect(parseXmlCdr(fixture(XML_A_LEG), { uuidHint: '00000000-0000-4000-8000-000000000000' })).toMatchObject({
      ok: false,
      field: 'uuid',
    });
  });
});
