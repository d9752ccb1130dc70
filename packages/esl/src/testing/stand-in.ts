/**
 * A stand-in for FreeSWITCH's inbound event socket, for tests: a TCP server on 127.0.0.1 that speaks ESL the way
 * mod_event_socket does (research/esl-protocol.md §7's checklist), keeps a model of channels so the call-control
 * commands get FreeSWITCH's real answers, records every command it receives, and emits events built like the real
 * captured frames (same header names in the same order, FreeSWITCH's URL encoding, fresh uuids).
 *
 * Reply strings are FreeSWITCH's own (mod_event_socket.c parse_command, mod_commands.c), e.g. `-ERR No Such
 * Channel!\n` as api/response, `+OK Deleted: 1\n` for sched_del, `{"row_count": 0}\n` for no channels.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import {
  hangupCause as checkedHangupCause,
  HANGUP_CAUSES,
  SET_VARIABLES_MAX,
  SHOW_CHANNELS_COMMAND,
} from '../commands.ts';
import {
  apiResponseFrame,
  authRequestFrame,
  commandReplyFrame,
  DISCONNECT_NOTICE_BODY,
  disconnectNoticeFrame,
  type EslCommand,
  EslCommandParser,
  type EslEvent,
  EslFrameParser,
  type EslHeader,
  eventFrame,
  eventHeader,
  eventName,
  frameHeader,
  headerValueText,
  interpretFrame,
  SHUTDOWN_NOTICE_BODY,
} from '../frames.ts';

/** Commands kept for assertions; a test that sends more is doing something else. */
export const STAND_IN_COMMANDS_RECORDED_MAX = 100_000;
/** Concurrent connections; FreeSWITCH has no such limit, but a test that opens more is leaking. */
export const STAND_IN_CONNECTIONS_MAX = 64;
export const STAND_IN_WAIT_MILLISECONDS_DEFAULT = 5_000;

/** Every event name FreeSWITCH accepts in `event …` (switch_event.c EVENT_NAMES); others are skipped silently. */
const EVENT_NAMES = new Set(
  (
    'CUSTOM CLONE CHANNEL_CREATE CHANNEL_DESTROY CHANNEL_STATE CHANNEL_CALLSTATE CHANNEL_ANSWER CHANNEL_HANGUP ' +
    'CHANNEL_HANGUP_COMPLETE CHANNEL_EXECUTE CHANNEL_EXECUTE_COMPLETE CHANNEL_HOLD CHANNEL_UNHOLD CHANNEL_BRIDGE ' +
    'CHANNEL_UNBRIDGE CHANNEL_PROGRESS CHANNEL_PROGRESS_MEDIA CHANNEL_OUTGOING CHANNEL_PARK CHANNEL_UNPARK ' +
    'CHANNEL_APPLICATION CHANNEL_ORIGINATE CHANNEL_UUID API LOG INBOUND_CHAN OUTBOUND_CHAN STARTUP SHUTDOWN ' +
    'PUBLISH UNPUBLISH TALK NOTALK SESSION_CRASH MODULE_LOAD MODULE_UNLOAD DTMF MESSAGE PRESENCE_IN NOTIFY_IN ' +
    'PRESENCE_OUT PRESENCE_PROBE MESSAGE_WAITING MESSAGE_QUERY ROSTER CODEC BACKGROUND_JOB DETECTED_SPEECH ' +
    'DETECTED_TONE PRIVATE_COMMAND HEARTBEAT TRAP ADD_SCHEDULE DEL_SCHEDULE EXE_SCHEDULE RE_SCHEDULE RELOADXML ' +
    'NOTIFY PHONE_FEATURE PHONE_FEATURE_SUBSCRIBE SEND_MESSAGE RECV_MESSAGE REQUEST_PARAMS CHANNEL_DATA GENERAL ' +
    'COMMAND SESSION_HEARTBEAT CLIENT_DISCONNECTED SERVER_DISCONNECTED SEND_INFO RECV_INFO RECV_RTCP_MESSAGE ' +
    'SEND_RTCP_MESSAGE CALL_SECURE NAT RECORD_START RECORD_STOP PLAYBACK_START PLAYBACK_STOP CALL_UPDATE FAILURE ' +
    'SOCKET_DATA MEDIA_BUG_START MEDIA_BUG_STOP CONFERENCE_DATA_QUERY CONFERENCE_DATA CALL_SETUP_REQ ' +
    'CALL_SETUP_RESULT CALL_DETAIL DEVICE_STATE TEXT SHUTDOWN_REQUESTED ALL'
  ).split(' '),
);

const UUID_PATTERN = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi;

export interface StandInIdentity {
  readonly coreUuid: string;
  readonly hostname: string;
  readonly switchname: string;
  readonly ipv4: string;
  readonly ipv6: string;
}

export interface FreeswitchStandInOptions {
  readonly host?: string;
  /** 0 (the default) picks a free port. */
  readonly port?: number;
  /** `ClueCon`, FreeSWITCH's default. */
  readonly password?: string;
  /** Microseconds since the epoch, FreeSWITCH's event clock. */
  readonly clockMicroseconds?: () => number;
  /** The switch's local time zone, for Event-Date-Local (India: 330). */
  readonly localTimeOffsetMinutes?: number;
  readonly identity?: Partial<StandInIdentity>;
  /** The Event-Sequence of the first event. */
  readonly eventSequenceStart?: number;
  readonly newUuid?: () => string;
  /** Answers API commands the stand-in does not model (return undefined to fall through). */
  readonly apiHandler?: (command: string, argument: string) => string | undefined;
}

export interface RecordedCommand {
  readonly connectionId: number;
  readonly receivedAtMicroseconds: number;
  /** The command line, e.g. `api uuid_kill … OUTGOING_CALL_BARRED` (an `auth` line is recorded as `auth ********`). */
  readonly line: string;
  readonly headers: readonly (readonly [string, string])[];
}

export interface ParkCall {
  readonly uuid?: string;
  readonly callerNumber: string;
  readonly callerName?: string;
  readonly destination: string;
  readonly context?: string;
  readonly accountCode?: string | null;
  readonly direction?: 'inbound' | 'outbound';
  readonly sipCallId?: string;
  /** More channel variables, appended after the usual ones. */
  readonly variables?: Readonly<Record<string, string>>;
}

