/**
 * The ESL connector end to end: FreeSWITCH's side is the protocol-faithful stand-in (a TCP server speaking ESL,
 * with a channel model that answers commands as FreeSWITCH does); Khata's is a whole Khata on the embedded
 * in-memory database. Assertions are what an operator would see: the commands the switch received, in order,
 * and what the account's stream says about reservations and charges.
 */
import { randomUUID } from 'node:crypto';
import { Money } from '@khata/domain';
import { FreeswitchStandIn } from '@khata/esl/testing';
import { EventStoreUnavailable, type RecordedEvent } from '@khata/event-store';
import { interruptible } from '@khata/event-store/testing';
import type { Khata } from '@khata/runtime';
import { verifyAccount } from '@khata/runtime';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { DecisionTiming } from './connector.ts';
import {
  type ConnectedSwitch,
  connectStandIn,
  eventually,
  openTestAccount,
  openTestKhata,
  runCommand,
  settleProjections,
} from './testing.ts';

const US_NUMBER = '+14155550100';
/** How long the reconcile after a reconnect may take under a loaded CI machine (it is milliseconds when idle). */
const RECONCILE_WAIT_MILLISECONDS = 30_000;
const CALLER = '+919876500001';

let khata: Khata;
let connected: ConnectedSwitch | null = null;

beforeAll(async () => {
  khata = await openTestKhata();
}, 120_000);
afterAll(async () => {
  await khata?.close();
});
afterEach(async () => {
  await connected?.close();
  connected = null;
});

async function connect(
  options: Parameters<typeof connectStandIn>[1] = {},
  on: Khata = khata,
): Promise<ConnectedSwitch> {
  connected = await connectStandIn(on, options);
  return connected;
}

async function streamOf(accountId: string, on: Khata = khata): Promise<readonly RecordedEvent[]> {
  return (await on.eventStore.readStream(`account-${accountId}`)).events;
}

async function eventsOf(
  accountId: string,
  type: string,
  callId?: string,
  on: Khata = khata,
): Promise<Record<string, unknown>[]> {
  return (await streamOf(accountId, on))
    .filter((event) => event.type === type && (callId === undefined || event.data.callId === callId))
    .map((event) => event.data as Record<string, unknown>);
}

/** The API commands the stand-in received that concern one call, in order. */
function commandsFor(standIn: ConnectedSwitch['standIn'], callId: string): string[] {
  return standIn.apiCommands.filter((command) => command.includes(callId));
}

