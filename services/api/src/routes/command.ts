import { randomUUID } from 'node:crypto';
import type { CommandOutcome } from '@khata/ledger';
import type { FastifyRequest } from 'fastify';
import { requirePrincipal } from '../access.ts';
import { commandIdFor } from '../idempotency.ts';
import { ApiProblem, rejectionStatus, titleOf } from '../problems.ts';

export type Accepted = Extract<CommandOutcome, { status: 'accepted' }>;

/**
 * Runs an account command for a request: the command id comes from the Idempotency-Key when there is
 * one, the actor and correlation id from the caller and the request id. A domain rejection becomes a
 * 4xx problem with its stable code; nothing is appended.
 */
export async function runCommand(
  request: FastifyRequest,
  command: { readonly type: string; readonly accountId: string; readonly [key: string]: unknown },
): Promise<Accepted> {
  const principal = requirePrincipal(request);
  const outcome = await request.server.khata.ledger.execute(
    { ...command, commandId: commandIdFor(request, randomUUID) },
    { actor: `${principal.role}:${principal.userId}`, correlationId: request.id },
  );
  if (outcome.status === 'rejected') {
    const { code, message, details } = outcome.rejection;
    throw new ApiProblem(
      rejectionStatus(code),
      code,
      titleOf(code),
      message,
      details === undefined ? {} : { details: { ...details } },
    );
  }
  return outcome;
}

export function commandResult(outcome: Accepted) {
  return {
    commandId: outcome.commandId,
    streamVersion: outcome.streamVersion,
    events: outcome.events.map((event) => ({ ...event, data: event.data as Record<string, unknown> })),
  };
}
