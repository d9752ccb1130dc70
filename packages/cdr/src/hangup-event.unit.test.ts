import { readFileSync } from 'node:fs';
import { parsePlainEvent } from '@khata/esl/protocol';
import { describe, expect, it } from 'vitest';
import { parseHangupEvent, parseHangupEventText } from './hangup-event.ts';
import { parseJsonCdr } from './json-cdr.ts';
import type { CdrParseResult, NormalizedCdr } from './normalize.ts';

const fixture = (name: string): Buffer => readFileSync(new URL(`../fixtures/${name}`, import.meta.url));

function cdrOf(result: CdrParseResult): NormalizedCdr {
  if (!result.ok) throw new Error(`expected a CDR, got: ${result.reason}`);
  return result.cdr;
}

const withoutFormat = ({ format: _format, ...cdr }: NormalizedCdr): Omit<NormalizedCdr, 'format'> => cdr;

describe('CHANNEL_HANGUP_COMPLETE events', () => {
  it('gives the same CDR as the JSON CDR of the same call, from the plain and from the json event', () => {
    const fromCdr = cdrOf(parseJsonCdr(fixture('khata_a-leg_answered_encode-values.cdr.json')));
    const fromPlain = cdrOf(parseHangupEventText(fixture('khata_chc_a-leg_answered.plain')));
    const fromJson = cdrOf(parseHangupEventText(fixture('khata_chc_a-leg_answered.event-json')));
    expect(fromPlain.format).toBe('esl-event');
    expect(withoutFormat(fromPlain)).toEqual(withoutFormat(fromCdr));
    expect(fromJson).toEqual(fromPlain);
  });

  it('accepts headers as a record, the shape a modesl JSON event has', () => {
    const parsed = parsePlainEvent(fixture('khata_chc_a-leg_answered.plain'));
    if (!parsed.ok) throw new Error(parsed.reason);
    const record: Record<string, string | readonly string[]> = {};
    for (const [name, value] of parsed.event.headers) record[name] ??= value;
    expect(parseHangupEvent(record)).toEqual(parseHangupEvent(parsed.event));
  });

  it('refuses any other event', () => {
    const result = parseHangupEvent({ headers: [['Event-Name', 'CHANNEL_HANGUP']] });
    expect(result).toMatchObject({ ok: false, field: 'Event-Name' });
  });

  it('refuses an event without a hangup cause, naming the field', () => {
    const text = fixture('khata_chc_a-leg_answered.plain')
      .toString('utf8')
      .split('\n')
      .filter((line) => !line.startsWith('Hangup-Cause:') && !line.startsWith('variable_hangup_cause:'))
      .join('\n');
    expect(parseHangupEventText(text)).toMatchObject({ ok: false, field: 'hangup_cause' });
  });

  it.each([
    ['plain garbage', 'this is not an event\n\n'],
    ['broken JSON', '{"Event-Name":"CHANNEL_HANGUP_COMPLETE",'],
  ])('returns %s as an error value', (_case, text) => {
    expect(parseHangupEventText(text).ok).toBe(false);
  });
});