export interface ScheduledTask {
  readonly id: number;
  readonly group: string;
  readonly command: string;
  readonly runAtSeconds: number;
}

export interface StandInChannel {
  readonly uuid: string;
  readonly state: 'parked' | 'routing' | 'answered' | 'hungup';
  readonly callerNumber: string;
  readonly callerName: string;
  readonly destination: string;
  readonly context: string;
  readonly direction: 'inbound' | 'outbound';
  readonly createdAtMicroseconds: number;
  readonly answeredAtMicroseconds: number;
  readonly hangupAtMicroseconds: number;
  readonly hangupCause: string | null;
  readonly variables: ReadonlyMap<string, string>;
  readonly transfers: readonly { readonly destination: string; readonly dialplan: string; readonly context: string }[];
}

interface MutableChannel {
  uuid: string;
  state: StandInChannel['state'];
  callerNumber: string;
  callerName: string;
  destination: string;
  context: string;
  direction: 'inbound' | 'outbound';
  createdAtMicroseconds: number;
  answeredAtMicroseconds: number;
  hangupAtMicroseconds: number;
  hangupCause: string | null;
  profileIndex: number;
  /** Set by a transfer: where the call came from (Caller-RDNIS) and FreeSWITCH's transfer_source text. */
  rdnis: string | null;
  transferSource: string | null;
  variables: Map<string, string>;
  transfers: { destination: string; dialplan: string; context: string }[];
}

interface Filter {
  readonly header: string;
  readonly value: string;
  readonly negative: boolean;
}

interface ConnectionState {
  readonly id: number;
  readonly socket: Socket;
  readonly parser: EslCommandParser;
  authenticated: boolean;
  /** An API call is hanging: like FreeSWITCH's listener thread, nothing more is answered on this connection. */
  blocked: boolean;
  format: 'plain' | 'json' | null;
  allEvents: boolean;
  readonly events: Set<string>;
  readonly filters: Filter[];
}

function pad(value: number, width = 2): string {
  return String(value).padStart(width, '0');
}

export class FreeswitchStandIn {
  readonly host: string;
  readonly identity: StandInIdentity;
  readonly #password: string;
  readonly #server: Server;
  readonly #clockMicroseconds: () => number;
  readonly #localTimeOffsetMinutes: number;
  readonly #newUuid: () => string;
  readonly #apiHandler: FreeswitchStandInOptions['apiHandler'];
  readonly #connections = new Map<number, ConnectionState>();
  readonly #channels = new Map<string, MutableChannel>();
  readonly #commands: RecordedCommand[] = [];
  readonly #commandWaiters = new Set<() => void>();
  readonly #tasks: ScheduledTask[] = [];
  #holdingApiReplies = false;
  #nextConnectionId = 1;
  #nextTaskId = 1;
  #eventSequence: number;
  #port = 0;

  private constructor(options: FreeswitchStandInOptions) {
    this.host = options.host ?? '127.0.0.1';
    this.#password = options.password ?? 'ClueCon';
    this.#clockMicroseconds = options.clockMicroseconds ?? (() => Date.now() * 1000);
    this.#localTimeOffsetMinutes = options.localTimeOffsetMinutes ?? 0;
    this.#newUuid = options.newUuid ?? randomUUID;
    this.#apiHandler = options.apiHandler;
    this.#eventSequence = options.eventSequenceStart ?? 1;
    this.identity = {
      coreUuid: options.identity?.coreUuid ?? this.#newUuid(),
      hostname: options.identity?.hostname ?? 'khata-standin',
      switchname: options.identity?.switchname ?? options.identity?.hostname ?? 'khata-standin',
      ipv4: options.identity?.ipv4 ?? '127.0.0.1',
      ipv6: options.identity?.ipv6 ?? '::1',
    };
    this.#server = createServer((socket) => this.#accept(socket));
  }

  static async start(options: FreeswitchStandInOptions = {}): Promise<FreeswitchStandIn> {
    const standIn = new FreeswitchStandIn(options);
    await new Promise<void>((resolve, reject) => {
      standIn.#server.once('error', reject);
      standIn.#server.listen(options.port ?? 0, standIn.host, () => resolve());
    });
    const address = standIn.#server.address();
    standIn.#port = typeof address === 'object' && address !== null ? address.port : 0;
    return standIn;
  }

  get port(): number {
    return this.#port;
  }

  get commands(): readonly RecordedCommand[] {
    return this.#commands;
  }

