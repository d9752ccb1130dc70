import { type CommandOutcome, nameBasedId, uuidNamespace } from '@khata/ledger';
import { CDR_BATCH_ITEMS_MAX, CdrBatchBody, CdrBatchResult } from '@khata/schemas/api';
import type { FastifyInstance } from 'fastify';
import type { Static } from 'typebox';
import { requirePrincipal } from '../access.ts';

/** Command ids of batch-rated CDRs: one per account, call and leg, whoever posts it and however often. */
const CDR_COMMAND_NAMESPACE = uuidNamespace('6f1d2a3b-7c4e-5d8f-9a0b-1c2d3e4f5a6b');
/**
 * Bytes of a batch body. A CDR is at most about 500 bytes as JSON (its fields are bounded), so the
 * largest batch fits with room to spare; anything bigger is refused with 413 before it is parsed.
 */
export const CDR_BATCH_BODY_BYTES_MAX = 1024 * 1024;
export { CDR_BATCH_ITEMS_MAX };

const problems = {
  400: { $ref: 'Problem#' },
  401: { $ref: 'Problem#' },
  403: { $ref: 'Problem#' },
  413: { $ref: 'Problem#' },
  422: { $ref: 'Problem#' },
  503: { $ref: 'Problem#' },
};

/** The command id a CDR is rated under, so that a CDR posted again (in any batch) is charged once. */
export function cdrCommandId(accountId: string, callId: string, leg: 'A' | 'B'): string {
  return nameBasedId(`rate-cdr/${accountId.toLowerCase()}/${callId}/${leg}`, CDR_COMMAND_NAMESPACE);
}

function costOf(outcome: Extract<CommandOutcome, { status: 'accepted' }>): string | null {
  const rated = outcome.events.find((event) => event.type === 'CdrRated');
  return rated === undefined ? null : String((rated.data as { cost: unknown }).cost);
}

/**
 * `POST /cdrs/batch` (SPEC §14: CDR ingest on batches): up to CDR_BATCH_ITEMS_MAX normalized CDRs of any
 * accounts, rated through the ledger's batch entry point. The body is validated whole first: one bad CDR
 * refuses the batch with a problem naming it, and nothing is rated. Then each account's CDRs are rated in
 * the order given, the accounts' appends share group commits, and each CDR gets its own outcome (a
 * rejection such as UNKNOWN_ACCOUNT does not fail the others). Posting the same CDR again, in this batch
 * or a later one, answers with its first outcome: the command id derives from account, call id and leg.
 */
export async function cdrBatchRoutes(app: FastifyInstance): Promise<void> {
  app.post(
    '/cdrs/batch',
    {
      bodyLimit: CDR_BATCH_BODY_BYTES_MAX,
      schema: { tags: ['cdrs'], body: CdrBatchBody, response: { 200: CdrBatchResult, ...problems } },
      config: { access: { roles: ['system', 'admin'] }, idempotent: true },
    },
    async (request) => {
      const { cdrs } = request.body as Static<typeof CdrBatchBody>;
      const principal = requirePrincipal(request);
      const commands = cdrs.map(({ accountId, ...cdr }) => ({
        type: 'RateCdr',
        commandId: cdrCommandId(accountId, cdr.callId, cdr.leg),
        accountId,
        cdr,
      }));
      const outcomes = await app.khata.ledger.executeBatch(commands, {
        actor: `${principal.role}:${principal.userId}`,
        correlationId: request.id,
      });
      let accepted = 0;
      const results = outcomes.map((outcome, index) => {
        const { accountId, callId, leg } = cdrs[index] as (typeof cdrs)[number];
        const base = { index, accountId, callId, leg, commandId: outcome.commandId, currency: 'INR' as const };
        if (outcome.status === 'accepted') {
          accepted += 1;
          return {
            ...base,
            status: 'accepted' as const,
            streamVersion: outcome.streamVersion,
            cost: costOf(outcome),
            code: null,
            message: null,
          };
        }
        return {
          ...base,
          status: 'rejected' as const,
          streamVersion: null,
          cost: null,
          code: outcome.rejection.code,
          message: outcome.rejection.message,
        };
      });
      return { accepted, rejected: results.length - accepted, results };
    },
  );
}
