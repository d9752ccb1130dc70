import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { EslFrameParser, interpretFrame } from '@khata/esl/protocol';
import { describe, expect, it } from 'vitest';
import { parseHangupEvent, parseHangupEventText } from './hangup-event.ts';
import { parseCdrHttpBody } from './http-body.ts';
import type { NormalizedCdr } from './normalize.ts';

// Real captures from other projects, read in place (../shared/fixtures relative to the repository root) and never
// copied into the repository. Values asserted below are read off the files themselves.
const FIXTURES = fileURLToPath(new URL('../../../../shared/fixtures/freeswitch/', import.meta.url));
const present = existsSync(FIXTURES);
const describeReal = present ? describe : describe.skip;
const skipped = present ? '' : ' (skipped: ../shared/fixtures not present)';

const read = (path: string): Buffer => readFileSync(`${FIXTURES}${path}`);

function parsed(result: ReturnType<typeof parseCdrHttpBody>): NormalizedCdr {
  if (!result.ok) throw new Error(`expected a CDR, got: ${result.reason}`);
  return result.cdr;
}

const withoutFormat = ({ format: _format, ...cdr }: NormalizedCdr): Omit<NormalizedCdr, 'format'> => cdr;

describeReal(`real mod_json_cdr documents${skipped}`, () => {
  it('2014: reads the newest of the duplicate callflow keys and bills billusec, not billsec', () => {
    const cdr = parsed(parseCdrHttpBody(read('json_cdr/01_cgrates_2014_park-auth-bridge_dup-callflow-keys.cdr.json')));
    expect(cdr).toMatchObject({
      callId: '86cfd6e2-dbda-45a3-b59d-f683ec368e8b',
      leg: 'A',
      direction: 'inbound',
      accountCode: '1001',
      callerNumber: '1001',
      destination: '1002',
      answeredAt: '2014-04-08T19:10:27.717Z',
      // billusec 14540020 rounded up; billsec says 15.
      billableMilliseconds: 14_541,
      hangupCause: 'NORMAL_CLEARING',
      otherLegCallId: '402f0929-fa14-4a5f-9642-3a1311bb4ddd',
    });
  });

  it('2015: a prepaid call capped by sched_hangup, duplicate callflow keys', () => {
    const cdr = parsed(
      parseCdrHttpBody(read('json_cdr/02_cgrates_2015_prepaid_sched-hangup_dup-callflow-keys.cdr.json')),
    );
    expect(cdr).toMatchObject({
      callId: 'e3133bf7-dcde-4daf-9663-9a79ffcef5ad',
      leg: 'A',
      destination: '1003',
      billableMilliseconds: 65_040,
      hangupCause: 'NORMAL_CLEARING',
      sipCallId: 'r3xaJ8CLpyTAIHWUZG7gtZQYgAPEGf9S',
    });
    expect(cdr.variables.execute_on_answer).toBe('sched_hangup +3120 alloted_timeout');
  });

  it('2018: billsec 21 but billmsec 20600 bills 20600 ms', () => {
    const cdr = parsed(
      parseCdrHttpBody(read('json_cdr/03_cgrates_2018_park-auth-bridge_callflow-array_callStats.cdr.json')),
    );
    expect(cdr).toMatchObject({
      callId: '5a3a1d91-90d3-4db4-af5c-cc3ae15d93a4',
      leg: 'A',
      direction: null,
      accountCode: '1001',
      destination: '1002',
      context: 'default',
      startedAt: '2018-03-14T11:09:18.006Z',
      answeredAt: '2018-03-14T11:09:27.766Z',
      endedAt: '2018-03-14T11:09:48.366Z',
      billableMilliseconds: 20_600,
      durationMilliseconds: 30_360,
      otherLegCallId: '9c1afb4f-1d4a-4e45-84a3-d25721981bf5',
    });
    expect(cdr.variables.billsec).toBe('21');
  });

  it('2018 reformatted: a CDR without an account code', () => {
    const cdr = parsed(parseCdrHttpBody(read('json_cdr/04_cgrates_2018_fscdr-test_reformatted.cdr.json')));
    expect(cdr).toMatchObject({
      callId: '3da8bf84-c133-4959-9e24-e72875cb33a1',
      leg: 'A',
      accountCode: null,
      billableMilliseconds: 67_540,
      hangupCause: 'NORMAL_CLEARING',
    });
  });
});