  /** The API commands received (`api X` and `bgapi X` both give `X`), in order. */
  get apiCommands(): readonly string[] {
    return this.#commands.flatMap(({ line }) => {
      const match = /^(?:bg)?api (.*)$/.exec(line);
      return match?.[1] === undefined ? [] : [match[1]];
    });
  }

  get connectionCount(): number {
    return this.#connections.size;
  }

  /** Connections that authenticated and subscribed to at least one event. */
  get subscribedConnectionCount(): number {
    let count = 0;
    for (const connection of this.#connections.values()) if (this.#isSubscribed(connection)) count++;
    return count;
  }

  get scheduledTasks(): readonly ScheduledTask[] {
    return this.#tasks;
  }

  /**
   * While on, `api` commands are recorded but never answered, like a FreeSWITCH whose API call hangs (an `api`
   * runs on the listener's thread, so nothing else comes back on that connection either).
   */
  holdApiReplies(holding: boolean): void {
    this.#holdingApiReplies = holding;
  }

  channel(uuid: string): StandInChannel | undefined {
    return this.#channels.get(uuid);
  }

  /** Resolves with the first recorded command (from `fromIndex` on) that satisfies the predicate. */
  waitForCommand(
    predicate: (command: RecordedCommand) => boolean,
    options: { readonly fromIndex?: number; readonly timeoutMilliseconds?: number } = {},
  ): Promise<RecordedCommand> {
    const find = (): RecordedCommand | undefined => this.#commands.slice(options.fromIndex ?? 0).find(predicate);
    return this.#waitFor(find, options.timeoutMilliseconds, 'command');
  }

  /** Resolves once `count` connections are authenticated and subscribed to events. */
  waitForSubscribers(count: number, timeoutMilliseconds?: number): Promise<void> {
    return this.#waitFor(
      () => (this.subscribedConnectionCount >= count ? true : undefined),
      timeoutMilliseconds,
      `${count} subscribers`,
    ).then(() => undefined);
  }

  #waitFor<T>(find: () => T | undefined, timeoutMilliseconds: number | undefined, what: string): Promise<T> {
    const found = find();
    if (found !== undefined) return Promise.resolve(found);
    const limit = timeoutMilliseconds ?? STAND_IN_WAIT_MILLISECONDS_DEFAULT;
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const result = find();
        if (result === undefined) return;
        clearTimeout(timer);
        this.#commandWaiters.delete(check);
        resolve(result);
      };
      const timer = setTimeout(() => {
        this.#commandWaiters.delete(check);
        reject(new Error(`the stand-in saw no ${what} within ${limit} ms`));
      }, limit);
      this.#commandWaiters.add(check);
    });
  }

  #notifyWaiters(): void {
    for (const check of [...this.#commandWaiters]) check();
  }

  // -------------------------------------------------------------------------------------------------------------
  // Connections and commands

  #accept(socket: Socket): void {
    if (this.#connections.size >= STAND_IN_CONNECTIONS_MAX) {
      socket.destroy();
      return;
    }
    const connection: ConnectionState = {
      id: this.#nextConnectionId++,
      socket,
      parser: new EslCommandParser(),
      authenticated: false,
      blocked: false,
      format: null,
      allEvents: false,
      events: new Set(),
      filters: [],
    };
    this.#connections.set(connection.id, connection);
    socket.setNoDelay(true);
    socket.on('error', () => {
      // A client that resets is normal (that is what the client tests do); the close handler cleans up.
    });
    socket.on('close', () => {
      this.#connections.delete(connection.id);
      this.#notifyWaiters();
    });
    socket.on('data', (chunk: Buffer) => {
      const { commands, error } = connection.parser.push(chunk);
      for (const command of commands) this.#handle(connection, command);
      if (error !== null) socket.destroy();
    });
    socket.write(authRequestFrame());
  }

  #record(connection: ConnectionState, command: EslCommand): void {
    if (this.#commands.length >= STAND_IN_COMMANDS_RECORDED_MAX) return;
    const line = /^auth /i.test(command.line) ? 'auth ********' : command.line;
    this.#commands.push({
      connectionId: connection.id,
      receivedAtMicroseconds: this.#clockMicroseconds(),
      line,
      headers: command.headers,
    });
  }

  #write(connection: ConnectionState, bytes: Uint8Array): void {
    if (!connection.socket.destroyed) connection.socket.write(bytes);
  }

  #hangUpConnection(connection: ConnectionState, noticeBody: string = DISCONNECT_NOTICE_BODY): void {
    this.#write(connection, disconnectNoticeFrame(noticeBody));
    connection.socket.end();
  }

  #handle(connection: ConnectionState, command: EslCommand): void {
    this.#record(connection, command);
    if (connection.blocked) {
      this.#notifyWaiters();
      return;
    }
    const [verb = '', ...rest] = command.line.split(' ');
    const argument = rest.join(' ');
    const keyword = verb.toLowerCase();
    if (!connection.authenticated) {
      if (keyword === 'auth') {
        if (argument === this.#password) {
          connection.authenticated = true;
          this.#write(connection, commandReplyFrame('+OK accepted'));
        } else {
          this.#write(connection, commandReplyFrame('-ERR invalid'));
          this.#hangUpConnection(connection);
        }
      } else if (keyword === 'exit') {
        this.#write(connection, commandReplyFrame('+OK bye'));
        this.#hangUpConnection(connection);
      } else {
        this.#write(connection, commandReplyFrame('-ERR command not found'));
      }
      this.#notifyWaiters();
      return;
    }
    switch (keyword) {
      case 'event':
        this.#subscribe(connection, rest);
        break;
      case 'nixevent':
        for (const name of rest) connection.events.delete(name.toUpperCase());
        if (rest.some((name) => name.toUpperCase() === 'ALL')) connection.allEvents = false;
        this.#write(connection, commandReplyFrame('+OK events nixed'));
        break;
      case 'noevents':
        if (connection.format === null) this.#write(connection, commandReplyFrame('-ERR not listening for events'));
        else {
          connection.format = null;
          connection.allEvents = false;
          connection.events.clear();
          this.#write(connection, commandReplyFrame('+OK no longer listening for events'));
        }
        break;
      case 'filter':
        this.#filter(connection, rest);
        break;
      case 'api':
        if (this.#holdingApiReplies) connection.blocked = true;
        else this.#write(connection, apiResponseFrame(this.#api(argument)));
        break;
      case 'bgapi':
        this.#backgroundApi(connection, argument, frameHeader(command, 'Job-UUID'));
        break;
      case 'exit':
        this.#write(connection, commandReplyFrame('+OK bye'));
        this.#hangUpConnection(connection);
        break;
      case 'sendmsg':
        this.#sendMessage(connection, argument, command);
        break;
      default:
        this.#write(connection, commandReplyFrame('-ERR command not found'));
    }
    this.#notifyWaiters();
  }

  #subscribe(connection: ConnectionState, words: readonly string[]): void {
    let format: 'plain' | 'json' | null = null;
    let known = 0;
    let custom = false;
    for (const word of words) {
      const upper = word.toUpperCase();
      if (upper === 'PLAIN' || upper === 'JSON') {
        format = upper === 'PLAIN' ? 'plain' : 'json';
        continue;
      }
      if (custom) {
        connection.events.add(word);
        known++;
        continue;
      }
      if (!EVENT_NAMES.has(upper)) continue;
      known++;
      if (upper === 'ALL') connection.allEvents = true;
      else if (upper === 'CUSTOM') custom = true;
      else connection.events.add(upper);
    }
    if (known === 0) {
      this.#write(connection, commandReplyFrame('-ERR no keywords supplied'));
      return;
    }
    // The format word sets the format of the whole connection (mod_event_socket keeps one per listener). The xml
    // format is not modelled: Khata never uses it, and the word is skipped like an unknown event name.
    connection.format = format ?? connection.format ?? 'plain';
    this.#write(connection, commandReplyFrame(`+OK event listener enabled ${connection.format}`));
  }

  #filter(connection: ConnectionState, words: readonly string[]): void {
    if (words[0]?.toLowerCase() === 'delete') {
      const [, header = '', ...valueWords] = words;
      const value = valueWords.join(' ');
      if (header.toLowerCase() === 'all') connection.filters.splice(0);
      else {
        for (let index = connection.filters.length - 1; index >= 0; index--) {
          const filter = connection.filters[index];
          if (filter?.header === header && (value === '' || filter.value === value))
            connection.filters.splice(index, 1);
        }
      }
      this.#write(connection, commandReplyFrame(`+OK filter deleted. [${header}][${value}]`));
      return;
    }
    const [header, ...valueWords] = words;
    const value = valueWords.join(' ');
    if (header === undefined || value === '') {
      this.#write(connection, commandReplyFrame('-ERR invalid syntax'));
      return;
    }
    const negative = value.startsWith('-');
    connection.filters.push({ header, value: negative ? value.slice(1) : value, negative });
    this.#write(connection, commandReplyFrame(`+OK filter added. [${header}]=[${value}]`));
  }

  #sendMessage(connection: ConnectionState, uuid: string, command: EslCommand): void {
    const channel = this.#channels.get(uuid);
    if (channel === undefined || channel.state === 'hungup') {
      this.#write(connection, commandReplyFrame(`-ERR invalid session id [${uuid}]`));
      return;
    }
    this.#write(connection, commandReplyFrame('+OK'));
    const header = (name: string): string | undefined =>
      command.headers.find(([key]) => key.toLowerCase() === name)?.[1];
    if (header('call-command') === 'hangup') {
      const cause = header('hangup-cause') ?? 'NORMAL_CLEARING';
      setImmediate(() => this.#hangUpChannel(channel, HANGUP_CAUSES.has(cause) ? cause : 'NORMAL_CLEARING'));
    }
  }

  #backgroundApi(connection: ConnectionState, argument: string, requestedJobUuid: string | undefined): void {
    const jobUuid = requestedJobUuid ?? this.#newUuid();
    this.#write(connection, commandReplyFrame(`+OK Job-UUID: ${jobUuid}`, [['Job-UUID', jobUuid]]));
    setImmediate(() => {
      const [command = '', ...rest] = argument.split(' ');
      const result = this.#api(argument);
      const headers: EslHeader[] = [
        ...this.#eventPrefix('BACKGROUND_JOB', 'mod_event_socket.c', 'api_exec', 1456),
        ['Job-UUID', jobUuid],
        ['Job-Command', command],
      ];
      if (rest.length > 0) headers.push(['Job-Command-Arg', rest.join(' ')]);
      this.emit({ headers, body: result });
    });
  }

  // -------------------------------------------------------------------------------------------------------------
  // API commands (mod_commands.c)

  #api(argument: string): string {
    const [command = '', ...rest] = argument.split(' ');
    const tail = rest.join(' ');
    const custom = this.#apiHandler?.(command, tail);
    if (custom !== undefined) return custom;
    const noSuchChannel = '-ERR No Such Channel!\n';
    switch (command) {
      case 'uuid_setvar': {
        const [uuid = '', name = '', ...valueWords] = rest;
        if (uuid === '' || name === '') return '-USAGE: <uuid> <var> [value]\n';
        const channel = this.#liveChannel(uuid);
        if (channel === undefined) return noSuchChannel;
        if (valueWords.length === 0) channel.variables.delete(name);
        else channel.variables.set(name, valueWords.join(' '));
        return '+OK\n';
      }
      case 'uuid_setvar_multi': {
        const [uuid = '', ...pairWords] = rest;
        const channel = this.#liveChannel(uuid);
        if (pairWords.length === 0) return '-USAGE: <uuid> <var>=<value>;<var>=<value>...\n';
        if (channel === undefined) return noSuchChannel;
        for (const pair of pairWords.join(' ').split(';').slice(0, SET_VARIABLES_MAX)) {
          const separator = pair.indexOf('=');
          if (separator > 0) channel.variables.set(pair.slice(0, separator), pair.slice(separator + 1));
        }
        return '+OK\n';
      }
      case 'uuid_getvar': {
        const [uuid = '', name = ''] = rest;
        const channel = this.#liveChannel(uuid);
        if (channel === undefined) return noSuchChannel;
        return channel.variables.get(name) ?? '_undef_';
      }
      case 'uuid_exists':
        return this.#liveChannel(rest[0] ?? '') === undefined ? 'false' : 'true';
      case 'uuid_transfer': {
        const [uuid = '', first = '', ...others] = rest;
        if (uuid === '' || first === '') return '-USAGE: <uuid> [-bleg|-both] <dest-exten> [<dialplan>] [<context>]\n';
        const channel = this.#liveChannel(uuid);
        if (channel === undefined) return noSuchChannel;
        const [destination = '', dialplan = 'XML', context = channel.context] = first.startsWith('-')
          ? others
          : [first, ...others];
        this.#transfer(channel, destination, dialplan, context);
        return '+OK\n';
      }
      case 'uuid_kill': {
        const [uuid = '', cause = 'NORMAL_CLEARING'] = rest;
        const channel = this.#liveChannel(uuid);
        if (channel === undefined) return noSuchChannel;
        setImmediate(() => this.#hangUpChannel(channel, HANGUP_CAUSES.has(cause) ? cause : 'NORMAL_CLEARING'));
        return '+OK\n';
      }
      case 'sched_hangup': {
        const [when = '', uuid = '', cause = 'ALLOTTED_TIMEOUT'] = rest;
        if (when === '') return '-USAGE: [+]<time> <uuid> [<cause>]\n';
        const channel = this.#liveChannel(uuid);
        if (channel === undefined) return noSuchChannel;
        this.#schedule(uuid, when, `hangup ${HANGUP_CAUSES.has(cause) ? cause : 'NORMAL_CLEARING'}`);
        return '+OK\n';
      }
      case 'sched_broadcast': {
        const [when = '', uuid = '', path = '', leg = 'aleg'] = rest;
        if (when === '' || uuid === '' || path === '') return '-USAGE: [+]<time> <uuid> <path> [aleg|bleg|both]\n';
        // FreeSWITCH schedules it without checking the channel.
        this.#schedule(uuid, when, `broadcast ${path} ${leg}`);
        return '+OK Message Scheduled\n';
      }
      case 'sched_del': {
        if (tail === '') return '-ERR Invalid syntax\n';
        const before = this.#tasks.length;
        const byId = /^\d+$/.test(tail);
        for (let index = this.#tasks.length - 1; index >= 0; index--) {
          const task = this.#tasks[index];
          if (task !== undefined && (byId ? String(task.id) === tail : task.group === tail))
            this.#tasks.splice(index, 1);
        }
        return `+OK Deleted: ${before - this.#tasks.length}\n`;
      }
      case 'show':
        if (argument === SHOW_CHANNELS_COMMAND) return this.#showChannels();
        return '-USAGE: codec|endpoint|application|api|dialplan|file|timer|calls [count]|channels [count|like <match string>]\n';
      case 'hupall': {
        const [cause = 'MANAGER_REQUEST', variable, value] = rest;
        for (const channel of this.#channels.values()) {
          if (channel.state === 'hungup') continue;
          if (variable !== undefined && channel.variables.get(variable) !== value) continue;
          setImmediate(() => this.#hangUpChannel(channel, HANGUP_CAUSES.has(cause) ? cause : 'MANAGER_REQUEST'));
        }
        return variable === undefined
          ? `+OK hangup all channels with cause ${cause}\n`
          : `+OK hangup all channels matching [${variable}]=[${value}] with cause: ${cause}\n`;
      }
      case 'status':
        return 'UP 0 years, 0 days, 0 hours, 0 minutes, 1 second, 0 milliseconds, 0 microseconds\nFreeSWITCH (stand-in) is ready\n';
      default:
        return `-ERR ${command} Command not found!\n`;
    }
  }

  #liveChannel(uuid: string): MutableChannel | undefined {
    const channel = this.#channels.get(uuid);
    return channel === undefined || channel.state === 'hungup' ? undefined : channel;
  }

  #schedule(group: string, when: string, command: string): void {
    const nowSeconds = Math.floor(this.#clockMicroseconds() / 1_000_000);
    const runAtSeconds = when.startsWith('+') ? nowSeconds + Number(when.slice(1)) : Number(when);
    this.#tasks.push({ id: this.#nextTaskId++, group, command, runAtSeconds });
  }

  #showChannels(): string {
    const rows = [...this.#channels.values()].filter((channel) => channel.state !== 'hungup');
    if (rows.length === 0) return '{"row_count": 0}\n';
    const created = (channel: MutableChannel): string => this.#localDate(channel.createdAtMicroseconds);
    const json = rows.map((channel) => ({
      uuid: channel.uuid,
      direction: channel.direction,
      created: created(channel),
      created_epoch: String(Math.floor(channel.createdAtMicroseconds / 1_000_000)),
      name: this.#channelName(channel),
      state: channel.state === 'answered' ? 'CS_EXCHANGE_MEDIA' : 'CS_EXECUTE',
      cid_name: channel.callerName,
      cid_num: channel.callerNumber,
      ip_addr: '127.0.0.1',
      dest: channel.destination,
      application: channel.state === 'parked' ? 'park' : '',
      application_data: '',
      dialplan: 'XML',
      context: channel.context,
      read_codec: 'PCMA',
      read_rate: '8000',
      read_bit_rate: '64000',
      write_codec: 'PCMA',
      write_rate: '8000',
      write_bit_rate: '64000',
      secure: '',
      hostname: this.identity.hostname,
      presence_id: '',
      presence_data: '',
      accountcode: channel.variables.get('accountcode') ?? '',
      callstate: channel.state === 'answered' ? 'ACTIVE' : 'RINGING',
      callee_name: '',
      callee_num: '',
      callee_direction: '',
      call_uuid: channel.uuid,
      sent_callee_name: '',
      sent_callee_num: '',
      initial_cid_name: channel.callerName,
      initial_cid_num: channel.callerNumber,
      initial_ip_addr: '127.0.0.1',
      initial_dest: channel.destination,
      initial_dialplan: 'XML',
      initial_context: channel.context,
    }));
    return JSON.stringify({ row_count: json.length, rows: json });
  }

  // -------------------------------------------------------------------------------------------------------------
  // Calls and their events

  /** A new A-leg that reaches the `park` application: fires CHANNEL_PARK. Returns its uuid. */
  park(call: ParkCall): string {
    const uuid = call.uuid ?? this.#newUuid();
    const now = this.#clockMicroseconds();
    const channel: MutableChannel = {
      uuid,
      state: 'parked',
      callerNumber: call.callerNumber,
      callerName: call.callerName ?? call.callerNumber,
      destination: call.destination,
      context: call.context ?? 'default',
      direction: call.direction ?? 'inbound',
      createdAtMicroseconds: now,
      answeredAtMicroseconds: 0,
      hangupAtMicroseconds: 0,
      hangupCause: null,
      profileIndex: 1,
      rdnis: null,
      transferSource: null,
      variables: new Map(),
      transfers: [],
    };
    const variables: [string, string][] = [
      ['direction', channel.direction],
      ['uuid', uuid],
      ['session_id', String(this.#channels.size + 1)],
      ['sip_from_user', call.callerNumber],
      ['sip_from_uri', `${call.callerNumber}@${this.identity.ipv4}`],
      ['sip_req_user', call.destination],
      ['sip_to_user', call.destination],
      ['channel_name', this.#channelName(channel)],
      ['sip_call_id', call.sipCallId ?? `${this.#newUuid()}@${this.identity.ipv4}`],
      ['sip_user_agent', 'Khata stand-in'],
      ['read_codec', 'PCMA'],
      ['write_codec', 'PCMA'],
      ['endpoint_disposition', 'RECEIVED'],
    ];
    if (call.accountCode !== undefined && call.accountCode !== null) variables.push(['accountcode', call.accountCode]);
    variables.push(['call_uuid', uuid], ...Object.entries(call.variables ?? {}), ['current_application', 'park']);
    for (const [name, value] of variables) channel.variables.set(name, value);
    this.#channels.set(uuid, channel);
    this.#emitChannelEvent('CHANNEL_PARK', channel, { file: 'switch_ivr.c', function: 'switch_ivr_park', line: 898 });
    return uuid;
  }

  /**
   * The call is answered: fires CHANNEL_ANSWER. When `execute_on_answer` holds `sched_hangup +N CAUSE` (what
   * call control sets), the cap is scheduled as FreeSWITCH would, with the channel's uuid as the task group.
   */
  answer(uuid: string): void {
    const channel = this.#requireLive(uuid);
    channel.state = 'answered';
    channel.answeredAtMicroseconds = this.#clockMicroseconds();
    const onAnswer = channel.variables.get('execute_on_answer');
    const cap = onAnswer === undefined ? null : /^sched_hangup (\+?\d+)(?: (\S+))?$/.exec(onAnswer);
    if (cap !== null) this.#schedule(uuid, cap[1] ?? '+0', `hangup ${cap[2] ?? 'ALLOTTED_TIMEOUT'}`);
    this.#emitChannelEvent('CHANNEL_ANSWER', channel, {
      file: 'switch_channel.c',
      function: 'switch_channel_perform_mark_answered',
      line: 3591,
    });
  }

  /**
   * Ends the call: CHANNEL_HANGUP, then CHANNEL_HANGUP_COMPLETE carrying the billing variables. The call lasted
   * `billableMilliseconds` from its answer (0 for an unanswered call); billsec is computed as FreeSWITCH does,
   * from whole epoch seconds, so it can exceed the true duration by up to a second.
   */
  hangup(uuid: string, cause: string, billableMilliseconds: number): void {
    const channel = this.#requireLive(uuid);
    checkedHangupCause(cause);
    if (!Number.isSafeInteger(billableMilliseconds) || billableMilliseconds < 0) {
      throw new RangeError('billableMilliseconds must be a non-negative integer');
    }
    if (channel.answeredAtMicroseconds === 0 && billableMilliseconds > 0) {
      throw new RangeError('an unanswered call has no billable time');
    }
    const end =
      channel.answeredAtMicroseconds === 0
        ? this.#clockMicroseconds()
        : channel.answeredAtMicroseconds + billableMilliseconds * 1000;
    this.#hangUpChannel(channel, cause, end);
  }

  #requireLive(uuid: string): MutableChannel {
    const channel = this.#liveChannel(uuid);
    if (channel === undefined) throw new Error(`the stand-in has no live channel ${uuid}`);
    return channel;
  }

  #transfer(channel: MutableChannel, destination: string, dialplan: string, context: string): void {
    const wasParked = channel.state === 'parked';
    channel.transfers.push({ destination, dialplan, context });
    // switch_ivr_session_transfer: the old number becomes the RDNIS; transfer_source names the new target.
    const epochSeconds = Math.floor(this.#clockMicroseconds() / 1_000_000);
    channel.rdnis = channel.destination;
    channel.transferSource = `${epochSeconds}:${this.#newUuid()}:bl_xfer:${destination}/${context}/${dialplan}`;
    channel.variables.set('transfer_source', channel.transferSource);
    channel.destination = destination;
    channel.context = context;
    channel.profileIndex += 1;
    if (channel.state === 'parked') channel.state = 'routing';
    if (wasParked) {
      setImmediate(() =>
        this.#emitChannelEvent('CHANNEL_UNPARK', channel, {
          file: 'switch_ivr.c',
          function: 'switch_ivr_park',
          line: 1101,
        }),
      );
    }
  }

  #hangUpChannel(channel: MutableChannel, cause: string, endMicroseconds?: number): void {
    if (channel.state === 'hungup') return;
    const end = endMicroseconds ?? this.#clockMicroseconds();
    channel.state = 'hungup';
    channel.hangupCause = cause;
    channel.hangupAtMicroseconds = end;
    this.#emitChannelEvent(
      'CHANNEL_HANGUP',
      channel,
      { file: 'switch_channel.c', function: 'switch_channel_perform_hangup', line: 2920 },
      [['Hangup-Cause', cause]],
    );
    for (const [name, value] of this.#billingVariables(channel, cause)) channel.variables.set(name, value);
    this.#emitChannelEvent(
      'CHANNEL_HANGUP_COMPLETE',
      channel,
      { file: 'switch_core_state_machine.c', function: 'switch_core_session_reporting_state', line: 949 },
      [['Hangup-Cause', cause]],
    );
  }

  /** The timing variables FreeSWITCH adds at hangup (switch_channel.c switch_channel_set_timestamps). */
  #billingVariables(channel: MutableChannel, cause: string): [string, string][] {
    const start = channel.createdAtMicroseconds;
    const answer = channel.answeredAtMicroseconds;
    const end = channel.hangupAtMicroseconds;
    const seconds = (microseconds: number): number => Math.floor(microseconds / 1_000_000);
    const billUsec = answer === 0 ? 0 : end - answer;
    const durationUsec = end - start;
    return [
      ['hangup_cause', cause],
      ['start_stamp', this.#localDate(start)],
      ['answer_stamp', answer === 0 ? '' : this.#localDate(answer)],
      ['end_stamp', this.#localDate(end)],
      ['start_epoch', String(seconds(start))],
      ['start_uepoch', String(start)],
      ['answer_epoch', String(seconds(answer))],
      ['answer_uepoch', String(answer)],
      ['end_epoch', String(seconds(end))],
      ['end_uepoch', String(end)],
      ['duration', String(seconds(end) - seconds(start))],
      ['billsec', String(answer === 0 ? 0 : seconds(end) - seconds(answer))],
      ['mduration', String(Math.floor(durationUsec / 1000))],
      ['billmsec', String(Math.floor(billUsec / 1000))],
      ['uduration', String(durationUsec)],
      ['billusec', String(billUsec)],
    ].filter(([, value]) => value !== '') as [string, string][];
  }

  #channelName(channel: Pick<MutableChannel, 'callerNumber'>): string {
    return `sofia/internal/${channel.callerNumber}@${this.identity.ipv4}`;
  }

  #emitChannelEvent(
    name: string,
    channel: MutableChannel,
    origin: { readonly file: string; readonly function: string; readonly line: number },
    beforeChannelData: readonly EslHeader[] = [],
  ): void {
    const answered = channel.answeredAtMicroseconds !== 0;
    const hungUp = channel.state === 'hungup';
    const reporting = name === 'CHANNEL_HANGUP_COMPLETE';
    const channelState = reporting ? 'CS_REPORTING' : hungUp ? 'CS_HANGUP' : 'CS_EXECUTE';
    const headers: EslHeader[] = [
      ...this.#eventPrefix(name, origin.file, origin.function, origin.line),
      ...beforeChannelData,
      ['Channel-State', channelState],
      ['Channel-Call-State', hungUp ? 'HANGUP' : answered ? 'ACTIVE' : 'RINGING'],
      ['Channel-State-Number', reporting ? '11' : hungUp ? '10' : '4'],
      ['Channel-Name', this.#channelName(channel)],
      ['Unique-ID', channel.uuid],
      ['Call-Direction', channel.direction],
      ['Presence-Call-Direction', channel.direction],
      ['Channel-HIT-Dialplan', 'true'],
      ['Channel-Presence-ID', `${channel.callerNumber}@${this.identity.ipv4}`],
      ['Channel-Call-UUID', channel.uuid],
      ['Answer-State', hungUp ? 'hangup' : answered ? 'answered' : 'ringing'],
    ];
    // CHANNEL_HANGUP_COMPLETE repeats Hangup-Cause inside the channel data (FreeSWITCH ≥1.4; see the 2015 capture).
    if (reporting && channel.hangupCause !== null) headers.push(['Hangup-Cause', channel.hangupCause]);
    headers.push(
      ['Channel-Read-Codec-Name', 'PCMA'],
      ['Channel-Read-Codec-Rate', '8000'],
      ['Channel-Read-Codec-Bit-Rate', '64000'],
      ['Channel-Write-Codec-Name', 'PCMA'],
      ['Channel-Write-Codec-Rate', '8000'],
      ['Channel-Write-Codec-Bit-Rate', '64000'],
      ['Caller-Direction', channel.direction],
      ['Caller-Logical-Direction', channel.direction],
      ['Caller-Username', channel.callerNumber],
      ['Caller-Dialplan', 'XML'],
      ['Caller-Caller-ID-Name', channel.callerName],
      ['Caller-Caller-ID-Number', channel.callerNumber],
      ['Caller-Orig-Caller-ID-Name', channel.callerName],
      ['Caller-Orig-Caller-ID-Number', channel.callerNumber],
    );
    // The optional profile fields appear only once they have a value, at these places (see the 2014/2018 captures).
    if (answered)
      headers.push(['Caller-Callee-ID-Name', 'Outbound Call'], ['Caller-Callee-ID-Number', channel.destination]);
    headers.push(
      ['Caller-Network-Addr', this.identity.ipv4],
      ['Caller-ANI', channel.callerNumber],
      ['Caller-Destination-Number', channel.destination],
      ['Caller-Unique-ID', channel.uuid],
      ['Caller-Source', 'mod_sofia'],
    );
    if (channel.transferSource !== null) headers.push(['Caller-Transfer-Source', channel.transferSource]);
    headers.push(['Caller-Context', channel.context]);
    if (channel.rdnis !== null) headers.push(['Caller-RDNIS', channel.rdnis]);
    headers.push(
      ['Caller-Channel-Name', this.#channelName(channel)],
      ['Caller-Profile-Index', String(channel.profileIndex)],
      ['Caller-Profile-Created-Time', String(channel.createdAtMicroseconds)],
      ['Caller-Channel-Created-Time', String(channel.createdAtMicroseconds)],
      ['Caller-Channel-Answered-Time', String(channel.answeredAtMicroseconds)],
      ['Caller-Channel-Progress-Time', '0'],
      ['Caller-Channel-Progress-Media-Time', String(channel.answeredAtMicroseconds)],
      ['Caller-Channel-Hangup-Time', String(channel.hangupAtMicroseconds)],
      ['Caller-Channel-Transfer-Time', '0'],
      ['Caller-Channel-Resurrect-Time', '0'],
      ['Caller-Channel-Bridged-Time', '0'],
      ['Caller-Channel-Last-Hold', '0'],
      ['Caller-Channel-Hold-Accum', '0'],
      ['Caller-Screen-Bit', 'true'],
      ['Caller-Privacy-Hide-Name', 'false'],
      ['Caller-Privacy-Hide-Number', 'false'],
    );
    for (const [variable, value] of channel.variables) headers.push([`variable_${variable}`, value]);
    this.emit({ headers, body: null });
  }

  /** The headers every FreeSWITCH event starts with (switch_event_prep_for_delivery_detailed), in that order. */
  #eventPrefix(name: string, file: string, functionName: string, line: number): EslHeader[] {
    const now = this.#clockMicroseconds();
    const sequence = this.#eventSequence++;
    return [
      ['Event-Name', name],
      ['Core-UUID', this.identity.coreUuid],
      ['FreeSWITCH-Hostname', this.identity.hostname],
      ['FreeSWITCH-Switchname', this.identity.switchname],
      ['FreeSWITCH-IPv4', this.identity.ipv4],
      ['FreeSWITCH-IPv6', this.identity.ipv6],
      ['Event-Date-Local', this.#localDate(now)],
      ['Event-Date-GMT', new Date(Math.floor(now / 1000)).toUTCString()],
      ['Event-Date-Timestamp', String(now)],
      ['Event-Calling-File', file],
      ['Event-Calling-Function', functionName],
      ['Event-Calling-Line-Number', String(line)],
      ['Event-Sequence', String(sequence)],
    ];
  }

  /** `YYYY-MM-DD hh:mm:ss` in the switch's local time. */
  #localDate(microseconds: number): string {
    const local = new Date(Math.floor(microseconds / 1000) + this.#localTimeOffsetMinutes * 60_000);
    return (
      `${local.getUTCFullYear()}-${pad(local.getUTCMonth() + 1)}-${pad(local.getUTCDate())} ` +
      `${pad(local.getUTCHours())}:${pad(local.getUTCMinutes())}:${pad(local.getUTCSeconds())}`
    );
  }

  // -------------------------------------------------------------------------------------------------------------
  // Delivery

  #isSubscribed(connection: ConnectionState): boolean {
    return (
      connection.authenticated && connection.format !== null && (connection.allEvents || connection.events.size > 0)
    );
  }

  #wants(connection: ConnectionState, event: EslEvent): boolean {
    // A listener stuck in an API call sends nothing, events included, until the call returns.
    if (!this.#isSubscribed(connection) || connection.blocked) return false;
    const name = eventHeader(event, 'Event-Name') ?? '';
    const subclass = eventHeader(event, 'Event-Subclass');
    const subscribed =
      connection.allEvents ||
      connection.events.has(name) ||
      (name === 'CUSTOM' && subclass !== undefined && connection.events.has(subclass));
    if (!subscribed) return false;
    if (connection.filters.length === 0) return true;
    // research/esl-protocol.md §2: only positive matches deliver, a negative match suppresses, and a filter whose
    // header the event lacks is ignored — so with only negative filters nothing is delivered.
    let matched = false;
    for (const filter of connection.filters) {
      const value = eventHeader(event, filter.header);
      if (value === undefined) continue;
      const matches = filter.value.startsWith('/')
        ? new RegExp(filter.value.slice(1, filter.value.endsWith('/') ? -1 : undefined)).test(value)
        : value.toLowerCase() === filter.value.toLowerCase();
      if (matches && filter.negative) return false;
      if (matches) matched = true;
    }
    return matched;
  }

  /** Sends an event to every connection subscribed to it, in the connection's format. */
  emit(event: EslEvent): void {
    const frames: Partial<Record<'plain' | 'json', Buffer>> = {};
    for (const connection of this.#connections.values()) {
      if (!this.#wants(connection, event) || connection.format === null) continue;
      frames[connection.format] ??= eventFrame(event, connection.format);
      this.#write(connection, frames[connection.format] as Buffer);
    }
  }

  /**
   * Re-sends a captured frame (`Content-Length`/`Content-Type` envelope plus a plain or json event). With
   * `freshUuids` (the default) every uuid in it is replaced, consistently, by a new one, so one capture can play
   * many calls; a CHANNEL_PARK or CHANNEL_CREATE also enters the channel model. Returns old uuid → new uuid.
   */
  replayFrame(frameBytes: Uint8Array, options: { readonly freshUuids?: boolean } = {}): Map<string, string> {
    const parser = new EslFrameParser();
    const { frames, error } = parser.push(frameBytes);
    const frame = frames[0];
    if (error !== null || frame === undefined) throw new Error(`not an ESL frame: ${error?.message ?? 'incomplete'}`);
    const message = interpretFrame(frame);
    if (message.type !== 'event') throw new Error(`not an event frame: ${message.type}`);
    const mapping = new Map<string, string>();
    const renew = (text: string): string =>
      options.freshUuids === false
        ? text
        : text.replace(UUID_PATTERN, (uuid) => {
            const key = uuid.toLowerCase();
            let fresh = mapping.get(key);
            if (fresh === undefined) {
              fresh = this.#newUuid();
              mapping.set(key, fresh);
            }
            return fresh;
          });
    const headers: EslHeader[] = message.event.headers.map(([name, value]) => [
      name,
      typeof value === 'string' ? renew(value) : value.map(renew),
    ]);
    const event: EslEvent = { headers, body: message.event.body === null ? null : renew(message.event.body) };
    const name = eventName(event);
    if (name === 'CHANNEL_PARK' || name === 'CHANNEL_CREATE') this.#adopt(event, name === 'CHANNEL_PARK');
    this.emit(event);
    return mapping;
  }

  #adopt(event: EslEvent, parked: boolean): void {
    const header = (name: string): string => eventHeader(event, name) ?? '';
    const uuid = header('Unique-ID');
    if (uuid === '') return;
    const variables = new Map<string, string>();
    for (const [name, value] of event.headers) {
      if (name.startsWith('variable_')) variables.set(name.slice('variable_'.length), headerValueText(value));
    }
    this.#channels.set(uuid, {
      uuid,
      state: parked ? 'parked' : 'routing',
      callerNumber: header('Caller-Caller-ID-Number'),
      callerName: header('Caller-Caller-ID-Name'),
      destination: header('Caller-Destination-Number'),
      context: header('Caller-Context'),
      direction: header('Call-Direction') === 'outbound' ? 'outbound' : 'inbound',
      createdAtMicroseconds: Number(header('Caller-Channel-Created-Time')) || this.#clockMicroseconds(),
      answeredAtMicroseconds: Number(header('Caller-Channel-Answered-Time')) || 0,
      hangupAtMicroseconds: 0,
      hangupCause: null,
      profileIndex: Number(header('Caller-Profile-Index')) || 1,
      rdnis: null,
      transferSource: null,
      variables,
      transfers: [],
    });
  }

  /**
   * Writes raw bytes to every subscribed connection, in chunks of `chunkBytes` when given (FreeSWITCH's writes
   * cut frames anywhere; clients must cope). For replaying captured transcripts byte for byte.
   */
  sendRaw(bytes: Uint8Array, options: { readonly chunkBytes?: number } = {}): void {
    const chunkBytes = options.chunkBytes ?? bytes.length;
    for (const connection of this.#connections.values()) {
      if (!this.#isSubscribed(connection)) continue;
      for (let offset = 0; offset < bytes.length; offset += Math.max(1, chunkBytes)) {
        this.#write(connection, bytes.subarray(offset, offset + Math.max(1, chunkBytes)));
      }
    }
  }

  /** Resets every connection at once, as a crashing or restarting FreeSWITCH would; new connections are accepted. */
  dropAllConnections(): void {
    for (const connection of this.#connections.values()) connection.socket.resetAndDestroy();
  }

  /** A clean shutdown: the shutdown notice on every connection, then the server stops. */
  async close(): Promise<void> {
    for (const connection of this.#connections.values()) {
      if (connection.authenticated) this.#hangUpConnection(connection, SHUTDOWN_NOTICE_BODY);
      else connection.socket.destroy();
    }
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    // Clients that do not close their side are cut off rather than waited for.
    for (const connection of this.#connections.values()) connection.socket.destroySoon();
    setImmediate(() => {
      for (const connection of this.#connections.values()) connection.socket.destroy();
    });
    await closed;
  }
}
