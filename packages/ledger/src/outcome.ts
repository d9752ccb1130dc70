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
