/**
 * One normalized CDR out of whatever FreeSWITCH sent (mod_json_cdr, mod_xml_cdr, or a CHANNEL_HANGUP_COMPLETE
 * event). The three parsers reduce their input to a `CdrSource` — channel variables plus the newest caller
 * profile — and this module applies the same rules to all of them, so one call gives one answer however it came.
 *
 * Rules (research/freeswitch.md §4–§5, SPEC §8):
 * - callId is the channel uuid: `variables.uuid`, else the caller profile's uuid (2009 CDRs have no `uuid`
 *   variable), else the `?uuid=` hint FreeSWITCH appends to the URL. A hint that names another call is an error.
 * - leg: see @khata/esl's legs.ts — `originator` variable, else the profile's originator/originatee relation,
 *   else `last_bridge_role`; direction is not evidence.
 * - billableMilliseconds: `billusec`/1000 rounded up, else `billmsec`, else `billsec`×1000. `billsec` is whole
 *   epoch seconds subtracted and can overstate by a second (2018 sample: billsec 21, billmsec 20600), so it is
 *   only the last resort. Without any of them, answered-to-hangup in microseconds.
 * - durationMilliseconds: `uduration`, else `mduration`, else `duration`, else created-to-hangup.
 * - Times come from the `*_uepoch` variables (µs), else the caller profile's times, else `*_epoch` seconds.
 *   `answer_uepoch` 0 means the call was never answered: answeredAt null.
 */
import { decideLeg, otherLegUuid } from '@khata/esl/protocol';

/** What the three parsers extract before normalization. Values are decoded (no URL encoding left). */
export interface CdrSource {
  readonly format: CdrFormat;
  /** A channel variable (`uuid`, `billmsec`, …); undefined when absent. */
  readonly variable: (name: string) => string | undefined;
  readonly variableNames: () => Iterable<string>;
  readonly profile: CallerProfile;
  /** channel_data.direction or the event's Call-Direction. */
  readonly direction: string | undefined;
  /** The event's Hangup-Cause header (CDR documents only have the variable). */
  readonly hangupCauseHeader: string | undefined;
}

/** The newest caller profile: the callflow entry with the highest profile_index, or the event's Caller-* headers. */
export interface CallerProfile {
  readonly uuid: string | undefined;
  readonly callerNumber: string | undefined;
  readonly destination: string | undefined;
  readonly context: string | undefined;
  /** 'originator' on a B-leg (it has one), 'originatee' on a bridged A-leg. */
  readonly otherType: string | undefined;
  readonly otherUuid: string | undefined;
  readonly createdMicroseconds: string | undefined;
  readonly answeredMicroseconds: string | undefined;
  readonly hangupMicroseconds: string | undefined;
}

export type CdrFormat = 'json-cdr' | 'xml-cdr' | 'esl-event';

export interface NormalizedCdr {
  /** FreeSWITCH's channel uuid (`variable_uuid` / `Unique-ID`): the key a CDR is rated once by. */
  readonly callId: string;
  readonly leg: 'A' | 'B';
  /** FreeSWITCH's view: an A-leg from a phone is inbound. Null when the document does not say (FS ≥1.6 events). */
  readonly direction: 'inbound' | 'outbound' | null;
  readonly accountCode: string | null;
  readonly callerNumber: string;
  /** The dialled number (the caller profile's destination_number). */
  readonly destination: string;
  readonly context: string;
  readonly startedAt: string;
  readonly answeredAt: string | null;
  readonly endedAt: string;
  readonly billableMilliseconds: number;
  readonly durationMilliseconds: number;
  readonly hangupCause: string;
  readonly otherLegCallId: string | null;
  readonly sipCallId: string | null;
  /** A bounded selection of the raw channel variables (CDR_VARIABLES_KEPT, then billing_* and khata_*). */
  readonly variables: Readonly<Record<string, string>>;
  readonly format: CdrFormat;
}

export type CdrParseResult =
  | { readonly ok: true; readonly cdr: NormalizedCdr }
  | { readonly ok: false; readonly reason: string; readonly field?: string };

