/**
 * The ESL connector (SPEC §9): Khata's side of every FreeSWITCH call, one `NodeConnector` per switch.
 *
 * A call flows through it in this order:
 * 1. CHANNEL_PARK (once per uuid, A-leg only) → the paying account (accountcode, else the toll-free number's
 *    holder) → the hot projection's quick answer → `StartCall` appended (the authority; its command id derives
 *    from the call uuid, so a repeat cannot reserve twice) → its maxSeconds → `callControlCommands`
 *    (billing marks, `sched_hangup` on answer, `uuid_transfer`). A refusal, by the hot projection or by the
 *    append, is `uuid_kill U <cause>`.
 * 2. CHANNEL_ANSWER → the answer time (the switch-enforced cap counts from it); optional low-balance warning.
 * 3. A top-up during the call → `ExtendReservation` → `sched_del U` + `sched_hangup +remaining U`.
 * 4. CHANNEL_HANGUP_COMPLETE → a CDR from the event → `RateCdr` (A-legs); B-legs are recorded only.
 * 5. After every (re)connect → `show channels as json`: reservations of calls the switch no longer has are
 *    released, calls parked while we were away are decided, calls with open reservations we do not know are
 *    adopted (a connector restart).
 *
 * What survives what:
 * - A connector restart loses only memory: the set of active calls. FreeSWITCH keeps enforcing each call's
 *   cap (`sched_hangup` runs in the switch), CHANNEL_HANGUP_COMPLETE still rates calls (the account comes from
 *   the CDR), and the first reconcile adopts the calls that hold open reservations, so top-ups extend them
 *   again (their answer time is unknown then, so the remaining time is counted from the authorization: never
 *   longer than allowed). A call that ended while no connector ran is rated by its HTTP CDR, or its
 *   reservation expires (the reservation-expiry sweeper, at authorized end + grace).
 * - A FreeSWITCH restart or a dropped connection: the client reconnects with backoff and jitter; the reconcile
 *   releases what the switch no longer has.
 * - Khata's stores down: a park is refused with a temporary-failure cause (fail closed); a CDR the ledger could
 *   not take is recorded in the CDR inbox when possible, and FreeSWITCH's HTTP CDR is the durable copy anyway.
 *
 * `-ERR No Such Channel!` is normal: the caller hung up while we decided. Its reservation is released at once.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { parseHangupEvent } from '@khata/cdr';
import {
  CAPPED_HANGUP_CAUSE,
  type ChannelRow,
  commandsForDecision,
  DENIED_HANGUP_CAUSE_DEFAULT,
  EslClient,
  type EslClientOptions,
  type EslEvent,
  eventHeader,
  HANGUP_CAUSES,
  hangupOnAnswerApplication,
  MAX_SECONDS_VARIABLE,
  type ParkedCall,
  parkedCallFromEvent,
} from '@khata/esl';
import type { FollowLogOptions, LogFollower, Position, SubscriptionBatch } from '@khata/event-store';
import { type CommandOutcome, type Ledger, nameBasedId, uuidNamespace } from '@khata/ledger';
import { isStoreUnavailable, type Khata, type KhataLog } from '@khata/runtime';
import type { Registry } from 'prom-client';
import { isDialledNumber, type PayingAccount, payingAccount, TollFreeHolders } from './accounts.ts';
import { cdrForRating, notBillableBecause, recordCdr } from './cdr-inbox.ts';
import { type AuthorizationOutcome, type ConnectorMetrics, connectorMetrics } from './metrics.ts';

/** The events the event connection subscribes to (SPEC §9). */
export const CONNECTOR_EVENTS = [
  'CHANNEL_PARK',
  'CHANNEL_ANSWER',
  'CHANNEL_HANGUP_COMPLETE',
  'BACKGROUND_JOB',
  'HEARTBEAT',
] as const;
/** Money events that can lengthen calls in progress. */
export const EXTENDING_EVENT_TYPES = ['WalletToppedUp', 'WalletAdjusted', 'PaymentRecorded'] as const;

/**
 * Park decisions in progress on one node. In flight = rate × latency: SPEC §14's 2,000 authorizations/s at
 * 10 ms is 20. Past this many Khata is not keeping up, and the switch is told to back off at once
 * (SWITCH_CONGESTION, SIP 503) rather than letting the queue grow until every caller waits into park_timeout.
 */
export const PARKS_IN_FLIGHT_MAX = 128;
/** Call uuids remembered as decided, so a re-park (or a duplicate event) is not authorized again. */
export const DECIDED_CALLS_REMEMBERED_MAX = 50_000;
/** Channels one reconcile looks at; a switch reports far fewer (each channel is a call leg). */
export const RECONCILE_CHANNELS_MAX = 20_000;
/** Further attempts at a reconcile whose `show channels` failed, and the pause before each. */
export const RECONCILE_RETRIES_MAX = 5;
export const RECONCILE_RETRY_DELAY_MILLISECONDS = 200;
/** Subscription batch for the money events that extend calls. */
export const EXTENSION_EVENTS_BATCH_MAX = 200;
/** The top-up follower's name in logs, metrics and `/ready`. */
export const TOP_UP_FOLLOWER_NAME = 'esl-top-ups';
/** The toll-free registry follower's name in logs, metrics and `/ready`. */
export const REGISTRY_FOLLOWER_NAME = 'esl-toll-free-registry';
/** Each toll-free number's registry stream (`Ledger.holderOf`). */
const TOLL_FREE_STREAM_PREFIX = 'tollfree-';
/**
 * Command connections per switch. FreeSWITCH runs one connection's `api` commands one after another on one thread
 * (the client pipelines them, so no round trip separates them), and a call needs three before it leaves the park;
 * calls are spread over this many so FreeSWITCH runs several calls' commands at once (each call always uses the
 * same connection, so its commands stay in order).
 */
