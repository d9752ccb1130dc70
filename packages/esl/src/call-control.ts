/**
 * The pure half of SPEC §9's call authorization: what a CHANNEL_PARK event says about the call, and which API
 * commands release or refuse it once the ledger has decided. Deciding is the account ledger's job, not this one.
 *
 * Authorized (research/freeswitch.md §1a):
 *   uuid_setvar_multi U billing_auth=OK;billing_max_sec=N     marks the channel (the dialplan's second pass checks it)
 *   uuid_setvar U execute_on_answer sched_hangup +N ALLOTTED_TIMEOUT   the switch itself ends the call after N s
 *   uuid_transfer U <dialled number> XML <context>           leaves the park loop, routes normally
 * Denied (§1b):
 *   uuid_kill U OUTGOING_CALL_BARRED                          SIP 403 to the caller (CALL_REJECTED → 603)
 *
 * If the leg was answered before it parked (an IVR), `execute_on_answer` never fires, so the cap is scheduled now
 * with `sched_hangup +N U ALLOTTED_TIMEOUT` instead.
 */
import {
  hangupCause,
  hangupOnAnswerApplication,
  killCommand,
  scheduleHangupCommand,
  setVariableCommand,
  setVariablesCommand,
  transferCommand,
} from './commands.ts';
import { type EslEvent, eventHeader } from './frames.ts';
import { decideLeg } from './legs.ts';

/** The channel variable the dialplan checks on its second pass (infra/freeswitch's `billing_auth` extension). */
export const AUTHORIZED_MARKER_VARIABLE = 'billing_auth';
export const MAX_SECONDS_VARIABLE = 'billing_max_sec';
export const DENIED_HANGUP_CAUSE_DEFAULT = 'OUTGOING_CALL_BARRED';
export const CAPPED_HANGUP_CAUSE = 'ALLOTTED_TIMEOUT';

export interface ParkedCall {
  /** FreeSWITCH's channel uuid (`Unique-ID`), the call's id everywhere in Khata. */
  readonly callId: string;
  readonly accountCode: string | null;
  readonly dialledNumber: string;
  readonly callerNumber: string | null;
  readonly context: string;
  readonly isALeg: boolean;
  /** Answered before it parked: `execute_on_answer` will not fire. */
  readonly answered: boolean;
  /** The marker variable is already set: this is a re-park of a call we authorized before. */
  readonly alreadyAuthorized: boolean;
}

export type ParkedCallResult =
  | { readonly ok: true; readonly call: ParkedCall }
  | { readonly ok: false; readonly reason: string; readonly field?: string };

type HeaderSource = Pick<EslEvent, 'headers'>;

function present(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

/** Reads the call out of a CHANNEL_PARK event (plain or json form; all `variable_*` headers are present on PARK). */
export function parkedCallFromEvent(event: HeaderSource): ParkedCallResult {
  const header = (name: string): string | undefined => present(eventHeader(event, name));
  const name = header('Event-Name');
  if (name !== 'CHANNEL_PARK') return { ok: false, reason: `expected CHANNEL_PARK, got ${name ?? 'no Event-Name'}` };
  const callId = header('Unique-ID') ?? header('variable_uuid') ?? header('Caller-Unique-ID');
  if (callId === undefined) return { ok: false, reason: 'the event names no channel', field: 'Unique-ID' };
  const dialledNumber = header('Caller-Destination-Number') ?? header('variable_destination_number');
  if (dialledNumber === undefined) {
    return { ok: false, reason: 'the event has no dialled number', field: 'Caller-Destination-Number' };
  }
  const context = header('Caller-Context');
  if (context === undefined) return { ok: false, reason: 'the event has no dialplan context', field: 'Caller-Context' };
  const answeredTime = header('Caller-Channel-Answered-Time');
  return {
    ok: true,
    call: {
      callId,
      accountCode: header('variable_accountcode') ?? null,
      dialledNumber,
      callerNumber: header('Caller-Caller-ID-Number') ?? null,
      context,
      isALeg:
        decideLeg({
          uuid: callId,
          originator: header('variable_originator'),
          otherType: header('Other-Type'),
          lastBridgeRole: header('variable_last_bridge_role'),
        }) === 'A',
      answered: (answeredTime !== undefined && answeredTime !== '0') || header('Answer-State') === 'answered',
      alreadyAuthorized: header(`variable_${AUTHORIZED_MARKER_VARIABLE}`) === 'OK',
    },
  };
}

/** What the ledger decided (SPEC §8: `CallAuthorized {maxSeconds}` or a rejection with its reason). */
export interface AuthorizationDecision {
  readonly authorized: boolean;
  readonly maxSeconds: number;
  readonly reason: string | null;
}

export interface CallControlOptions {
  /** OUTGOING_CALL_BARRED (SIP 403) by default; CALL_REJECTED gives 603. */
  readonly deniedHangupCause?: string;
  readonly dialplan?: string;
}

export type CallControlResult =
  | { readonly ok: true; readonly commands: readonly string[] }
  | { readonly ok: false; readonly reason: string; readonly field?: string };

/**
 * The API commands (each sent as `api <command>`, in this order) that carry out a decision for a parked call.
 * A `-ERR No Such Channel!` reply to any of them means the caller hung up meanwhile and is benign.
 */
export function callControlCommands(
  parkEvent: HeaderSource,
  decision: AuthorizationDecision,
  options: CallControlOptions = {},
): CallControlResult {
  const parked = parkedCallFromEvent(parkEvent);
  if (!parked.ok) return parked;
  return commandsForDecision(parked.call, decision, options);
}

export function commandsForDecision(
  call: ParkedCall,
  decision: AuthorizationDecision,
  options: CallControlOptions = {},
): CallControlResult {
  try {
    if (!decision.authorized) {
      const cause = hangupCause(options.deniedHangupCause ?? DENIED_HANGUP_CAUSE_DEFAULT);
      return { ok: true, commands: [killCommand(call.callId, cause)] };
    }
    if (!Number.isSafeInteger(decision.maxSeconds) || decision.maxSeconds < 1) {
      return { ok: false, reason: 'an authorized call needs maxSeconds ≥ 1', field: 'maxSeconds' };
    }
    const maxSeconds = decision.maxSeconds;
    const cap = call.answered
      ? scheduleHangupCommand(call.callId, maxSeconds, CAPPED_HANGUP_CAUSE)
      : setVariableCommand(
          call.callId,
          'execute_on_answer',
          hangupOnAnswerApplication(maxSeconds, CAPPED_HANGUP_CAUSE),
        );
    return {
      ok: true,
      commands: [
        setVariablesCommand(call.callId, [
          [AUTHORIZED_MARKER_VARIABLE, 'OK'],
          [MAX_SECONDS_VARIABLE, String(maxSeconds)],
        ]),
        cap,
        transferCommand(call.callId, call.dialledNumber, options.dialplan ?? 'XML', call.context),
      ],
    };
  } catch (error) {
    // A uuid, number or context that cannot be put on a command line safely is refused, not sent.
    return { ok: false, reason: (error as Error).message };
  }
}
