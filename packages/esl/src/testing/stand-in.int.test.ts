import { existsSync, readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import {
  DISCONNECT_NOTICE_BODY,
  type EslEvent,
  type EslFrame,
  EslFrameParser,
  type EslMessage,
  eventHeader,
  interpretFrame,
  parsePlainEvent,
} from '../frames.ts';
import { FreeswitchStandIn, type FreeswitchStandInOptions } from './stand-in.ts';

const WAIT_MILLISECONDS = 5_000;

/** A bare TCP client speaking ESL through our frame parser, to see exactly what the stand-in sends. */
class RawClient {
  readonly socket: Socket;
  readonly bytes: Buffer[] = [];
  readonly frames: EslFrame[] = [];
  #parser = new EslFrameParser();
  #closed = false;
  #waiters = new Set<() => void>();

  constructor(port: number) {
    this.socket = connect(port, '127.0.0.1');
    this.socket.on('data', (chunk: Buffer) => {
      this.bytes.push(chunk);
      this.frames.push(...this.#parser.push(chunk).frames);
      this.#wake();
    });
    this.socket.on('error', () => {});
    this.socket.on('close', () => {
      this.#closed = true;
      this.#wake();
    });
  }

  get closed(): boolean {
    return this.#closed;
  }

  get messages(): EslMessage[] {
    return this.frames.map(interpretFrame);
  }

  send(text: string): void {
    this.socket.write(text);
  }

  #wake(): void {
    for (const waiter of [...this.#waiters]) waiter();
  }

  until(done: () => boolean, what: string): Promise<void> {
    if (done()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters.delete(check);
        reject(new Error(`timed out waiting for ${what}`));
      }, WAIT_MILLISECONDS);
      const check = (): void => {
        if (!done()) return;
        clearTimeout(timer);
        this.#waiters.delete(check);
        resolve();
      };
      this.#waiters.add(check);
    });
  }

  frameCount(count: number): Promise<void> {
    return this.until(() => this.frames.length >= count, `${count} frames`);
  }

  byteCount(count: number): Promise<void> {
    return this.until(() => Buffer.concat(this.bytes).length >= count, `${count} bytes`);
  }

  events(): EslEvent[] {
    return this.messages.flatMap((message) => (message.type === 'event' ? [message.event] : []));
  }

  async subscribe(command: string): Promise<void> {
    const replies = (): number => this.messages.filter((message) => message.type === 'command-reply').length;
    const before = replies();
    this.send(`auth ClueCon\n\n${command}\n\n`);
    await this.until(() => replies() >= before + 2, 'the auth and event replies');
  }
}

let standIn: FreeswitchStandIn | null = null;
const clients: RawClient[] = [];

async function start(options: FreeswitchStandInOptions = {}): Promise<FreeswitchStandIn> {
  standIn = await FreeswitchStandIn.start(options);
  return standIn;
}

function client(port: number): RawClient {
  const raw = new RawClient(port);
  clients.push(raw);
  return raw;
}

afterEach(async () => {
  for (const raw of clients.splice(0)) raw.socket.destroy();
  await standIn?.close();
  standIn = null;
});

const replyTexts = (raw: RawClient): string[] =>
  raw.messages.flatMap((message) => (message.type === 'command-reply' ? [message.replyText] : []));
const apiBodies = (raw: RawClient): string[] =>
  raw.messages.flatMap((message) => (message.type === 'api-response' ? [message.body] : []));

