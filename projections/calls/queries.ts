import { first, queryBuilder, run, type SqlQueryable } from '@khata/sql';
import { trimMoney } from '../balances/queries.ts';
import {
  checkChoice,
  checkFilter,
  decodeCursor,
  InvalidReadRequest,
  isUuid,
  type Page,
  type PageRequest,
  pageLimit,
  pageOf,
} from '../shared/pages.ts';
import type { CallStatus, CallsDatabase, CallsTable } from './migrations.ts';

const db = queryBuilder<CallsDatabase>();

export interface CallView {
  readonly accountId: string;
  /** FreeSWITCH's call uuid of the A-leg. */
  readonly callId: string;
  readonly destination: string;
  readonly destinationName: string;
  /** `plan`: free minutes and the plan's overage; `tariff`: the destination tariff; null when never authorized. */
  readonly basis: 'plan' | 'tariff' | null;
  readonly tariffId: string;
  /** authorized (in progress) → rated | expired (no CDR came in time; a late CDR still rates it). */
  readonly status: CallStatus;
  readonly startedAt: string;
  readonly authorization: {
    readonly authorizedAt: string;
    readonly maxSeconds: number;
    /** Money set aside for the call, extensions included (rupees). */
    readonly reservedAmount: string;
    readonly reservedFreeSeconds: number;
    readonly expiresAt: string;
    /** How often the limit was raised during the call (a top-up). */
    readonly extensions: number;
  } | null;
  readonly expiredAt: string | null;
  readonly rating: {
    readonly answeredAt: string | null;
    readonly durationSeconds: number;
    readonly billableMilliseconds: number;
    readonly billedSeconds: number;
    readonly freeSecondsUsed: number;
    readonly overageSeconds: number;
    /** What the call costs now, after any re-rating (rupees, before GST). */
    readonly cost: string;
    /** What it cost when first rated. */
    readonly ratedCost: string;
    /** Cost above the reservation, charged anyway and flagged. */
    readonly excess: string;
    /** False when the CDR found no open reservation (expired, or never authorized): flagged for review. */
    readonly hadReservation: boolean;
    readonly usageMonthStart: string | null;
    readonly ratedAt: string;
    readonly rerated: boolean;
    readonly reratedCount: number;
  } | null;
  readonly currency: 'INR';
}

function callView(row: CallsTable): CallView {
  const authorized =
    row.authorized_at !== null &&
    row.max_seconds !== null &&
    row.reserved_amount !== null &&
    row.reserved_free_seconds !== null &&
    row.expires_at !== null;
  const rated =
    row.rated_at !== null &&
    row.duration_seconds !== null &&
    row.billable_milliseconds !== null &&
    row.billed_seconds !== null &&
    row.free_seconds_used !== null &&
    row.overage_seconds !== null &&
    row.cost !== null &&
    row.rated_cost !== null &&
    row.excess !== null &&
    row.had_reservation !== null;
  return {
    accountId: row.account_id,
    callId: row.call_id,
    destination: row.destination,
    destinationName: row.destination_name,
    basis: row.basis,
    tariffId: row.tariff_id,
    status: row.status,
    startedAt: row.started_at.toISOString(),
    authorization: authorized
      ? {
          authorizedAt: (row.authorized_at as Date).toISOString(),
          maxSeconds: row.max_seconds as number,
          reservedAmount: trimMoney(row.reserved_amount as string),
          reservedFreeSeconds: row.reserved_free_seconds as number,
          expiresAt: (row.expires_at as Date).toISOString(),
          extensions: row.extensions,
        }
      : null,
    expiredAt: row.expired_at?.toISOString() ?? null,
    rating: rated
      ? {
          answeredAt: row.answered_at?.toISOString() ?? null,
          durationSeconds: row.duration_seconds as number,
          billableMilliseconds: row.billable_milliseconds as number,
          billedSeconds: row.billed_seconds as number,
          freeSecondsUsed: row.free_seconds_used as number,
          overageSeconds: row.overage_seconds as number,
          cost: trimMoney(row.cost as string),
          ratedCost: trimMoney(row.rated_cost as string),
          excess: trimMoney(row.excess as string),
          hadReservation: row.had_reservation as boolean,
          usageMonthStart: row.usage_month_start,
          ratedAt: (row.rated_at as Date).toISOString(),
          rerated: row.rerated_count > 0,
          reratedCount: row.rerated_count,
        }
      : null,
    currency: 'INR',
  };
}

export async function callById(
  tx: SqlQueryable,
  schema: string,
  accountId: string,
  callId: string,
): Promise<CallView | null> {
  if (!isUuid(accountId)) return null;
  const row = await first(
    tx,
    db
      .withSchema(schema)
      .selectFrom('calls')
      .selectAll()
      .where('account_id', '=', accountId)
      .where('call_id', '=', callId),
  );
  return row === undefined ? null : callView(row);
}

