import { listSubscriptions, subscriptionById } from '@khata/projections';
import {
  CancelQuery,
  ChangeResult,
  ChangeSubscriptionBody,
  CommandResult,
  Page,
  PageQuery,
  SubscribeBody,
  SubscriptionCreated,
  SubscriptionIdParams,
  SubscriptionViewSchema,
} from '@khata/schemas/api';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import Type, { type Static } from 'typebox';
import { canSeeAccount, requirePrincipal } from '../access.ts';
import { pageLimit } from '../pagination.ts';
import { READERS } from '../principal.ts';
import { notFound } from '../problems.ts';
import { commandResult, runCommand } from './command.ts';
import { reading } from './reads.ts';

const problems = {
  400: { $ref: 'Problem#' },
  401: { $ref: 'Problem#' },
  402: { $ref: 'Problem#' },
  403: { $ref: 'Problem#' },
  404: { $ref: 'Problem#' },
  409: { $ref: 'Problem#' },
  422: { $ref: 'Problem#' },
  503: { $ref: 'Problem#' },
};
const ListQuery = Type.Object(
  {
    ...PageQuery,
    accountId: Type.Optional(Type.String({ format: 'uuid' })),
    status: Type.Optional(
      Type.Union([
        Type.Literal('active'),
        Type.Literal('cancelling'),
        Type.Literal('ended'),
        Type.Literal('cancelled'),
      ]),
    ),
    planId: Type.Optional(Type.String({ pattern: '^[a-z][a-z0-9-]{0,39}$' })),
  },
  { additionalProperties: false },
);

/** Subscriptions (SPEC §6): subscribe, read, change plan / cycle / add-ons, cancel now or at period end. */
export async function subscriptionRoutes(app: FastifyInstance): Promise<void> {
  const { khata } = app;
  const schema = () => khata.readModelSchema('subscriptions');

  /** The subscription if the caller may see it (another customer's answers 404). */
  const visible = async (request: FastifyRequest) => {
    const { id } = request.params as { id: string };
    const subscription = await subscriptionById(khata.readDb, await schema(), id);
    if (subscription === null || !canSeeAccount(requirePrincipal(request), subscription.accountId))
      throw notFound('subscription');
    return subscription;
  };

  app.post(
    '/subscriptions',
    {
      schema: { tags: ['subscriptions'], body: SubscribeBody, response: { 201: SubscriptionCreated, ...problems } },
      config: { access: { roles: ['customer', 'admin'], account: 'body.accountId' }, idempotent: true },
    },
    async (request, reply) => {
      const body = request.body as Static<typeof SubscribeBody>;
      const outcome = await runCommand(request, { type: 'Subscribe', ...body });
      // The subscription's id is the id of the command that started it.
      return reply.status(201).send({ subscriptionId: outcome.commandId, ...commandResult(outcome) });
    },
  );

  app.get(
    '/subscriptions',
    {
      schema: {
        tags: ['subscriptions'],
        querystring: ListQuery,
        response: { 200: Page(SubscriptionViewSchema), ...problems },
      },
      config: { access: { roles: READERS, account: 'query.accountId' } },
    },
    async (request) => {
      const query = request.query as Static<typeof ListQuery>;
      const principal = requirePrincipal(request);
      const accountId = query.accountId ?? (principal.role === 'customer' ? principal.accountIds[0] : undefined);
      if (principal.role === 'customer' && accountId === undefined) return { items: [], nextCursor: null };
      return reading(async () =>
        listSubscriptions(khata.readDb, await schema(), {
          limit: pageLimit(query.limit),
          cursor: query.cursor ?? null,
          ...(accountId === undefined ? {} : { accountId }),
          ...(query.status === undefined ? {} : { status: query.status }),
          ...(query.planId === undefined ? {} : { planId: query.planId }),
        }),
      );
    },
  );

  app.get(
    '/subscriptions/:id',
    {
      schema: {
        tags: ['subscriptions'],
        params: SubscriptionIdParams,
        response: { 200: SubscriptionViewSchema, ...problems },
      },
      config: { access: { roles: READERS } },
    },
    async (request) => visible(request),
  );

  app.put(
    '/subscriptions/:id',
    {
      schema: {
        tags: ['subscriptions'],
        params: SubscriptionIdParams,
        body: ChangeSubscriptionBody,
        response: { 200: ChangeResult, ...problems },
      },
      config: { access: { roles: ['customer', 'admin'] } },
    },
    async (request) => {
      const subscription = await visible(request);
      const body = request.body as Static<typeof ChangeSubscriptionBody>;
      const results: ReturnType<typeof commandResult>[] = [];
      const { accountId } = subscription;
      if (
        (body.planId !== undefined && body.planId !== subscription.planId) ||
        (body.cycle !== undefined && body.cycle !== subscription.cycle)
      ) {
        const outcome = await runCommand(request, {
          type: 'ChangePlan',
          accountId,
          planId: body.planId ?? subscription.planId,
          ...(body.cycle === undefined ? {} : { cycle: body.cycle }),
        });
        results.push(commandResult(outcome));
      }
      for (const wanted of body.addOns ?? []) {
        const current = subscription.addOns.find((addOn) => addOn.addOnId === wanted.addOnId)?.quantity ?? 0;
        if (wanted.quantity === current) continue;
        const type = wanted.quantity > current ? 'AddAddOn' : 'RemoveAddOn';
        const outcome = await runCommand(request, {
          type,
          accountId,
          addOnId: wanted.addOnId,
          quantity: Math.abs(wanted.quantity - current),
        });
        results.push(commandResult(outcome));
      }
      return { results };
    },
  );

  app.delete(
    '/subscriptions/:id',
    {
      schema: {
        tags: ['subscriptions'],
        params: SubscriptionIdParams,
        querystring: CancelQuery,
        response: { 200: CommandResult, ...problems },
      },
      config: { access: { roles: ['customer', 'admin'] } },
    },
    async (request) => {
      const subscription = await visible(request);
      const query = request.query as Static<typeof CancelQuery>;
      const outcome = await runCommand(request, {
        type: 'CancelSubscription',
        accountId: subscription.accountId,
        when: query.when ?? 'period_end',
        ...(query.reason === undefined ? {} : { reason: query.reason }),
      });
      return commandResult(outcome);
    },
  );
}
