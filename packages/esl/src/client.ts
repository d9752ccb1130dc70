/**
 * A typed inbound ESL client for one FreeSWITCH, built on modesl 1.2.1 (research/freeswitch.md §3).
 *
 * Two connections, as SPEC §9 asks: FreeSWITCH runs an `api` synchronously on the listener's thread and sends no
 * events on that connection until it returns, so events get a connection of their own and commands another.
 *
 * What modesl does not do, and this wrapper does:
 * - Reconnect. Each connection reconnects on its own after any close (socket error, FreeSWITCH restart, failed
 *   authentication), single-flight, with exponential backoff and full jitter between the named bounds, and
 *   re-subscribes. Attempts are not counted out: a switch may be down for hours and must be picked up again when it
 *   returns; the delay bound keeps the rate low.
 * - Survive. Every modesl connection has an `error` listener (EventEmitter2 throws on an unhandled one), and every
 *   listener of ours runs inside try/catch, because modesl calls them from the socket's `data` handler where a
 *   throw would take the process down.
 * - Guard the parser. modesl URL-decodes header values with `decodeURIComponent`, which throws a URIError on the
 *   non-UTF-8 escapes FreeSWITCH writes for Latin-1 bytes (`Jos%E9`) — inside the `data` handler, so the process
 *   dies. We replace that one method on each connection's own parser instance (not on the prototype, so nothing
 *   else in the process changes) with a byte-wise decoder that never throws. Patching beats pre-filtering: a
 *   pre-filter would have to frame the stream itself and rewrite escapes without changing Content-Length. The same
 *   hook bounds modesl's receive buffer, which otherwise grows without limit on a peer that never ends a frame.
 * - Correlate replies safely. modesl matches replies to callbacks FIFO per reply type, and a refused `api` comes
 *   back as a command/reply, which shifts every later answer onto the wrong caller. Here the client keeps its own
 *   FIFO of the commands sent and not yet answered, and the next reply of either type answers the oldest of them:
 *   FreeSWITCH runs one connection's commands strictly in order on one thread and answers each in turn
 *   (research/esl-protocol.md §0). A sent command that times out resets the connection, so its late reply can
 *   never be taken for a later command's; the others sent on that connection fail as `disconnected`, because
 *   whether FreeSWITCH ran them is unknown.
 * - Pipeline. A command does not wait for the previous one's reply. Every command queued in the same turn of the
 *   event loop goes out in one socket write, up to ESL_PIPELINE_DEPTH_MAX unanswered at a time: each write is a
 *   system call and each wait a round trip, and a parked call needs three commands.
 * - Bound the queue. Commands wait in a queue of named length while the connection is down or the pipeline is
 *   full; a full queue refuses at once.
 *
 * `-ERR No Such Channel!` is an outcome (`ApiOutcome`), not an error: the caller hung up while we were deciding.
 */
import type { Socket } from 'node:net';
import modesl from 'modesl';
import {
  type ApiOutcome,
  type BroadcastLeg,
  type ChannelVariables,
  classifyApiReply,
  killCommand,
  parseShowChannels,
  SHOW_CHANNELS_COMMAND,
  type ShowChannelsResult,
  scheduleBroadcastCommand,
  scheduleDeleteCommand,
  scheduleHangupCommand,
  setVariableCommand,
  setVariablesCommand,
  transferCommand,
} from './commands.ts';
import { ESL_FRAME_BYTES_MAX, type EslEvent, type EslHeader, eventName } from './frames.ts';
import { decodeEventValue } from './url-encoding.ts';