/** The largest CDR body accepted. Real ones are 5–20 KB; a 1 MiB one is not a CDR. */
export const CDR_BODY_BYTES_MAX = 1024 * 1024;
/** Variables copied into `NormalizedCdr.variables`. */
export const CDR_VARIABLES_KEPT_MAX = 64;
export const CDR_VARIABLE_VALUE_CHARACTERS_MAX = 512;
/** Variables worth keeping with a rated call: routing, hangup detail, the billing marks call control set. */
export const CDR_VARIABLES_KEPT: readonly string[] = [
  'accountcode',
  'sip_call_id',
  'hangup_cause',
  'hangup_cause_q850',
  'sip_term_status',
  'sip_hangup_disposition',
  'proto_specific_hangup_cause',
  'originator',
  'last_bridge_role',
  'bridge_uuid',
  'last_bridge_to',
  'originate_disposition',
  'endpoint_disposition',
  'DIALSTATUS',
  'execute_on_answer',
  'current_application',
  'last_app',
  'last_arg',
  'sip_from_user',
  'sip_to_user',
  'sip_req_user',
  'effective_caller_id_number',
  'caller_id',
  'user_context',
  'domain_name',
  'toll_allow',
  'start_uepoch',
  'answer_uepoch',
  'end_uepoch',
  'billsec',
  'billmsec',
  'billusec',
  'progressmsec',
  'progress_mediamsec',
  'hold_accum_ms',
  'sip_user_agent',
  'read_codec',
  'write_codec',
];
const KEPT_PREFIXES = ['billing_', 'khata_'];

const MICROSECONDS_PER_MILLISECOND = 1000;
const MICROSECONDS_PER_SECOND = 1_000_000;

type Outcome<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly reason: string; readonly field: string };

