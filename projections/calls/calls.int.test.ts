import { Money } from '@khata/domain';
import type { RecordedEvent } from '@khata/event-store';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { COPY_ROWS_MIN } from '../shared/rows.ts';
import {
  countingCopies,
  dataOf,
  eachDatabase,
  type Harness,
  type History,
  playHistory,
  startHarness,
} from '../shared/testing.ts';
import { callsProjection } from './projection.ts';
import { type CallView, callById, callsOfAccount, cdrs } from './queries.ts';

eachDatabase('calls read model', (connect) => {
  let h: Harness;
  let history: History;
  let schema: string;
  const call = async (accountId: string, callId: string): Promise<CallView> => {
    const found = await callById(h.db, schema, accountId, callId);
    if (found === null) throw new Error(`no call ${callId}`);
    return found;
  };
  beforeAll(async () => {
    h = await startHarness(await connect(), [callsProjection]);
    history = await playHistory(h);
    schema = await h.schema('calls');
  }, 120_000);
  afterAll(async () => {
    await h?.close();
  });

  it('rates an authorized, answered call once, whatever its B-leg says', async () => {
    const answered = await call(history.acme, 'c-answered');
    expect(answered).toMatchObject({
      status: 'rated',
      basis: 'plan',
      destination: '+919845012345',
      destinationName: 'Overage',
      tariffId: 'professional-overage',
      authorization: { authorizedAt: '2026-11-02T04:31:00.000Z', maxSeconds: 7200, extensions: 0 },
      rating: {
        answeredAt: '2026-11-02T04:31:05.000Z',
        durationSeconds: 125,
        billableMilliseconds: 125_000,
        // Free minutes are used in whole 60 s pulses.
        billedSeconds: 180,
        freeSecondsUsed: 180,
        overageSeconds: 0,
        cost: '0.00',
        hadReservation: true,
        excess: '0.00',
        usageMonthStart: '2026-11-02',
        rerated: false,
      },
    });
    const rated = dataOf(history, history.acme, 'CdrRated').filter((data) => data.callId === 'c-answered');
    expect(rated).toHaveLength(1);
  });

  it('shows unanswered, expired-then-late and never-authorized calls as rated, flagged where they had no reservation', async () => {
    expect(await call(history.acme, 'c-unanswered')).toMatchObject({
      status: 'rated',
      rating: { answeredAt: null, durationSeconds: 0, billedSeconds: 0, cost: '0.00', hadReservation: true },
    });
    const late = await call(history.acme, 'c-expired');
    expect(late).toMatchObject({
      status: 'rated',
      expiredAt: '2026-11-02T07:30:00.000Z',
      rating: { durationSeconds: 30, freeSecondsUsed: 60, hadReservation: false },
    });
    expect(late.authorization).not.toBeNull();
    expect(await call(history.acme, 'c-unauthorized')).toMatchObject({
      status: 'rated',
      basis: null,
      authorization: null,
      startedAt: '2026-11-02T07:31:02.000Z',
      rating: { billedSeconds: 120, freeSecondsUsed: 120, hadReservation: false },
    });
  });

  it('keeps the extended reservation of a call whose limit was raised by a top-up', async () => {
    const [authorized] = dataOf<{ reservedAmount: string; maxSeconds: number }>(
      history,
      history.chennai,
      'CallAuthorized',
    );
    const [extended] = dataOf<{ additionalAmount: string; maxSeconds: number }>(
      history,
      history.chennai,
      'ReservationExtended',
    );
    const [rated] = dataOf<{ cost: string }>(history, history.chennai, 'CdrRated');
    expect(extended?.maxSeconds).toBeGreaterThan(authorized?.maxSeconds ?? Number.POSITIVE_INFINITY);
    const uk = await call(history.chennai, 'uk-1');
    expect(uk).toMatchObject({
      status: 'rated',
      basis: 'tariff',
      destinationName: 'UK mobile',
      tariffId: 'intl-2026',
      authorization: { maxSeconds: extended?.maxSeconds, extensions: 1 },
      rating: { durationSeconds: 601, freeSecondsUsed: 0, cost: rated?.cost, hadReservation: true },
    });
    const reserved = Money.parse(authorized?.reservedAmount ?? '').plus(Money.parse(extended?.additionalAmount ?? ''));
    expect(uk.authorization?.reservedAmount).toBe(reserved.toString());
  });

  it('shows the latest cost of a re-rated call beside what it was first charged', async () => {
    // Rated while the month's free seconds were reserved by another call, then re-rated in answer order.
    expect(await call(history.acme, 'over')).toMatchObject({
      rating: {
        ratedCost: '3.20',
        cost: '0.00',
        billedSeconds: 120,
        freeSecondsUsed: 120,
        overageSeconds: 0,
        rerated: true,
        reratedCount: 1,
      },
    });
    // 6,090 s on Starter: 6,000 free, then 2 started minutes at ₹1.99, corrected to ₹1.00.
    expect(await call(history.bharat, 'b-bulk')).toMatchObject({
      tariffId: 'starter-overage',
      rating: { ratedCost: '3.98', cost: '2.00', freeSecondsUsed: 6_000, overageSeconds: 120, rerated: true },
    });
  });

  it('lists an account’s calls newest first, in pages that neither skip nor repeat', async () => {
    const all = await callsOfAccount(h.db, schema, history.acme, { limit: 200 });
    expect(all.items.map((c) => c.callId)).toEqual([
      'dec-1',
      'holder',
      'bulk',
      'over',
      'c-unauthorized',
      'c-expired',
      'c-unanswered',
      'c-answered',
    ]);
    const paged: string[] = [];
    let cursor: string | null = null;
    for (let page = 0; page < 10; page += 1) {
      const result = await callsOfAccount(h.db, schema, history.acme, { limit: 3, cursor });
      paged.push(...result.items.map((c) => c.callId));
      cursor = result.nextCursor;
      if (cursor === null) break;
    }
    expect(paged).toEqual(all.items.map((c) => c.callId));
  });

  it('filters CDRs by account, time, destination prefix and name', async () => {
    const december = await cdrs(h.db, schema, { from: '2026-12-01T00:00:00.000Z', to: '2027-01-01T00:00:00.000Z' });
    expect(december.items.map((c) => c.callId)).toEqual(['dec-1']);
    expect((await cdrs(h.db, schema, { destinationPrefix: '44' })).items.map((c) => c.callId)).toEqual(['uk-1']);
    expect((await cdrs(h.db, schema, { destinationPrefix: '+9198' })).items).toHaveLength(9);
    expect((await cdrs(h.db, schema, { destinationName: 'UK mobile' })).items.map((c) => c.accountId)).toEqual([
      history.chennai,
    ]);
    const acme = await cdrs(h.db, schema, { accountId: history.acme, limit: 200 });
    expect(acme.items).toHaveLength(8);
    const everything = await cdrs(h.db, schema, { limit: 200 });
    const paged: string[] = [];
    let cursor: string | null = null;
    for (let page = 0; page < 20; page += 1) {
      const result = await cdrs(h.db, schema, { limit: 4, cursor });
      paged.push(...result.items.map((c) => `${c.accountId}/${c.callId}`));
      cursor = result.nextCursor;
      if (cursor === null) break;
    }
    expect(paged).toEqual(everything.items.map((c) => `${c.accountId}/${c.callId}`));
    expect(everything.items.map((c) => c.rating?.answeredAt ?? c.rating?.ratedAt)).toEqual(
      everything.items
        .map((c) => c.rating?.answeredAt ?? c.rating?.ratedAt)
        .sort()
        .reverse(),
    );
    await expect(cdrs(h.db, schema, { destinationPrefix: '44%' })).rejects.toMatchObject({ code: 'INVALID_FILTER' });
    await expect(cdrs(h.db, schema, { from: 'yesterday' })).rejects.toMatchObject({ code: 'INVALID_FILTER' });
  });

  it('shows a call in progress as authorized, and as expired when its reservation lapses', async () => {
    const startedAt = h.now;
    await h.run(history.bharat, 'StartCall', { callId: 'in-progress', destination: '+919845012345', at: startedAt });
    await h.settle();
    const open = await call(history.bharat, 'in-progress');
    expect(open).toMatchObject({ status: 'authorized', rating: null, expiredAt: null, startedAt });
    h.setNow(open.authorization?.expiresAt ?? '');
    await h.run(history.bharat, 'ExpireReservation', { callId: 'in-progress' });
    await h.settle();
    expect(await call(history.bharat, 'in-progress')).toMatchObject({ status: 'expired', expiredAt: h.now });
    expect((await callsOfAccount(h.db, schema, history.bharat, { status: 'expired' })).items).toHaveLength(1);
  });

  it('rates onto the row of a call authorized in an earlier batch, keeping its authorization', async () => {
    const startedAt = h.now;
    await h.run(history.bharat, 'StartCall', { callId: 'rated-later', destination: '+919845012345', at: startedAt });
    await h.settle();
    const authorized = await call(history.bharat, 'rated-later');
    expect(authorized).toMatchObject({ status: 'authorized', rating: null });
    // The next batch begins this call's events with its CDR: a row exists, so the CDR is folded onto it.
    await h.run(history.bharat, 'RateCdr', {
      cdr: {
        callId: 'rated-later',
        leg: 'A',
        destination: '+919845012345',
        startedAt,
        answeredAt: startedAt,
        billableMilliseconds: 42_000,
      },
    });
    await h.settle();
    expect(await call(history.bharat, 'rated-later')).toMatchObject({
      status: 'rated',
      authorization: authorized.authorization,
      rating: { durationSeconds: 42, billableMilliseconds: 42_000, hadReservation: true },
    });
  });

  it("stores an event's times as the instants they name, whatever their offset or precision", async () => {
    // Rows go to PostgreSQL with the events' own time text (not through Date): an offset and microseconds
    // must arrive as the same instant. Applied in a transaction that is rolled back, so the history stays.
    const { events } = await h.store.readStream(`account-${history.acme}`);
    const rated = events.find((event) => event.type === 'CdrRated' && event.data.callId === 'c-answered');
    if (rated === undefined) throw new Error('no CdrRated of c-answered');
    const offsetEvent = {
      ...rated,
      eventId: '0b0e8a52-6a59-4a51-9b7f-6c1f5e2b7a10',
      data: {
        ...rated.data,
        callId: 'offset-times',
        answeredAt: '2026-11-02T10:01:05.123456+05:30',
        ratedAt: '2026-11-02T04:33:30-00:00',
      },
    };
    const rollback = new Error('rolled back');
    const seen = await h.db
      .transaction(async (tx) => {
        await callsProjection.apply(tx, [offsetEvent], { schema, memory: new Map() });
        const [row] = await tx.query<{ answered: string; rated: string; cdr: string }>(
          `SELECT to_char(answered_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US') AS answered,
                  to_char(rated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US') AS rated,
                  to_char(cdr_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US') AS cdr
             FROM ${schema}.calls WHERE account_id = $1 AND call_id = 'offset-times'`,
          [history.acme],
        );
        throw Object.assign(rollback, { row });
      })
      .catch((error: unknown) => {
        if (error !== rollback) throw error;
        return (error as Error & { row: unknown }).row;
      });
    expect(seen).toEqual({
      answered: '2026-11-02T04:31:05.123456',
      rated: '2026-11-02T04:33:30.000000',
      cdr: '2026-11-02T04:31:05.123456',
    });
  });

  it('loads a burst of new calls with one COPY, the same rows as one call at a time, and falls back when a row is there', async () => {
    const { events } = await h.store.readStream(`account-${history.acme}`);
    const rated = events.filter((event) => event.type === 'CdrRated');
    const late = rated.find((event) => event.data.callId === 'c-expired');
    const template = rated.find((event) => event.data.callId === 'c-unauthorized');
    if (late === undefined || template === undefined) throw new Error('no CdrRated of c-expired or c-unauthorized');
    const burst = Array.from({ length: COPY_ROWS_MIN + 10 }, (_, index) => ({
      ...template,
      eventId: crypto.randomUUID(),
      version: template.version + 1_000n + BigInt(index),
      data: {
        ...template.data,
        callId: `burst-${index}`,
        destinationName: `Destination\t${index}\n"quoted" \\ ₹`,
        answeredAt: index % 3 === 0 ? null : `2026-11-02T10:01:05.${String(index).padStart(3, '0')}+05:30`,
      },
    }));
    const ids = burst.map((event) => event.data.callId);
    // Each batch applied in a transaction that is rolled back, so the history stays as it was.
    const applyRolledBack = async (batches: readonly (readonly RecordedEvent[])[]) => {
      const rollback = new Error('rolled back');
      return h.db
        .transaction(async (tx) => {
          const counted = countingCopies(tx);
          for (const batch of batches) await callsProjection.apply(counted.tx, batch, { schema, memory: new Map() });
          const rows = await tx.query(
            `SELECT * FROM ${schema}.calls AS c WHERE account_id = $1 AND (call_id = ANY($2) OR call_id = 'c-expired')
              ORDER BY c::text`,
            [history.acme, ids],
          );
          throw Object.assign(rollback, { rows, copies: counted.copies() });
        })
        .catch((error: unknown) => {
          if (error !== rollback) throw error;
          const { rows, copies: copied } = error as Error & { rows: unknown[]; copies: number };
          return { rows, copies: copied };
        });
    };
    const oneAtATime = await applyRolledBack(burst.map((event) => [event]));
    expect(oneAtATime.copies).toBe(0);
    expect(oneAtATime.rows).toHaveLength(burst.length + 1);
    const together = await applyRolledBack([burst]);
    expect(together).toEqual({ rows: oneAtATime.rows, copies: 1 });
    // With the late CDR of a call whose row is stored (authorized, expired, rated): the COPY meets that row, the
    // batch goes through the statement that skips it, and the rows are the same.
    const withStored = await applyRolledBack([[late, ...burst]]);
    expect(withStored).toEqual({ rows: oneAtATime.rows, copies: 1 });
  });

  it('changes nothing when events are applied again', async () => {
    await h.expectReapplyChangesNothing(callsProjection, ['calls']);
  });

  it('rebuilds the same rows as the live generation', async () => {
    await h.expectRebuildMatches('calls', ['calls']);
  });
});
