import { rateCall, ratedCallToJson, TariffError } from '@khata/domain';
import {
  QuoteBody,
  QuoteResponse,
  TariffDocumentBody,
  TariffIdParams,
  TariffList,
  TariffResponse,
} from '@khata/schemas/api';
import type { FastifyInstance } from 'fastify';
import type { Static } from 'typebox';
import { requirePrincipal } from '../access.ts';
import { READERS } from '../principal.ts';
import { ApiProblem, notFound } from '../problems.ts';

const problems = {
  400: { $ref: 'Problem#' },
  401: { $ref: 'Problem#' },
  403: { $ref: 'Problem#' },
  404: { $ref: 'Problem#' },
  409: { $ref: 'Problem#' },
  422: { $ref: 'Problem#' },
  503: { $ref: 'Problem#' },
};

/**
 * Tariffs (SPEC §7): the destination tariff is versioned and published here (validated first: a broken
 * document is refused naming its field); plan overage tariffs are derived from the catalog and read-only.
 */
export async function tariffRoutes(app: FastifyInstance): Promise<void> {
  const find = (id: string) => {
    const published = app.khata.tariffs.current(id);
    if (published !== undefined) {
      return {
        id,
        version: published.version,
        kind: 'destination' as const,
        editable: true,
        publishedAt: published.publishedAt,
        document: published.document,
        tariff: published.tariff,
      };
    }
    for (const plan of app.khata.catalog.plans.values()) {
      const terms = app.khata.rules.plan(plan.id);
      if (terms !== undefined && terms.overageTariff.id === id) {
        return {
          id,
          version: 1,
          kind: 'plan-overage' as const,
          editable: false,
          publishedAt: null,
          document: { id, note: `derived from plan ${plan.id} in the catalog` },
          tariff: terms.overageTariff,
        };
      }
    }
    return undefined;
  };
  const view = (found: NonNullable<ReturnType<typeof find>>) => {
    const { tariff: _tariff, ...body } = found;
    return body;
  };

  app.get(
    '/tariffs',
    {
      schema: { tags: ['tariffs'], response: { 200: TariffList, ...problems } },
      config: { access: { roles: READERS } },
    },
    async () => {
      const ids = [
        ...app.khata.tariffs.list().map((t) => t.id),
        ...[...app.khata.catalog.plans.keys()].map((id) => `${id}-overage`),
      ];
      return {
        items: ids.flatMap((id) => {
          const found = find(id);
          return found === undefined ? [] : [view(found)];
        }),
      };
    },
  );

  app.get(
    '/tariffs/:id',
    {
      schema: { tags: ['tariffs'], params: TariffIdParams, response: { 200: TariffResponse, ...problems } },
      // The same documents the list shows to every reader: customers may see the rates they pay.
      config: { access: { roles: READERS } },
    },
    async (request) => {
      const found = find((request.params as { id: string }).id);
      if (found === undefined) throw notFound('tariff');
      return view(found);
    },
  );

  app.put(
    '/tariffs/:id',
    {
      schema: {
        tags: ['tariffs'],
        params: TariffIdParams,
        body: TariffDocumentBody,
        response: { 200: TariffResponse, ...problems },
      },
      config: { access: { roles: ['admin'] } },
    },
    async (request) => {
      const { id } = request.params as { id: string };
      const document = request.body as Record<string, unknown>;
      if (document.id !== id) {
        throw new ApiProblem(422, 'TARIFF_ID_MISMATCH', 'Tariff id mismatch', `the document's id must be ${id}`, {
          errors: [{ pointer: '/body/id', message: `must be ${id}` }],
        });
      }
      const existing = find(id);
      if (existing !== undefined && !existing.editable) {
        throw new ApiProblem(
          409,
          'TARIFF_READ_ONLY',
          'Tariff is read-only',
          'plan overage tariffs come from the catalog; edit the catalog instead',
        );
      }
      if (app.khata.destinationTariffId !== id) {
        throw new ApiProblem(
          409,
          'TARIFF_NOT_IN_USE',
          'Tariff not in use',
          `only the destination tariff (${app.khata.destinationTariffId ?? 'none configured'}) can be published here`,
        );
      }
      const principal = requirePrincipal(request);
      try {
        await app.khata.tariffs.publish(document, `${principal.role}:${principal.userId}`, app.khata.clock());
      } catch (error) {
        if (error instanceof TariffError) {
          throw new ApiProblem(422, 'INVALID_TARIFF', 'Invalid tariff', error.message, {
            errors: error.issues.map((issue) => ({ pointer: `/body${issue.path}`, message: issue.message })),
          });
        }
        throw error;
      }
      return view(find(id) as NonNullable<ReturnType<typeof find>>);
    },
  );

  app.post(
    '/tariffs/:id/quote',
    {
      schema: {
        tags: ['tariffs'],
        params: TariffIdParams,
        body: QuoteBody,
        response: { 200: QuoteResponse, ...problems },
      },
      config: { access: { roles: ['customer', 'admin', 'auditor', 'finance', 'system'] } },
    },
    async (request) => {
      const found = find((request.params as { id: string }).id);
      if (found === undefined) throw notFound('tariff');
      const body = request.body as Static<typeof QuoteBody>;
      const rated = rateCall(found.tariff, {
        dialled: body.destination,
        start: new Date(body.start),
        durationSeconds: body.durationSeconds,
        answered: body.answered ?? true,
      });
      if (rated === null)
        throw new ApiProblem(
          422,
          'DESTINATION_NOT_RATED',
          'Destination not rated',
          `${found.id} does not rate ${body.destination}`,
        );
      const json = ratedCallToJson(rated) as { slices?: Record<string, unknown>[] };
      return {
        tariffId: found.id,
        version: found.version,
        destination: rated.destination,
        cost: rated.cost.toString(),
        currency: 'INR' as const,
        billedSeconds: rated.billedSeconds,
        slices: json.slices ?? [],
      };
    },
  );
}
