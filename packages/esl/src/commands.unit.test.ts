import { describe, expect, it } from 'vitest';
import {
  classifyApiReply,
  deletedTaskCount,
  hangupOnAnswerApplication,
  killCommand,
  parseShowChannels,
  SET_VARIABLES_MAX,
  scheduleBroadcastCommand,
  scheduleDeleteCommand,
  scheduleHangupCommand,
  setVariableCommand,
  setVariablesCommand,
  transferCommand,
} from './commands.ts';

const UUID = '7b1e4c52-3f0a-4d8e-9c61-2a5f0e8d9b34';

describe('API command strings', () => {
  it('builds the call-control commands exactly as SPEC §9 writes them', () => {
    expect(setVariablesCommand(UUID, { billing_auth: 'OK', billing_max_sec: '1800' })).toBe(
      `uuid_setvar_multi ${UUID} billing_auth=OK;billing_max_sec=1800`,
    );
    expect(setVariableCommand(UUID, 'execute_on_answer', hangupOnAnswerApplication(1800, 'ALLOTTED_TIMEOUT'))).toBe(
      `uuid_setvar ${UUID} execute_on_answer sched_hangup +1800 ALLOTTED_TIMEOUT`,
    );
    expect(transferCommand(UUID, '+914023456789', 'XML', 'default')).toBe(
      `uuid_transfer ${UUID} +914023456789 XML default`,
    );
    expect(killCommand(UUID, 'OUTGOING_CALL_BARRED')).toBe(`uuid_kill ${UUID} OUTGOING_CALL_BARRED`);
    expect(scheduleHangupCommand(UUID, 600, 'ALLOTTED_TIMEOUT')).toBe(`sched_hangup +600 ${UUID} ALLOTTED_TIMEOUT`);
    expect(scheduleDeleteCommand(UUID)).toBe(`sched_del ${UUID}`);
    expect(scheduleBroadcastCommand(UUID, 570, '/sounds/low_balance.wav', 'aleg')).toBe(
      `sched_broadcast +570 ${UUID} /sounds/low_balance.wav aleg`,
    );
  });

  it('refuses a hangup cause FreeSWITCH would silently turn into NORMAL_CLEARING', () => {
    expect(() => killCommand(UUID, 'alloted_timeout')).toThrow(RangeError);
    expect(() => scheduleHangupCommand(UUID, 60, 'ALLOTED_TIMEOUT')).toThrow(/unknown hangup cause/);
  });

  it.each([
    ['a uuid with a space', () => killCommand(`${UUID} x`, 'NORMAL_CLEARING')],
    ['a line feed in a value', () => setVariableCommand(UUID, 'note', 'a\napi hupall')],
    ['a ; in a multi value', () => setVariablesCommand(UUID, { a: 'x;b=y' })],
    ['a destination with a space', () => transferCommand(UUID, '1 2', 'XML', 'default')],
    ['an odd variable name', () => setVariableCommand(UUID, 'a b', 'x')],
    [
      'too many variables',
      () =>
        setVariablesCommand(
          UUID,
          Array.from({ length: SET_VARIABLES_MAX + 1 }, (_, i) => [`v${i}`, '1'] as const),
        ),
    ],
    ['negative seconds', () => scheduleHangupCommand(UUID, -1, 'ALLOTTED_TIMEOUT')],
  ])('refuses %s rather than send an injectable command', (_case, build) => {
    expect(build).toThrow(RangeError);
  });
});

describe('API replies', () => {
  it.each([
    ['+OK\n', 'ok'],
    ['-ERR No Such Channel!\n', 'no-such-channel'],
    ['-ERR No such channel!\n', 'no-such-channel'],
    ['-ERR invalid session id [x]', 'no-such-channel'],
    ['-USAGE: <uuid> <var> [value]\n', 'error'],
    ['-ERR foo Command not found!\n', 'error'],
    ['_undef_', 'ok'],
  ])('%j is %s', (text, kind) => {
    expect(classifyApiReply(text).kind).toBe(kind);
  });

  it('reads how many tasks sched_del removed', () => {
    expect(deletedTaskCount(classifyApiReply('+OK Deleted: 2\n'))).toBe(2);
    expect(deletedTaskCount(classifyApiReply('-ERR Invalid syntax\n'))).toBeNull();
  });

  it('parses show channels as json, including the empty answer FreeSWITCH prints differently', () => {
    expect(parseShowChannels('{"row_count": 0}\n')).toEqual({ ok: true, rows: [] });
    expect(parseShowChannels('{"row_count":1,"rows":[{"uuid":"u-1","cid_num":"+919876500001"}]}')).toEqual({
      ok: true,
      rows: [{ uuid: 'u-1', cid_num: '+919876500001' }],
    });
    expect(parseShowChannels('-ERR SQL DISABLED NO DATA AVAILABLE!\n')).toMatchObject({ ok: false });
    expect(parseShowChannels('not json')).toMatchObject({ ok: false });
  });
});