export const ESL_API_TIMEOUT_MILLISECONDS = 5_000;
/** From TCP connect to subscribed (or ready for commands); a silent peer is dropped and retried after this. */
export const ESL_CONNECT_TIMEOUT_MILLISECONDS = 5_000;
export const ESL_RECONNECT_DELAY_MIN_MILLISECONDS = 200;
export const ESL_RECONNECT_DELAY_MAX_MILLISECONDS = 30_000;
/** Commands waiting for the command connection. At SPEC §14's 2,000 authorizations/s this is half a second. */
export const ESL_COMMAND_QUEUE_LENGTH_MAX = 1_000;
/**
 * Commands sent on the command connection and not yet answered. About ten parked calls' worth (three commands
 * each) go out together; beyond that, waiting for replies costs little, while every command on the wire is one whose outcome
 * becomes unknown if the connection drops, and a command still queued goes out after the reconnect instead.
 */
export const ESL_PIPELINE_DEPTH_MAX = 32;
export const ESL_KEEPALIVE_DELAY_MILLISECONDS = 10_000;
/** Beyond this many doublings the delay is the maximum anyway; stops 2 ** attempt from overflowing. */
const BACKOFF_DOUBLINGS_MAX = 30;

export type ConnectionRole = 'event' | 'command';
export type ConnectionState = 'connecting' | 'connected' | 'disconnected' | 'closed';

export interface ConnectionStateChange {
  readonly connection: ConnectionRole;
  readonly state: 'connected' | 'disconnected';
  /** Why the connection went down (null when it came up). */
  readonly reason: string | null;
  /** When the next attempt starts (null when it came up, or when the client is closed). */
  readonly reconnectDelayMilliseconds: number | null;
}

export type EslClientErrorCode =
  | 'timeout'
  | 'disconnected'
  | 'queue-full'
  | 'closed'
  | 'authentication-failed'
  | 'subscription-refused'
  | 'socket'
  | 'listener';

/** An operational failure. `retryable` says whether sending the same command again can succeed. */
export class EslClientError extends Error {
  readonly code: EslClientErrorCode;
  readonly retryable: boolean;

  constructor(code: EslClientErrorCode, message: string, retryable: boolean) {
    super(message);
    this.name = 'EslClientError';
    this.code = code;
    this.retryable = retryable;
  }
}

export interface EslClientOptions {
  readonly host: string;
  readonly port: number;
  /** A string, or the configuration's Secret (anything with `reveal()`), so the password is never printed. */
  readonly password: string | { reveal(): string };
  /** Event names for the event connection, e.g. CHANNEL_PARK CHANNEL_ANSWER CHANNEL_HANGUP_COMPLETE. */
  readonly events: readonly string[];
  /** `json` by default: FreeSWITCH sends values unencoded and JSON.parse is the fastest path. */
  readonly eventFormat?: 'plain' | 'json';
  readonly apiTimeoutMilliseconds?: number;
  readonly connectTimeoutMilliseconds?: number;
  readonly reconnectDelayMinMilliseconds?: number;
  readonly reconnectDelayMaxMilliseconds?: number;
  readonly commandQueueLengthMax?: number;
  /** Receive-buffer bound per connection. */
  readonly frameBytesMax?: number;
  /** For the jitter; tests pass a fixed sequence. */
  readonly random?: () => number;
}

type EventListener = (event: EslEvent, name: string) => void;
type StateListener = (change: ConnectionStateChange) => void;
type ErrorListener = (error: EslClientError) => void;

/** Per-command options of `api` and `apiOutcome`. */
export interface ApiCommandOptions {
  /** Called with `performance.now()` when the command is written to FreeSWITCH's socket (decision timing). */
  readonly onSent?: (sentAtMilliseconds: number) => void;
}

interface PendingCommand {
  readonly text: string;
  readonly onSent: ((sentAtMilliseconds: number) => void) | undefined;
  readonly resolve: (reply: string) => void;
  readonly reject: (error: EslClientError) => void;
  timer: NodeJS.Timeout | null;
  settled: boolean;
}

/** What a connection reports to its client; private methods of EslClient, handed over as closures. */
interface ConnectionHooks {
  readonly receive: (role: ConnectionRole, event: ModeslEvent, headers: Record<string, unknown> | undefined) => void;
  readonly reply: (text: string) => void;
  readonly stateChanged: (change: ConnectionStateChange) => void;
  readonly reportError: (error: EslClientError) => void;
}