describe('FreeSWITCH stand-in: the inbound ESL conversation', () => {
  it('asks for auth, accepts the password, and refuses other commands before auth', async () => {
    const { port } = await start();
    const raw = client(port);
    await raw.frameCount(1);
    raw.send('api status\n\nauth ClueCon\n\n');
    await raw.frameCount(3);
    expect(raw.messages[0]).toEqual({ type: 'auth-request' });
    expect(replyTexts(raw)).toEqual(['-ERR command not found', '+OK accepted']);
  });

  it('answers a wrong password with -ERR invalid, the 67-byte disconnect notice, and a close', async () => {
    const { port } = await start();
    const raw = client(port);
    raw.send('auth wrong\n\n');
    await raw.until(() => raw.closed, 'the close');
    expect(replyTexts(raw)).toEqual(['-ERR invalid']);
    expect(raw.messages.at(-1)).toEqual({
      type: 'disconnect-notice',
      body: DISCONNECT_NOTICE_BODY,
      headers: [
        ['Content-Type', 'text/disconnect-notice'],
        ['Content-Length', '67'],
      ],
    });
  });

  it('replies to event, nixevent, filter, unknown commands and exit with FreeSWITCH’s texts', async () => {
    const { port } = await start();
    const raw = client(port);
    raw.send(
      'auth ClueCon\n\nevent json CHANNEL_PARK BACKGROUND_JOB\n\nevent NOTHING_KNOWN\n\nnixevent BACKGROUND_JOB\n\n' +
        'filter Unique-ID abc\n\nfilter Unique-ID\n\nfilter delete Unique-ID abc\n\nlinger\n\nexit\n\n',
    );
    await raw.until(() => raw.closed, 'the close');
    expect(replyTexts(raw)).toEqual([
      '+OK accepted',
      '+OK event listener enabled json',
      '-ERR no keywords supplied',
      '+OK events nixed',
      '+OK filter added. [Unique-ID]=[abc]',
      '-ERR invalid syntax',
      '+OK filter deleted. [Unique-ID][abc]',
      '-ERR command not found',
      '+OK bye',
    ]);
    expect(raw.messages.at(-1)).toMatchObject({ type: 'disconnect-notice' });
  });

  it('answers the call-control API commands from its channel model, with FreeSWITCH’s exact bodies', async () => {
    const fs = await start();
    const raw = client(fs.port);
    await raw.subscribe('event plain CHANNEL_PARK');
    const uuid = fs.park({ callerNumber: '+919876500001', destination: '+914023456789', accountCode: 'acme-telecom' });
    const commands = [
      `uuid_setvar_multi ${uuid} billing_auth=OK;billing_max_sec=60`,
      `uuid_setvar ${uuid} execute_on_answer sched_hangup +60 ALLOTTED_TIMEOUT`,
      `uuid_getvar ${uuid} billing_max_sec`,
      `uuid_getvar ${uuid} nothing`,
      `sched_hangup +600 ${uuid} ALLOTTED_TIMEOUT`,
      `sched_broadcast +570 ${uuid} /sounds/low_balance.wav aleg`,
      `sched_del ${uuid}`,
      `uuid_transfer ${uuid} +914023456789 XML default`,
      'uuid_kill 00000000-0000-4000-8000-000000000000 OUTGOING_CALL_BARRED',
      'uuid_setvar 00000000-0000-4000-8000-000000000000 a b',
      'no_such_api now',
    ];
    raw.send(commands.map((command) => `api ${command}\n\n`).join(''));
    await raw.until(() => apiBodies(raw).length === commands.length, 'every reply');
    expect(apiBodies(raw)).toEqual([
      '+OK\n',
      '+OK\n',
      '60',
      '_undef_',
      '+OK\n',
      '+OK Message Scheduled\n',
      '+OK Deleted: 2\n',
      '+OK\n',
      '-ERR No Such Channel!\n',
      '-ERR No Such Channel!\n',
      '-ERR no_such_api Command not found!\n',
    ]);
    expect(fs.channel(uuid)).toMatchObject({
      state: 'routing',
      transfers: [{ destination: '+914023456789', dialplan: 'XML', context: 'default' }],
    });
    expect(fs.channel(uuid)?.variables.get('execute_on_answer')).toBe('sched_hangup +60 ALLOTTED_TIMEOUT');
    expect(fs.apiCommands).toEqual(commands);
  });

  it('lists live channels with show channels as json, and prints FreeSWITCH’s empty answer when there are none', async () => {
    const fs = await start();
    const raw = client(fs.port);
    await raw.subscribe('event plain CHANNEL_PARK');
    raw.send('api show channels as json\n\n');
    await raw.until(() => apiBodies(raw).length === 1, 'the first reply');
    const uuid = fs.park({ callerNumber: '+919876500001', destination: '+914023456789', accountCode: 'acme-telecom' });
    raw.send('api show channels as json\n\n');
    await raw.until(() => apiBodies(raw).length === 2, 'the second reply');
    expect(apiBodies(raw)[0]).toBe('{"row_count": 0}\n');
    const listed = JSON.parse(apiBodies(raw)[1] ?? '') as { row_count: number; rows: Record<string, string>[] };
    expect(listed.row_count).toBe(1);
    expect(listed.rows[0]).toMatchObject({
      uuid,
      cid_num: '+919876500001',
      dest: '+914023456789',
      accountcode: 'acme-telecom',
    });
  });

  it('answers bgapi with the Job-UUID at once and the result later as a BACKGROUND_JOB event', async () => {
    const fs = await start();
    const raw = client(fs.port);
    await raw.subscribe('event plain BACKGROUND_JOB');
    raw.send('bgapi sched_del nothing-scheduled\nJob-UUID: 0f9e8d7c-6b5a-4948-8372-615f4e3d2c1b\n\n');
    await raw.until(() => raw.events().length === 1, 'the job event');
    expect(replyTexts(raw).at(-1)).toBe('+OK Job-UUID: 0f9e8d7c-6b5a-4948-8372-615f4e3d2c1b');
    const job = raw.events()[0];
    expect(job && eventHeader(job, 'Job-Command')).toBe('sched_del');
    expect(job?.body).toBe('+OK Deleted: 0\n');
  });

  it('delivers events only to subscribers that want them, applying filters like FreeSWITCH', async () => {
    const fs = await start();
    const all = client(fs.port);
    const filtered = client(fs.port);
    const onlyNegative = client(fs.port);
    await all.subscribe('event plain CHANNEL_PARK CHANNEL_ANSWER');
    await filtered.subscribe('event json CHANNEL_PARK');
    await onlyNegative.subscribe('event plain CHANNEL_PARK');
    const first = fs.park({ uuid: '11111111-1111-4111-8111-111111111111', callerNumber: '1', destination: '2' });
    filtered.send(`filter Unique-ID ${first}\n\n`);
    onlyNegative.send('filter Unique-ID -nobody\n\n');
    await filtered.frameCount(5);
    await onlyNegative.frameCount(5);
    fs.park({ callerNumber: '3', destination: '4' });
    fs.answer(first);
    await all.until(() => all.events().length === 3, 'three events');
    fs.emit({
      headers: [
        ['Event-Name', 'CHANNEL_PARK'],
        ['Unique-ID', first],
      ],
      body: null,
    });
    await filtered.until(() => filtered.events().length === 2, 'two events');
    expect(all.events().map((event) => eventHeader(event, 'Event-Name'))).toEqual([
      'CHANNEL_PARK',
      'CHANNEL_PARK',
      'CHANNEL_ANSWER',
      'CHANNEL_PARK',
    ]);
    expect(filtered.events().map((event) => eventHeader(event, 'Unique-ID'))).toEqual([first, first]);
    // Only negative filters: nothing at all is delivered after the filter.
    expect(onlyNegative.events()).toHaveLength(1);
  });

  it('ends a call with HANGUP and HANGUP_COMPLETE carrying FreeSWITCH’s billing variables', async () => {
    let now = 1_772_426_100_250_123;
    const fs = await start({ clockMicroseconds: () => now });
    const raw = client(fs.port);
    await raw.subscribe('event plain CHANNEL_HANGUP CHANNEL_HANGUP_COMPLETE');
    const uuid = fs.park({ callerNumber: '+919876500001', destination: '+914023456789' });
    now += 7_512_345;
    fs.answer(uuid);
    fs.hangup(uuid, 'NORMAL_CLEARING', 20_600);
    await raw.until(() => raw.events().length === 2, 'two events');
    const complete = raw.events()[1];
    if (complete === undefined) throw new Error('no CHANNEL_HANGUP_COMPLETE');
    expect(complete.headers.filter(([name]) => name === 'Hangup-Cause')).toHaveLength(2);
    expect(eventHeader(complete, 'variable_billmsec')).toBe('20600');
    expect(eventHeader(complete, 'variable_billusec')).toBe('20600000');
    // Answered at …07.762468, ended at …28.362468: whole epoch seconds 28 − 7 = 21 (billsec overstates).
    expect(eventHeader(complete, 'variable_billsec')).toBe('21');
    expect(eventHeader(complete, 'variable_answer_uepoch')).toBe(String(now));
  });

  it('hangs a channel up on uuid_kill and answers -ERR No Such Channel! afterwards', async () => {
    const fs = await start();
    const raw = client(fs.port);
    await raw.subscribe('event plain CHANNEL_HANGUP_COMPLETE');
    const uuid = fs.park({ callerNumber: '+919876500001', destination: '+914023456789' });
    raw.send(`api uuid_kill ${uuid} OUTGOING_CALL_BARRED\n\n`);
    await raw.until(() => raw.events().length === 1, 'the hangup');
    raw.send(`api uuid_transfer ${uuid} 1 XML default\n\n`);
    await raw.until(() => apiBodies(raw).length === 2, 'two replies');
    expect(eventHeader(raw.events()[0] ?? { headers: [] }, 'variable_hangup_cause')).toBe('OUTGOING_CALL_BARRED');
    expect(apiBodies(raw)).toEqual(['+OK\n', '-ERR No Such Channel!\n']);
  });

  it('records commands with their receive time and hides the password', async () => {
    const fs = await start({ clockMicroseconds: () => 1_772_426_100_000_000 });
    const raw = client(fs.port);
    await raw.subscribe('event plain CHANNEL_PARK');
    expect(fs.commands.map((command) => command.line)).toEqual(['auth ********', 'event plain CHANNEL_PARK']);
    expect(fs.commands[0]?.receivedAtMicroseconds).toBe(1_772_426_100_000_000);
  });

  it('drops every connection at once and accepts new ones', async () => {
    const fs = await start();
    const first = client(fs.port);
    await first.subscribe('event plain CHANNEL_PARK');
    fs.dropAllConnections();
    await first.until(() => first.closed, 'the reset');
    const second = client(fs.port);
    await second.subscribe('event plain CHANNEL_PARK');
    fs.park({ callerNumber: '1', destination: '2' });
    await second.until(() => second.events().length === 1, 'an event on the new connection');
  });

  it('says goodbye with the shutdown notice when it stops', async () => {
    const fs = await start();
    const raw = client(fs.port);
    await raw.subscribe('event plain CHANNEL_PARK');
    await fs.close();
    standIn = null;
    await raw.until(() => raw.closed, 'the close');
    expect(raw.messages.at(-1)).toMatchObject({ type: 'disconnect-notice', body: 'The system is being shut down.\n' });
  });
});

