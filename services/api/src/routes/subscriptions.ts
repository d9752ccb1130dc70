import { SubscribeBody, SubscriptionCreated } from '@khata/schemas/api';
import type { FastifyInstance } from 'fastify';
import type { Static } from 'typebox';
import { commandResult, runCommand } from './command.ts';

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

/** Subscriptions (SPEC §6): subscribe, change plan, cycle or add-ons, cancel; and their read model. */
export async function subscriptionRoutes(app: FastifyInstance): Promise<void> {
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
}