type ModeslConnection = InstanceType<typeof modesl.Connection>;
type ModeslEvent = InstanceType<typeof modesl.Event>;

/** modesl's header parser with a byte-wise decoder: same output shape, but never throws (see the module comment). */
function parseHeaderTextSafely(text: string): Record<string, string | number> {
  const headers: Record<string, string | number> = {};
  for (const line of text.split('\n')) {
    const separator = line.indexOf(': ');
    const name = separator === -1 ? line : line.slice(0, separator);
    const value = separator === -1 ? '' : decodeEventValue(line.slice(separator + 2));
    headers[name] = name === 'Content-Length' ? (/^\d{1,10}$/.test(value) ? Number(value) : 0) : value;
  }
  return headers;
}

function headerValue(value: unknown): EslHeader[1] {
  if (Array.isArray(value)) return value.map(String);
  return String(value);
}

/** modesl's Event → ours. The body's Content-Length is framing, not a header (as in frames.ts). */
function toEslEvent(event: ModeslEvent): EslEvent {
  const body = event.getBody();
  const headers: EslHeader[] = [];
  for (const header of event.headers) {
    if (header.name === 'Content-Length' && body.length > 0) continue;
    headers.push([header.name, headerValue(header.value)]);
  }
  return { headers, body: body.length > 0 ? body : null };
}

/** Full jitter: uniform in [0, min(max, min · 2^attempt)). */
export function reconnectDelayMilliseconds(
  attempt: number,
  minimumMilliseconds: number,
  maximumMilliseconds: number,
  random: () => number,
): number {
  const ceiling = Math.min(maximumMilliseconds, minimumMilliseconds * 2 ** Math.min(attempt, BACKOFF_DOUBLINGS_MAX));
  return Math.floor(random() * ceiling);
}

class ManagedConnection {
  readonly role: ConnectionRole;
  readonly #client: ConnectionHooks;
  readonly #options: Required<Omit<EslClientOptions, 'password'>> & { readonly password: string };
  state: ConnectionState = 'disconnected';
  connection: ModeslConnection | null = null;
  #socket: Socket | null = null;
  #generation = 0;
  #attempt = 0;
  #reconnectTimer: NodeJS.Timeout | null = null;
  #connectTimer: NodeJS.Timeout | null = null;
  #closeReason: string | null = null;
  #resetWhileConnected = false;

  constructor(
    role: ConnectionRole,
    client: ConnectionHooks,
    options: Required<Omit<EslClientOptions, 'password'>> & { readonly password: string },
  ) {
    this.role = role;
    this.#client = client;
    this.#options = options;
  }

