import type { Rejection } from '@khata/domain';

export interface AcceptedEvent {
  readonly eventId: string;
  readonly type: string;
  /** The event's version in its stream (a decimal string: JSON has no bigint). */
  readonly version: string;
  readonly data: unknown;
}

/** What happened to a command. The same command id always gets the same outcome. */
export type CommandOutcome =
  | {
      readonly status: 'accepted';
      readonly commandId: string;
      readonly streamId: string;
      /** What the command appended; empty when it changed nothing (e.g. a B-leg CDR, a repeat StartCall). */
      readonly events: readonly AcceptedEvent[];
      /** The stream's version after the command. */
      readonly streamVersion: string;
    }
  | {
      readonly status: 'rejected';
      readonly commandId: string;
      readonly streamId: string;
      readonly rejection: Rejection;
    };

type AcceptedOutcome = Extract<CommandOutcome, { status: 'accepted' }>;

/**
 * An accepted command's event as the command log keeps it: which event it was, not its data, which the stream
 * holds already. Entries written before the log stopped copying the data still carry it.
 */
export interface LoggedEvent {
  readonly eventId: string;
  readonly type: string;
  readonly version: string;
  readonly data?: unknown;
}

/** A command's outcome as the command log keeps it (see LoggedEvent); the writer reads the events' data back. */
export type LoggedOutcome =
  | Extract<CommandOutcome, { status: 'rejected' }>
  | (Omit<AcceptedOutcome, 'events'> & { readonly events: readonly LoggedEvent[] });

/** The log entry of an outcome: an accepted command's events by id, type and version. */
export function toLogged(outcome: CommandOutcome): LoggedOutcome {
  if (outcome.status === 'rejected') return outcome;
  return {
    ...outcome,
    events: outcome.events.map(({ eventId, type, version }) => ({ eventId, type, version })),
  };
}