/**
 * A call by its uuid in whichever account it was rated (`GET /cdrs/:id`): normally one row; a uuid
 * reported under two accounts (a misconfigured switch) returns both, oldest account first.
 */
export async function callsWithId(tx: SqlQueryable, schema: string, callId: string): Promise<CallView[]> {
  const rows = await run(
    tx,
    db.withSchema(schema).selectFrom('calls').selectAll().where('call_id', '=', callId).orderBy('account_id').limit(10),
  );
  return rows.map(callView);
}

const CALL_STATUSES = ['authorized', 'rated', 'expired'] as const;

export interface CallListRequest extends PageRequest {
  readonly status?: CallStatus;
}

/** An account's calls, newest first (by when they began, then call id). */
export async function callsOfAccount(
  tx: SqlQueryable,
  schema: string,
  accountId: string,
  request: CallListRequest = {},
): Promise<Page<CallView>> {
  const limit = pageLimit(request.limit);
  let query = db
    .withSchema(schema)
    .selectFrom('calls')
    .selectAll()
    .where('account_id', '=', checkFilter('accountId', accountId, 'uuid'))
    .orderBy('started_at', 'desc')
    .orderBy('call_id', 'desc')
    .limit(limit + 1);
  if (request.status !== undefined) {
    query = query.where('status', '=', checkChoice('status', request.status, CALL_STATUSES));
  }
  if (request.cursor != null) {
    const [startedAt, callId] = decodeCursor('calls', request.cursor, ['instant', 'text']) as [string, string];
    query = query.where(({ eb, refTuple, tuple }) =>
      eb(refTuple('started_at', 'call_id'), '<', tuple(new Date(startedAt), callId)),
    );
  }
  const rows = await run(tx, query);
  return pageOf(rows, limit, 'calls', (row) => [row.started_at.toISOString(), row.call_id], callView);
}

export interface CdrListRequest extends PageRequest {
  readonly accountId?: string;
  /** Inclusive: CDRs answered (or, unanswered, rated) at or after this instant. */
  readonly from?: string;
  /** Exclusive. */
  readonly to?: string;
  /** Dialled digits the destination starts with, with or without `+` (e.g. `44`, `+9198`). */
  readonly destinationPrefix?: string;
  /** The tariff's destination name, e.g. `UK`. */
  readonly destinationName?: string;
}

/** Rated calls (the CDR list), newest first by answer time (rating time when unanswered). */
export async function cdrs(tx: SqlQueryable, schema: string, request: CdrListRequest = {}): Promise<Page<CallView>> {
  const limit = pageLimit(request.limit);
  let query = db
    .withSchema(schema)
    .selectFrom('calls')
    .selectAll()
    .where('status', '=', 'rated')
    .orderBy('cdr_at', 'desc')
    .orderBy('account_id', 'desc')
    .orderBy('call_id', 'desc')
    .limit(limit + 1);
  if (request.accountId !== undefined) {
    query = query.where('account_id', '=', checkFilter('accountId', request.accountId, 'uuid'));
  }
  if (request.from !== undefined) {
    query = query.where('cdr_at', '>=', new Date(checkFilter('from', request.from, 'instant')));
  }
  if (request.to !== undefined) query = query.where('cdr_at', '<', new Date(checkFilter('to', request.to, 'instant')));
  if (request.destinationPrefix !== undefined) {
    const digits = /^\+?(\d{1,20})$/.exec(request.destinationPrefix)?.[1];
    if (digits === undefined) {
      throw new InvalidReadRequest('INVALID_FILTER', 'destinationPrefix must be digits, optionally led by +');
    }
    // Digits only, so the pattern holds no LIKE wildcard.
    query = query.where((eb) =>
      eb.or([eb('destination', 'like', `${digits}%`), eb('destination', 'like', `+${digits}%`)]),
    );
  }
  if (request.destinationName !== undefined) query = query.where('destination_name', '=', request.destinationName);
  if (request.cursor != null) {
    const [cdrAt, accountId, callId] = decodeCursor('cdrs', request.cursor, ['instant', 'uuid', 'text']) as [
      string,
      string,
      string,
    ];
    query = query.where(({ eb, refTuple, tuple }) =>
      eb(refTuple('cdr_at', 'account_id', 'call_id'), '<', tuple(new Date(cdrAt), accountId, callId)),
    );
  }
  const rows = await run(tx, query);
  return pageOf(
    rows,
    limit,
    'cdrs',
    (row) => [(row.cdr_at as Date).toISOString(), row.account_id, row.call_id],
    callView,
  );
}