  open(): void {
    if (this.state === 'closed') return;
    this.#reconnectTimer = null;
    this.#generation += 1;
    const generation = this.#generation;
    this.state = 'connecting';
    this.#closeReason = null;
    const connection = new modesl.Connection(this.#options.host, this.#options.port, this.#options.password);
    const socket = connection.socket;
    this.connection = connection;
    this.#socket = socket;
    const current = (): boolean => generation === this.#generation && this.state !== 'closed';

    connection.on('error', (error) => {
      if (current()) this.#closeReason ??= (error as Error).message;
    });
    connection.on('esl::connect', () => {
      if (current()) this.#guardParser(connection);
    });
    connection.on('esl::event::auth::fail', () => {
      if (!current()) return;
      this.#closeReason = 'authentication failed';
      this.#client.reportError(
        new EslClientError('authentication-failed', `FreeSWITCH at ${this.#options.host} refused the password`, false),
      );
      socket?.destroy();
    });
    connection.on('esl::ready', () => {
      if (current()) this.#setUp(connection, generation);
    });
    connection.on('esl::event::**', (...args: unknown[]) => {
      if (current())
        this.#client.receive(this.role, args[0] as ModeslEvent, args[1] as Record<string, unknown> | undefined);
    });
    // Replies count only once set-up is done (its replies go to modesl's own callbacks) and only for commands.
    const answersCommands = (): boolean => current() && this.role === 'command' && this.state === 'connected';
    connection.on('esl::event::api::response', (...args: unknown[]) => {
      if (answersCommands()) this.#client.reply((args[0] as ModeslEvent).getBody());
    });
    connection.on('esl::event::command::reply', (...args: unknown[]) => {
      const reply = (args[0] as ModeslEvent).getHeader('Reply-Text');
      if (answersCommands()) this.#client.reply(String(reply ?? ''));
    });
    socket?.setKeepAlive(true, ESL_KEEPALIVE_DELAY_MILLISECONDS);
    // Commands are small and latency-bound (SPEC §14: CHANNEL_PARK → uuid_transfer in ≤ 10 ms): no Nagle delay.
    socket?.setNoDelay(true);
    socket?.on('close', () => {
      if (generation === this.#generation) this.#onClosed();
    });
    this.#connectTimer = setTimeout(() => {
      if (!current() || this.state === 'connected') return;
      this.#closeReason = `not ready within ${this.#options.connectTimeoutMilliseconds} ms`;
      socket?.destroy();
    }, this.#options.connectTimeoutMilliseconds);
  }

