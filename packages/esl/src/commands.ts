/**
 * The API commands Khata sends to FreeSWITCH, as exact strings, and what their replies mean. Pure: the client and
 * `call-control.ts` build on these, the stand-in parses the same strings.
 *
 * Every argument ends up inside one command line, so anything that could split it (whitespace in a uuid, `;` in a
 * `uuid_setvar_multi` value, a line feed anywhere) is refused with a RangeError: it would be a command injection.
 */

/**
 * Hangup causes FreeSWITCH knows (`CAUSE_CHART` in switch_channel.c). `switch_channel_str2cause` silently turns an
 * unknown name into NORMAL_CLEARING (CGRateS' misspelled `alloted_timeout` does exactly that), so names are checked.
 */
export const HANGUP_CAUSES: ReadonlySet<string> = new Set([
  'UNALLOCATED_NUMBER',
  'NO_ROUTE_TRANSIT_NET',
  'NO_ROUTE_DESTINATION',
  'CHANNEL_UNACCEPTABLE',
  'CALL_AWARDED_DELIVERED',
  'NORMAL_CLEARING',
  'USER_BUSY',
  'NO_USER_RESPONSE',
  'NO_ANSWER',
  'SUBSCRIBER_ABSENT',
  'CALL_REJECTED',
  'NUMBER_CHANGED',
  'REDIRECTION_TO_NEW_DESTINATION',
  'EXCHANGE_ROUTING_ERROR',
  'DESTINATION_OUT_OF_ORDER',
  'INVALID_NUMBER_FORMAT',
  'FACILITY_REJECTED',
  'RESPONSE_TO_STATUS_ENQUIRY',
  'NORMAL_UNSPECIFIED',
  'NORMAL_CIRCUIT_CONGESTION',
  'NETWORK_OUT_OF_ORDER',
  'NORMAL_TEMPORARY_FAILURE',
  'SWITCH_CONGESTION',
  'ACCESS_INFO_DISCARDED',
  'REQUESTED_CHAN_UNAVAIL',
  'PRE_EMPTED',
  'FACILITY_NOT_SUBSCRIBED',
  'OUTGOING_CALL_BARRED',
  'INCOMING_CALL_BARRED',
  'BEARERCAPABILITY_NOTAUTH',
  'BEARERCAPABILITY_NOTAVAIL',
  'SERVICE_UNAVAILABLE',
  'BEARERCAPABILITY_NOTIMPL',
  'CHAN_NOT_IMPLEMENTED',
  'FACILITY_NOT_IMPLEMENTED',
  'SERVICE_NOT_IMPLEMENTED',
  'INVALID_CALL_REFERENCE',
  'INCOMPATIBLE_DESTINATION',
  'INVALID_MSG_UNSPECIFIED',
  'MANDATORY_IE_MISSING',
  'MESSAGE_TYPE_NONEXIST',
  'WRONG_MESSAGE',
  'IE_NONEXIST',
  'INVALID_IE_CONTENTS',
  'WRONG_CALL_STATE',
  'RECOVERY_ON_TIMER_EXPIRE',
  'MANDATORY_IE_LENGTH_ERROR',
  'PROTOCOL_ERROR',
  'INTERWORKING',
  'SUCCESS',
  'ORIGINATOR_CANCEL',
  'CRASH',
  'SYSTEM_SHUTDOWN',
  'LOSE_RACE',
  'MANAGER_REQUEST',
  'BLIND_TRANSFER',
  'ATTENDED_TRANSFER',
  'ALLOTTED_TIMEOUT',
  'USER_CHALLENGE',
  'MEDIA_TIMEOUT',
  'PICKED_OFF',
  'USER_NOT_REGISTERED',
  'PROGRESS_TIMEOUT',
  'INVALID_GATEWAY',
  'GATEWAY_DOWN',
  'INVALID_URL',
  'INVALID_PROFILE',
  'NO_PICKUP',
  'SRTP_READ_ERROR',
  'BOWOUT',
  'BUSY_EVERYWHERE',
  'DECLINE',
  'DOES_NOT_EXIST_ANYWHERE',
  'NOT_ACCEPTABLE',
  'UNWANTED',
  'NO_IDENTITY',
  'BAD_IDENTITY_INFO',
  'UNSUPPORTED_CERTIFICATE',
  'INVALID_IDENTITY',
  'STALE_DATE',
]);

