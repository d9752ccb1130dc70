import { existsSync, readFileSync } from 'node:fs';
import { createServer, Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { callControlCommands, parkedCallFromEvent } from './call-control.ts';
import {
  type ConnectionStateChange,
  ESL_PIPELINE_DEPTH_MAX,
  EslClient,
  type EslClientError,
  type EslClientOptions,
  reconnectDelayMilliseconds,
} from './client.ts';
import {
  apiResponseFrame,
  authRequestFrame,
  commandReplyFrame,
  EslCommandParser,
  type EslEvent,
  eventFrame,
  eventHeader,
} from './frames.ts';
import { FreeswitchStandIn } from './testing/stand-in.ts';

const WAIT_MILLISECONDS = 5_000;
const POLL_MILLISECONDS = 5;

/** Waits (bounded) until the condition holds; for asynchronous effects, not for measuring anything. */
async function eventually(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + WAIT_MILLISECONDS;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, POLL_MILLISECONDS));
  }
}

interface Harness {
  readonly standIn: FreeswitchStandIn;
  readonly client: EslClient;
  readonly events: EslEvent[];
  readonly states: ConnectionStateChange[];
  readonly errors: EslClientError[];
}

let harness: Harness | null = null;

async function connected(options: Partial<EslClientOptions> = {}, password = 'ClueCon'): Promise<Harness> {
  const standIn = await FreeswitchStandIn.start({ password });
  const client = new EslClient({
    host: '127.0.0.1',
    port: standIn.port,
    password: 'ClueCon',
    events: ['CHANNEL_PARK', 'CHANNEL_ANSWER', 'CHANNEL_HANGUP_COMPLETE'],
    reconnectDelayMinMilliseconds: 10,
    reconnectDelayMaxMilliseconds: 50,
    ...options,
  });
  const events: EslEvent[] = [];
  const states: ConnectionStateChange[] = [];
  const errors: EslClientError[] = [];
  client.onEvent((event) => events.push(event));
  client.onConnectionState((change) => states.push(change));
  client.onError((error) => errors.push(error));
  harness = { standIn, client, events, states, errors };
  client.start();
  if (password === 'ClueCon') {
    await client.whenConnected();
    await standIn.waitForSubscribers(2);
  }
  return harness;
}

afterEach(async () => {
  await harness?.client.close();
  await harness?.standIn.close();
  harness = null;
});

const named = (events: readonly EslEvent[], name: string): EslEvent[] =>
  events.filter((event) => eventHeader(event, 'Event-Name') === name);

const CALL = { callerNumber: '+919876500001', destination: '+914023456789', accountCode: 'acme-telecom' } as const;