// Real captures, read in place from ../shared/fixtures (never copied into the repository).
const FIXTURES = fileURLToPath(new URL('../../../../../shared/fixtures/freeswitch/', import.meta.url));
const present = existsSync(FIXTURES);
const describeReal = present ? describe : describe.skip;
const skipped = present ? '' : ' (skipped: ../shared/fixtures not present)';
const read = (path: string): Buffer => readFileSync(`${FIXTURES}${path}`);

/** Header names before the channel variables, in order. */
function channelHeaderNames(event: EslEvent): string[] {
  return event.headers.map(([name]) => name).filter((name) => !name.startsWith('variable_'));
}

function isSubsequence(needle: readonly string[], haystack: readonly string[]): boolean {
  let position = 0;
  for (const item of haystack) if (item === needle[position]) position++;
  return position === needle.length;
}

function plainEventOf(frameBytes: Buffer): EslEvent {
  const { frames } = new EslFrameParser().push(frameBytes);
  const message = frames[0] === undefined ? undefined : interpretFrame(frames[0]);
  if (message?.type !== 'event') throw new Error('expected an event');
  return message.event;
}

describeReal(`FreeSWITCH stand-in against real captures${skipped}`, () => {
  it('sends the 2013 auth → event → bgapi → BACKGROUND_JOB exchange byte for byte', async () => {
    const transcript = read('transcripts/inbound_auth_event_bgapi_2013_NEventSocket.txt');
    const fs = await start({
      identity: {
        coreUuid: 'ac1ed77b-cf11-4f8a-a36f-3feeb6b53d0e',
        hostname: 'Dan-MacBook',
        ipv4: '192.168.0.6',
        ipv6: '2001:0:5ef5:79fd:815:1a92:3f57:fff9',
      },
      clockMicroseconds: () => 1_370_535_842_909_368,
      localTimeOffsetMinutes: 60,
      eventSequenceStart: 534,
      apiHandler: (command) => (command === 'originate' ? '-ERR RECOVERY_ON_TIMER_EXPIRE\n' : undefined),
    });
    const raw = client(fs.port);
    raw.send('auth ClueCon\n\nevent plain BACKGROUND_JOB\n\n');
    raw.send(
      'bgapi originate sofia/external/1000@10.10.10.108:5070 &playback(C:\\\\temp\\\\misc-freeswitch_is_state_of_the_art.wav\n' +
        'Job-UUID: 43e14ab9-38b1-4187-9f08-e13f35136bb2\n\n',
    );
    await raw.byteCount(transcript.length);
    expect(Buffer.concat(raw.bytes).toString('latin1')).toBe(transcript.toString('latin1'));
  });

  it('replays the 2012 event stream byte for byte in small writes, and a client splits it into its 45 events', async () => {
    const captured = read('transcripts/esl_stream_2012_cgrates-fsock_capture.txt');
    // SOURCES.md: the text `uuid_transfer ` before one HEARTBEAT is a hand-edit artifact, not FreeSWITCH output.
    const artifact = captured.indexOf('uuid_transfer ');
    const stream = Buffer.concat([
      captured.subarray(0, artifact),
      captured.subarray(artifact + 'uuid_transfer '.length),
    ]);
    const fs = await start();
    const raw = client(fs.port);
    await raw.subscribe('event plain ALL');
    const before = Buffer.concat(raw.bytes).length;
    fs.sendRaw(stream, { chunkBytes: 1_000 });
    await raw.byteCount(before + stream.length);
    expect(Buffer.concat(raw.bytes).subarray(before).equals(stream)).toBe(true);
    const events = raw.events();
    expect(events).toHaveLength(45);
    expect(events.filter((event) => eventHeader(event, 'Event-Name') === 'CHANNEL_PARK')).toHaveLength(1);
  });

  it.each([
    ['CHANNEL_PARK', 'events/park_2012_fsock-capture_framed.plain.frame'],
    ['CHANNEL_ANSWER', 'events/answer_2014_cgrates_after-park_86cfd6e2.plain.frame'],
    ['CHANNEL_HANGUP_COMPLETE', 'events/chc_2012_fsock-capture_framed.plain.frame'],
  ])('builds %s with the real frame’s headers in the real order', async (name, path) => {
    const real = plainEventOf(read(path));
    const fs = await start();
    const raw = client(fs.port);
    await raw.subscribe(`event plain ${name}`);
    const uuid = fs.park({ callerNumber: '4986517174963', destination: '4986517174963', context: 'b2bua' });
    if (name === 'CHANNEL_ANSWER') {
      // The real answer came after the park was released by uuid_transfer.
      raw.send(`api uuid_transfer ${uuid} 4986517174963 XML b2bua\n\n`);
      await raw.until(() => apiBodies(raw).length === 1, 'the transfer');
    }
    if (name !== 'CHANNEL_PARK') fs.answer(uuid);
    if (name === 'CHANNEL_HANGUP_COMPLETE') fs.hangup(uuid, 'ORIGINATOR_CANCEL', 0);
    await raw.until(() => raw.events().length === 1, 'the event');
    const ours = raw.events()[0];
    if (ours === undefined) throw new Error('no event');
    // Every header the real one has before its variables appears in ours, in the same order. Ours may add the
    // newer profile headers (Caller-Logical-Direction, Caller-Channel-Resurrect-Time, …) of FreeSWITCH ≥1.4.
    const realNames = channelHeaderNames(real).filter(
      (header) => !header.startsWith('Other-Leg') && header !== 'Other-Type',
    );
    expect(isSubsequence(realNames, channelHeaderNames(ours))).toBe(true);
    // And it is on the wire as FreeSWITCH writes it: the plain form round-trips through the real encoder rules.
    const wire = raw.frames.at(-1);
    expect(wire === undefined ? null : parsePlainEvent(wire.body)).toEqual({ ok: true, event: ours });
  });

  it('replays a real CHANNEL_PARK with fresh uuids and then answers commands for the new channel', async () => {
    const fs = await start();
    const raw = client(fs.port);
    await raw.subscribe('event json CHANNEL_PARK');
    const mapping = fs.replayFrame(read('events/park_2012_fsock-capture_framed.plain.frame'));
    await raw.until(() => raw.events().length === 1, 'the replayed park');
    const fresh = mapping.get('303c0f9f-4b32-4b9b-9f77-df0ca215bbe7');
    expect(fresh).toBeDefined();
    expect(fresh).not.toBe('303c0f9f-4b32-4b9b-9f77-df0ca215bbe7');
    const event = raw.events()[0] ?? { headers: [] };
    for (const header of [
      'Unique-ID',
      'Caller-Unique-ID',
      'Channel-Call-UUID',
      'variable_uuid',
      'variable_call_uuid',
    ]) {
      expect(eventHeader(event, header)).toBe(fresh);
    }
    expect(eventHeader(event, 'Caller-Destination-Number')).toBe('4986517174963');
    raw.send(`api uuid_transfer ${fresh} 4986517174963 XML b2bua\n\n`);
    await raw.until(() => apiBodies(raw).length === 1, 'the reply');
    expect(apiBodies(raw)).toEqual(['+OK\n']);
  });
});
