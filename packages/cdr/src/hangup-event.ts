/**
 * A CDR from a CHANNEL_HANGUP_COMPLETE event. The event carries the same channel variables as the HTTP CDR
 * (`variable_billusec`, `variable_answer_uepoch`, …), and the newest caller profile as `Caller-*` headers. Both
 * ESL formats work: `text/event-plain` (URL-decoded already by the event parser) and `text/event-json` (values
 * raw, array variables as JSON arrays, which are read in their plain `ARRAY::a|:b` form).
 */
import { type EslEvent, headerValueText, parseJsonEvent, parsePlainEvent } from '@khata/esl/protocol';
import { CDR_BODY_BYTES_MAX, type CdrParseResult, normalizeCdr } from './normalize.ts';

/** An event's headers: as @khata/esl delivers them, or as a plain record (what modesl's JSON events look like). */
export type HangupEventInput =
  | Pick<EslEvent, 'headers'>
  | Readonly<Record<string, string | readonly string[] | number | undefined>>;

export interface HangupEventOptions {
  readonly uuidHint?: string;
}

function headerList(input: HangupEventInput): readonly (readonly [string, string])[] {
  const headers = (input as Pick<EslEvent, 'headers'>).headers;
  if (Array.isArray(headers)) {
    return (headers as EslEvent['headers']).map(([name, value]) => [name, headerValueText(value)] as const);
  }
  const list: (readonly [string, string])[] = [];
  for (const [name, value] of Object.entries(input as Readonly<Record<string, unknown>>)) {
    if (typeof value === 'string') list.push([name, value]);
    else if (typeof value === 'number') list.push([name, String(value)]);
    else if (Array.isArray(value)) list.push([name, headerValueText(value.map(String))]);
  }
  return list;
}

export function parseHangupEvent(input: HangupEventInput, options: HangupEventOptions = {}): CdrParseResult {
  const headers = new Map<string, string>();
  const variables = new Map<string, string>();
  for (const [name, value] of headerList(input)) {
    // The first occurrence wins, as in FreeSWITCH's own header lookup (Hangup-Cause appears twice).
    if (name.startsWith('variable_')) {
      const variable = name.slice('variable_'.length);
      if (!variables.has(variable)) variables.set(variable, value);
    } else if (!headers.has(name)) headers.set(name, value);
  }
  const eventName = headers.get('Event-Name');
  if (eventName !== 'CHANNEL_HANGUP_COMPLETE') {
    return {
      ok: false,
      reason: `expected CHANNEL_HANGUP_COMPLETE, got ${eventName ?? 'no Event-Name'}`,
      field: 'Event-Name',
    };
  }
  return normalizeCdr(
    {
      format: 'esl-event',
      variable: (name) => variables.get(name),
      variableNames: () => variables.keys(),
      profile: {
        uuid: headers.get('Unique-ID') ?? headers.get('Caller-Unique-ID'),
        callerNumber: headers.get('Caller-Caller-ID-Number'),
        destination: headers.get('Caller-Destination-Number'),
        context: headers.get('Caller-Context'),
        otherType: headers.get('Other-Type'),
        otherUuid: headers.get('Other-Leg-Unique-ID'),
        createdMicroseconds: headers.get('Caller-Channel-Created-Time'),
        answeredMicroseconds: headers.get('Caller-Channel-Answered-Time'),
        hangupMicroseconds: headers.get('Caller-Channel-Hangup-Time'),
      },
      direction: headers.get('Call-Direction') ?? headers.get('Caller-Direction'),
      hangupCauseHeader: headers.get('Hangup-Cause'),
    },
    options.uuidHint,
  );
}

/**
 * A serialized event body (what follows the ESL envelope): `text/event-plain` or `text/event-json`, detected from
 * the first character when `format` is not given.
 */
export function parseHangupEventText(
  input: string | Uint8Array,
  format?: 'plain' | 'json',
  options: HangupEventOptions = {},
): CdrParseResult {
  const byteLength = typeof input === 'string' ? Buffer.byteLength(input) : input.byteLength;
  if (byteLength > CDR_BODY_BYTES_MAX) {
    return { ok: false, reason: `the event is ${byteLength} bytes, more than ${CDR_BODY_BYTES_MAX}`, field: 'body' };
  }
  const firstCharacter = typeof input === 'string' ? input.trimStart()[0] : String.fromCharCode(input[0] ?? 0);
  const isJson = format === 'json' || (format === undefined && firstCharacter === '{');
  const parsed = isJson ? parseJsonEvent(input) : parsePlainEvent(input);
  if (!parsed.ok) return { ok: false, reason: parsed.reason };
  return parseHangupEvent(parsed.event, options);
}