export const COMMAND_CONNECTIONS_DEFAULT = 4;
export const COMMAND_CONNECTIONS_MAX = 32;
/** Rounds of `settled()`: work finishing can start more (a hangup's CDR), but not without end. */
const SETTLE_ROUNDS_MAX = 1_000;
/** How long `close()` waits for decisions in flight before closing the connections. */
export const CLOSE_WAIT_MILLISECONDS = 5_000;

export const OVERLOADED_HANGUP_CAUSE = 'SWITCH_CONGESTION';
/** Khata could not decide (a store down): the caller may retry (SIP 503), unlike a refusal. */
export const FAILURE_HANGUP_CAUSE = 'NORMAL_TEMPORARY_FAILURE';

/** Fixed forever: changing it would change the command ids of calls in progress and defeat deduplication. */
const CONNECTOR_NAMESPACE = uuidNamespace('8e3c1f52-7d4a-5b6e-9f0a-1b2c3d4e5f60');
const MICROSECONDS_PER_MILLISECOND = 1_000;
const MILLISECONDS_PER_SECOND = 1_000;

export interface FreeswitchNodeOptions {
  readonly host: string;
  readonly port: number;
  /** A string, or the configuration's Secret. */
  readonly password: string | { reveal(): string };
}

export interface LowBalanceWarning {
  /** What `sched_broadcast` plays to the caller, e.g. `/usr/share/freeswitch/sounds/khata/low_balance.wav`. */
  readonly soundPath: string;
  /** How long before the call's limit the warning plays. */
  readonly secondsBeforeEnd: number;
}

export type ConnectorKhata = Pick<
  Khata,
  'ledger' | 'hot' | 'eventStore' | 'metrics' | 'readDb' | 'clock' | 'followers'
>;

export interface EslConnectorOptions {
  readonly khata: ConnectorKhata;
  readonly nodes: readonly FreeswitchNodeOptions[];
  /** OUTGOING_CALL_BARRED (SIP 403) by default; CALL_REJECTED gives 603. */
  readonly deniedHangupCause?: string;
  /** Off by default. */
  readonly lowBalanceWarning?: LowBalanceWarning | null;
  readonly parksInFlightMax?: number;
  /** COMMAND_CONNECTIONS_DEFAULT when absent. */
  readonly commandConnections?: number;
  readonly log?: KhataLog;
  /** Client tuning (reconnect delays, timeouts) for tests and operators. */
  readonly client?: Partial<Omit<EslClientOptions, 'host' | 'port' | 'password' | 'events'>>;
  /** Wall clock for elapsed call time (FreeSWITCH's answer times are wall-clock). */
  readonly wallClockMilliseconds?: () => number;
  /** Retry bounds of the top-up follower after a store error (tests shorten them). */
  readonly followRetryDelayMilliseconds?: FollowLogOptions['retryDelayMilliseconds'];
  /** Called once per call sent on or refused, with its timings (tracing, benchmarks); errors are ignored. */
  readonly onDecision?: (timing: DecisionTiming) => void;
}

/** How long one park's decision took, in milliseconds from the CHANNEL_PARK's arrival (`performance.now()`). */
export interface DecisionTiming {
  readonly callId: string;
  readonly decision: 'transfer' | 'kill';
  /** Until the uuid_transfer or uuid_kill was written to FreeSWITCH's socket. */
  readonly sentMilliseconds: number;
  /** Until FreeSWITCH's reply to it arrived. */
  readonly repliedMilliseconds: number;
}

interface ActiveCall {
  readonly callId: string;
  readonly accountId: string;
  readonly destination: string;
  /** What the ledger allows now (raised by extensions). */
  maxSeconds: number;
  /** When the allowance started counting: the answer, else (not answered yet, or adopted) the authorization. */
  answeredAtMilliseconds: number | null;
  readonly authorizedAtMilliseconds: number;
  /** Adopted after a restart: the answer time is unknown, the authorization time stands in (conservative). */
  readonly adopted: boolean;
  /** The limit FreeSWITCH was last told (execute_on_answer or sched_hangup). */
  capSeconds: number;
}

interface Decision {
  readonly authorized: boolean;
  readonly maxSeconds: number;
  readonly reason: string;
  readonly outcome: AuthorizationOutcome;
  readonly hangupCause: string;
}

const quietLog: KhataLog = { info: () => {}, warn: () => {}, error: () => {} };

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Connects Khata to every configured FreeSWITCH. */
export class EslConnector {
  readonly nodes: readonly NodeConnector[];
  readonly #khata: ConnectorKhata;
  readonly #log: KhataLog;
  readonly #followRetryDelay: FollowLogOptions['retryDelayMilliseconds'];
  #abort: AbortController | null = null;
  #follower: LogFollower | null = null;
  #registryFollower: LogFollower | null = null;
  readonly #holders: TollFreeHolders;

  constructor(options: EslConnectorOptions) {
    const cause = options.deniedHangupCause ?? DENIED_HANGUP_CAUSE_DEFAULT;
    if (!HANGUP_CAUSES.has(cause)) throw new RangeError(`unknown hangup cause ${JSON.stringify(cause)}`);
    const warning = options.lowBalanceWarning ?? null;
    const commandConnections = options.commandConnections ?? COMMAND_CONNECTIONS_DEFAULT;
    if (
      !(
        Number.isSafeInteger(commandConnections) &&
        commandConnections >= 1 &&
        commandConnections <= COMMAND_CONNECTIONS_MAX
      )
    ) {
      throw new RangeError(`commandConnections must be 1..${COMMAND_CONNECTIONS_MAX}`);
    }
    if (warning !== null && !(Number.isSafeInteger(warning.secondsBeforeEnd) && warning.secondsBeforeEnd > 0)) {
      throw new RangeError('lowBalanceWarning.secondsBeforeEnd must be a positive whole number of seconds');
    }
    this.#khata = options.khata;
    this.#holders = new TollFreeHolders({ ledger: options.khata.ledger, now: () => performance.now() });
    this.#log = options.log ?? quietLog;
    this.#followRetryDelay = options.followRetryDelayMilliseconds;
    const metrics = connectorMetrics(options.khata.metrics as Registry);
    this.nodes = options.nodes.map(
      (node) =>
        new NodeConnector({
          node,
          khata: options.khata,
          metrics,
          log: this.#log,
          deniedHangupCause: cause,
          lowBalanceWarning: warning,
          parksInFlightMax: options.parksInFlightMax ?? PARKS_IN_FLIGHT_MAX,
          commandConnections,
          client: options.client ?? {},
          wallClockMilliseconds: options.wallClockMilliseconds ?? Date.now,
          holders: this.#holders,
          ...(options.onDecision === undefined ? {} : { onDecision: options.onDecision }),
        }),
    );
  }

