/**
 * Which leg of a call a channel is. Only the A-leg is billed (SPEC §8), and FreeSWITCH reports both legs: each
 * leg fires its own events and, with `log-b-leg` (mod_json_cdr's default), posts its own CDR.
 *
 * How FreeSWITCH marks a B-leg (research/freeswitch.md §4–§5; switch_ivr_originate.c):
 * 1. `originate` sets the channel variable `originator` on every channel it creates for a session, holding that
 *    session's uuid. A-legs never carry it. This is the decisive mark (`variable_originator` in events).
 * 2. Caller profiles record the relation: an event's `Other-Type` is `originator` on a B-leg (the other leg
 *    originated it) and `originatee` on an A-leg; a CDR's `callflow[].caller_profile` holds an `originator` object
 *    on a B-leg and an `originatee` object on an A-leg.
 * 3. After a bridge, `last_bridge_role` is `originator` on the A-leg and `originatee` on the B-leg.
 * Anything without those marks is an A-leg: an unbridged call (parked, IVR, abandoned) has only one leg.
 *
 * Direction is deliberately NOT used: an API-originated call (click-to-call) starts with an OUTBOUND A-leg, and
 * FreeSWITCH ≥1.6 no longer puts `Call-Direction` in CHANNEL_HANGUP_COMPLETE at all (see the 2018 samples).
 */

export type Leg = 'A' | 'B';

export interface LegEvidence {
  /** This channel's uuid. */
  readonly uuid: string;
  /** The `originator` channel variable. */
  readonly originator: string | undefined;
  /** `Other-Type` of an event, or which of `originator`/`originatee` a CDR caller profile holds. */
  readonly otherType: string | undefined;
  /** The `last_bridge_role` channel variable. */
  readonly lastBridgeRole: string | undefined;
}

export function decideLeg(evidence: LegEvidence): Leg {
  if (evidence.originator !== undefined && evidence.originator !== '' && evidence.originator !== evidence.uuid) {
    return 'B';
  }
  if (evidence.otherType === 'originator') return 'B';
  if (evidence.otherType === 'originatee') return 'A';
  if (evidence.lastBridgeRole === 'originatee') return 'B';
  return 'A';
}

/** The uuid of the other leg when the channel's own data names it (B-leg: its originator; A-leg: what it bridged). */
export function otherLegUuid(
  leg: Leg,
  candidates: { readonly originator: string | undefined; readonly bridged: readonly (string | undefined)[] },
): string | null {
  if (leg === 'B' && candidates.originator !== undefined && candidates.originator !== '') return candidates.originator;
  for (const candidate of candidates.bridged) if (candidate !== undefined && candidate !== '') return candidate;
  return null;
}
