import { randomUUID } from 'node:crypto';
import { Money } from '@khata/domain';
import { balanceOf, trimMoney } from '@khata/projections';
import {
  AccountCreated,
  AccountIdParams,
  AdjustmentBody,
  BalanceResponse,
  CommandResult,
  NumberBody,
  OpenAccountBody,
  Page,
  PageQuery,
  ReasonBody,
  TopUp,
  TopUpBody,
  UpdateProfileBody,
} from '@khata/schemas/api';
import type { FastifyInstance } from 'fastify';
import Type, { type Static } from 'typebox';
import { requirePrincipal } from '../access.ts';
import { decodeCursor, encodeCursor, pageLimit } from '../pagination.ts';
import { READERS } from '../principal.ts';
import { ApiProblem, notFound } from '../problems.ts';
import { commandResult, runCommand } from './command.ts';

const problems = {
  400: { $ref: 'Problem#' },
  401: { $ref: 'Problem#' },
  403: { $ref: 'Problem#' },
  404: { $ref: 'Problem#' },
  409: { $ref: 'Problem#' },
  422: { $ref: 'Problem#' },
  503: { $ref: 'Problem#' },
};
const withPayment = { ...problems, 402: { $ref: 'Problem#' } };
const TopUpParams = Type.Object(
  { id: Type.String({ format: 'uuid' }), topupId: Type.String({ format: 'uuid' }) },
  { additionalProperties: false },
);
const NumberParams = Type.Object(
  { id: Type.String({ format: 'uuid' }), number: Type.String({ pattern: '^\\d{2,11}$' }) },
  { additionalProperties: false },
);

interface TopUpRow {
  topup_id: string;
  account_id: string;
  amount: string;
  status: 'pending' | 'confirmed' | 'cancelled';
  requested_at: Date;
  confirmed_at: Date | null;
}

const topUpOf = (row: TopUpRow) => ({
  topupId: row.topup_id,
  accountId: row.account_id,
  amount: trimMoney(row.amount),
  currency: 'INR' as const,
  status: row.status,
  requestedAt: row.requested_at.toISOString(),
  confirmedAt: row.confirmed_at?.toISOString() ?? null,
});

