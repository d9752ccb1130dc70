import { type CommandOutcome, nameBasedId, uuidNamespace } from '@khata/ledger';
import { isStoreUnavailable } from '@khata/runtime';
import {
  AuthorizationResponse,
  AuthorizeCallBody,
  CallIdParams,
  CdrBody,
  CommandResult,
  EndCallBody,
} from '@khata/schemas/api';
import type { FastifyInstance } from 'fastify';
import type { Static } from 'typebox';
import { ApiProblem, notFound } from '../problems.ts';
import { commandResult, runCommand } from './command.ts';

const CALL_NAMESPACE = uuidNamespace('4a1b2c3d-5e6f-5a7b-8c9d-0e1f2a3b4c5d');
/** The reason of a call let through by the fail-open policy while the ledger cannot be written. */
export const LEDGER_UNAVAILABLE = 'LEDGER_UNAVAILABLE';
/**
 * Requests per minute per caller on the call-control routes. The API's general limit (1,200 a minute)
 * is meant for people and portals; a switch sends an authorization and an end for every call, so a
 * node at 2,000 calls/s makes 240,000 requests a minute. This bound is ten times that: it still stops
 * a runaway client, but never a switch working normally.
 */
export const CALL_CONTROL_REQUESTS_PER_MINUTE_MAX = 2_400_000;
const callControlRateLimit = { max: CALL_CONTROL_REQUESTS_PER_MINUTE_MAX, timeWindow: 60_000 };
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
 * Calls (SPEC §8): authorization reserves like `StartCall` (the hot projection answers a sure "no" at
 * once; a "yes" is confirmed by the append, which is the authority), the end of a call posts its cost,
 * and normalized CDRs are rated exactly once per call uuid.
 */
export async function callRoutes(app: FastifyInstance): Promise<void> {
  app.post(
    '/calls/authorize',
    {
      schema: { tags: ['calls'], body: AuthorizeCallBody, response: { 200: AuthorizationResponse, ...problems } },
      config: { access: { roles: ['system', 'admin'] }, rateLimit: callControlRateLimit },
    },
    async (request) => {
      const body = request.body as Static<typeof AuthorizeCallBody>;
      if ((body.accountCode === undefined) === (body.destinationNumber === undefined)) {
        throw new ApiProblem(
          400,
          'VALIDATION_FAILED',
          'Invalid request',
          'give exactly one of accountCode and destinationNumber',
          {
            errors: [{ pointer: '/body/accountCode', message: 'exactly one of accountCode and destinationNumber' }],
          },
        );
      }
      const accountId = body.accountCode ?? (await app.khata.ledger.holderOf(body.destinationNumber as string)).holder;
      if (accountId === null) return { authorized: false, maxSeconds: 0, reason: 'UNKNOWN_NUMBER', accountId: null };
      const now = app.khata.clock();
      const quick = await app.khata.hot.authorizer.authorize(accountId, body.destination, now, body.callId);
      if (!quick.authorized && quick.reason !== 'HOT_PROJECTION_UNAVAILABLE') {
        return { authorized: false, maxSeconds: 0, reason: quick.reason, accountId };
      }
      let outcome: CommandOutcome;
      try {
        outcome = await app.khata.ledger.execute(
          // One command per call: a repeated authorization of the same call gets the first answer.
          {
            type: 'StartCall',
            commandId: nameBasedId(`start-call/${accountId}/${body.callId}`, CALL_NAMESPACE),
            accountId,
            callId: body.callId,
            destination: body.destination,
            at: now.toISOString(),
          },
          { actor: `${request.principal?.role}:${request.principal?.userId}`, correlationId: request.id },
        );
      } catch (error) {
        // No authority can answer. Fail-open lets the call through, capped and without a reservation, but
        // only when the hot projection had nothing against it; fail-closed answers 503 (nothing written).
        const { policy } = app.khata.hot.authorizer;
        if (!isStoreUnavailable(error) || policy.mode !== 'fail-open') throw error;
        request.log.warn(
          { err: error, accountId, callId: body.callId },
          'call authorized fail-open: the ledger is unreachable',
        );
        // A "yes" from the hot projection bounds the call further: that is all the balance covers.
        const maxSeconds = quick.authorized ? Math.min(quick.maxSeconds, policy.maxSeconds) : policy.maxSeconds;
        return { authorized: true, maxSeconds, reason: LEDGER_UNAVAILABLE, accountId };
      }
      if (outcome.status === 'rejected')
        return { authorized: false, maxSeconds: 0, reason: outcome.rejection.code, accountId };
      const authorized = outcome.events.find((event) => event.type === 'CallAuthorized');
      if (authorized !== undefined) {
        return {
          authorized: true,
          maxSeconds: (authorized.data as { maxSeconds: number }).maxSeconds,
          reason: 'OK',
          accountId,
        };
      }
      // The call was authorized before (a repeated request): answer with its reservation.
      const { state } = await app.khata.ledger.load(accountId);
      const reservation = state.reservations.get(body.callId);
      if (reservation === undefined)
        return { authorized: false, maxSeconds: 0, reason: 'CALL_ALREADY_ENDED', accountId };
      return { authorized: true, maxSeconds: reservation.maxSeconds, reason: 'OK', accountId };
    },
  );

  app.post(
    '/calls/:callId/end',
    {
      schema: {
        tags: ['calls'],
        params: CallIdParams,
        body: EndCallBody,
        response: { 200: CommandResult, ...problems },
      },
      config: { access: { roles: ['system', 'admin'], account: 'body.accountId' }, rateLimit: callControlRateLimit },
    },
    async (request) => {
      const { callId } = request.params as { callId: string };
      const body = request.body as Static<typeof EndCallBody>;
      let { destination, startedAt } = body;
      if (destination === undefined || startedAt === undefined) {
        const { state } = await app.khata.ledger.load(body.accountId);
        const reservation = state.reservations.get(callId);
        if (reservation === undefined)
          throw notFound('open call (give destination and startedAt for a call without one)');
        destination ??= reservation.destination;
        startedAt ??= reservation.authorizedAt;
      }
      const cdr = {
        callId,
        leg: 'A',
        destination,
        startedAt,
        answeredAt: body.answeredAt,
        billableMilliseconds: body.billableMilliseconds,
        ...(body.hangupCause === undefined ? {} : { hangupCause: body.hangupCause }),
      };
      return commandResult(await runCommand(request, { type: 'RateCdr', accountId: body.accountId, cdr }));
    },
  );

  app.post(
    '/cdrs',
    {
      schema: { tags: ['cdrs'], body: CdrBody, response: { 200: CommandResult, ...problems } },
      config: {
        access: { roles: ['system', 'admin'], account: 'body.accountId' },
        idempotent: true,
        rateLimit: callControlRateLimit,
      },
    },
    async (request) => {
      const { accountId, ...cdr } = request.body as Static<typeof CdrBody>;
      return commandResult(await runCommand(request, { type: 'RateCdr', accountId, cdr }));
    },
  );
}