describe('ESL connector against the FreeSWITCH stand-in', () => {
  it('authorizes a toll-free call once: marks it, caps it at the reserved seconds on answer, transfers it, rates its CDR', async () => {
    const account = await openTestAccount(khata, {
      topUp: '1180.00',
      tollFreeNumbers: ['18004190001'],
      extensions: ['101', '102'],
    });
    const timings: DecisionTiming[] = [];
    const { standIn, node } = await connect({ onDecision: (timing) => timings.push(timing) });
    const callId = standIn.park({ callerNumber: CALLER, destination: '18004190001', context: 'public' });
    await standIn.waitForCommand((command) => command.line.startsWith(`api uuid_transfer ${callId}`));
    await node.settled();
    // Timed twice: to the uuid_transfer written (Khata's own share) and to FreeSWITCH's reply, which comes after.
    expect(timings).toEqual([
      { callId, decision: 'transfer', sentMilliseconds: expect.any(Number), repliedMilliseconds: expect.any(Number) },
    ]);
    const [timing] = timings as [DecisionTiming];
    expect(timing.sentMilliseconds).toBeGreaterThan(0);
    expect(timing.repliedMilliseconds).toBeGreaterThan(timing.sentMilliseconds);

    const [authorized] = await eventsOf(account.accountId, 'CallAuthorized', callId);
    const maxSeconds = authorized?.maxSeconds as number;
    expect(maxSeconds).toBeGreaterThan(0);
    expect(commandsFor(standIn, callId)).toEqual([
      `uuid_setvar_multi ${callId} billing_auth=OK;billing_max_sec=${maxSeconds}`,
      `uuid_setvar ${callId} execute_on_answer sched_hangup +${maxSeconds} ALLOTTED_TIMEOUT`,
      `uuid_transfer ${callId} 18004190001 XML public`,
    ]);
    expect(standIn.channel(callId)?.transfers).toEqual([
      { destination: '18004190001', dialplan: 'XML', context: 'public' },
    ]);

    // The same CHANNEL_PARK delivered again (without the marker a real re-park would carry) changes nothing.
    standIn.emit({
      headers: [
        ['Event-Name', 'CHANNEL_PARK'],
        ['Unique-ID', callId],
        ['Caller-Caller-ID-Number', CALLER],
        ['Caller-Destination-Number', '18004190001'],
        ['Caller-Context', 'public'],
      ],
      body: null,
    });
    await eventually(
      async () => /khata_esl_duplicate_parks_total\{[^}]*} [1-9]/.test(await khata.metrics.metrics()),
      'the duplicate to be seen',
    );
    await node.settled();
    expect(commandsFor(standIn, callId)).toHaveLength(3);
    expect(await eventsOf(account.accountId, 'CallAuthorized', callId)).toHaveLength(1);

    standIn.answer(callId);
    // The switch itself ends the call after the reserved seconds: the task the answer scheduled.
    expect(standIn.scheduledTasks.filter((task) => task.group === callId).map((task) => task.command)).toEqual([
      'hangup ALLOTTED_TIMEOUT',
    ]);
    standIn.hangup(callId, 'NORMAL_CLEARING', 90_500);
    await eventually(async () => (await eventsOf(account.accountId, 'CdrRated', callId)).length === 1, 'the CDR');
    const [rated] = await eventsOf(account.accountId, 'CdrRated', callId);
    expect(rated).toMatchObject({ billableMilliseconds: 90_500, durationSeconds: 91, hadReservation: true });
    expect((await khata.ledger.load(account.accountId)).state.reservations.has(callId)).toBe(false);
    expect(node.activeCallIds).not.toContain(callId);
    const decisions = await khata.metrics.getSingleMetricAsString('khata_esl_decision_seconds');
    expect(decisions).toMatch(/khata_esl_decision_seconds_count\{node="[^"]+",decision="transfer"} [1-9]/);
    const sent = await khata.metrics.getSingleMetricAsString('khata_esl_decision_sent_seconds');
    expect(sent).toMatch(/khata_esl_decision_sent_seconds_count\{node="[^"]+",decision="transfer"} [1-9]/);
    const connections = await khata.metrics.getSingleMetricAsString('khata_esl_connection_up');
    expect(connections).toContain(`khata_esl_connection_up{node="${node.name}",connection="event"} 1`);
    expect(connections).toContain(`khata_esl_connection_up{node="${node.name}",connection="command"} 1`);
  });

  it('refuses a call the account cannot pay for with the configured cause, and reserves nothing', async () => {
    const broke = await openTestAccount(khata, { planId: null });
    const timings: DecisionTiming[] = [];
    const { standIn, node } = await connect({
      deniedHangupCause: 'CALL_REJECTED',
      onDecision: (timing) => timings.push(timing),
    });
    const callId = standIn.park({ callerNumber: '101', destination: US_NUMBER, accountCode: broke.accountId });
    await standIn.waitForCommand((command) => command.line.startsWith(`api uuid_kill ${callId}`));
    await node.settled();
    expect(commandsFor(standIn, callId)).toEqual([`uuid_kill ${callId} CALL_REJECTED`]);
    expect(timings).toMatchObject([{ callId, decision: 'kill' }]);
    expect((timings[0] as DecisionTiming).repliedMilliseconds).toBeGreaterThan(
      (timings[0] as DecisionTiming).sentMilliseconds,
    );
    await eventually(() => standIn.channel(callId)?.hangupCause === 'CALL_REJECTED', 'the hangup');
    expect(await eventsOf(broke.accountId, 'CallAuthorized')).toEqual([]);
    const metrics = await khata.metrics.getSingleMetricAsString('khata_esl_authorizations_total');
    expect(metrics).toMatch(/outcome="denied"} [1-9]/);
  });

  it('follows the configured policy when the ledger cannot be written: fail-closed refuses, fail-open caps without a reservation', async () => {
    const FAIL_OPEN_SECONDS = 120;
    const open = await openTestKhata({
      HOT_PROJECTION_UNAVAILABLE_POLICY: 'fail-open',
      HOT_PROJECTION_FAIL_OPEN_SECONDS: String(FAIL_OPEN_SECONDS),
    });
    try {
      for (const [on, policy] of [
        [khata, 'fail-closed'],
        [open, 'fail-open'],
      ] as const) {
        const account = await openTestAccount(on, { topUp: '1180.00' });
        // The event store is down for StartCall (the account lookup before it still answers).
        const execute = on.ledger.execute.bind(on.ledger);
        on.ledger.execute = async (command, meta) => {
          if ((command as { type?: string }).type === 'StartCall')
            throw new EventStoreUnavailable('connection refused');
          return execute(command, meta);
        };
        try {
          const { standIn, node } = await connect({}, on);
          const callId = standIn.park({ callerNumber: '101', destination: US_NUMBER, accountCode: account.accountId });
          if (policy === 'fail-closed') {
            await standIn.waitForCommand((command) => command.line.startsWith(`api uuid_kill ${callId}`));
            await node.settled();
            expect(commandsFor(standIn, callId)).toEqual([`uuid_kill ${callId} NORMAL_TEMPORARY_FAILURE`]);
          } else {
            await standIn.waitForCommand((command) => command.line.startsWith(`api uuid_transfer ${callId}`));
            await node.settled();
            expect(commandsFor(standIn, callId)).toEqual([
              `uuid_setvar_multi ${callId} billing_auth=OK;billing_max_sec=${FAIL_OPEN_SECONDS}`,
              `uuid_setvar ${callId} execute_on_answer sched_hangup +${FAIL_OPEN_SECONDS} ALLOTTED_TIMEOUT`,
              `uuid_transfer ${callId} ${US_NUMBER} XML default`,
            ]);
            const metrics = await on.metrics.getSingleMetricAsString('khata_esl_authorizations_total');
            expect(metrics).toMatch(/outcome="fail-open"} 1/);
          }
          expect(await eventsOf(account.accountId, 'CallAuthorized', callId, on)).toEqual([]);
          await connected?.close();
          connected = null;
        } finally {
          on.ledger.execute = execute;
        }
      }
      // Fail-open is for an unreachable store only: any other failure still refuses the call.
      const account = await openTestAccount(open, { topUp: '1180.00' });
      const execute = open.ledger.execute.bind(open.ledger);
      open.ledger.execute = async (command, meta) => {
        if ((command as { type?: string }).type === 'StartCall') throw new Error('a bug, not an outage');
        return execute(command, meta);
      };
      try {
        const { standIn, node } = await connect({}, open);
        const callId = standIn.park({ callerNumber: '101', destination: US_NUMBER, accountCode: account.accountId });
        await standIn.waitForCommand((command) => command.line.startsWith(`api uuid_kill ${callId}`));
        await node.settled();
        expect(commandsFor(standIn, callId)).toEqual([`uuid_kill ${callId} NORMAL_TEMPORARY_FAILURE`]);
      } finally {
        open.ledger.execute = execute;
      }
    } finally {
      await connected?.close();
      connected = null;
      await open.close();
    }
  }, 120_000);

  it('refuses a toll-free number nobody holds and a park for a number no account can be found for', async () => {
    const { standIn, node } = await connect();
    const callId = standIn.park({ callerNumber: CALLER, destination: '18009999999', context: 'public' });
    await standIn.waitForCommand((command) => command.line === `api uuid_kill ${callId} OUTGOING_CALL_BARRED`);
    await node.settled();
    expect(commandsFor(standIn, callId)).toEqual([`uuid_kill ${callId} OUTGOING_CALL_BARRED`]);
  });

  it('bills a toll-free number moved to another account to its new holder, and refuses it once nobody holds it', async () => {
    const before = await openTestAccount(khata, { topUp: '1180.00', tollFreeNumbers: ['18004190005'] });
    const after = await openTestAccount(khata, { topUp: '1180.00' });
    const { standIn, node, connector } = await connect();
    const park = async (): Promise<string> => {
      const callId = standIn.park({ callerNumber: CALLER, destination: '18004190005', context: 'public' });
      await standIn.waitForCommand(
        (command) => command.line.includes(callId) && /uuid_(transfer|kill)/.test(command.line),
      );
      await node.settled();
      return callId;
    };
    // The registry's news reaches the connector through its follower, within the log's poll interval.
    const registryCaughtUp = async () => {
      const head = await khata.eventStore.headPosition();
      await eventually(() => {
        const position = connector.registryFollower?.status.position ?? null;
        return position !== null && head !== null && position >= head;
      }, 'the registry follower to reach the head');
    };
    const first = await park();
    expect(await eventsOf(before.accountId, 'CallAuthorized', first)).toHaveLength(1);

    await runCommand(khata, before.accountId, 'ReleaseNumber', { kind: 'toll-free', number: '18004190005' });
    await runCommand(khata, after.accountId, 'AssignNumber', { kind: 'toll-free', number: '18004190005' });
    await registryCaughtUp();
    const second = await park();
    expect(await eventsOf(after.accountId, 'CallAuthorized', second)).toHaveLength(1);
    expect(await eventsOf(before.accountId, 'CallAuthorized', second)).toHaveLength(0);

    await runCommand(khata, after.accountId, 'ReleaseNumber', { kind: 'toll-free', number: '18004190005' });
    await registryCaughtUp();
    const third = await park();
    expect(commandsFor(standIn, third)).toEqual([`uuid_kill ${third} OUTGOING_CALL_BARRED`]);
  });

  it('treats a caller who hangs up while parked as normal: No Such Channel, reservation released, nothing charged', async () => {
    const account = await openTestAccount(khata, { topUp: '1180.00', tollFreeNumbers: ['18004190002'] });
    const before = (await khata.ledger.load(account.accountId)).state.balance;
    const { standIn, node } = await connect();
    const callId = standIn.park({ callerNumber: CALLER, destination: '18004190002', context: 'public' });
    // Gone before Khata decided: FreeSWITCH answers every command with -ERR No Such Channel!
    standIn.hangup(callId, 'ORIGINATOR_CANCEL', 0);
    await standIn.waitForCommand((command) => command.line.startsWith(`api uuid_setvar_multi ${callId}`));
    await node.settled();
    await eventually(async () => (await eventsOf(account.accountId, 'CdrRated', callId)).length === 1, 'the CDR');

    expect(await eventsOf(account.accountId, 'CallAuthorized', callId)).toHaveLength(1);
    expect(await eventsOf(account.accountId, 'ReservationExpired', callId)).toHaveLength(1);
    const [rated] = await eventsOf(account.accountId, 'CdrRated', callId);
    expect(rated).toMatchObject({ billedSeconds: 0, answeredAt: null });
    expect(Money.parse(String(rated?.cost)).isZero()).toBe(true);
    const { state } = await khata.ledger.load(account.accountId);
    expect(state.reservations.size).toBe(0);
    expect(state.balance.toString()).toBe(before.toString());
    expect(node.activeCallIds).toEqual([]);
    expect(await khata.metrics.getSingleMetricAsString('khata_esl_authorizations_total')).toMatch(
      /outcome="abandoned"} [1-9]/,
    );
  });

  it('extends a call in progress after a top-up: sched_del, then a new sched_hangup for the longer limit', async () => {
    // ₹500 + GST buys a starter month (₹349) and leaves ₹151: about 50 minutes to the USA at ₹3.00 a minute.
    const account = await openTestAccount(khata, { topUp: '590.00' });
    const { standIn, node } = await connect();
    const callId = standIn.park({ callerNumber: '101', destination: US_NUMBER, accountCode: account.accountId });
    await standIn.waitForCommand((command) => command.line.startsWith(`api uuid_transfer ${callId}`));
    await node.settled();
    const first = node.callInfo(callId)?.maxSeconds as number;
    expect(first).toBeGreaterThan(60);
    expect(first).toBeLessThan(7_200);
    standIn.answer(callId);
    await eventually(() => node.callInfo(callId)?.answered === true, 'the answer to reach the connector');
    const fromIndex = standIn.commands.length;

    await runCommand(khata, account.accountId, 'TopUpWallet', { amount: '118.00' });
    const renewed = await standIn.waitForCommand((command) => command.line.startsWith(`api sched_hangup`), {
      fromIndex,
    });
    await node.settled();
    const [extended] = await eventsOf(account.accountId, 'ReservationExtended', callId);
    const second = extended?.maxSeconds as number;
    expect(second).toBeGreaterThan(first);
    const after = standIn.commands.slice(fromIndex).map((command) => command.line);
    expect(after).toEqual([
      `api uuid_setvar ${callId} billing_max_sec ${second}`,
      `api sched_del ${callId}`,
      // Answered a moment ago: the remaining time is the whole new limit (give or take the second boundary).
      expect.stringMatching(new RegExp(`^api sched_hangup \\+(${second}|${second - 1}) ${callId} ALLOTTED_TIMEOUT$`)),
    ]);
    expect(renewed.line).toContain(callId);
    // One cap left in the switch, the new one.
    expect(standIn.scheduledTasks.filter((task) => task.group === callId)).toHaveLength(1);
    standIn.hangup(callId, 'NORMAL_CLEARING', 30_000);
    await eventually(async () => (await eventsOf(account.accountId, 'CdrRated', callId)).length === 1, 'the CDR');
  });

  it('still extends calls on top-ups after its log subscription failed: the top-up made during the outage and the one after, once each', async () => {
    const account = await openTestAccount(khata, { topUp: '590.00' });
    // The connector reads the log through a store whose subscriptions fail on demand (a dropped connection).
    const outage = interruptible(khata.eventStore);
    const { standIn, node, connector } = await connect(
      { followRetryDelayMilliseconds: { min: 5, max: 20 } },
      { ...khata, eventStore: outage.store },
    );
    const callId = standIn.park({ callerNumber: '101', destination: US_NUMBER, accountCode: account.accountId });
    await standIn.waitForCommand((command) => command.line.startsWith(`api uuid_transfer ${callId}`));
    await node.settled();
    const first = node.callInfo(callId)?.maxSeconds as number;
    standIn.answer(callId);
    await eventually(() => node.callInfo(callId)?.answered === true, 'the answer to reach the connector');
    const follower = connector.topUpFollower;

    outage.fail();
    await eventually(() => (follower?.status.consecutiveFailures ?? 0) >= 2, 'the follower to be retrying');
    await runCommand(khata, account.accountId, 'TopUpWallet', { amount: '59.00' });
    const fromIndex = standIn.commands.length;
    outage.recover();
    await standIn.waitForCommand((command) => command.line.startsWith('api sched_hangup'), { fromIndex });
    await node.settled();
    const second = node.callInfo(callId)?.maxSeconds as number;
    expect(second).toBeGreaterThan(first);

    const afterBlip = standIn.commands.length;
    await runCommand(khata, account.accountId, 'TopUpWallet', { amount: '59.00' });
    await standIn.waitForCommand((command) => command.line.startsWith('api sched_hangup'), { fromIndex: afterBlip });
    await node.settled();
    const third = node.callInfo(callId)?.maxSeconds as number;
    expect(third).toBeGreaterThan(second);

    const extensions = await eventsOf(account.accountId, 'ReservationExtended', callId);
    expect(extensions.map((extension) => extension.maxSeconds)).toEqual([second, third]);
    expect(
      standIn.commands.slice(fromIndex).filter((command) => command.line.startsWith('api sched_hangup')),
    ).toHaveLength(2);
    expect(follower?.status).toMatchObject({ state: 'following', restarts: 1, failingSinceMilliseconds: null });
    expect(await khata.metrics.getSingleMetricAsString('khata_log_follower_restarts_total')).toContain(
      'khata_log_follower_restarts_total{follower="esl-top-ups"} 1',
    );
    standIn.hangup(callId, 'NORMAL_CLEARING', 30_000);
    await eventually(async () => (await eventsOf(account.accountId, 'CdrRated', callId)).length === 1, 'the CDR');
  });

  it('warns the caller before the limit when a low-balance sound is configured, and again after an extension', async () => {
    const account = await openTestAccount(khata, { topUp: '590.00' });
    const { standIn, node } = await connect({
      lowBalanceWarning: { soundPath: '/usr/share/freeswitch/sounds/khata/low_balance.wav', secondsBeforeEnd: 30 },
    });
    const callId = standIn.park({ callerNumber: '101', destination: US_NUMBER, accountCode: account.accountId });
    await standIn.waitForCommand((command) => command.line.startsWith(`api uuid_transfer ${callId}`));
    await node.settled();
    const limit = node.callInfo(callId)?.maxSeconds as number;
    standIn.answer(callId);
    const warning = await standIn.waitForCommand((command) => command.line.startsWith('api sched_broadcast'));
    expect(warning.line).toBe(
      `api sched_broadcast +${limit - 30} ${callId} /usr/share/freeswitch/sounds/khata/low_balance.wav aleg`,
    );
    const fromIndex = standIn.commands.length;
    await runCommand(khata, account.accountId, 'TopUpWallet', { amount: '118.00' });
    const again = await standIn.waitForCommand((command) => command.line.startsWith('api sched_broadcast'), {
      fromIndex,
    });
    await node.settled();
    const longer = node.callInfo(callId)?.maxSeconds as number;
    expect(longer).toBeGreaterThan(limit);
    expect(again.line).toMatch(new RegExp(`^api sched_broadcast \\+(${longer - 30}|${longer - 31}) ${callId} `));
    // sched_del removed the first cap and warning: one of each is left, for the new limit.
    expect(
      standIn.scheduledTasks.filter((task) => task.group === callId).map((task) => task.command.split(' ')[0]),
    ).toEqual(['hangup', 'broadcast']);
  });

  it('survives a FreeSWITCH restart: reconnects, releases calls that ended meanwhile, decides calls parked meanwhile', async () => {
    const account = await openTestAccount(khata, { topUp: '1180.00', tollFreeNumbers: ['18004190003'] });
    const { standIn, node } = await connect();
    const park = () => standIn.park({ callerNumber: CALLER, destination: '18004190003', context: 'public' });
    const survivor = park();
    const lost = park();
    for (const callId of [survivor, lost]) {
      await standIn.waitForCommand((command) => command.line.startsWith(`api uuid_transfer ${callId}`));
      standIn.answer(callId);
    }
    await node.settled();
    expect(new Set(node.activeCallIds)).toEqual(new Set([survivor, lost]));

    const fromIndex = standIn.commands.length;
    standIn.dropAllConnections();
    // While nobody listens: one call ends (its CHANNEL_HANGUP_COMPLETE is lost), one new call parks.
    standIn.hangup(lost, 'NORMAL_CLEARING', 10_000);
    const newcomer = park();

    // After the reconnect the connector reconciles: it releases the lost call and decides the newcomer, each an
    // append on the embedded database; with other test files on the same two cores that can take seconds.
    const afterReconnect = { fromIndex, timeoutMilliseconds: RECONCILE_WAIT_MILLISECONDS };
    await standIn.waitForCommand((command) => command.line === 'api show channels as json', afterReconnect);
    await standIn.waitForCommand((command) => command.line.startsWith(`api uuid_transfer ${newcomer}`), afterReconnect);
    await node.settled();
    expect(node.client.state).toEqual({ event: 'connected', command: 'connected' });
    const released = await eventsOf(account.accountId, 'ReservationExpired', lost);
    expect(released).toHaveLength(1);
    expect(await eventsOf(account.accountId, 'ReservationExpired', survivor)).toEqual([]);
    expect(new Set(node.activeCallIds)).toEqual(new Set([survivor, newcomer]));
    const reconciled = await khata.metrics.getSingleMetricAsString('khata_esl_reconciliations_total');
    expect(reconciled).toMatch(/action="released"} [1-9]/);
    expect(reconciled).toMatch(/action="authorized"} [1-9]/);

    // The survivor's hangup is heard again on the new connection.
    standIn.hangup(survivor, 'NORMAL_CLEARING', 5_000);
    await eventually(async () => (await eventsOf(account.accountId, 'CdrRated', survivor)).length === 1, 'the CDR');
  }, 90_000);

  it('reconciles again when show channels fails after a reconnect, so a call parked meanwhile is still decided', async () => {
    await openTestAccount(khata, { topUp: '1180.00', tollFreeNumbers: ['18004190004'] });
    let failShowChannels = false;
    const standIn = await FreeswitchStandIn.start({
      apiHandler: (command) => {
        if (command !== 'show' || !failShowChannels) return undefined;
        failShowChannels = false;
        return '-ERR show channels is busy\n';
      },
    });
    try {
      const { node } = await connect({ standIn });
      const fromIndex = standIn.commands.length;
      failShowChannels = true;
      standIn.dropAllConnections();
      const newcomer = standIn.park({ callerNumber: CALLER, destination: '18004190004', context: 'public' });
      const afterReconnect = { fromIndex, timeoutMilliseconds: RECONCILE_WAIT_MILLISECONDS };
      await standIn.waitForCommand(
        (command) => command.line.startsWith(`api uuid_transfer ${newcomer}`),
        afterReconnect,
      );
      await node.settled();
      const shows = standIn.commands.slice(fromIndex).filter((command) => command.line === 'api show channels as json');
      expect(shows.length).toBeGreaterThanOrEqual(2);
      expect(node.activeCallIds).toContain(newcomer);
    } finally {
      await connected?.close();
      connected = null;
      await standIn.close();
    }
  }, 90_000);

  it('adopts the open calls of a previous connector after a restart, so a top-up still extends them', async () => {
    const account = await openTestAccount(khata, { topUp: '590.00' });
    const first = await connect();
    const { standIn } = first;
    const callId = standIn.park({ callerNumber: '101', destination: US_NUMBER, accountCode: account.accountId });
    await standIn.waitForCommand((command) => command.line.startsWith(`api uuid_transfer ${callId}`));
    standIn.answer(callId);
    await first.node.settled();
    await first.connector.close();

    const second = await connectStandIn(khata, { standIn });
    connected = {
      ...second,
      async close() {
        await second.close();
        await standIn.close();
      },
    };
    expect(second.node.activeCallIds).toEqual([callId]);
    const fromIndex = standIn.commands.length;
    await runCommand(khata, account.accountId, 'TopUpWallet', { amount: '118.00' });
    const renewed = await standIn.waitForCommand((command) => command.line.startsWith('api sched_hangup'), {
      fromIndex,
    });
    expect(renewed.line).toContain(callId);
  });

  it('lets 200 simultaneous calls on one account reserve no more than it has (checked by replaying the stream)', async () => {
    // One-minute calls: ₹3.00 each to the USA, so the ₹151 left after the plan pays for about fifty of them.
    const capped = await openTestKhata({ CALL_SECONDS_MAX: '60' });
    try {
      await manyCalls(capped);
    } finally {
      await connected?.close();
      connected = null;
      await capped.close();
    }
  }, 120_000);
});

