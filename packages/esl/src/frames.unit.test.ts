import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  apiResponseFrame,
  authRequestFrame,
  commandReplyFrame,
  DISCONNECT_NOTICE_BODY,
  disconnectNoticeFrame,
  EslCommandParser,
  type EslEvent,
  type EslFrame,
  EslFrameParser,
  eventFrame,
  eventHeader,
  frameBodyText,
  interpretFrame,
  parseJsonEvent,
  parsePlainEvent,
  serializePlainEvent,
} from './frames.ts';

const OWN_PARK_FRAME = readFileSync(new URL('../fixtures/khata_channel_park.plain.frame', import.meta.url));

const SAMPLE_EVENT: EslEvent = {
  headers: [
    ['Event-Name', 'CHANNEL_HANGUP_COMPLETE'],
    ['Hangup-Cause', 'NORMAL_CLEARING'],
    ['Unique-ID', '7b1e4c52-3f0a-4d8e-9c61-2a5f0e8d9b34'],
    ['Hangup-Cause', 'NORMAL_CLEARING'],
    ['Caller-Caller-ID-Name', 'José "Acme" <sip:+919876500001@10.20.0.5>;tag=1'],
    ['variable_DP_MATCH', ['+914023456789', '+914023456789']],
  ],
  body: null,
};

/** Every stream below as a whole: what a sequence of frames serializes to. */
function stream(...frames: Uint8Array[]): Buffer {
  return Buffer.concat(frames);
}

function parseAll(bytes: Uint8Array, chunkBytes = bytes.length): { frames: EslFrame[]; error: unknown } {
  const parser = new EslFrameParser();
  const frames: EslFrame[] = [];
  let error: unknown = null;
  for (let offset = 0; offset < bytes.length && error === null; offset += chunkBytes) {
    const result = parser.push(bytes.subarray(offset, offset + chunkBytes));
    frames.push(...result.frames);
    error = result.error;
  }
  return { frames, error };
}

describe('ESL framing', () => {
  const sequence = stream(
    authRequestFrame(),
    commandReplyFrame('+OK accepted'),
    apiResponseFrame('-ERR No Such Channel!\n'),
    eventFrame(SAMPLE_EVENT, 'plain'),
    eventFrame(SAMPLE_EVENT, 'json'),
    OWN_PARK_FRAME,
    disconnectNoticeFrame(),
  );

  it('splits a stream into its frames however the bytes are chunked', () => {
    const whole = parseAll(sequence);
    expect(whole.error).toBeNull();
    expect(whole.frames.map((frame) => interpretFrame(frame).type)).toEqual([
      'auth-request',
      'command-reply',
      'api-response',
      'event',
      'event',
      'event',
      'disconnect-notice',
    ]);
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 700 }), (chunkBytes) => {
        expect(parseAll(sequence, chunkBytes)).toEqual(whole);
      }),
      { numRuns: 50 },
    );
  });

  it('reads bodies by their byte count, multi-byte characters included', () => {
    const { frames } = parseAll(apiResponseFrame('+OK José ₹\n'));
    expect(frames[0] === undefined ? null : frameBodyText(frames[0])).toBe('+OK José ₹\n');
  });

  it('accepts CRLF line ends and leading blank lines (FreeSWITCH strips CR and skips blank lines)', () => {
    const parser = new EslCommandParser();
    const { commands } = parser.push(Buffer.from('\r\n\r\napi status\r\n\r\nbgapi status\nJob-UUID: j-1\n\n'));
    expect(commands.map((command) => [command.line, command.headers])).toEqual([
      ['api status', []],
      ['bgapi status', [['Job-UUID', 'j-1']]],
    ]);
  });

  it('refuses a header block beyond its bound and stays failed', () => {
    const parser = new EslFrameParser({ headerBlockBytesMax: 64 });
    const first = parser.push(Buffer.from(`Content-Type: text/plain\nX: ${'x'.repeat(100)}`));
    expect(first.error?.code).toBe('header-block-too-large');
    expect(parser.bufferedBytes).toBe(0);
    expect(parser.push(authRequestFrame()).error?.code).toBe('header-block-too-large');
  });

  it('refuses a Content-Length beyond the body bound before buffering the body', () => {
    const parser = new EslFrameParser({ bodyBytesMax: 1024 });
    const result = parser.push(Buffer.from('Content-Type: api/response\nContent-Length: 999999999\n\n'));
    expect(result.error?.code).toBe('body-too-large');
  });

  it('refuses a malformed Content-Length and a line that is not a header', () => {
    expect(new EslFrameParser().push(Buffer.from('Content-Length: 12abc\n\n')).error?.code).toBe(
      'malformed-content-length',
    );
    expect(new EslFrameParser().push(Buffer.from('Content-Type: x\nno colon here\n\n')).error?.code).toBe(
      'malformed-header',
    );
  });

  it('never holds more than one incomplete frame', () => {
    const parser = new EslFrameParser();
    parser.push(sequence.subarray(0, sequence.length - 10));
    expect(parser.bufferedBytes).toBeLessThan(disconnectNoticeFrame().length);
  });
});

