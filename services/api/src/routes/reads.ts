import {
  accountById,
  callsOfAccount,
  callsWithId,
  cdrs,
  InvalidReadRequest,
  listAccounts,
  numbersOfAccount,
  usageOf,
} from '@khata/projections';
import {
  AccountIdParams,
  AccountViewSchema,
  CallIdParams,
  CallViewSchema,
  Page,
  PageQuery,
  UsageQuery,
  UsageViewSchema,
} from '@khata/schemas/api';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import Type, { type Static } from 'typebox';
import { canSeeAccount, requirePrincipal } from '../access.ts';
import { pageLimit } from '../pagination.ts';
import { READERS } from '../principal.ts';
import { ApiProblem, notFound } from '../problems.ts';

const problems = {
  400: { $ref: 'Problem#' },
  401: { $ref: 'Problem#' },
  403: { $ref: 'Problem#' },
  404: { $ref: 'Problem#' },
  503: { $ref: 'Problem#' },
};

/** A read model's refusal (a forged cursor, a bad filter) is the caller's: 400 with its code. */
export async function reading<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof InvalidReadRequest) throw new ApiProblem(400, error.code, 'Invalid request', error.message);
    throw error;
  }
}

const AccountListQuery = Type.Object(
  {
    ...PageQuery,
    status: Type.Optional(Type.Union([Type.Literal('active'), Type.Literal('suspended'), Type.Literal('closed')])),
  },
  { additionalProperties: false },
);
const CdrQuery = Type.Object(
  {
    ...PageQuery,
    accountId: Type.Optional(Type.String({ format: 'uuid' })),
    from: Type.Optional(Type.String({ format: 'date-time' })),
    to: Type.Optional(Type.String({ format: 'date-time' })),
    destination: Type.Optional(
      Type.String({ pattern: '^\\+?\\d{1,20}$', description: 'Dialled digits the destination starts with' }),
    ),
  },
  { additionalProperties: false },
);

/** Read-model queries of accounts, usage, calls and CDRs (never the event store). */
export async function readRoutes(app: FastifyInstance): Promise<void> {
  const { khata } = app;
  const schema = (name: string) => khata.readModelSchema(name);

  app.get(
    '/accounts',
    {
      schema: {
        tags: ['accounts'],
        querystring: AccountListQuery,
        response: { 200: Page(AccountViewSchema), ...problems },
      },
      config: { access: { roles: ['admin', 'auditor', 'finance'] } },
    },
    async (request) => {
      const query = request.query as Static<typeof AccountListQuery>;
      const page = await reading(async () =>
        listAccounts(khata.readDb, await schema('accounts'), {
          limit: pageLimit(query.limit),
          cursor: query.cursor ?? null,
          ...(query.status === undefined ? {} : { status: query.status }),
        }),
      );
      const numbers = await Promise.all(
        page.items.map(async (account) => numbersOfAccount(khata.readDb, await schema('accounts'), account.accountId)),
      );
      return {
        items: page.items.map((account, index) => ({ ...account, numbers: numbers[index] ?? [] })),
        nextCursor: page.nextCursor,
      };
    },
  );

  app.get(
    '/accounts/:id',
    {
      schema: { tags: ['accounts'], params: AccountIdParams, response: { 200: AccountViewSchema, ...problems } },
      config: { access: { roles: READERS, account: 'params.id' } },
    },
    async (request) => {
      const { id } = request.params as { id: string };
      const account = await accountById(khata.readDb, await schema('accounts'), id);
      if (account === null) throw notFound('account');
      return { ...account, numbers: await numbersOfAccount(khata.readDb, await schema('accounts'), id) };
    },
  );

  app.get(
    '/accounts/:id/usage',
    {
      schema: {
        tags: ['usage'],
        params: AccountIdParams,
        querystring: UsageQuery,
        response: { 200: UsageViewSchema, ...problems },
      },
      config: { access: { roles: READERS, account: 'params.id' } },
    },
    async (request) => {
      const { id } = request.params as { id: string };
      const { month } = request.query as { month: string };
      const usage = await reading(async () => usageOf(khata.readDb, await schema('usage'), id, month));
      if (usage !== null) return usage;
      if ((await accountById(khata.readDb, await schema('accounts'), id)) === null) throw notFound('account');
      // A month without calls: zeros, not a 404.
      return {
        accountId: id,
        month,
        calls: 0,
        answeredCalls: 0,
        durationSeconds: 0,
        billedSeconds: 0,
        freeSecondsUsed: 0,
        overageSeconds: 0,
        cost: '0.00',
        reratedCalls: 0,
        currency: 'INR' as const,
        destinations: [],
      };
    },
  );

  app.get(
    '/accounts/:id/calls',
    {
      schema: {
        tags: ['calls'],
        params: AccountIdParams,
        querystring: Type.Object(PageQuery, { additionalProperties: false }),
        response: { 200: Page(CallViewSchema), ...problems },
      },
      config: { access: { roles: READERS, account: 'params.id' } },
    },
    async (request) => {
      const { id } = request.params as { id: string };
      const query = request.query as { limit?: string; cursor?: string };
      return reading(async () =>
        callsOfAccount(khata.readDb, await schema('calls'), id, {
          limit: pageLimit(query.limit),
          cursor: query.cursor ?? null,
        }),
      );
    },
  );

  app.get(
    '/cdrs',
    {
      schema: { tags: ['cdrs'], querystring: CdrQuery, response: { 200: Page(CallViewSchema), ...problems } },
      config: { access: { roles: [...READERS, 'system'], account: 'query.accountId' } },
    },
    async (request) => {
      const query = request.query as Static<typeof CdrQuery>;
      const principal = requirePrincipal(request);
      // A customer lists its own account's CDRs (the only one it has, or the one it names).
      const accountId = query.accountId ?? (principal.role === 'customer' ? principal.accountIds[0] : undefined);
      if (principal.role === 'customer' && accountId === undefined) throw notFound('account');
      return reading(async () =>
        cdrs(khata.readDb, await schema('calls'), {
          limit: pageLimit(query.limit),
          cursor: query.cursor ?? null,
          ...(accountId === undefined ? {} : { accountId }),
          ...(query.from === undefined ? {} : { from: query.from }),
          ...(query.to === undefined ? {} : { to: query.to }),
          ...(query.destination === undefined ? {} : { destinationPrefix: query.destination }),
        }),
      );
    },
  );

  app.get(
    '/cdrs/:callId',
    {
      schema: { tags: ['cdrs'], params: CallIdParams, response: { 200: CallViewSchema, ...problems } },
      config: { access: { roles: [...READERS, 'system'] } },
    },
    async (request: FastifyRequest) => {
      const { callId } = request.params as { callId: string };
      const principal = requirePrincipal(request);
      const visible = (await callsWithId(khata.readDb, await schema('calls'), callId)).filter(
        (call) => call.rating !== null && canSeeAccount(principal, call.accountId),
      );
      const found = visible[0];
      if (found === undefined) throw notFound('CDR');
      return found;
    },
  );
}