describe('ESL client against the FreeSWITCH stand-in', () => {
  it('authenticates two connections and subscribes the event one to exactly the events asked for', async () => {
    const { standIn, client } = await connected({ eventFormat: 'plain' });
    expect(client.state).toEqual({ event: 'connected', command: 'connected' });
    const lines = standIn.commands.map((command) => command.line);
    expect(lines.filter((line) => line === 'auth ********')).toHaveLength(2);
    expect(lines).toContain('event plain CHANNEL_PARK CHANNEL_ANSWER CHANNEL_HANGUP_COMPLETE');
    // modesl subscribes BACKGROUND_JOB and CHANNEL_EXECUTE_COMPLETE on its own; the event connection drops both.
    expect(lines).toContain('nixevent BACKGROUND_JOB CHANNEL_EXECUTE_COMPLETE');
    expect(lines).toContain('nixevent CHANNEL_EXECUTE_COMPLETE');
  });

  it.each(['plain', 'json'] as const)('delivers events once each, decoded, in %s format', async (eventFormat) => {
    const { standIn, events } = await connected({ eventFormat });
    const uuid = standIn.park({ ...CALL, callerName: 'José Kumar' });
    await eventually(() => events.length === 1, 'the park event');
    const park = events[0];
    if (park === undefined) throw new Error('no event');
    expect(eventHeader(park, 'Unique-ID')).toBe(uuid);
    expect(eventHeader(park, 'Caller-Caller-ID-Name')).toBe('José Kumar');
    expect(parkedCallFromEvent(park)).toMatchObject({
      ok: true,
      call: { callId: uuid, accountCode: 'acme-telecom', dialledNumber: '+914023456789', isALeg: true },
    });
  });

  it('runs API commands and returns FreeSWITCH’s answers; a vanished channel is an outcome, not an error', async () => {
    const { standIn, client } = await connected();
    const uuid = standIn.park(CALL);
    expect(await client.setVarMulti(uuid, { billing_auth: 'OK', billing_max_sec: '60' })).toEqual({
      kind: 'ok',
      text: '+OK\n',
    });
    expect(await client.setVar(uuid, 'billing_note', 'top-up pending')).toMatchObject({ kind: 'ok' });
    expect(await client.schedHangup(uuid, 60, 'ALLOTTED_TIMEOUT')).toMatchObject({ kind: 'ok' });
    expect(await client.schedBroadcast(uuid, 30, '/sounds/low_balance.wav')).toMatchObject({ kind: 'ok' });
    expect(await client.schedDel(uuid)).toEqual({ kind: 'ok', text: '+OK Deleted: 2\n' });
    expect(await client.transfer(uuid, '+914023456789', 'XML', 'default')).toMatchObject({ kind: 'ok' });
    expect(await client.kill('00000000-0000-4000-8000-000000000000', 'OUTGOING_CALL_BARRED')).toEqual({
      kind: 'no-such-channel',
      text: '-ERR No Such Channel!\n',
    });
    const channels = await client.showChannels();
    expect(channels.ok && channels.rows.map((row) => row.uuid)).toEqual([uuid]);
    expect(await client.api('no_such_api')).toBe('-ERR no_such_api Command not found!\n');
    expect(standIn.channel(uuid)?.variables.get('billing_note')).toBe('top-up pending');
    expect(standIn.apiCommands).toEqual([
      `uuid_setvar_multi ${uuid} billing_auth=OK;billing_max_sec=60`,
      `uuid_setvar ${uuid} billing_note top-up pending`,
      `sched_hangup +60 ${uuid} ALLOTTED_TIMEOUT`,
      `sched_broadcast +30 ${uuid} /sounds/low_balance.wav aleg`,
      `sched_del ${uuid}`,
      `uuid_transfer ${uuid} +914023456789 XML default`,
      'uuid_kill 00000000-0000-4000-8000-000000000000 OUTGOING_CALL_BARRED',
      'show channels as json',
      'no_such_api',
    ]);
  });

  it('refuses to send a command that would inject another one', async () => {
    const { standIn, client } = await connected();
    await expect(client.api('status\n\napi hupall')).rejects.toThrow(RangeError);
    await expect(client.kill('a b', 'NORMAL_CLEARING')).rejects.toThrow(RangeError);
    expect(standIn.apiCommands).toEqual([]);
  });

  it('carries out an authorization end to end: park → commands → answer caps the call → hangup settles', async () => {
    const { standIn, client, events } = await connected();
    const uuid = standIn.park(CALL);
    await eventually(() => named(events, 'CHANNEL_PARK').length === 1, 'the park');
    const park = named(events, 'CHANNEL_PARK')[0];
    if (park === undefined) throw new Error('no park');
    const plan = callControlCommands(park, { authorized: true, maxSeconds: 1800, reason: null });
    if (!plan.ok) throw new Error(plan.reason);
    for (const command of plan.commands) expect(await client.apiOutcome(command)).toMatchObject({ kind: 'ok' });
    expect(standIn.channel(uuid)).toMatchObject({ state: 'routing', context: 'default' });
    standIn.answer(uuid);
    expect(standIn.scheduledTasks).toContainEqual(
      expect.objectContaining({ group: uuid, command: 'hangup ALLOTTED_TIMEOUT' }),
    );
    standIn.hangup(uuid, 'NORMAL_CLEARING', 83_457);
    await eventually(() => named(events, 'CHANNEL_HANGUP_COMPLETE').length === 1, 'the hangup');
    const complete = named(events, 'CHANNEL_HANGUP_COMPLETE')[0];
    expect(complete && eventHeader(complete, 'variable_billmsec')).toBe('83457');
    expect(complete && eventHeader(complete, 'variable_billing_max_sec')).toBe('1800');
  });

  it('carries out a denial: the channel is killed with OUTGOING_CALL_BARRED', async () => {
    const { standIn, client, events } = await connected();
    const uuid = standIn.park(CALL);
    await eventually(() => events.length === 1, 'the park');
    const plan = callControlCommands(events[0] ?? { headers: [] }, { authorized: false, maxSeconds: 0, reason: 'x' });
    if (!plan.ok) throw new Error(plan.reason);
    for (const command of plan.commands) await client.api(command);
    await eventually(() => named(events, 'CHANNEL_HANGUP_COMPLETE').length === 1, 'the hangup');
    expect(standIn.channel(uuid)).toMatchObject({ state: 'hungup', hangupCause: 'OUTGOING_CALL_BARRED' });
  });

  it('reconnects both connections after FreeSWITCH drops them, and events flow again', async () => {
    const { standIn, client, events, states } = await connected();
    standIn.dropAllConnections();
    await eventually(
      () => states.filter((change) => change.state === 'disconnected').length === 2,
      'both disconnections',
    );
    expect(states.filter((change) => change.state === 'disconnected')).toContainEqual(
      expect.objectContaining({ connection: 'event', reason: expect.any(String) }),
    );
    await client.whenConnected();
    await standIn.waitForSubscribers(2);
    const uuid = standIn.park(CALL);
    await eventually(() => events.length === 1, 'an event after the reconnect');
    expect(eventHeader(events[0] ?? { headers: [] }, 'Unique-ID')).toBe(uuid);
    expect(await client.kill(uuid, 'NORMAL_CLEARING')).toMatchObject({ kind: 'ok' });
  });

  it('answers commands queued during a reconnect with their own replies, not the set-up’s', async () => {
    const { standIn, client, states } = await connected();
    standIn.dropAllConnections();
    await eventually(
      () => states.filter((change) => change.state === 'disconnected').length === 2,
      'both disconnections',
    );
    // Queued while down, so each is sent the moment the command connection is ready, one after another.
    const shown = client.showChannels();
    const status = client.api('status');
    const second = client.showChannels();
    expect(await shown).toMatchObject({ ok: true });
    expect(await status).toMatch(/UP /);
    expect(await second).toMatchObject({ ok: true });
  });

  it('reports a wrong password, stays disconnected, and keeps retrying with backoff', async () => {
    const { standIn, client, errors } = await connected({}, 'not-the-password');
    await eventually(
      () => standIn.commands.filter((command) => command.line.startsWith('auth')).length >= 4,
      'retries',
    );
    expect(errors[0]).toMatchObject({ code: 'authentication-failed', retryable: false });
    expect(client.state.event).not.toBe('connected');
    expect(client.state.command).not.toBe('connected');
  });

  it('survives a non-UTF-8 percent escape (the modesl decodeURIComponent crash) and decodes it', async () => {
    const { standIn, events } = await connected({ eventFormat: 'plain' });
    const latin1 = Buffer.from(
      'Event-Name: CHANNEL_PARK\nUnique-ID: 5d4c3b2a-1f0e-4d9c-8b7a-695847362514\nCaller-Caller-ID-Name: Jos%E9\n\n',
    );
    standIn.sendRaw(
      Buffer.concat([Buffer.from(`Content-Length: ${latin1.length}\nContent-Type: text/event-plain\n\n`), latin1]),
    );
    await eventually(() => events.length === 1, 'the event');
    expect(eventHeader(events[0] ?? { headers: [] }, 'Caller-Caller-ID-Name')).toBe('José');
  });

  it('contains a frame modesl chokes on: the connection is reset and comes back, the process lives', async () => {
    const { standIn, client, events, states } = await connected({ eventFormat: 'plain' });
    // An event-plain frame without a body makes modesl's parser call indexOf on undefined.
    standIn.sendRaw(Buffer.from('Content-Type: text/event-plain\n\n'));
    await eventually(() => states.some((change) => change.state === 'disconnected'), 'the reset');
    expect(states.find((change) => change.state === 'disconnected')?.reason).toMatch(/unparseable data/);
    await client.whenConnected();
    await standIn.waitForSubscribers(2);
    standIn.park(CALL);
    await eventually(() => events.length === 1, 'events again');
  });

  it('resets a connection whose receive buffer passes the frame bound', async () => {
    const { standIn, states } = await connected({ frameBytesMax: 4096 });
    standIn.sendRaw(Buffer.from(`Content-Length: 100000\nContent-Type: text/event-plain\n\n${'x'.repeat(8192)}`));
    await eventually(() => states.some((change) => change.state === 'disconnected'), 'the reset');
    expect(states.find((change) => change.state === 'disconnected')?.reason).toMatch(/exceeded 4096 bytes/);
  });

  it('times out a command that gets no answer, and resets so its late reply cannot answer the next command', async () => {
    const { standIn, client } = await connected({ apiTimeoutMilliseconds: 200 });
    standIn.holdApiReplies(true);
    await expect(client.api('status')).rejects.toMatchObject({ code: 'timeout', retryable: true });
    standIn.holdApiReplies(false);
    await client.whenConnected();
    const uuid = standIn.park(CALL);
    expect(await client.setVar(uuid, 'billing_auth', 'OK')).toEqual({ kind: 'ok', text: '+OK\n' });
  });

  it('sends the commands issued together in one write, and each gets its own reply, in order', async () => {
    const { standIn, client } = await connected();
    const uuid = standIn.park(CALL);
    const gone = '00000000-0000-4000-8000-000000000000';
    // Counted where they are made: a receiver in the same process cannot tell one write from several, since the
    // kernel hands it whatever has arrived by the time it reads.
    const writes = vi.spyOn(Socket.prototype, 'write');
    let replies: unknown[];
    let toSwitch: string[];
    try {
      replies = await Promise.all([
        client.setVar(uuid, 'billing_auth', 'OK'),
        client.kill(gone, 'NORMAL_CLEARING'),
        client.api(`uuid_getvar ${uuid} billing_auth`),
        client.api('no_such_api'),
      ]);
      toSwitch = writes.mock.calls.flatMap(([data], index) =>
        (writes.mock.contexts[index] as Socket).remotePort === standIn.port ? [String(data)] : [],
      );
    } finally {
      writes.mockRestore();
    }
    expect(toSwitch).toEqual([
      `api uuid_setvar ${uuid} billing_auth OK\n\n` +
        `api uuid_kill ${gone} NORMAL_CLEARING\n\n` +
        `api uuid_getvar ${uuid} billing_auth\n\n` +
        'api no_such_api\n\n',
    ]);
    // The vanished channel in the middle shifts nothing, and the getvar sees the setvar sent before it.
    expect(replies).toEqual([
      { kind: 'ok', text: '+OK\n' },
      { kind: 'no-such-channel', text: '-ERR No Such Channel!\n' },
      'OK',
      '-ERR no_such_api Command not found!\n',
    ]);
  });

  it('on a pipelined command’s timeout, resets, fails the others sent as disconnected, and sends the queued ones after the reconnect', async () => {
    const timeout = 1_000;
    const { standIn, client, states } = await connected({ apiTimeoutMilliseconds: timeout });
    const uuid = standIn.park(CALL);
    standIn.holdApiReplies(true);
    const sent = Array.from({ length: ESL_PIPELINE_DEPTH_MAX }, (_, index) =>
      client.api(`uuid_exists ${index}`).catch((error: unknown) => error),
    );
    const last = await standIn.waitForCommand((command) => command.line === `api uuid_exists ${sent.length - 1}`);
    // The hung connection stays hung; the next one answers.
    standIn.holdApiReplies(false);
    // Issued well before the others time out, so its own deadline is far off: the pipeline is full, so it waits.
    await new Promise((resolve) => setTimeout(resolve, timeout / 2));
    const queued = client.setVar(uuid, 'billing_auth', 'OK');
    const [first, ...others] = await Promise.all(sent);
    expect(first).toMatchObject({ code: 'timeout', retryable: true });
    expect(others).toHaveLength(ESL_PIPELINE_DEPTH_MAX - 1);
    for (const other of others) expect(other).toMatchObject({ code: 'disconnected', retryable: true });
    await eventually(
      () => states.some((change) => change.connection === 'command' && change.state === 'disconnected'),
      'the reset',
    );
    expect(states).toContainEqual(
      expect.objectContaining({ connection: 'command', state: 'disconnected', reason: 'a command timed out' }),
    );
    expect(await queued).toEqual({ kind: 'ok', text: '+OK\n' });
    const setvar = standIn.commands.find((command) => command.line.startsWith('api uuid_setvar'));
    expect(setvar?.connectionId).not.toBe(last.connectionId);
    expect(standIn.channel(uuid)?.variables.get('billing_auth')).toBe('OK');
  });

  it('keeps a listener that throws from breaking delivery', async () => {
    const { standIn, client, events, errors } = await connected();
    client.onEvent(() => {
      throw new Error('listener bug');
    });
    standIn.park(CALL);
    standIn.park(CALL);
    await eventually(() => events.length === 2, 'both events');
    expect(errors.map((error) => error.code)).toEqual(['listener', 'listener']);
  });

  it('says exit on close and fails whatever was still waiting', async () => {
    const { standIn, client } = await connected();
    standIn.holdApiReplies(true);
    const waiting = client.api('status').catch((error: unknown) => error);
    await standIn.waitForCommand((command) => command.line === 'api status');
    await client.close();
    expect(await waiting).toMatchObject({ code: 'closed' });
    await expect(client.api('status')).rejects.toMatchObject({ code: 'closed' });
  });
});