describe('event bodies', () => {
  it('round-trips an event through text/event-plain: URL-encoded values, duplicates kept, arrays in plain form', () => {
    const text = serializePlainEvent(SAMPLE_EVENT);
    expect(text).toContain(
      'Caller-Caller-ID-Name: Jos%C3%A9%20%22Acme%22%20%3Csip%3A%2B919876500001%4010.20.0.5%3E%3Btag%3D1\n',
    );
    expect(text).toContain('variable_DP_MATCH: ARRAY%3A%3A%2B914023456789%7C%3A%2B914023456789\n');
    expect(text.endsWith('\n\n')).toBe(true);
    const parsed = parsePlainEvent(text);
    expect(parsed.ok && parsed.event.headers.filter(([name]) => name === 'Hangup-Cause')).toHaveLength(2);
    expect(parsed.ok && eventHeader(parsed.event, 'Caller-Caller-ID-Name')).toBe(
      'José "Acme" <sip:+919876500001@10.20.0.5>;tag=1',
    );
  });

  it('round-trips an event through text/event-json: raw values and real arrays', () => {
    const { frames } = parseAll(eventFrame(SAMPLE_EVENT, 'json'));
    const message = frames[0] === undefined ? null : interpretFrame(frames[0]);
    expect(message?.type === 'event' && message.event.headers).toContainEqual([
      'variable_DP_MATCH',
      ['+914023456789', '+914023456789'],
    ]);
  });

  it('carries a body with its own Content-Length in both formats', () => {
    const job: EslEvent = {
      headers: [
        ['Event-Name', 'BACKGROUND_JOB'],
        ['Job-UUID', 'j-1'],
      ],
      body: '+OK Deleted: 1\n',
    };
    const plain = parsePlainEvent(serializePlainEvent(job));
    expect(plain).toEqual({ ok: true, event: job });
    const { frames } = parseAll(eventFrame(job, 'json'));
    expect(frames[0] === undefined ? null : parseJsonEvent(frames[0].body)).toEqual({ ok: true, event: job });
  });

  it('decodes a non-UTF-8 escape in a plain event instead of failing', () => {
    const parsed = parsePlainEvent('Event-Name: CHANNEL_PARK\nCaller-Caller-ID-Name: Jos%E9\n\n');
    expect(parsed.ok && eventHeader(parsed.event, 'Caller-Caller-ID-Name')).toBe('José');
  });

  it.each([
    ['a line without a colon', 'Event-Name: X\ngarbage\n\n'],
    ['a body shorter than declared', 'Event-Name: X\nContent-Length: 50\n\nshort'],
    ['nothing', ''],
  ])('reports a plain event with %s as an error value', (_case, text) => {
    expect(parsePlainEvent(text).ok).toBe(false);
  });

  it.each([
    ['not JSON', '{"Event-Name":'],
    ['not an object', '["Event-Name"]'],
    ['a nested object', '{"Event-Name":"X","a":{"b":1}}'],
  ])('reports a json event that is %s as an error value', (_case, text) => {
    expect(parseJsonEvent(text).ok).toBe(false);
  });
});

// Real captures, read in place from ../shared/fixtures (never copied into the repository).
const FIXTURES = fileURLToPath(new URL('../../../../shared/fixtures/freeswitch/', import.meta.url));
const present = existsSync(FIXTURES);
const describeReal = present ? describe : describe.skip;
const skipped = present ? '' : ' (skipped: ../shared/fixtures not present)';
const read = (path: string): Buffer => readFileSync(`${FIXTURES}${path}`);

/** SOURCES.md: the 2012 stream has one hand-edit artifact, the text `uuid_transfer ` before a HEARTBEAT frame. */
const ARTIFACT = Buffer.from('uuid_transfer ');
function streamWithoutArtifact(bytes: Buffer): Buffer {
  const at = bytes.indexOf(ARTIFACT);
  return at === -1 ? bytes : Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + ARTIFACT.length)]);
}