  /** Starts following money events from the head of the log, then connects to every node. */
  async start(): Promise<void> {
    if (this.#abort !== null) return;
    this.#abort = new AbortController();
    // From the head: a top-up before start cannot concern a call this process has not authorized yet (an
    // adopted call's reservation was decided on the balance at that time; the next top-up extends it).
    const head = await this.#khata.eventStore.headPosition();
    this.#follower = this.#followMoney(head, this.#abort.signal);
    this.#registryFollower = this.#followRegistry(head, this.#abort.signal);
    for (const node of this.nodes) node.start();
  }

  /** The top-up follower (null before `start`): its state, for tests and diagnostics. */
  get topUpFollower(): LogFollower | null {
    return this.#follower;
  }

  /** The toll-free registry follower (null before `start`), which keeps the holders' cache current. */
  get registryFollower(): LogFollower | null {
    return this.#registryFollower;
  }

  async close(): Promise<void> {
    this.#abort?.abort();
    this.#abort = null;
    await Promise.all(this.nodes.map((node) => node.close()));
    await this.#follower?.done;
    await this.#registryFollower?.done;
  }

  /**
   * Follows claims and releases of toll-free numbers so the holders' cache forgets a number the moment it moves
   * (see TollFreeHolders). From the head: what the cache holds was read after it.
   */
  #followRegistry(after: Position | null, signal: AbortSignal): LogFollower {
    return this.#khata.followers.follow({
      name: REGISTRY_FOLLOWER_NAME,
      store: this.#khata.eventStore,
      after,
      filter: { streamPrefixes: [TOLL_FREE_STREAM_PREFIX] },
      batchSize: EXTENSION_EVENTS_BATCH_MAX,
      signal,
      ...(this.#followRetryDelay === undefined ? {} : { retryDelayMilliseconds: this.#followRetryDelay }),
      handle: (batch) => {
        for (const event of batch.events) this.#holders.forget(event.streamId.slice(TOLL_FREE_STREAM_PREFIX.length));
      },
    });
  }

  /**
   * Follows the money events for as long as the connector runs: after a store outage it resumes from the last
   * batch it handled, so a top-up made during the outage still extends the account's calls once it is back.
   */
  #followMoney(after: Position | null, signal: AbortSignal): LogFollower {
    return this.#khata.followers.follow({
      name: TOP_UP_FOLLOWER_NAME,
      store: this.#khata.eventStore,
      after,
      filter: { streamPrefixes: ['account-'], eventTypes: [...EXTENDING_EVENT_TYPES] },
      batchSize: EXTENSION_EVENTS_BATCH_MAX,
      signal,
      ...(this.#followRetryDelay === undefined ? {} : { retryDelayMilliseconds: this.#followRetryDelay }),
      handle: (batch) => this.#extendCalls(batch),
    });
  }

  #extendCalls(batch: SubscriptionBatch): void {
    // One extension per account per batch: a payment records PaymentRecorded and WalletToppedUp together.
    // Extensions run in the background and their command ids derive from the call and the event, so handling
    // cannot fail half way, and a batch brought again would not extend a reservation twice.
    const latest = new Map<string, string>();
    for (const event of batch.events) latest.set(event.streamId.slice('account-'.length), event.eventId);
    for (const [accountId, eventId] of latest) {
      for (const node of this.nodes) node.extendCallsOf(accountId, eventId);
    }
  }
}

interface NodeConnectorOptions {
  readonly node: FreeswitchNodeOptions;
  readonly khata: ConnectorKhata;
  readonly metrics: ConnectorMetrics;
  readonly log: KhataLog;
  readonly deniedHangupCause: string;
  readonly lowBalanceWarning: LowBalanceWarning | null;
  readonly parksInFlightMax: number;
  readonly commandConnections: number;
  readonly client: Partial<Omit<EslClientOptions, 'host' | 'port' | 'password' | 'events'>>;
  readonly wallClockMilliseconds: () => number;
  /** Who holds each toll-free number, shared by the nodes. */
  readonly holders: TollFreeHolders;
  readonly onDecision?: (timing: DecisionTiming) => void;
}

/** One FreeSWITCH: its ESL clients, the calls authorized on it, and the decisions in flight. */
export class NodeConnector {
  readonly name: string;
  /** Events, reconciles, and the commands of every call whose uuid hashes to it. */
  readonly client: EslClient;
  /** `client` first, then clients used for commands only (their event connections hear HEARTBEAT alone). */
  readonly #commandClients: readonly EslClient[];
  readonly #options: NodeConnectorOptions;
  readonly #ledger: Ledger;
  readonly #calls = new Map<string, ActiveCall>();
  readonly #callsByAccount = new Map<string, Set<string>>();
  readonly #parks = new Map<string, Promise<void>>();
  /** Insertion-ordered: the oldest uuid is forgotten first. */
  readonly #decided = new Set<string>();
  /** Calls this connector refused (bounded like #decided): they reserved nothing. */
  readonly #refused = new Set<string>();
  /** Work that is not a park decision (CDRs, extensions, reconciles), awaited by `settled()` and `close()`. */
  readonly #background = new Set<Promise<void>>();
  readonly #actor: string;
  #connectedBefore = false;
  #up = false;
  #reconciling: Promise<void> | null = null;
  #reconcileAgain = false;

