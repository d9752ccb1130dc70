import type { CommandMeta, CommandOutcome } from '@khata/ledger';
import type { Job, JobHandler } from '@khata/scheduler';
import { v5 as uuidV5 } from 'uuid';
import { CHARGE_SUBSCRIPTION, EXPIRE_RESERVATION, EXPIRE_RESERVATIONS, START_USAGE_MONTH } from './managers.ts';

const JOB_NAMESPACE = '5d0f2c1a-6b7e-5c3d-8a9f-0e1d2c3b4a5f';
const META: CommandMeta = { actor: 'system:scheduler' };

/** Runs a command (the ledger's `execute`). */
export type RunCommand = (command: object, meta: CommandMeta) => Promise<CommandOutcome>;

/**
 * Command ids derive from the job and the attempt: a crashed attempt repeated gets the command log's
 * answer, while a retry after a refusal (a wallet topped up since) is a new command. Every command a
 * job issues is idempotent by state anyway (nothing to expire, period already charged).
 */
function commandId(job: Job): string {
  return uuidV5(`${job.jobId}#${job.attempts}`, JOB_NAMESPACE);
}

/** Rejections that mean "nothing to do (any more)"; others are retried with back-off. */
const SETTLED = new Set(['RESERVATION_NOT_EXPIRED', 'NO_ACTIVE_SUBSCRIPTION', 'UNKNOWN_ACCOUNT', 'ACCOUNT_CLOSED']);

const SWEEP_SETTLED = new Set(['UNKNOWN_ACCOUNT']);

/**
 * A CDR FreeSWITCH posted (`rate-cdr:<call uuid>`, scheduled by @khata/esl-service's CDR inbox when the
 * webhook has recorded it). The job row is the durable record; rating it is the asynchronous part. Its
 * payload: `accountId` (null when no account could be found), `billable` (false for B-legs) and `cdr`
 * (RateCdr's shape). The same call rated twice charges once: CdrRated's event id comes from the call uuid.
 */
export const RATE_CDR = 'rate-cdr';

export function jobHandlers(run: RunCommand): { readonly [kind: string]: JobHandler } {
  const handle = (build: (job: Job) => object, settled: ReadonlySet<string> = SETTLED): JobHandler => {
    return async (job) => {
      const outcome = await run(
        { ...build(job), commandId: commandId(job), accountId: job.payload.accountId },
        {
          ...META,
          correlationId: commandId(job),
        },
      );
      if (outcome.status === 'rejected' && !settled.has(outcome.rejection.code)) {
        throw new Error(`${outcome.rejection.code}: ${outcome.rejection.message}`);
      }
    };
  };
  const rateCdr = handle((job) => ({ type: 'RateCdr', cdr: job.payload.cdr }));
  return {
    // B-legs and CDRs of no known account are kept as received, with nothing to bill.
    [RATE_CDR]: async (job) => {
      if (job.payload.billable === true && typeof job.payload.accountId === 'string') await rateCdr(job);
    },
    [EXPIRE_RESERVATION]: handle((job) => ({ type: 'ExpireReservation', callId: job.payload.callId })),
    // A sweep refused because a reservation due by its time is not yet due by the ledger's clock runs again.
    [EXPIRE_RESERVATIONS]: handle((job) => ({ type: 'ExpireReservations', dueBy: job.payload.dueBy }), SWEEP_SETTLED),
    [START_USAGE_MONTH]: handle((job) => ({ type: 'StartUsageMonth', on: job.payload.on })),
    [CHARGE_SUBSCRIPTION]: handle((job) => ({ type: 'ChargeSubscription', on: job.payload.on })),
  };
}