describeReal(`real ESL transcripts${skipped}`, () => {
  it('splits the 2013 auth → event → bgapi → BACKGROUND_JOB exchange into its five frames', () => {
    const { frames, error } = parseAll(read('transcripts/inbound_auth_event_bgapi_2013_NEventSocket.txt'));
    expect(error).toBeNull();
    const messages = frames.map(interpretFrame);
    expect(messages.map((message) => message.type)).toEqual([
      'auth-request',
      'command-reply',
      'command-reply',
      'command-reply',
      'event',
    ]);
    expect(messages[1]).toMatchObject({ replyText: '+OK accepted' });
    expect(messages[2]).toMatchObject({ replyText: '+OK event listener enabled plain' });
    expect(messages[3]).toMatchObject({ replyText: '+OK Job-UUID: 43e14ab9-38b1-4187-9f08-e13f35136bb2' });
    const job = messages[4];
    if (job?.type !== 'event') throw new Error('expected the BACKGROUND_JOB event');
    expect(job.name).toBe('BACKGROUND_JOB');
    expect(eventHeader(job.event, 'Job-UUID')).toBe('43e14ab9-38b1-4187-9f08-e13f35136bb2');
    expect(job.event.body).toBe('-ERR RECOVERY_ON_TIMER_EXPIRE\n');
  });

  it('splits the 2012 event stream into 45 events in capture order, in any chunking', () => {
    const bytes = streamWithoutArtifact(read('transcripts/esl_stream_2012_cgrates-fsock_capture.txt'));
    const whole = parseAll(bytes);
    expect(whole.error).toBeNull();
    const names = whole.frames.map((frame) => {
      const message = interpretFrame(frame);
      return message.type === 'event' ? message.name : message.type;
    });
    expect(names).toHaveLength(45);
    expect(names.slice(0, 3)).toEqual(['HEARTBEAT', 'RE_SCHEDULE', 'CHANNEL_STATE']);
    expect(names.indexOf('CHANNEL_PARK')).toBeLessThan(names.indexOf('CHANNEL_HANGUP'));
    expect(names.indexOf('CHANNEL_HANGUP')).toBeLessThan(names.indexOf('CHANNEL_UNPARK'));
    expect(names.indexOf('CHANNEL_UNPARK')).toBeLessThan(names.indexOf('CHANNEL_HANGUP_COMPLETE'));
    expect(names.at(-3)).toBe('CHANNEL_DESTROY');
    // Event-Sequence increases monotonically through a real capture.
    const sequences = whole.frames.map((frame) => {
      const message = interpretFrame(frame);
      return message.type === 'event' ? Number(eventHeader(message.event, 'Event-Sequence')) : 0;
    });
    expect(sequences).toEqual([...sequences].sort((left, right) => left - right));
    for (const chunkBytes of [1, 7, 512, 4096]) expect(parseAll(bytes, chunkBytes)).toEqual(whole);
  });

  it('re-serializes every real plain event byte for byte (same header order, same URL encoding)', () => {
    const bytes = streamWithoutArtifact(read('transcripts/esl_stream_2012_cgrates-fsock_capture.txt'));
    for (const frame of parseAll(bytes).frames) {
      const message = interpretFrame(frame);
      if (message.type !== 'event') throw new Error('expected only events');
      expect(eventFrame(message.event, 'plain').toString('latin1')).toBe(
        Buffer.concat([
          Buffer.from(`Content-Length: ${frame.body.length}\nContent-Type: text/event-plain\n\n`),
          frame.body,
        ]).toString('latin1'),
      );
    }
  });

  it('finds the separately captured PARK and HANGUP_COMPLETE frames inside the stream, unchanged', () => {
    const bytes = read('transcripts/esl_stream_2012_cgrates-fsock_capture.txt');
    expect(bytes.indexOf(read('events/park_2012_fsock-capture_framed.plain.frame'))).toBeGreaterThan(0);
    expect(bytes.indexOf(read('events/chc_2012_fsock-capture_framed.plain.frame'))).toBeGreaterThan(0);
  });

  it('stops with a protocol error at the hand-edit artifact of the raw stream, after the frames before it', () => {
    const { frames, error } = parseAll(read('transcripts/esl_stream_2012_cgrates-fsock_capture.txt'));
    expect(frames).toHaveLength(33);
    expect(error).toMatchObject({ code: 'malformed-header' });
  });

  it('reads the outbound connect reply: a serialized CHANNEL_DATA whose Reply-Text decodes to +OK\\n', () => {
    const { frames } = parseAll(read('transcripts/outbound_connect_reply_2017_CHANNEL_DATA.txt'));
    const reply = frames[0] === undefined ? null : interpretFrame(frames[0]);
    expect(reply).toMatchObject({ type: 'command-reply', replyText: '+OK\n' });
    expect(reply?.type === 'command-reply' && reply.headers).toContainEqual([
      'Channel-Name',
      'sofia/internal/1000@192.168.1.146:5060',
    ]);
  });

  it('reads the outbound disconnect notice, whose Content-Length comes last', () => {
    const { frames } = parseAll(read('transcripts/outbound_disconnect_notice_2017.txt'));
    expect(frames[0] === undefined ? null : interpretFrame(frames[0])).toMatchObject({
      type: 'disconnect-notice',
      body: DISCONNECT_NOTICE_BODY,
    });
  });

  it('parses the derived json events to the same headers as their plain originals', () => {
    for (const [plainPath, jsonPath] of [
      ['events/chc_2012_fsock-capture.plain', 'events/DERIVED_chc_2012_fsock-capture.json'],
      ['events/chc_2018_cgrates_park-auth_5a3a1d91.plain', 'events/DERIVED_chc_2018_cgrates_park-auth_5a3a1d91.json'],
    ] as const) {
      const plain = parsePlainEvent(read(plainPath));
      const json = parseJsonEvent(read(jsonPath));
      if (!plain.ok || !json.ok) throw new Error('both forms must parse');
      // JSON.parse keeps one of the duplicate Hangup-Cause keys; everything else matches, arrays in plain form.
      const names = (event: EslEvent): string[] => [...new Set(event.headers.map(([name]) => name))];
      expect(names(json.event)).toEqual(names(plain.event));
      for (const [name] of plain.event.headers)
        expect(eventHeader(json.event, name)).toBe(eventHeader(plain.event, name));
    }
  });
});