async function manyCalls(khata: Khata): Promise<void> {
  const account = await openTestAccount(khata, { topUp: '590.00' });
  const { state: opened } = await khata.ledger.load(account.accountId);
  await settleProjections(khata);
  connected = await connectStandIn(khata);
  const { standIn, node } = connected;
  const calls = Array.from({ length: 200 }, () =>
    standIn.park({ callerNumber: '101', destination: US_NUMBER, accountCode: account.accountId, uuid: randomUUID() }),
  );
  await eventually(
    () =>
      calls.every((callId) =>
        standIn.apiCommands.some((command) => /^uuid_(transfer|kill) /.test(command) && command.includes(callId)),
      ),
    'a decision for every call',
  );
  await node.settled();

  const transferred = calls.filter((callId) => standIn.channel(callId)?.transfers.length === 1);
  const refused = calls.filter((callId) =>
    commandsFor(standIn, callId).some((command) => command.startsWith('uuid_kill')),
  );
  expect(transferred.length + refused.length).toBe(200);
  expect(transferred.length).toBeGreaterThan(0);
  expect(refused.length).toBeGreaterThan(0);

  // Replay: at every append, the open reservations stay within the balance.
  const events = await streamOf(account.accountId, khata);
  let open = Money.zero;
  const authorizedCalls = new Set<string>();
  for (const event of events) {
    if (event.type === 'CallAuthorized') {
      open = open.plus(Money.parse(String(event.data.reservedAmount)));
      authorizedCalls.add(String(event.data.callId));
      expect(open.compare(opened.balance)).toBeLessThanOrEqual(0);
    }
  }
  expect(new Set(transferred)).toEqual(authorizedCalls);
  const { state } = await khata.ledger.load(account.accountId);
  expect(state.reserved.toString()).toBe(open.toString());
  // Nothing left unspent that another call could have used: the next call would not fit.
  const cheapest = Money.parse(String(events.find((event) => event.type === 'CallAuthorized')?.data.reservedAmount));
  expect(opened.balance.minus(open).compare(cheapest)).toBeLessThan(0);
  await settleProjections(khata);
  const report = await verifyAccount(khata, account.accountId);
  expect(report.differences).toEqual([]);
  expect(report.ok).toBe(true);
}