/** `uuid_setvar_multi` splits into at most 64 pairs (`argv[64]` in mod_commands.c); more would be dropped. */
export const SET_VARIABLES_MAX = 64;
/** A uuid, a variable name or a dialplan word longer than this is not something FreeSWITCH produced. */
export const COMMAND_WORD_CHARACTERS_MAX = 256;
/** A variable value in a command line; FreeSWITCH's own command header limit is far larger. */
export const COMMAND_VALUE_CHARACTERS_MAX = 4096;
/** A week: longer schedules are bugs (the longest call Khata authorizes is hours). */
export const SCHEDULE_SECONDS_MAX = 7 * 24 * 60 * 60;

const WORD = /^[^\s;'"]+$/;
const VARIABLE_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.:-]*$/;

function word(kind: string, value: string): string {
  if (value.length === 0 || value.length > COMMAND_WORD_CHARACTERS_MAX || !WORD.test(value)) {
    throw new RangeError(`${kind} must be one word without quotes or ';' (got ${JSON.stringify(value.slice(0, 80))})`);
  }
  return value;
}

function variableName(name: string): string {
  if (name.length > COMMAND_WORD_CHARACTERS_MAX || !VARIABLE_NAME.test(name)) {
    throw new RangeError(`invalid channel variable name ${JSON.stringify(name.slice(0, 80))}`);
  }
  return name;
}

function lineValue(value: string): string {
  if (value.length > COMMAND_VALUE_CHARACTERS_MAX || /[\r\n]/.test(value)) {
    throw new RangeError('a variable value must be one line');
  }
  return value;
}

export function hangupCause(cause: string): string {
  if (!HANGUP_CAUSES.has(cause)) throw new RangeError(`unknown hangup cause ${JSON.stringify(cause)}`);
  return cause;
}

function seconds(value: number): number {
  if (!Number.isSafeInteger(value) || value < 0 || value > SCHEDULE_SECONDS_MAX) {
    throw new RangeError(`seconds must be an integer in 0..${SCHEDULE_SECONDS_MAX} (got ${value})`);
  }
  return value;
}

export type ChannelVariables = Readonly<Record<string, string>> | readonly (readonly [string, string])[];

function variableEntries(variables: ChannelVariables): readonly (readonly [string, string])[] {
  return Array.isArray(variables)
    ? (variables as readonly (readonly [string, string])[])
    : Object.entries(variables as Readonly<Record<string, string>>);
}

/** `uuid_setvar_multi U a=1;b=2`: pairs are split on `;`, so no value may contain one. */
export function setVariablesCommand(uuid: string, variables: ChannelVariables): string {
  const entries = variableEntries(variables);
  if (entries.length === 0 || entries.length > SET_VARIABLES_MAX) {
    throw new RangeError(`uuid_setvar_multi takes 1..${SET_VARIABLES_MAX} variables (got ${entries.length})`);
  }
  const pairs = entries.map(([name, value]) => {
    if (value.includes(';')) throw new RangeError(`value of ${name} contains ';', which uuid_setvar_multi splits on`);
    return `${variableName(name)}=${lineValue(value)}`;
  });
  return `uuid_setvar_multi ${word('uuid', uuid)} ${pairs.join(';')}`;
}

/** `uuid_setvar U name value`: the value is the rest of the line, spaces included. */
export function setVariableCommand(uuid: string, name: string, value: string): string {
  return `uuid_setvar ${word('uuid', uuid)} ${variableName(name)} ${lineValue(value)}`;
}

export function transferCommand(uuid: string, destination: string, dialplan: string, context: string): string {
  return `uuid_transfer ${word('uuid', uuid)} ${word('destination', destination)} ${word('dialplan', dialplan)} ${word('context', context)}`;
}