function present(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

/** A non-negative decimal integer, exact up to 2^53 (µs since 1970 stay below it until the year 2255). */
function integer(value: string | undefined, field: string): Outcome<number | undefined> {
  const text = present(value?.trim());
  if (text === undefined) return { ok: true, value: undefined };
  if (!/^\d{1,16}$/.test(text))
    return { ok: false, reason: `${field} is not a whole number: ${text.slice(0, 40)}`, field };
  const number = Number(text);
  if (!Number.isSafeInteger(number)) return { ok: false, reason: `${field} is too large`, field };
  return { ok: true, value: number };
}

/** Reads several candidate fields in order, each scaled to one unit; the first present one wins. */
function firstInteger(
  candidates: readonly (readonly [field: string, raw: string | undefined, scale: (n: number) => number])[],
): Outcome<number | undefined> {
  for (const [field, raw, scale] of candidates) {
    const parsed = integer(raw, field);
    if (!parsed.ok) return parsed;
    if (parsed.value !== undefined) return { ok: true, value: scale(parsed.value) };
  }
  return { ok: true, value: undefined };
}

const microseconds = (n: number): number => n;
const secondsToMicroseconds = (n: number): number => n * MICROSECONDS_PER_SECOND;
const microsecondsToMilliseconds = (n: number): number => Math.ceil(n / MICROSECONDS_PER_MILLISECOND);
const milliseconds = (n: number): number => n;
const secondsToMilliseconds = (n: number): number => n * 1000;

function isoFromMicroseconds(value: number): string {
  return new Date(Math.floor(value / MICROSECONDS_PER_MILLISECOND)).toISOString();
}

/** `a_<uuid>` is what mod_xml_cdr's prefix-a-leg puts in the URL. */
function hintUuid(hint: string): string {
  return hint.replace(/^[ab]_/, '');
}

export function normalizeCdr(source: CdrSource, uuidHint?: string): CdrParseResult {
  const variable = (name: string): string | undefined => present(source.variable(name));
  const { profile } = source;
  const documentUuid = variable('uuid') ?? present(profile.uuid);
  const hint = uuidHint === undefined || uuidHint === '' ? undefined : hintUuid(uuidHint);
  if (documentUuid !== undefined && hint !== undefined && documentUuid !== hint) {
    return { ok: false, reason: `the uuid hint ${hint} does not match the CDR's uuid ${documentUuid}`, field: 'uuid' };
  }
  const callId = documentUuid ?? hint;
  if (callId === undefined) return { ok: false, reason: 'the CDR names no call uuid', field: 'uuid' };

  const callerNumber = present(profile.callerNumber) ?? variable('caller_id_number');
  if (callerNumber === undefined)
    return { ok: false, reason: 'the CDR has no caller number', field: 'caller_id_number' };
  const destination = present(profile.destination) ?? variable('destination_number');
  if (destination === undefined)
    return { ok: false, reason: 'the CDR has no dialled number', field: 'destination_number' };
  const context = present(profile.context);
  if (context === undefined) return { ok: false, reason: 'the CDR has no dialplan context', field: 'context' };
  const hangupCause = variable('hangup_cause') ?? present(source.hangupCauseHeader);
  if (hangupCause === undefined) return { ok: false, reason: 'the CDR has no hangup cause', field: 'hangup_cause' };

  const start = firstInteger([
    ['start_uepoch', variable('start_uepoch'), microseconds],
    ['created_time', profile.createdMicroseconds, microseconds],
    ['start_epoch', variable('start_epoch'), secondsToMicroseconds],
  ]);
  if (!start.ok) return start;
  const end = firstInteger([
    ['end_uepoch', variable('end_uepoch'), microseconds],
    ['hangup_time', profile.hangupMicroseconds, microseconds],
    ['end_epoch', variable('end_epoch'), secondsToMicroseconds],
  ]);
  if (!end.ok) return end;
  const answer = firstInteger([
    ['answer_uepoch', variable('answer_uepoch'), microseconds],
    ['answered_time', profile.answeredMicroseconds, microseconds],
    ['answer_epoch', variable('answer_epoch'), secondsToMicroseconds],
  ]);
  if (!answer.ok) return answer;
  const startMicroseconds = start.value;
  const endMicroseconds = end.value;
  if (startMicroseconds === undefined || startMicroseconds === 0) {
    return { ok: false, reason: 'the CDR has no start time', field: 'start_uepoch' };
  }
  if (endMicroseconds === undefined || endMicroseconds === 0) {
    return { ok: false, reason: 'the CDR has no end time', field: 'end_uepoch' };
  }
  if (endMicroseconds < startMicroseconds)
    return { ok: false, reason: 'the call ends before it starts', field: 'end_uepoch' };
  const answerMicroseconds = answer.value === undefined || answer.value === 0 ? null : answer.value;

  const billable = firstInteger([
    ['billusec', variable('billusec'), microsecondsToMilliseconds],
    ['billmsec', variable('billmsec'), milliseconds],
    ['billsec', variable('billsec'), secondsToMilliseconds],
  ]);
  if (!billable.ok) return billable;
  const billableMilliseconds =
    billable.value ??
    (answerMicroseconds === null ? 0 : microsecondsToMilliseconds(Math.max(0, endMicroseconds - answerMicroseconds)));
  const duration = firstInteger([
    ['uduration', variable('uduration'), microsecondsToMilliseconds],
    ['mduration', variable('mduration'), milliseconds],
    ['duration', variable('duration'), secondsToMilliseconds],
  ]);
  if (!duration.ok) return duration;
  const durationMilliseconds = duration.value ?? microsecondsToMilliseconds(endMicroseconds - startMicroseconds);

  const originator = variable('originator');
  const leg = decideLeg({
    uuid: callId,
    originator,
    otherType: present(profile.otherType),
    lastBridgeRole: variable('last_bridge_role'),
  });
  const directionText = (present(source.direction) ?? variable('direction'))?.toLowerCase();
  return {
    ok: true,
    cdr: {
      callId,
      leg,
      direction: directionText === 'inbound' || directionText === 'outbound' ? directionText : null,
      accountCode: variable('accountcode') ?? null,
      callerNumber,
      destination,
      context,
      startedAt: isoFromMicroseconds(startMicroseconds),
      answeredAt: answerMicroseconds === null ? null : isoFromMicroseconds(answerMicroseconds),
      endedAt: isoFromMicroseconds(endMicroseconds),
      billableMilliseconds,
      durationMilliseconds,
      hangupCause,
      otherLegCallId: otherLegUuid(leg, {
        originator,
        bridged: [
          present(profile.otherUuid),
          variable('bridge_uuid'),
          variable('last_bridge_to'),
          variable('signal_bond'),
        ],
      }),
      sipCallId: variable('sip_call_id') ?? null,
      variables: keptVariables(source),
      format: source.format,
    },
  };
}

function keptVariables(source: CdrSource): Record<string, string> {
  const kept: Record<string, string> = {};
  let count = 0;
  const keep = (name: string): void => {
    const value = source.variable(name);
    if (value === undefined || count >= CDR_VARIABLES_KEPT_MAX || Object.hasOwn(kept, name)) return;
    kept[name] =
      value.length > CDR_VARIABLE_VALUE_CHARACTERS_MAX ? value.slice(0, CDR_VARIABLE_VALUE_CHARACTERS_MAX) : value;
    count++;
  };
  for (const name of CDR_VARIABLES_KEPT) keep(name);
  for (const name of source.variableNames()) {
    if (count >= CDR_VARIABLES_KEPT_MAX) break;
    if (KEPT_PREFIXES.some((prefix) => name.startsWith(prefix))) keep(name);
  }
  return kept;
}