describeReal(`real mod_xml_cdr documents${skipped}`, () => {
  it('2009: an unanswered call without a uuid variable takes the caller profile uuid', () => {
    const cdr = parsed(parseCdrHttpBody(read('xml_cdr/01_tinycdr_2009_unanswered_ORIGINATOR_CANCEL.cdr.xml')));
    expect(cdr).toMatchObject({
      callId: '91353230-461f-11de-aa7f-b10b4edc0c92',
      leg: 'A',
      accountCode: '1000',
      destination: '2622',
      answeredAt: null,
      billableMilliseconds: 0,
      hangupCause: 'ORIGINATOR_CANCEL',
      sipCallId: 'uezqmckgyeznkvl@onedrop.nationwide-recovery.com',
    });
  });

  it('2012: an answered IVR call with URL-encoded values and a hold record', () => {
    const cdr = parsed(parseCdrHttpBody(read('xml_cdr/02_simplecos_2012_answered_hold-record.cdr.xml')));
    expect(cdr).toMatchObject({
      callId: '5a7c446c-37cb-11e2-a088-ab820864671e',
      leg: 'A',
      direction: 'inbound',
      callerNumber: '2000',
      destination: '8888',
      context: 'public',
      answeredAt: '2012-11-26T13:15:31.120Z',
      billableMilliseconds: 4_721,
      hangupCause: 'NORMAL_CLEARING',
    });
  });
});

describeReal(`real CHANNEL_HANGUP_COMPLETE events${skipped}`, () => {
  it('2012: the caller abandoned while parked — unanswered, nothing billable', () => {
    const result = parseHangupEventText(read('events/chc_2012_fsock-capture.plain'));
    expect(result.ok && result.cdr).toMatchObject({
      callId: '303c0f9f-4b32-4b9b-9f77-df0ca215bbe7',
      leg: 'A',
      direction: 'inbound',
      destination: '4986517174963',
      context: 'b2bua',
      answeredAt: null,
      billableMilliseconds: 0,
      hangupCause: 'ORIGINATOR_CANCEL',
      otherLegCallId: null,
    });
  });

  it('reads the framed capture through the ESL frame parser the same way', () => {
    const { frames } = new EslFrameParser().push(read('events/chc_2012_fsock-capture_framed.plain.frame'));
    const message = frames[0] === undefined ? undefined : interpretFrame(frames[0]);
    if (message?.type !== 'event') throw new Error('expected an event frame');
    const fromFrame = parseHangupEvent(message.event);
    expect(fromFrame).toEqual(parseHangupEventText(read('events/chc_2012_fsock-capture.plain')));
  });

  it.each([
    [
      'plain',
      'events/chc_2015_cgrates_prepaid_e3133bf7.plain',
      'json_cdr/02_cgrates_2015_prepaid_sched-hangup_dup-callflow-keys.cdr.json',
    ],
    [
      'json',
      'events/DERIVED_chc_2015_cgrates_prepaid_e3133bf7.json',
      'json_cdr/02_cgrates_2015_prepaid_sched-hangup_dup-callflow-keys.cdr.json',
    ],
    [
      'plain',
      'events/chc_2018_cgrates_park-auth_5a3a1d91.plain',
      'json_cdr/03_cgrates_2018_park-auth-bridge_callflow-array_callStats.cdr.json',
    ],
    [
      'json',
      'events/DERIVED_chc_2018_cgrates_park-auth_5a3a1d91.json',
      'json_cdr/03_cgrates_2018_park-auth-bridge_callflow-array_callStats.cdr.json',
    ],
  ])('the %s event %s and its JSON CDR describe the same call', (_format, eventPath, cdrPath) => {
    const fromEvent = parseHangupEventText(read(eventPath));
    const fromCdr = parsed(parseCdrHttpBody(read(cdrPath)));
    if (!fromEvent.ok) throw new Error(fromEvent.reason);
    expect(fromEvent.cdr.callId).toBe(fromCdr.callId);
    expect(fromEvent.cdr.billableMilliseconds).toBe(fromCdr.billableMilliseconds);
    expect(withoutFormat(fromEvent.cdr)).toEqual(withoutFormat(fromCdr));
  });

  it('the plain and json forms of the 2012 event agree', () => {
    expect(parseHangupEventText(read('events/DERIVED_chc_2012_fsock-capture.json'))).toEqual(
      parseHangupEventText(read('events/chc_2012_fsock-capture.plain')),
    );
  });
});
