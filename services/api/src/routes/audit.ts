import { stateToJson } from '@khata/domain';
import { replayAccount, verifyAccount } from '@khata/runtime';
import { AccountIdParams, AsOfQuery, AuditEvent, Page, PageQuery, VerificationResponse } from '@khata/schemas/api';
import type { FastifyInstance } from 'fastify';
import Type from 'typebox';
import { decodeCursor, encodeCursor, pageLimit } from '../pagination.ts';
import { notFound } from '../problems.ts';

const problems = {
  400: { $ref: 'Problem#' },
  401: { $ref: 'Problem#' },
  403: { $ref: 'Problem#' },
  404: { $ref: 'Problem#' },
  503: { $ref: 'Problem#' },
};
const AUDIT = { roles: ['auditor', 'admin'] as const, account: 'params.id' as const };

/**
 * Auditors (SPEC §1): an account's full event history with its hash-chain fields, its state replayed as
 * of any instant, and the verification that read models, the hot projection and the chain agree with
 * the replay. The only routes that read the event store directly.
 */
export async function auditRoutes(app: FastifyInstance): Promise<void> {
  app.get(
    '/audit/accounts/:id/events',
    {
      schema: {
        tags: ['audit'],
        params: AccountIdParams,
        querystring: Type.Object(PageQuery, { additionalProperties: false }),
        response: { 200: Page(AuditEvent), ...problems },
      },
      config: { access: { ...AUDIT, roles: [...AUDIT.roles] } },
    },
    async (request) => {
      const { id } = request.params as { id: string };
      const query = request.query as { limit?: string; cursor?: string };
      const limit = pageLimit(query.limit);
      const after = decodeCursor<{ version: string }>(query.cursor);
      const from = after === null ? 1n : BigInt(after.version) + 1n;
      const { version, events } = await app.khata.eventStore.readStream(`account-${id}`, {
        fromVersion: from,
        maxCount: limit,
      });
      if (version === 0n) throw notFound('account');
      const last = events.at(-1);
      return {
        items: events.map((event) => ({
          eventId: event.eventId,
          type: event.type,
          schemaVersion: event.schemaVersion,
          version: event.version.toString(),
          position: event.position,
          storedAt: event.storedAt.toISOString(),
          data: event.data,
          metadata: event.metadata as Record<string, unknown>,
          chainHash: typeof event.metadata.chainHash === 'string' ? event.metadata.chainHash : null,
        })),
        nextCursor:
          last !== undefined && last.version < version ? encodeCursor({ version: last.version.toString() }) : null,
      };
    },
  );

  app.get(
    '/audit/accounts/:id/state',
    {
      schema: {
        tags: ['audit'],
        params: AccountIdParams,
        querystring: AsOfQuery,
        response: {
          200: Type.Object(
            {
              accountId: Type.String(),
              asOf: Type.Union([Type.String(), Type.Null()]),
              version: Type.String(),
              eventsReplayed: Type.Integer(),
              state: Type.Record(Type.String(), Type.Unknown()),
            },
            { additionalProperties: false },
          ),
          ...problems,
        },
      },
      config: { access: { ...AUDIT, roles: [...AUDIT.roles] } },
    },
    async (request) => {
      const { id } = request.params as { id: string };
      const { asOf } = request.query as { asOf?: string };
      const replay = await replayAccount(app.khata, id, asOf === undefined ? {} : { asOf: new Date(asOf) });
      if (replay.events === 0 && asOf === undefined) throw notFound('account');
      return {
        accountId: id,
        asOf: asOf ?? null,
        version: replay.version.toString(),
        eventsReplayed: replay.events,
        state: stateToJson(replay.state),
      };
    },
  );

  app.post(
    '/audit/accounts/:id/verify',
    {
      schema: { tags: ['audit'], params: AccountIdParams, response: { 200: VerificationResponse, ...problems } },
      config: { access: { ...AUDIT, roles: [...AUDIT.roles] } },
    },
    async (request) => {
      const { id } = request.params as { id: string };
      const report = await verifyAccount(app.khata, id);
      if (report.eventsReplayed === 0) throw notFound('account');
      return report;
    },
  );
}
