import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { callControlCommands, parkedCallFromEvent } from './call-control.ts';
import { type EslEvent, EslFrameParser, interpretFrame } from './frames.ts';

function eventOfFrame(bytes: Uint8Array): EslEvent {
  const { frames } = new EslFrameParser().push(bytes);
  const message = frames[0] === undefined ? undefined : interpretFrame(frames[0]);
  if (message?.type !== 'event') throw new Error('expected an event frame');
  return message.event;
}

/** Our own CHANNEL_PARK (packages/esl/fixtures), made by the stand-in for a made-up call. */
const OWN_PARK = eventOfFrame(readFileSync(new URL('../fixtures/khata_channel_park.plain.frame', import.meta.url)));
const OWN_UUID = '7b1e4c52-3f0a-4d8e-9c61-2a5f0e8d9b34';

function withHeaders(event: EslEvent, changes: Readonly<Record<string, string>>): EslEvent {
  const replaced = event.headers.map(([name, value]) => [name, changes[name] ?? value] as const);
  const added = Object.entries(changes).filter(([name]) => !event.headers.some(([existing]) => existing === name));
  return { headers: [...replaced, ...added], body: event.body };
}

describe('reading a CHANNEL_PARK', () => {
  it('extracts the call to authorize', () => {
    expect(parkedCallFromEvent(OWN_PARK)).toEqual({
      ok: true,
      call: {
        callId: OWN_UUID,
        accountCode: 'acme-telecom',
        dialledNumber: '+914023456789',
        callerNumber: '+919876500001',
        context: 'default',
        isALeg: true,
        answered: false,
        alreadyAuthorized: false,
      },
    });
  });

  it('recognizes a B-leg, a re-park after authorization, and a leg answered before it parked', () => {
    const bLeg = withHeaders(OWN_PARK, { variable_originator: 'c4d9a2e7-81b3-4f6c-a0d5-9e2b7f3c1a68' });
    expect(parkedCallFromEvent(bLeg)).toMatchObject({ ok: true, call: { isALeg: false } });
    const reparked = withHeaders(OWN_PARK, { variable_billing_auth: 'OK' });
    expect(parkedCallFromEvent(reparked)).toMatchObject({ ok: true, call: { alreadyAuthorized: true } });
    const answered = withHeaders(OWN_PARK, { 'Caller-Channel-Answered-Time': '1772426101000000' });
    expect(parkedCallFromEvent(answered)).toMatchObject({ ok: true, call: { answered: true } });
  });

  it('refuses other events and parks without a destination, as values', () => {
    expect(parkedCallFromEvent(withHeaders(OWN_PARK, { 'Event-Name': 'CHANNEL_ANSWER' })).ok).toBe(false);
    const noDestination: EslEvent = {
      headers: OWN_PARK.headers.filter(([name]) => name !== 'Caller-Destination-Number'),
      body: null,
    };
    expect(parkedCallFromEvent(noDestination)).toMatchObject({ ok: false, field: 'Caller-Destination-Number' });
  });
});

describe('the commands that carry out a decision', () => {
  it('authorized: mark the channel, cap it on answer, transfer it back to its dialplan', () => {
    expect(callControlCommands(OWN_PARK, { authorized: true, maxSeconds: 1800, reason: null })).toEqual({
      ok: true,
      commands: [
        `uuid_setvar_multi ${OWN_UUID} billing_auth=OK;billing_max_sec=1800`,
        `uuid_setvar ${OWN_UUID} execute_on_answer sched_hangup +1800 ALLOTTED_TIMEOUT`,
        `uuid_transfer ${OWN_UUID} +914023456789 XML default`,
      ],
    });
  });

  it('authorized after the leg was already answered: schedules the cap now (execute_on_answer would never run)', () => {
    const answered = withHeaders(OWN_PARK, { 'Caller-Channel-Answered-Time': '1772426101000000' });
    const result = callControlCommands(answered, { authorized: true, maxSeconds: 95, reason: null });
    expect(result.ok && result.commands[1]).toBe(`sched_hangup +95 ${OWN_UUID} ALLOTTED_TIMEOUT`);
  });

  it('denied: kills the channel with OUTGOING_CALL_BARRED, or the configured cause', () => {
    const denied = { authorized: false, maxSeconds: 0, reason: 'INSUFFICIENT_FUNDS' };
    expect(callControlCommands(OWN_PARK, denied)).toEqual({
      ok: true,
      commands: [`uuid_kill ${OWN_UUID} OUTGOING_CALL_BARRED`],
    });
    expect(callControlCommands(OWN_PARK, denied, { deniedHangupCause: 'CALL_REJECTED' })).toEqual({
      ok: true,
      commands: [`uuid_kill ${OWN_UUID} CALL_REJECTED`],
    });
  });

  it('refuses an inconsistent decision, a misspelled cause and an unsafe destination, as values', () => {
    expect(callControlCommands(OWN_PARK, { authorized: true, maxSeconds: 0, reason: null })).toMatchObject({
      ok: false,
      field: 'maxSeconds',
    });
    expect(
      callControlCommands(
        OWN_PARK,
        { authorized: false, maxSeconds: 0, reason: null },
        { deniedHangupCause: 'BARRED' },
      ),
    ).toMatchObject({ ok: false });
    const injected = withHeaders(OWN_PARK, { 'Caller-Destination-Number': '100 XML default\napi hupall' });
    expect(callControlCommands(injected, { authorized: true, maxSeconds: 60, reason: null }).ok).toBe(false);
  });
});

const FIXTURES = fileURLToPath(new URL('../../../../shared/fixtures/freeswitch/', import.meta.url));
const present = existsSync(FIXTURES);
const describeReal = present ? describe : describe.skip;
const skipped = present ? '' : ' (skipped: ../shared/fixtures not present)';

describeReal(`the real 2012 CHANNEL_PARK${skipped}`, () => {
  const park = (): EslEvent =>
    eventOfFrame(readFileSync(`${FIXTURES}events/park_2012_fsock-capture_framed.plain.frame`));

  it('extracts the parked call (no account code variable on that switch)', () => {
    expect(parkedCallFromEvent(park())).toEqual({
      ok: true,
      call: {
        callId: '303c0f9f-4b32-4b9b-9f77-df0ca215bbe7',
        accountCode: null,
        dialledNumber: '4986517174963',
        callerNumber: '4986517174963',
        context: 'b2bua',
        isALeg: true,
        answered: false,
        alreadyAuthorized: false,
      },
    });
  });

  it('produces the authorize and deny sequences for it', () => {
    const uuid = '303c0f9f-4b32-4b9b-9f77-df0ca215bbe7';
    expect(callControlCommands(park(), { authorized: true, maxSeconds: 3120, reason: null })).toEqual({
      ok: true,
      commands: [
        `uuid_setvar_multi ${uuid} billing_auth=OK;billing_max_sec=3120`,
        `uuid_setvar ${uuid} execute_on_answer sched_hangup +3120 ALLOTTED_TIMEOUT`,
        `uuid_transfer ${uuid} 4986517174963 XML b2bua`,
      ],
    });
    expect(callControlCommands(park(), { authorized: false, maxSeconds: 0, reason: 'INSUFFICIENT_FUNDS' })).toEqual({
      ok: true,
      commands: [`uuid_kill ${uuid} OUTGOING_CALL_BARRED`],
    });
  });
});