/** Accounts: opening, billing profile, balance, wallet adjustments, top-ups, numbers, suspension. */
export async function accountRoutes(app: FastifyInstance): Promise<void> {
  app.post(
    '/accounts',
    {
      schema: { tags: ['accounts'], body: OpenAccountBody, response: { 201: AccountCreated, ...problems } },
      config: { access: { roles: ['admin'] }, idempotent: true },
    },
    async (request, reply) => {
      const body = request.body as Static<typeof OpenAccountBody>;
      const accountId = body.accountId ?? randomUUID();
      const { accountId: _chosen, ...fields } = body;
      const outcome = await runCommand(request, { type: 'OpenAccount', accountId, ...fields });
      return reply.status(201).send({ accountId, ...commandResult(outcome) });
    },
  );

  app.patch(
    '/accounts/:id',
    {
      schema: {
        tags: ['accounts'],
        params: AccountIdParams,
        body: UpdateProfileBody,
        response: { 200: CommandResult, ...problems },
      },
      config: { access: { roles: ['customer', 'admin'], account: 'params.id' } },
    },
    async (request) => {
      const { id } = request.params as { id: string };
      return commandResult(
        await runCommand(request, { type: 'UpdateBillingProfile', accountId: id, ...(request.body as object) }),
      );
    },
  );

  app.get(
    '/accounts/:id/balance',
    {
      schema: { tags: ['accounts'], params: AccountIdParams, response: { 200: BalanceResponse, ...problems } },
      config: { access: { roles: READERS, account: 'params.id' } },
    },
    async (request) => {
      const { id } = request.params as { id: string };
      const balance = await balanceOf(app.khata.readDb, await app.khata.readModelSchema('balances'), id);
      if (balance === null) throw notFound('account');
      const { billingMode: _mode, status: _status, ...body } = balance;
      return body;
    },
  );

  app.post(
    '/accounts/:id/wallet/adjustments',
    {
      schema: {
        tags: ['accounts'],
        params: AccountIdParams,
        body: AdjustmentBody,
        response: { 201: CommandResult, ...withPayment },
      },
      config: { access: { roles: ['admin'], account: 'params.id' }, idempotent: true },
    },
    async (request, reply) => {
      const { id } = request.params as { id: string };
      const outcome = await runCommand(request, { type: 'AdjustWallet', accountId: id, ...(request.body as object) });
      return reply.status(201).send(commandResult(outcome));
    },
  );

  app.post(
    '/accounts/:id/topups',
    {
      schema: { tags: ['accounts'], params: AccountIdParams, body: TopUpBody, response: { 201: TopUp, ...problems } },
      config: { access: { roles: ['customer', 'admin'], account: 'params.id' }, idempotent: true },
    },
    async (request, reply) => {
      const { id } = request.params as { id: string };
      const { amount } = request.body as { amount: string };
      const principal = requirePrincipal(request);
      const balance = await balanceOf(app.khata.readDb, await app.khata.readModelSchema('balances'), id);
      if (balance === null) throw notFound('account');
      const [row] = await app.khata.readDb.query<TopUpRow>(
        `INSERT INTO api.topups (topup_id, account_id, amount, status, requested_by, requested_at)
         VALUES ($1, $2, $3, 'pending', $4, $5) RETURNING *`,
        [randomUUID(), id, Money.parse(amount).toString(), `${principal.role}:${principal.userId}`, app.khata.clock()],
      );
      return reply.status(201).send(topUpOf(row as TopUpRow));
    },
  );

  app.get(
    '/accounts/:id/topups',
    {
      schema: {
        tags: ['accounts'],
        params: AccountIdParams,
        querystring: Type.Object(PageQuery, { additionalProperties: false }),
        response: { 200: Page(TopUp), ...problems },
      },
      config: { access: { roles: READERS, account: 'params.id' } },
    },
    async (request) => {
      const { id } = request.params as { id: string };
      const query = request.query as { limit?: string; cursor?: string };
      const limit = pageLimit(query.limit);
      const after = decodeCursor<{ at: string; id: string }>(query.cursor);
      const rows = await app.khata.readDb.query<TopUpRow>(
        `SELECT * FROM api.topups WHERE account_id = $1
           AND ($2::timestamptz IS NULL OR (requested_at, topup_id) < ($2::timestamptz, $3::uuid))
         ORDER BY requested_at DESC, topup_id DESC LIMIT $4`,
        [id, after?.at ?? null, after?.id ?? null, limit + 1],
      );
      const page = rows.slice(0, limit);
      const last = page.at(-1);
      return {
        items: page.map(topUpOf),
        nextCursor:
          rows.length > limit && last !== undefined
            ? encodeCursor({ at: last.requested_at.toISOString(), id: last.topup_id })
            : null,
      };
    },
  );

  app.post(
    '/accounts/:id/topups/:topupId/confirm',
    {
      schema: { tags: ['accounts'], params: TopUpParams, response: { 200: TopUp, ...problems } },
      config: { access: { roles: ['admin'], account: 'params.id' } },
    },
    async (request) => {
      const { id, topupId } = request.params as { id: string; topupId: string };
      const principal = requirePrincipal(request);
      const [row] = await app.khata.readDb.query<TopUpRow>(
        'SELECT * FROM api.topups WHERE topup_id = $1 AND account_id = $2',
        [topupId, id],
      );
      if (row === undefined) throw notFound('top-up');
      if (row.status === 'cancelled')
        throw new ApiProblem(409, 'TOPUP_CANCELLED', 'Top-up cancelled', 'a cancelled top-up cannot be confirmed');
      // The wallet credit is keyed by the top-up id: confirming twice credits once.
      await runCommand(request, {
        type: 'TopUpWallet',
        accountId: id,
        amount: Money.parse(row.amount).toFixedDecimals(2),
        paymentId: `manual:${topupId}`,
      });
      const [confirmed] = await app.khata.readDb.query<TopUpRow>(
        `UPDATE api.topups SET status = 'confirmed', confirmed_by = $2, confirmed_at = COALESCE(confirmed_at, $3)
          WHERE topup_id = $1 RETURNING *`,
        [topupId, `${principal.role}:${principal.userId}`, app.khata.clock()],
      );
      return topUpOf(confirmed as TopUpRow);
    },
  );

  app.post(
    '/accounts/:id/numbers',
    {
      schema: {
        tags: ['accounts'],
        params: AccountIdParams,
        body: NumberBody,
        response: { 201: CommandResult, ...problems },
      },
      config: { access: { roles: ['customer', 'admin'], account: 'params.id' }, idempotent: true },
    },
    async (request, reply) => {
      const { id } = request.params as { id: string };
      const outcome = await runCommand(request, { type: 'AssignNumber', accountId: id, ...(request.body as object) });
      return reply.status(201).send(commandResult(outcome));
    },
  );

  app.delete(
    '/accounts/:id/numbers/:number',
    {
      schema: { tags: ['accounts'], params: NumberParams, response: { 200: CommandResult, ...problems } },
      config: { access: { roles: ['customer', 'admin'], account: 'params.id' } },
    },
    async (request) => {
      const { id, number } = request.params as { id: string; number: string };
      const kind = /^1800\d{6,7}$/.test(number) ? 'toll-free' : 'extension';
      return commandResult(await runCommand(request, { type: 'ReleaseNumber', accountId: id, kind, number }));
    },
  );

  for (const [action, type] of [
    ['suspend', 'SuspendAccount'],
    ['reinstate', 'ReinstateAccount'],
  ] as const) {
    app.post(
      `/accounts/:id/${action}`,
      {
        schema: {
          tags: ['accounts'],
          params: AccountIdParams,
          body: ReasonBody,
          response: { 200: CommandResult, ...problems },
        },
        config: { access: { roles: ['admin'], account: 'params.id' } },
      },
      async (request) => {
        const { id } = request.params as { id: string };
        return commandResult(await runCommand(request, { type, accountId: id, ...(request.body as object) }));
      },
    );
  }
}