export function killCommand(uuid: string, cause: string): string {
  return `uuid_kill ${word('uuid', uuid)} ${hangupCause(cause)}`;
}

/** `sched_hangup +N U CAUSE`: the task's group is the uuid, so `sched_del U` removes it. */
export function scheduleHangupCommand(uuid: string, afterSeconds: number, cause: string): string {
  return `sched_hangup +${seconds(afterSeconds)} ${word('uuid', uuid)} ${hangupCause(cause)}`;
}

/** `sched_del <task id | group>`: a uuid deletes every task scheduled for that channel. */
export function scheduleDeleteCommand(taskIdOrGroup: string): string {
  return `sched_del ${word('task id or group', taskIdOrGroup)}`;
}

export type BroadcastLeg = 'aleg' | 'bleg' | 'both';

export function scheduleBroadcastCommand(uuid: string, afterSeconds: number, path: string, leg: BroadcastLeg): string {
  return `sched_broadcast +${seconds(afterSeconds)} ${word('uuid', uuid)} ${word('path', path)} ${leg}`;
}

export const SHOW_CHANNELS_COMMAND = 'show channels as json';

/** The text that `execute_on_answer` runs to cap a call once it is answered (SPEC §9). */
export function hangupOnAnswerApplication(afterSeconds: number, cause: string): string {
  return `sched_hangup +${seconds(afterSeconds)} ${hangupCause(cause)}`;
}

// ---------------------------------------------------------------------------------------------------------------
// Replies

/**
 * What an API reply means. The transport always succeeds; the body says `+OK…`, `-ERR…` or `-USAGE…`. A channel
 * that is already gone (the caller hung up while we decided) is its own outcome: it is normal, not a failure.
 */
export type ApiOutcome =
  | { readonly kind: 'ok'; readonly text: string }
  | { readonly kind: 'no-such-channel'; readonly text: string }
  | { readonly kind: 'error'; readonly text: string };

export function classifyApiReply(text: string): ApiOutcome {
  // mod_commands writes "No Such Channel!", older builds and sendmsg "No such channel" / "invalid session id".
  if (/^-ERR (no such channel|invalid session id)/i.test(text)) return { kind: 'no-such-channel', text };
  if (text.startsWith('-')) return { kind: 'error', text };
  return { kind: 'ok', text };
}

/** `sched_del` answers `+OK Deleted: <n>`. */
export function deletedTaskCount(outcome: ApiOutcome): number | null {
  const match = outcome.kind === 'ok' ? /^\+OK Deleted: (\d+)/.exec(outcome.text) : null;
  return match?.[1] === undefined ? null : Number(match[1]);
}

/** One row of `show channels as json`; every value is a string (FreeSWITCH's SQLite columns). */
export type ChannelRow = Readonly<Record<string, string>>;

export type ShowChannelsResult =
  | { readonly ok: true; readonly rows: readonly ChannelRow[] }
  | { readonly ok: false; readonly reason: string };

/** Parses `{"row_count":N,"rows":[…]}`, and `{"row_count": 0}` which is what FreeSWITCH prints for no channels. */
export function parseShowChannels(text: string): ShowChannelsResult {
  if (text.startsWith('-')) return { ok: false, reason: text.trim() };
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { ok: false, reason: 'show channels did not answer JSON' };
  }
  if (typeof parsed !== 'object' || parsed === null) return { ok: false, reason: 'show channels answered no object' };
  const { row_count: rowCount, rows } = parsed as { row_count?: unknown; rows?: unknown };
  if (rowCount === 0 && rows === undefined) return { ok: true, rows: [] };
  if (!Array.isArray(rows)) return { ok: false, reason: 'show channels answered no rows' };
  const channelRows: ChannelRow[] = [];
  for (const row of rows) {
    if (typeof row !== 'object' || row === null) return { ok: false, reason: 'a channel row is not an object' };
    const entries = Object.entries(row as Record<string, unknown>).map(([key, value]) => [key, String(value)]);
    channelRows.push(Object.fromEntries(entries));
  }
  return { ok: true, rows: channelRows };
}
