/**
 * The CDR inbox: where a CDR FreeSWITCH reported is recorded durably before anything is charged for it.
 *
 * A recorded CDR is a scheduler job `rate-cdr:<call uuid>` (kind RATE_CDR, @khata/process-managers), due at
 * once, whose payload holds the normalized CDR as received. The job row is the durable record (it survives a
 * crash, `khata migrate` creates its table); the worker role rates it asynchronously with retries and bounded
 * back-off. Recording is idempotent: a second report of the same call while the first is pending replaces the
 * payload with the same facts, and once rated it is left alone. Rating is idempotent on its own too: CdrRated's
 * event id derives from the call uuid, so the ESL connector (which rates A-legs directly) and this inbox never
 * charge a call twice, whichever reports it first.
 *
 * B-legs and CDRs of calls no account pays for are recorded with `billable: false` and never charged.
 *
 * This module does not load modesl: the HTTP webhook imports it as `@khata/esl-service/cdr-inbox`.
 */
import type { NormalizedCdr } from '@khata/cdr';
import type { Ledger } from '@khata/ledger';
import { RATE_CDR } from '@khata/process-managers';
import { scheduleJob } from '@khata/scheduler';
import type { CdrInput } from '@khata/schemas';
import type { SqlQueryable } from '@khata/sql';
import { isDialledNumber, type PayingAccount, payingAccount } from './accounts.ts';

// The dialplan endpoint resolves toll-free numbers the same way, without loading modesl.
export { tollFreeNumberOf } from './accounts.ts';

/** RateCdr's `hangupCause` bound (schemas' Cdr). */
const HANGUP_CAUSE_CHARACTERS_MAX = 64;

export interface CdrInboxDeps {
  readonly db: SqlQueryable;
  readonly ledger: Pick<Ledger, 'holderOf'>;
  readonly clock: () => Date;
}

export interface RecordedCdr {
  readonly callId: string;
  readonly leg: 'A' | 'B';
  readonly accountId: string | null;
  /** Whether the worker will rate it (an A-leg of a known account with a rateable destination). */
  readonly billable: boolean;
  /** Why it is not billable (null when it is). */
  readonly reason: string | null;
  readonly jobId: string;
}

/** The job that carries a call's CDR. One per call uuid, whichever format or path reported it. */
export function cdrJobId(callId: string): string {
  return `${RATE_CDR}:${callId}`;
}

/** The CDR in RateCdr's shape (schemas' Cdr): what the ledger needs to price the call. */
export function cdrForRating(record: NormalizedCdr): CdrInput {
  return {
    callId: record.callId,
    leg: record.leg,
    destination: record.destination,
    startedAt: record.startedAt,
    answeredAt: record.answeredAt,
    billableMilliseconds: record.billableMilliseconds,
    hangupCause: record.hangupCause.slice(0, HANGUP_CAUSE_CHARACTERS_MAX),
  };
}

/** Why a CDR will not be charged, or null when it will. */
export function notBillableBecause(record: NormalizedCdr, account: PayingAccount | null): string | null {
  if (record.leg === 'B') return 'a B-leg: only the A-leg of a call is billed';
  if (account === null) return 'no account pays for it (no account id in accountcode, no toll-free number held)';
  if (!isDialledNumber(record.destination)) return `the destination ${record.destination} is not a dialled number`;
  return null;
}

/**
 * Records a CDR durably (see the module comment). `account` is the paying account when the caller knows it
 * already (the ESL connector does for calls it authorized); otherwise it is resolved from the CDR itself.
 */
export async function recordCdr(
  deps: CdrInboxDeps,
  record: NormalizedCdr,
  options: { readonly account?: PayingAccount | null } = {},
): Promise<RecordedCdr> {
  const account =
    options.account !== undefined
      ? options.account
      : record.leg === 'B'
        ? null
        : await payingAccount(deps.ledger, { accountCode: record.accountCode, dialledNumber: record.destination });
  const reason = notBillableBecause(record, account);
  const now = deps.clock();
  const jobId = cdrJobId(record.callId);
  await scheduleJob(deps.db, {
    jobId,
    kind: RATE_CDR,
    payload: {
      accountId: account?.accountId ?? null,
      billable: reason === null,
      reason,
      cdr: cdrForRating(record),
      record: { ...record },
      receivedAt: now.toISOString(),
    },
    dueAt: now,
  });
  return {
    callId: record.callId,
    leg: record.leg,
    accountId: account?.accountId ?? null,
    billable: reason === null,
    reason,
    jobId,
  };
}