describe('ESL client without a FreeSWITCH', () => {
  it('bounds its command queue and refuses at once when it is full', async () => {
    const client = new EslClient({
      host: '127.0.0.1',
      port: 1,
      password: { reveal: () => 'ClueCon' },
      events: ['CHANNEL_PARK'],
      commandQueueLengthMax: 2,
    });
    const waiting = [client.api('status'), client.api('status')].map((reply) => reply.catch((error: unknown) => error));
    await expect(client.api('status')).rejects.toMatchObject({ code: 'queue-full', retryable: true });
    await client.close();
    expect(await Promise.all(waiting)).toEqual([
      expect.objectContaining({ code: 'closed' }),
      expect.objectContaining({ code: 'closed' }),
    ]);
  });

  it('keeps no more than the pipeline depth of commands unanswered on the wire, and completes them all', async () => {
    // A switch that answers each batch of api commands a moment after it arrives and notes the most it ever held.
    let mostUnanswered = 0;
    const received: string[] = [];
    const server = createServer((socket) => {
      const parser = new EslCommandParser();
      const unanswered: string[] = [];
      let answering = false;
      socket.on('error', () => undefined);
      socket.on('data', (chunk: Buffer) => {
        for (const { line } of parser.push(chunk).commands) {
          const [verb = '', ...rest] = line.split(' ');
          if (verb === 'api') {
            received.push(rest.join(' '));
            unanswered.push(rest.join(' '));
            mostUnanswered = Math.max(mostUnanswered, unanswered.length);
          } else if (verb === 'exit') socket.end(commandReplyFrame('+OK bye'));
          else socket.write(commandReplyFrame(verb === 'auth' ? '+OK accepted' : '+OK'));
        }
        if (unanswered.length === 0 || answering) return;
        answering = true;
        setTimeout(() => {
          answering = false;
          socket.write(Buffer.concat(unanswered.splice(0).map((command) => apiResponseFrame(`+OK ${command}\n`))));
        }, 5);
      });
      socket.write(authRequestFrame());
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    const client = new EslClient({
      host: '127.0.0.1',
      port: typeof address === 'object' && address !== null ? address.port : 0,
      password: 'ClueCon',
      events: ['CHANNEL_PARK'],
    });
    try {
      client.start();
      await client.whenConnected();
      const commands = Array.from({ length: 2 * ESL_PIPELINE_DEPTH_MAX + 5 }, (_, index) => `uuid_exists ${index}`);
      const replies = await Promise.all(commands.map((command) => client.api(command)));
      expect(replies).toEqual(commands.map((command) => `+OK ${command}\n`));
      expect(received).toEqual(commands);
      expect(mostUnanswered).toBe(ESL_PIPELINE_DEPTH_MAX);
    } finally {
      await client.close();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('spreads reconnects with full jitter under a ceiling that doubles up to the maximum', () => {
    expect(reconnectDelayMilliseconds(0, 200, 30_000, () => 0.999)).toBe(199);
    expect(reconnectDelayMilliseconds(3, 200, 30_000, () => 0.5)).toBe(800);
    expect(reconnectDelayMilliseconds(20, 200, 30_000, () => 0.999)).toBe(29_970);
    expect(reconnectDelayMilliseconds(1_000, 200, 30_000, () => 0)).toBe(0);
  });
});

// Real captures, read in place from ../shared/fixtures (never copied into the repository).
const FIXTURES = fileURLToPath(new URL('../../../../shared/fixtures/freeswitch/', import.meta.url));
const present = existsSync(FIXTURES);
const describeReal = present ? describe : describe.skip;
const skipped = present ? '' : ' (skipped: ../shared/fixtures not present)';
const read = (path: string): Buffer => readFileSync(`${FIXTURES}${path}`);

describeReal(`ESL client with real captures${skipped}`, () => {
  it('delivers the 45 events of the 2012 capture in order, in 1000-byte writes', async () => {
    const { standIn, events } = await connected({ eventFormat: 'plain' });
    const captured = read('transcripts/esl_stream_2012_cgrates-fsock_capture.txt');
    const artifact = captured.indexOf('uuid_transfer ');
    const stream = Buffer.concat([
      captured.subarray(0, artifact),
      captured.subarray(artifact + 'uuid_transfer '.length),
    ]);
    standIn.sendRaw(stream, { chunkBytes: 1_000 });
    await eventually(() => events.length === 45, '45 events');
    expect(eventHeader(events[0] ?? { headers: [] }, 'Event-Name')).toBe('HEARTBEAT');
    expect(named(events, 'CHANNEL_PARK')).toHaveLength(1);
    expect(eventHeader(named(events, 'CHANNEL_HANGUP_COMPLETE')[0] ?? { headers: [] }, 'variable_billsec')).toBe('0');
  });

  it('survives the raw capture’s hand-edit artifact: the events before it arrive, then a reset and a reconnect', async () => {
    const { standIn, client, events, states } = await connected({ eventFormat: 'plain' });
    standIn.sendRaw(read('transcripts/esl_stream_2012_cgrates-fsock_capture.txt'));
    await eventually(() => states.some((change) => change.state === 'disconnected'), 'the reset');
    expect(events.length).toBe(33);
    await client.whenConnected();
  });

  it('authorizes a replayed real CHANNEL_PARK (fresh uuids) with the exact commands', async () => {
    const { standIn, client, events } = await connected({ eventFormat: 'json' });
    const mapping = standIn.replayFrame(read('events/park_2012_fsock-capture_framed.plain.frame'));
    const uuid = mapping.get('303c0f9f-4b32-4b9b-9f77-df0ca215bbe7');
    await eventually(() => events.length === 1, 'the replayed park');
    const plan = callControlCommands(events[0] ?? { headers: [] }, { authorized: true, maxSeconds: 900, reason: null });
    if (!plan.ok) throw new Error(plan.reason);
    const outcomes = [];
    for (const command of plan.commands) outcomes.push(await client.apiOutcome(command));
    expect(outcomes.map((outcome) => outcome.kind)).toEqual(['ok', 'ok', 'ok']);
    expect(standIn.apiCommands).toEqual([
      `uuid_setvar_multi ${uuid} billing_auth=OK;billing_max_sec=900`,
      `uuid_setvar ${uuid} execute_on_answer sched_hangup +900 ALLOTTED_TIMEOUT`,
      `uuid_transfer ${uuid} 4986517174963 XML b2bua`,
    ]);
  });

  it('delivers a real CHANNEL_HANGUP_COMPLETE in json form with its array variables intact', async () => {
    const { standIn, events } = await connected({ eventFormat: 'json' });
    standIn.replayFrame(read('events/DERIVED_chc_2018_cgrates_park-auth_5a3a1d91.json.frame'), { freshUuids: false });
    await eventually(() => events.length === 1, 'the event');
    const complete = events[0];
    if (complete === undefined) throw new Error('no event');
    expect(eventHeader(complete, 'variable_billmsec')).toBe('20600');
    expect(complete.headers).toContainEqual(['variable_DP_MATCH', ['1002', '1002']]);
    // And re-serialized as FreeSWITCH would in plain form, the array is the plain ARRAY:: text.
    expect(eventFrame(complete, 'plain').toString()).toContain('variable_DP_MATCH: ARRAY%3A%3A1002%7C%3A1002\n');
  });
});