  #guardParser(connection: ModeslConnection): void {
    const parser = connection.parser;
    const socket = connection.socket;
    if (parser === undefined || socket === null) return;
    parser._parseHeaderText = parseHeaderTextSafely;
    // modesl's parser is the only `data` listener so far. It is swapped for a wrapper that contains whatever it
    // (or a listener it calls) throws — e.g. an event-plain frame without a body makes it call indexOf on
    // undefined — and that bounds the buffer it keeps for an incomplete frame.
    const modeslListeners = socket.listeners('data') as ((chunk: Buffer) => void)[];
    for (const listener of modeslListeners) socket.off('data', listener);
    socket.on('data', (chunk: Buffer) => {
      try {
        for (const listener of modeslListeners) listener(chunk);
      } catch (error) {
        this.#closeReason = `unparseable data from FreeSWITCH: ${(error as Error).message}`;
        socket.destroy();
        return;
      }
      if (parser.buffer.length > this.#options.frameBytesMax) {
        this.#closeReason = `a frame exceeded ${this.#options.frameBytesMax} bytes`;
        socket.destroy();
      }
    });
  }

  #setUp(connection: ModeslConnection, generation: number): void {
    // modesl subscribed `event json BACKGROUND_JOB CHANNEL_EXECUTE_COMPLETE` right after auth; its reply is
    // consumed by modesl's own queue before ours. CHANNEL_EXECUTE_COMPLETE fires for every application on every
    // channel, so it is nixed unless asked for.
    const wanted = new Set(this.#options.events.map((name) => name.toUpperCase()));
    const steps: string[] = [];
    if (this.role === 'event') {
      steps.push(`event ${this.#options.eventFormat} ${[...wanted].join(' ')}`);
      if (!wanted.has('ALL')) {
        const unwanted = ['BACKGROUND_JOB', 'CHANNEL_EXECUTE_COMPLETE'].filter((name) => !wanted.has(name));
        if (unwanted.length > 0) steps.push(`nixevent ${unwanted.join(' ')}`);
      }
    } else {
      steps.push('nixevent CHANNEL_EXECUTE_COMPLETE');
    }
    const next = (index: number): void => {
      if (generation !== this.#generation || this.state === 'closed') return;
      const step = steps[index];
      if (step === undefined) {
        // Not now: this runs inside modesl's handler of the last set-up reply, and the same reply event goes on
        // to our own listener next. Ready now, a queued `api` would be sent at once and that listener would
        // take the set-up's "+OK" for its answer, and every later reply would answer the command before it.
        setImmediate(() => {
          if (generation === this.#generation && this.state !== 'closed') this.#onReady();
        });
        return;
      }
      connection.sendRecv(step, (reply) => {
        const text = String(reply.getHeader('Reply-Text') ?? '');
        if (step.startsWith('event ') && !text.startsWith('+OK')) {
          this.#closeReason = `subscription refused: ${text}`;
          this.#client.reportError(new EslClientError('subscription-refused', `${step} → ${text}`, false));
          connection.socket?.destroy();
          return;
        }
        next(index + 1);
      });
    };
    next(0);
  }

  #onReady(): void {
    if (this.#connectTimer !== null) clearTimeout(this.#connectTimer);
    this.#connectTimer = null;
    this.#attempt = 0;
    this.state = 'connected';
    this.#client.stateChanged({
      connection: this.role,
      state: 'connected',
      reason: null,
      reconnectDelayMilliseconds: null,
    });
  }

  #onClosed(): void {
    if (this.#connectTimer !== null) clearTimeout(this.#connectTimer);
    this.#connectTimer = null;
    this.connection = null;
    this.#socket = null;
    const reason = this.#closeReason ?? 'connection closed';
    if (this.state === 'closed') return;
    const wasConnected = this.state === 'connected' || this.#resetWhileConnected;
    this.#resetWhileConnected = false;
    this.state = 'disconnected';
    const delay = reconnectDelayMilliseconds(
      this.#attempt,
      this.#options.reconnectDelayMinMilliseconds,
      this.#options.reconnectDelayMaxMilliseconds,
      this.#options.random,
    );
    this.#attempt = Math.min(this.#attempt + 1, BACKOFF_DOUBLINGS_MAX);
    // Single flight: one timer per connection, and `open` runs only from it.
    if (this.#reconnectTimer === null) this.#reconnectTimer = setTimeout(() => this.open(), delay);
    this.#client.stateChanged({
      connection: this.role,
      state: 'disconnected',
      reason: wasConnected ? reason : `could not connect: ${reason}`,
      reconnectDelayMilliseconds: delay,
    });
  }

  /** Drops the socket; the close handler schedules the reconnect. Nothing more is sent on it from now on. */
  reset(reason: string): void {
    this.#closeReason = reason;
    if (this.state === 'connected') {
      this.#resetWhileConnected = true;
      this.state = 'connecting';
    }
    this.#socket?.destroy();
  }

  /**
   * All the commands in one write, one system call (modesl's `send` makes three writes per command, which Nagle
   * and delayed ACKs turn into 40 ms stalls). False when nothing was written because the socket is already gone.
   */
  send(texts: readonly string[]): boolean {
    if (this.#socket === null || this.#socket.destroyed) return false;
    let data = '';
    for (const text of texts) data += `${text}\n\n`;
    this.#socket.write(data);
    return true;
  }

  async close(): Promise<void> {
    this.state = 'closed';
    if (this.#reconnectTimer !== null) clearTimeout(this.#reconnectTimer);
    if (this.#connectTimer !== null) clearTimeout(this.#connectTimer);
    this.#reconnectTimer = null;
    this.#connectTimer = null;
    const socket = this.#socket;
    const connection = this.connection;
    this.connection = null;
    this.#socket = null;
    if (socket === null || socket.destroyed) return;
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    if (connection?.authed) connection.disconnect();
    else socket.destroy();
    // A peer that never closes its side must not hold `close()` open.
    const forced = setTimeout(() => socket.destroy(), this.#options.connectTimeoutMilliseconds);
    await closed;
    clearTimeout(forced);
  }
}

export class EslClient {
  readonly #options: Required<Omit<EslClientOptions, 'password'>> & { readonly password: string };
  readonly #eventConnection: ManagedConnection;
  readonly #commandConnection: ManagedConnection;
  readonly #eventListeners = new Set<EventListener>();
  readonly #stateListeners = new Set<StateListener>();
  readonly #errorListeners = new Set<ErrorListener>();
  /** Not sent yet: waiting for the connection or for room in the pipeline. */
  readonly #queue: PendingCommand[] = [];
  /** Sent and not yet answered, oldest first; FreeSWITCH answers them in this order. */
  readonly #sent: PendingCommand[] = [];
  #pumpScheduled = false;
  #started = false;
  #closed = false;

  constructor(options: EslClientOptions) {
    const password = typeof options.password === 'string' ? options.password : options.password.reveal();
    if (/[\r\n]/.test(password)) throw new RangeError('the ESL password must be one line');
    for (const name of options.events) {
      if (!/^[A-Za-z0-9_:]+$/.test(name)) throw new RangeError(`invalid event name ${JSON.stringify(name)}`);
    }
    this.#options = {
      host: options.host,
      port: options.port,
      password,
      events: options.events,
      eventFormat: options.eventFormat ?? 'json',
      apiTimeoutMilliseconds: options.apiTimeoutMilliseconds ?? ESL_API_TIMEOUT_MILLISECONDS,
      connectTimeoutMilliseconds: options.connectTimeoutMilliseconds ?? ESL_CONNECT_TIMEOUT_MILLISECONDS,
      reconnectDelayMinMilliseconds: options.reconnectDelayMinMilliseconds ?? ESL_RECONNECT_DELAY_MIN_MILLISECONDS,
      reconnectDelayMaxMilliseconds: options.reconnectDelayMaxMilliseconds ?? ESL_RECONNECT_DELAY_MAX_MILLISECONDS,
      commandQueueLengthMax: options.commandQueueLengthMax ?? ESL_COMMAND_QUEUE_LENGTH_MAX,
      frameBytesMax: options.frameBytesMax ?? ESL_FRAME_BYTES_MAX,
      random: options.random ?? Math.random,
    };
    const hooks: ConnectionHooks = {
      receive: (role, event, headers) => this.#receive(role, event, headers),
      reply: (text) => this.#reply(text),
      stateChanged: (change) => this.#stateChanged(change),
      reportError: (error) => this.#reportError(error),
    };
    this.#eventConnection = new ManagedConnection('event', hooks, this.#options);
    this.#commandConnection = new ManagedConnection('command', hooks, this.#options);
  }

  /** Opens both connections; they keep reconnecting until `close()`. */
  start(): void {
    if (this.#started || this.#closed) return;
    this.#started = true;
    this.#eventConnection.open();
    this.#commandConnection.open();
  }

  get state(): { readonly event: ConnectionState; readonly command: ConnectionState } {
    return { event: this.#eventConnection.state, command: this.#commandConnection.state };
  }

  /** Events from the event connection, in arrival order. */
  onEvent(listener: EventListener): () => void {
    this.#eventListeners.add(listener);
    return () => this.#eventListeners.delete(listener);
  }

  onConnectionState(listener: StateListener): () => void {
    this.#stateListeners.add(listener);
    return () => this.#stateListeners.delete(listener);
  }

  onError(listener: ErrorListener): () => void {
    this.#errorListeners.add(listener);
    return () => this.#errorListeners.delete(listener);
  }

  /** Resolves once both connections are up (immediately if they are); rejects after the timeout or on close. */
  whenConnected(timeoutMilliseconds: number = ESL_CONNECT_TIMEOUT_MILLISECONDS): Promise<void> {
    const isUp = (): boolean => this.state.event === 'connected' && this.state.command === 'connected';
    if (isUp()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        unsubscribe();
        reject(new EslClientError('timeout', `not connected within ${timeoutMilliseconds} ms`, true));
      }, timeoutMilliseconds);
      const unsubscribe = this.onConnectionState(() => {
        if (!isUp()) return;
        clearTimeout(timer);
        unsubscribe();
        resolve();
      });
    });
  }

  /**
   * Runs `api <command>` and resolves with FreeSWITCH's reply text (the api/response body, or the Reply-Text of a
   * command/reply such as `-ERR permission denied`). Rejects only with an EslClientError: timeout, disconnected
   * (the command was sent and its outcome is unknown), queue full, or closed.
   */
  api(command: string, options: ApiCommandOptions = {}): Promise<string> {
    if (this.#closed) return Promise.reject(new EslClientError('closed', 'the ESL client is closed', false));
    if (command.length === 0 || /[\r\n]/.test(command)) {
      return Promise.reject(new RangeError('an API command is one non-empty line'));
    }
    if (this.#queue.length >= this.#options.commandQueueLengthMax) {
      return Promise.reject(
        new EslClientError('queue-full', `${this.#options.commandQueueLengthMax} commands are already waiting`, true),
      );
    }
    return new Promise((resolve, reject) => {
      const pending: PendingCommand = {
        text: command,
        onSent: options.onSent,
        resolve,
        reject,
        timer: null,
        settled: false,
      };
      pending.timer = setTimeout(() => this.#timeOut(pending), this.#options.apiTimeoutMilliseconds);
      this.#queue.push(pending);
      this.#schedulePump();
    });
  }

  async apiOutcome(command: string, options: ApiCommandOptions = {}): Promise<ApiOutcome> {
    return classifyApiReply(await this.api(command, options));
  }

  setVarMulti(uuid: string, variables: ChannelVariables): Promise<ApiOutcome> {
    return this.#typed(() => setVariablesCommand(uuid, variables));
  }

  setVar(uuid: string, name: string, value: string): Promise<ApiOutcome> {
    return this.#typed(() => setVariableCommand(uuid, name, value));
  }

  transfer(uuid: string, destination: string, dialplan: string, context: string): Promise<ApiOutcome> {
    return this.#typed(() => transferCommand(uuid, destination, dialplan, context));
  }

  kill(uuid: string, cause: string): Promise<ApiOutcome> {
    return this.#typed(() => killCommand(uuid, cause));
  }

  schedHangup(uuid: string, afterSeconds: number, cause: string): Promise<ApiOutcome> {
    return this.#typed(() => scheduleHangupCommand(uuid, afterSeconds, cause));
  }

  schedDel(taskIdOrGroup: string): Promise<ApiOutcome> {
    return this.#typed(() => scheduleDeleteCommand(taskIdOrGroup));
  }

  schedBroadcast(uuid: string, afterSeconds: number, path: string, leg: BroadcastLeg = 'aleg'): Promise<ApiOutcome> {
    return this.#typed(() => scheduleBroadcastCommand(uuid, afterSeconds, path, leg));
  }

  async showChannels(): Promise<ShowChannelsResult> {
    return parseShowChannels(await this.api(SHOW_CHANNELS_COMMAND));
  }

  /** Stops reconnecting, says `exit` on both connections and fails every command still waiting. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const closedError = new EslClientError('closed', 'the ESL client was closed', false);
    for (const pending of this.#queue.splice(0)) this.#settle(pending, closedError);
    for (const pending of this.#sent.splice(0)) this.#settle(pending, closedError);
    await Promise.all([this.#eventConnection.close(), this.#commandConnection.close()]);
  }

  #typed(build: () => string): Promise<ApiOutcome> {
    let command: string;
    try {
      command = build();
    } catch (error) {
      return Promise.reject(error);
    }
    return this.apiOutcome(command);
  }

  /**
   * Pumps once the current turn's synchronous code and promise callbacks are done, so the commands queued in the
   * same turn (the connector's three per call, or those issued when replies come in) share one write. A microtask,
   * not a timer: no command waits for a clock.
   */
  #schedulePump(): void {
    if (this.#pumpScheduled) return;
    this.#pumpScheduled = true;
    queueMicrotask(() => {
      this.#pumpScheduled = false;
      this.#pump();
    });
  }

  /** Sends as many queued commands as the pipeline has room for, in one write. */
  #pump(): void {
    if (this.#commandConnection.state !== 'connected' || this.#queue.length === 0) return;
    const room = ESL_PIPELINE_DEPTH_MAX - this.#sent.length;
    if (room <= 0) return;
    const batch = this.#queue.slice(0, room);
    // A socket that is already gone takes nothing: the commands stay queued for the next connection.
    if (!this.#commandConnection.send(batch.map((pending) => `api ${pending.text}`))) return;
    this.#queue.splice(0, batch.length);
    this.#sent.push(...batch);
    let sentAt: number | undefined;
    for (const pending of batch) {
      if (pending.onSent === undefined) continue;
      sentAt ??= performance.now();
      try {
        pending.onSent(sentAt);
      } catch {
        // A timing callback's failure must not stop the commands after it.
      }
    }
  }

  #timeOut(pending: PendingCommand): void {
    if (pending.settled) return;
    const index = this.#queue.indexOf(pending);
    if (index !== -1) this.#queue.splice(index, 1);
    this.#settle(
      pending,
      new EslClientError(
        'timeout',
        `no reply to "${pending.text}" within ${this.#options.apiTimeoutMilliseconds} ms`,
        true,
      ),
    );
    if (this.#sent.includes(pending)) {
      // Its reply may still come; only a fresh connection guarantees it is not taken for a later command's. That
      // takes the replies of the other commands sent with it, so whether FreeSWITCH ran them is unknown too.
      this.#failSent('the connection was reset after a command timed out');
      this.#commandConnection.reset('a command timed out');
    }
  }

  /** Fails every command sent and not answered as `disconnected`: retryable, but its outcome is unknown. */
  #failSent(why: string): void {
    for (const pending of this.#sent.splice(0)) {
      this.#settle(pending, new EslClientError('disconnected', `${why} before "${pending.text}" was answered`, true));
    }
  }

  #settle(pending: PendingCommand, outcome: string | EslClientError): void {
    if (pending.settled) return;
    pending.settled = true;
    if (pending.timer !== null) clearTimeout(pending.timer);
    if (typeof outcome === 'string') pending.resolve(outcome);
    else pending.reject(outcome);
  }

  /** A reply on the command connection answers the oldest command sent; its place in the pipeline is free again. */
  #reply(text: string): void {
    const pending = this.#sent.shift();
    if (pending === undefined) return;
    this.#settle(pending, text);
    // Scheduled, not now: the other replies of the same TCP chunk are handled first and the refill is one write.
    this.#schedulePump();
  }

  #receive(role: ConnectionRole, event: ModeslEvent, headers: Record<string, unknown> | undefined): void {
    // modesl also re-emits synthetic events (auth::success, raw::…) under esl::event::** without headers.
    const contentType = headers?.['Content-Type'];
    if (contentType !== 'text/event-plain' && contentType !== 'text/event-json') return;
    // FreeSWITCH broadcasts events to every subscribed listener; the command connection's (modesl's own
    // BACKGROUND_JOB subscription) would be duplicates of the event connection's.
    if (role === 'command') return;
    const converted = toEslEvent(event);
    const name = eventName(converted);
    for (const listener of this.#eventListeners) this.#call(() => listener(converted, name));
  }

  #stateChanged(change: ConnectionStateChange): void {
    if (change.connection === 'command') {
      if (change.state === 'connected') this.#schedulePump();
      else this.#failSent('the connection dropped');
    }
    for (const listener of this.#stateListeners) this.#call(() => listener(change));
  }

  #reportError(error: EslClientError): void {
    for (const listener of this.#errorListeners) this.#call(() => listener(error));
  }

  #call(run: () => void): void {
    try {
      run();
    } catch (error) {
      // A throwing listener must not reach modesl's socket handler; it is reported to the error listeners instead.
      const wrapped = new EslClientError('listener', `a listener threw: ${(error as Error).message}`, false);
      for (const listener of this.#errorListeners) {
        try {
          listener(wrapped);
        } catch {
          // An error listener that throws too is ignored: there is nowhere left to report it.
        }
      }
    }
  }
}