  constructor(options: NodeConnectorOptions) {
    this.#options = options;
    this.#ledger = options.khata.ledger;
    this.name = `${options.node.host}:${options.node.port}`;
    this.#actor = `freeswitch:${this.name}`;
    this.client = new EslClient({
      ...options.client,
      host: options.node.host,
      port: options.node.port,
      password: options.node.password,
      events: CONNECTOR_EVENTS,
    });
    this.client.onEvent((event, name) => this.#onEvent(event, name));
    this.client.onConnectionState((change) => {
      options.metrics.connectionUp.set(
        { node: this.name, connection: change.connection },
        change.state === 'connected' ? 1 : 0,
      );
      if (change.state === 'disconnected') {
        this.#up = false;
        options.log.warn('FreeSWITCH connection down', {
          node: this.name,
          connection: change.connection,
          reason: change.reason,
          reconnectDelayMilliseconds: change.reconnectDelayMilliseconds,
        });
      }
      this.#checkUp();
    });
    this.client.onError((error) => options.log.warn('ESL client error', { node: this.name, error: error.message }));
    const extra = Array.from(
      { length: options.commandConnections - 1 },
      () =>
        new EslClient({
          ...options.client,
          host: options.node.host,
          port: options.node.port,
          password: options.node.password,
          // An event connection must subscribe to something; HEARTBEAT is one event every 20 s.
          events: ['HEARTBEAT'],
        }),
    );
    for (const client of extra) {
      client.onError((error) => options.log.warn('ESL client error', { node: this.name, error: error.message }));
    }
    this.#commandClients = [this.client, ...extra];
    for (const connection of ['event', 'command']) options.metrics.connectionUp.set({ node: this.name, connection }, 0);
  }

  start(): void {
    for (const client of this.#commandClients) client.start();
  }

  /** Calls authorized on this node and not hung up yet. */
  get activeCallIds(): readonly string[] {
    return [...this.#calls.keys()];
  }

  /** What the connector holds about a call it follows: its limit and whether it saw the answer (null: not followed). */
  callInfo(callId: string): { readonly maxSeconds: number; readonly answered: boolean } | null {
    const call = this.#calls.get(callId);
    return call === undefined ? null : { maxSeconds: call.maxSeconds, answered: call.answeredAtMilliseconds !== null };
  }

  /** Resolves when no decision, CDR, extension or reconcile is in progress (tests and benchmarks). */
  async settled(): Promise<void> {
    for (let round = 0; round < SETTLE_ROUNDS_MAX && (this.#parks.size > 0 || this.#background.size > 0); round++) {
      await Promise.allSettled([...this.#parks.values(), ...this.#background]);
    }
  }

  async close(): Promise<void> {
    const deadline = new Promise<void>((resolve) => setTimeout(resolve, CLOSE_WAIT_MILLISECONDS).unref());
    await Promise.race([this.settled(), deadline]);
    await Promise.all(this.#commandClients.map((client) => client.close()));
    this.#options.metrics.connectionUp.set({ node: this.name, connection: 'event' }, 0);
    this.#options.metrics.connectionUp.set({ node: this.name, connection: 'command' }, 0);
  }

  /** A top-up or adjustment on the account: each of its calls here may last longer now. */
  extendCallsOf(accountId: string, causeEventId: string): void {
    const callIds = this.#callsByAccount.get(accountId);
    if (callIds === undefined) return;
    for (const callId of callIds) this.#track(this.#extend(callId, causeEventId));
  }

  /** Records one decision's latency: to the command written (SPEC §14's measure) and to FreeSWITCH's reply. */
  #timed(callId: string, decision: 'transfer' | 'kill', receivedAt: number, sentAt: number, repliedAt: number): void {
    const { metrics, onDecision } = this.#options;
    const sentMilliseconds = sentAt - receivedAt;
    const repliedMilliseconds = repliedAt - receivedAt;
    metrics.decisionSeconds.observe({ node: this.name, decision }, repliedMilliseconds / 1000);
    if (Number.isFinite(sentMilliseconds)) {
      metrics.decisionSentSeconds.observe({ node: this.name, decision }, sentMilliseconds / 1000);
    }
    if (onDecision === undefined) return;
    try {
      onDecision({ callId, decision, sentMilliseconds, repliedMilliseconds });
    } catch {
      // Tracing must not change what happens to the call.
    }
  }

  // -------------------------------------------------------------------------------------------------------------
  // Events

  #onEvent(event: EslEvent, name: string): void {
    switch (name) {
      case 'CHANNEL_PARK':
        this.#onPark(event, performance.now());
        break;
      case 'CHANNEL_ANSWER':
        this.#onAnswer(event);
        break;
      case 'CHANNEL_HANGUP_COMPLETE':
        this.#track(this.#onHangupComplete(event));
        break;
      case 'HEARTBEAT':
        this.#options.metrics.heartbeatSeconds.set(
          { node: this.name },
          Math.floor(this.#options.wallClockMilliseconds() / MILLISECONDS_PER_SECOND),
        );
        break;
      default:
        // BACKGROUND_JOB: the client correlates its own jobs; nothing else here uses bgapi.
        break;
    }
  }

  /** The command client of a call: always the same one, so the call's commands reach FreeSWITCH in order. */
  #clientFor(callId: string): EslClient {
    let hash = 0;
    for (let index = 0; index < callId.length; index++) hash = (hash * 31 + callId.charCodeAt(index)) | 0;
    return this.#commandClients[Math.abs(hash) % this.#commandClients.length] as EslClient;
  }

  #track(work: Promise<void>): void {
    const tracked = work.catch((error) =>
      this.#options.log.error('ESL connector work failed', { node: this.name, error: message(error) }),
    );
    this.#background.add(tracked);
    void tracked.finally(() => this.#background.delete(tracked));
  }

  #remember(callId: string, set: Set<string> = this.#decided): void {
    set.add(callId);
    if (set.size > DECIDED_CALLS_REMEMBERED_MAX) {
      const oldest = set.values().next().value;
      if (oldest !== undefined) set.delete(oldest);
    }
  }

  #onPark(event: EslEvent, receivedAt: number): void {
    const parsed = parkedCallFromEvent(event);
    if (!parsed.ok) {
      this.#options.log.warn('unusable CHANNEL_PARK', { node: this.name, reason: parsed.reason });
      return;
    }
    const call = parsed.call;
    // B-legs are never authorized (the A-leg pays); a re-park of a call we released carries our marker.
    if (!call.isALeg || call.alreadyAuthorized) return;
    this.#startDecision(call, receivedAt);
  }

  #startDecision(call: ParkedCall, receivedAt: number): void {
    const { callId } = call;
    if (this.#parks.has(callId) || this.#calls.has(callId) || this.#decided.has(callId)) {
      this.#options.metrics.duplicateParks.inc({ node: this.name });
      return;
    }
    this.#remember(callId);
    if (this.#parks.size >= this.#options.parksInFlightMax) {
      const refusal: Decision = {
        authorized: false,
        maxSeconds: 0,
        reason: 'OVERLOADED',
        outcome: 'overloaded',
        hangupCause: OVERLOADED_HANGUP_CAUSE,
      };
      this.#track(this.#refuse(call, refusal, receivedAt));
      return;
    }
    const work = this.#decide(call, receivedAt)
      .catch((error) =>
        this.#options.log.error('park decision failed', { node: this.name, callId, error: message(error) }),
      )
      .finally(() => this.#parks.delete(callId));
    this.#parks.set(callId, work);
  }

  async #decide(call: ParkedCall, receivedAt: number): Promise<void> {
    let account: PayingAccount | null = null;
    let decision: Decision;
    try {
      account = await payingAccount(this.#options.holders, call);
      decision =
        account === null
          ? this.#denied('UNKNOWN_ACCOUNT')
          : !isDialledNumber(call.dialledNumber)
            ? this.#denied('DESTINATION_NOT_RATED')
            : await this.#authorize(account.accountId, call);
    } catch (error) {
      // A store is down. With the fail-open policy a call whose payer is known goes through, capped and
      // without a reservation (its CDR is rated when it comes); otherwise fail closed, with a cause that
      // tells the caller to try again.
      const { policy } = this.#options.khata.hot.authorizer;
      if (
        policy.mode === 'fail-open' &&
        isStoreUnavailable(error) &&
        account !== null &&
        isDialledNumber(call.dialledNumber)
      ) {
        this.#options.log.warn('authorization failed; call let through fail-open', {
          node: this.name,
          callId: call.callId,
          maxSeconds: policy.maxSeconds,
          error: message(error),
        });
        await this.#release(call, account.accountId, policy.maxSeconds, receivedAt, 'fail-open');
        return;
      }
      this.#options.log.error('authorization failed', { node: this.name, callId: call.callId, error: message(error) });
      await this.#refuse(
        call,
        { authorized: false, maxSeconds: 0, reason: 'ERROR', outcome: 'error', hangupCause: FAILURE_HANGUP_CAUSE },
        receivedAt,
      );
      return;
    }
    if (!decision.authorized || account === null) {
      await this.#refuse(call, decision, receivedAt);
      return;
    }
    await this.#release(call, account.accountId, decision.maxSeconds, receivedAt);
  }

  #denied(reason: string): Decision {
    return {
      authorized: false,
      maxSeconds: 0,
      reason,
      outcome: 'denied',
      hangupCause: this.#options.deniedHangupCause,
    };
  }

  /** The hot projection answers a sure "no" at once; a "yes" is confirmed by the StartCall append. */
  async #authorize(accountId: string, call: ParkedCall): Promise<Decision> {
    const { khata } = this.#options;
    const now = khata.clock();
    // Without a hot projector in this process an in-memory hot store is never updated: it would answer from
    // a stale balance, so the append alone decides.
    const hotIsCurrent = khata.hot.projector !== null || khata.hot.store.kind !== 'memory';
    if (hotIsCurrent) {
      const quick = await khata.hot.authorizer.authorize(accountId, call.dialledNumber, now, call.callId);
      if (!quick.authorized && quick.reason !== 'HOT_PROJECTION_UNAVAILABLE') return this.#denied(quick.reason);
    }
    const outcome = await this.#ledger.execute(
      {
        type: 'StartCall',
        commandId: nameBasedId(`start-call/${accountId}/${call.callId}`, CONNECTOR_NAMESPACE),
        accountId,
        callId: call.callId,
        destination: call.dialledNumber,
        at: now.toISOString(),
      },
      { actor: this.#actor, correlationId: call.callId },
    );
    if (outcome.status === 'rejected') return this.#denied(outcome.rejection.code);
    const maxSeconds = await this.#authorizedSeconds(outcome, accountId, call.callId);
    if (maxSeconds === null) return this.#denied('CALL_ALREADY_ENDED');
    return { authorized: true, maxSeconds, reason: 'OK', outcome: 'authorized', hangupCause: '' };
  }

  /** The appended CallAuthorized's limit, or (a repeated StartCall appends nothing) the open reservation's. */
  async #authorizedSeconds(
    outcome: Extract<CommandOutcome, { status: 'accepted' }>,
    accountId: string,
    callId: string,
  ): Promise<number | null> {
    const authorized = outcome.events.find((event) => event.type === 'CallAuthorized');
    if (authorized !== undefined) return (authorized.data as { maxSeconds: number }).maxSeconds;
    const { state } = await this.#ledger.load(accountId);
    return state.reservations.get(callId)?.maxSeconds ?? null;
  }

  async #refuse(call: ParkedCall, decision: Decision, receivedAt: number): Promise<void> {
    const { metrics } = this.#options;
    this.#remember(call.callId, this.#refused);
    const commands = commandsForDecision(call, decision, { deniedHangupCause: decision.hangupCause });
    if (!commands.ok) {
      this.#options.log.error('cannot refuse the call', {
        node: this.name,
        callId: call.callId,
        reason: commands.reason,
      });
      metrics.authorizations.inc({ node: this.name, outcome: 'error' });
      return;
    }
    metrics.authorizations.inc({ node: this.name, outcome: decision.outcome });
    try {
      let sentAt = Number.NaN;
      const onSent = (at: number): void => {
        sentAt = at;
      };
      for (const command of commands.commands) await this.#clientFor(call.callId).apiOutcome(command, { onSent });
      this.#timed(call.callId, 'kill', receivedAt, sentAt, performance.now());
    } catch (error) {
      // Not sent or not answered: park_timeout ends the call (fail closed).
      this.#options.log.warn('uuid_kill not confirmed', {
        node: this.name,
        callId: call.callId,
        error: message(error),
      });
    }
  }

  /** Sends the call on (`fail-open`: without a reservation, which the failure paths then have none to release). */
  async #release(
    call: ParkedCall,
    accountId: string,
    maxSeconds: number,
    receivedAt: number,
    outcome: 'authorized' | 'fail-open' = 'authorized',
  ): Promise<void> {
    const { metrics, log } = this.#options;
    const nowMilliseconds = this.#options.wallClockMilliseconds();
    const active: ActiveCall = {
      callId: call.callId,
      accountId,
      destination: call.dialledNumber,
      maxSeconds,
      answeredAtMilliseconds: call.answered ? nowMilliseconds : null,
      authorizedAtMilliseconds: nowMilliseconds,
      adopted: false,
      capSeconds: maxSeconds,
    };
    this.#follow(active);
    const commands = commandsForDecision(call, { authorized: true, maxSeconds, reason: null });
    if (!commands.ok) {
      // A number or context that cannot go on a command line safely: nothing was sent, so nothing routes it.
      log.error('cannot release the call', { node: this.name, callId: call.callId, reason: commands.reason });
      metrics.authorizations.inc({ node: this.name, outcome: 'error' });
      await this.#releaseReservation(active, `Khata could not release the call on FreeSWITCH: ${commands.reason}`);
      await this.#clientFor(call.callId)
        .kill(call.callId, FAILURE_HANGUP_CAUSE)
        .catch(() => undefined);
      return;
    }
    // Queued in the same turn, the three commands go out in one write and FreeSWITCH answers them in order: one
    // round trip, not three.
    let replies: Awaited<ReturnType<EslClient['apiOutcome']>>[];
    // The transfer is the last command: it is sent with the others, and written when they are.
    let sentAt = Number.NaN;
    const onSent = (at: number): void => {
      sentAt = at;
    };
    try {
      const client = this.#clientFor(call.callId);
      const last = commands.commands.length - 1;
      replies = await Promise.all(
        commands.commands.map((command, index) => client.apiOutcome(command, index === last ? { onSent } : {})),
      );
    } catch (error) {
      // Sent but unanswered (the connection dropped): the reconcile after the reconnect settles the call.
      log.warn('call control not confirmed', { node: this.name, callId: call.callId, error: message(error) });
      metrics.authorizations.inc({ node: this.name, outcome: 'error' });
      return;
    }
    this.#timed(call.callId, 'transfer', receivedAt, sentAt, performance.now());
    if (replies.some((reply) => reply.kind === 'no-such-channel')) {
      metrics.authorizations.inc({ node: this.name, outcome: 'abandoned' });
      await this.#releaseReservation(
        active,
        'the caller hung up while the call was parked (FreeSWITCH: no such channel)',
      );
      return;
    }
    const failed = replies.find((reply) => reply.kind === 'error');
    if (failed !== undefined) {
      log.error('FreeSWITCH refused call control', { node: this.name, callId: call.callId, reply: failed.text.trim() });
      metrics.authorizations.inc({ node: this.name, outcome: 'error' });
      await this.#clientFor(call.callId)
        .kill(call.callId, FAILURE_HANGUP_CAUSE)
        .catch(() => undefined);
      await this.#releaseReservation(active, `FreeSWITCH refused call control: ${failed.text.trim().slice(0, 200)}`);
      return;
    }
    metrics.authorizations.inc({ node: this.name, outcome });
  }

  #follow(call: ActiveCall): void {
    this.#calls.set(call.callId, call);
    let ofAccount = this.#callsByAccount.get(call.accountId);
    if (ofAccount === undefined) {
      ofAccount = new Set();
      this.#callsByAccount.set(call.accountId, ofAccount);
    }
    ofAccount.add(call.callId);
    this.#options.metrics.activeCalls.set({ node: this.name }, this.#calls.size);
  }

  #unfollow(callId: string): ActiveCall | undefined {
    const call = this.#calls.get(callId);
    if (call === undefined) return undefined;
    this.#calls.delete(callId);
    const ofAccount = this.#callsByAccount.get(call.accountId);
    ofAccount?.delete(callId);
    if (ofAccount?.size === 0) this.#callsByAccount.delete(call.accountId);
    this.#options.metrics.activeCalls.set({ node: this.name }, this.#calls.size);
    return call;
  }

  async #releaseReservation(call: ActiveCall, reason: string): Promise<void> {
    this.#unfollow(call.callId);
    try {
      const outcome = await this.#ledger.execute(
        {
          type: 'ReleaseReservation',
          commandId: nameBasedId(`release/${call.accountId}/${call.callId}`, CONNECTOR_NAMESPACE),
          accountId: call.accountId,
          callId: call.callId,
          reason: reason.slice(0, 500),
        },
        { actor: this.#actor, correlationId: call.callId },
      );
      if (outcome.status === 'rejected') {
        this.#options.log.warn('reservation not released', { callId: call.callId, code: outcome.rejection.code });
      }
    } catch (error) {
      // The reservation-expiry sweeper releases it later.
      this.#options.log.warn('reservation not released', { callId: call.callId, error: message(error) });
    }
  }

  #onAnswer(event: EslEvent): void {
    const callId = eventHeader(event, 'Unique-ID');
    const call = callId === undefined ? undefined : this.#calls.get(callId);
    if (call === undefined || call.answeredAtMilliseconds !== null) return;
    const answeredMicroseconds = Number(eventHeader(event, 'Caller-Channel-Answered-Time') ?? '0');
    call.answeredAtMilliseconds =
      Number.isSafeInteger(answeredMicroseconds) && answeredMicroseconds > 0
        ? Math.floor(answeredMicroseconds / MICROSECONDS_PER_MILLISECOND)
        : this.#options.wallClockMilliseconds();
    // The limit grew while the call rang: execute_on_answer may have run the old one.
    if (call.capSeconds !== call.maxSeconds) this.#track(this.#reschedule(call));
    else if (this.#options.lowBalanceWarning !== null) this.#track(this.#warnBeforeEnd(call, call.maxSeconds));
  }

  // -------------------------------------------------------------------------------------------------------------
  // Longer calls after a top-up

  async #extend(callId: string, causeEventId: string): Promise<void> {
    const call = this.#calls.get(callId);
    if (call === undefined) return;
    const outcome = await this.#ledger.execute(
      {
        type: 'ExtendReservation',
        commandId: nameBasedId(`extend/${call.accountId}/${callId}/${causeEventId}`, CONNECTOR_NAMESPACE),
        accountId: call.accountId,
        callId,
      },
      { actor: this.#actor, correlationId: callId, causationId: causeEventId },
    );
    if (outcome.status === 'rejected') return; // NOTHING_TO_EXTEND, NO_OPEN_RESERVATION: the limit stands.
    const extended = outcome.events.find((event) => event.type === 'ReservationExtended');
    if (extended === undefined || !this.#calls.has(callId)) return;
    call.maxSeconds = (extended.data as { maxSeconds: number }).maxSeconds;
    this.#options.metrics.extensions.inc({ node: this.name });
    await this.#reschedule(call);
  }

  /** Tells FreeSWITCH the call's current limit. */
  async #reschedule(call: ActiveCall): Promise<void> {
    const { callId } = call;
    const limit = call.maxSeconds;
    const client = this.#clientFor(callId);
    const outcomes = [await client.setVar(callId, MAX_SECONDS_VARIABLE, String(limit))];
    if (call.answeredAtMilliseconds === null && !call.adopted) {
      // Not answered yet: the cap starts at the answer, so replace what execute_on_answer will run.
      outcomes.push(
        await client.setVar(callId, 'execute_on_answer', hangupOnAnswerApplication(limit, CAPPED_HANGUP_CAUSE)),
      );
    } else {
      const since = call.answeredAtMilliseconds ?? call.authorizedAtMilliseconds;
      const elapsedSeconds = Math.floor((this.#options.wallClockMilliseconds() - since) / MILLISECONDS_PER_SECOND);
      const remainingSeconds = Math.max(1, limit - elapsedSeconds);
      // sched_del with the uuid deletes every task of the channel's group: the cap and any warning.
      outcomes.push(await client.schedDel(callId));
      outcomes.push(await client.schedHangup(callId, remainingSeconds, CAPPED_HANGUP_CAUSE));
      if (this.#options.lowBalanceWarning !== null) await this.#warnBeforeEnd(call, remainingSeconds);
    }
    call.capSeconds = limit;
    if (outcomes.some((outcome) => outcome.kind === 'no-such-channel')) return; // hung up meanwhile: the CDR settles it
    const failed = outcomes.find((outcome) => outcome.kind === 'error');
    if (failed !== undefined) {
      this.#options.log.warn('new limit not applied', { node: this.name, callId, reply: failed.text.trim() });
    }
  }

  async #warnBeforeEnd(call: ActiveCall, remainingSeconds: number): Promise<void> {
    const warning = this.#options.lowBalanceWarning;
    if (warning === null || remainingSeconds <= warning.secondsBeforeEnd) return;
    await this.#clientFor(call.callId).schedBroadcast(
      call.callId,
      remainingSeconds - warning.secondsBeforeEnd,
      warning.soundPath,
    );
  }

  // -------------------------------------------------------------------------------------------------------------
  // Hangups and CDRs

  async #onHangupComplete(event: EslEvent): Promise<void> {
    const { metrics, log, khata } = this.#options;
    const parsed = parseHangupEvent(event);
    if (!parsed.ok) {
      log.warn('unusable CHANNEL_HANGUP_COMPLETE', { node: this.name, reason: parsed.reason });
      return;
    }
    const cdr = parsed.cdr;
    // A hangup while we were deciding: let the decision finish (it may append StartCall) before rating.
    await this.#parks.get(cdr.callId);
    const active = this.#unfollow(cdr.callId);
    const labels = { node: this.name, leg: cdr.leg };
    const inbox = { db: khata.readDb, ledger: this.#ledger, clock: khata.clock };
    if (cdr.leg === 'B') {
      await recordCdr(inbox, cdr, { account: null });
      metrics.cdrs.inc({ ...labels, outcome: 'recorded' });
      return;
    }
    // A call refused at park reserved nothing and, never answered, costs nothing: there is nothing to post.
    if (active === undefined && this.#refused.has(cdr.callId) && cdr.billableMilliseconds === 0) {
      metrics.cdrs.inc({ ...labels, outcome: 'not-billable' });
      return;
    }
    const account: PayingAccount | null =
      active === undefined
        ? await payingAccount(this.#options.holders, { accountCode: cdr.accountCode, dialledNumber: cdr.destination })
        : { accountId: active.accountId, via: 'accountcode' };
    const notBillable = notBillableBecause(cdr, account);
    if (notBillable !== null || account === null) {
      metrics.cdrs.inc({ ...labels, outcome: 'not-billable' });
      return;
    }
    try {
      const outcome = await this.#ledger.execute(
        {
          type: 'RateCdr',
          commandId: nameBasedId(`rate-cdr/${account.accountId}/${cdr.callId}`, CONNECTOR_NAMESPACE),
          accountId: account.accountId,
          cdr: cdrForRating(cdr),
        },
        { actor: this.#actor, correlationId: cdr.callId },
      );
      if (outcome.status === 'rejected') {
        log.warn('CDR not rated', { node: this.name, callId: cdr.callId, code: outcome.rejection.code });
        metrics.cdrs.inc({ ...labels, outcome: 'rejected' });
        return;
      }
      metrics.cdrs.inc({ ...labels, outcome: 'rated' });
    } catch (error) {
      // The ledger could not take it now: the CDR inbox keeps it and the worker retries.
      log.warn('CDR not rated now; recorded for the worker', { callId: cdr.callId, error: message(error) });
      try {
        await recordCdr(inbox, cdr, { account });
        metrics.cdrs.inc({ ...labels, outcome: 'recorded' });
      } catch {
        metrics.cdrs.inc({ ...labels, outcome: 'error' });
      }
    }
  }

  // -------------------------------------------------------------------------------------------------------------
  // Reconnects

  #checkUp(): void {
    const { event, command } = this.client.state;
    if (this.#up || event !== 'connected' || command !== 'connected') return;
    this.#up = true;
    const reason = this.#connectedBefore ? 'reconnected' : 'connected';
    this.#connectedBefore = true;
    this.#options.log.info('FreeSWITCH connected', { node: this.name, reason });
    this.#reconcileSoon();
  }

  /** Single flight: a reconnect during a reconcile asks for one more round after it. */
  #reconcileSoon(): void {
    if (this.#reconciling !== null) {
      this.#reconcileAgain = true;
      return;
    }
    const run = async (): Promise<void> => {
      let failures = 0;
      do {
        this.#reconcileAgain = false;
        const compared = await this.#reconcile().catch((error) => {
          this.#options.log.warn('reconcile failed', { node: this.name, error: message(error) });
          return false;
        });
        // A failed `show channels` right after a reconnect would otherwise leave calls parked meanwhile
        // undecided until the next reconnect: try again shortly, a bounded number of times.
        if (!compared && this.#up && failures < RECONCILE_RETRIES_MAX) {
          failures += 1;
          await sleep(RECONCILE_RETRY_DELAY_MILLISECONDS);
          this.#reconcileAgain = true;
        }
      } while (this.#reconcileAgain && this.#up);
    };
    this.#reconciling = run().finally(() => {
      this.#reconciling = null;
    });
    this.#track(this.#reconciling);
  }

  /** Compares what FreeSWITCH has with what we follow (see the module comment); false when it could not look. */
  async #reconcile(): Promise<boolean> {
    const { metrics, log } = this.#options;
    const shown = await this.client.showChannels();
    if (!shown.ok) {
      log.warn('show channels failed', { node: this.name, reason: shown.reason });
      return false;
    }
    const rows = shown.rows.slice(0, RECONCILE_CHANNELS_MAX);
    const live = new Map<string, ChannelRow>();
    for (const row of rows) if (row.uuid !== undefined) live.set(row.uuid, row);

    for (const call of [...this.#calls.values()]) {
      if (live.has(call.callId) || this.#parks.has(call.callId)) continue;
      metrics.reconciliations.inc({ node: this.name, action: 'released' });
      await this.#releaseReservation(
        call,
        `FreeSWITCH ${this.name} no longer had the call when the ESL connection came back: it ended while ` +
          'Khata was not listening (a CDR that still arrives is charged without a reservation)',
      );
    }

    for (const [callId, row] of live) {
      if (this.#calls.has(callId) || this.#parks.has(callId)) continue;
      if (row.application === 'park') {
        // Parked while we were away: its CHANNEL_PARK never reached us.
        if (this.#decided.has(callId)) continue;
        metrics.reconciliations.inc({ node: this.name, action: 'authorized' });
        this.#startDecision(parkedCallFromRow(row), performance.now());
        continue;
      }
      await this.#adopt(row);
    }
    return true;
  }

  /** A call in progress that holds an open reservation but that this process does not follow (a restart). */
  async #adopt(row: ChannelRow): Promise<void> {
    const callId = row.uuid ?? '';
    const account = await payingAccount(this.#ledger, {
      accountCode: row.accountcode ?? null,
      dialledNumber: row.dest ?? '',
    });
    if (account === null) return;
    const { state } = await this.#ledger.load(account.accountId);
    const reservation = state.reservations.get(callId);
    if (reservation === undefined || this.#calls.has(callId)) return;
    const authorizedAt = Date.parse(reservation.authorizedAt);
    this.#follow({
      callId,
      accountId: account.accountId,
      destination: reservation.destination,
      maxSeconds: reservation.maxSeconds,
      answeredAtMilliseconds: null,
      authorizedAtMilliseconds: Number.isNaN(authorizedAt) ? this.#options.wallClockMilliseconds() : authorizedAt,
      adopted: true,
      capSeconds: reservation.maxSeconds,
    });
    this.#remember(callId);
    this.#options.metrics.reconciliations.inc({ node: this.name, action: 'adopted' });
  }
}

/** A parked channel as `show channels` lists it, in the shape CHANNEL_PARK would have given. */
function parkedCallFromRow(row: ChannelRow): ParkedCall {
  return {
    callId: row.uuid ?? '',
    accountCode: row.accountcode === undefined || row.accountcode === '' ? null : row.accountcode,
    dialledNumber: row.dest ?? '',
    callerNumber: row.cid_num ?? null,
    context: row.context ?? 'default',
    // Only A-legs run the park application in the billing dialplan.
    isALeg: true,
    answered: row.callstate === 'ACTIVE',
    alreadyAuthorized: false,
  };
}
