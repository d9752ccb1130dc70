import { randomUUID } from 'node:crypto';
import {
  type AccountDecider,
  type AccountRules,
  createAccountDecider,
  reject,
  todayOf,
  upcastAccountEvent,
} from '@khata/domain';
import { type EventStore, WrongExpectedVersion } from '@khata/event-store';
import {
  type AccountCommand,
  AccountCommand as AccountCommandSchema,
  createValidator,
  type SchemaIssue,
} from '@khata/schemas';
import { AccountWriter, type AccountWriterOptions, type CommandMeta, type LoadedAccount } from './account-writer.ts';
import { type ChainReport, verifyStream } from './chain.ts';
import { accountStream } from './ids.ts';
import type { CommandOutcome } from './outcome.ts';
import type { CommandLog, SnapshotStore } from './stores.ts';

/** A command that does not match its schema. Nothing was decided or written. */
export class InvalidCommand extends Error {
  override readonly name = 'InvalidCommand';
  readonly code = 'INVALID_COMMAND';
  readonly retryable = false;
  readonly issues: readonly SchemaIssue[];

  constructor(issues: readonly SchemaIssue[]) {
    super(`invalid command: ${issues.map((issue) => `${issue.path || '/'} ${issue.message}`).join('; ')}`);
    this.issues = issues;
  }
}

export interface LedgerOptions extends Omit<AccountWriterOptions, 'decider'> {
  readonly rules: AccountRules;
}

const validateCommand = createValidator<AccountCommand>(AccountCommandSchema);
const CLAIM_ATTEMPTS_MAX = 5;
/** Commands in one `executeBatch`: bounds the memory and the time one call holds its callers. */
export const LEDGER_BATCH_COMMANDS_MAX = 10_000;
const RERATE_READ_PAGE = 1_000;

type RerateCall = Extract<AccountCommand, { type: 'RerateUsage' }>['calls'][number];

/**
 * Command handling for accounts (SPEC §2): validate → load → decide → append, with idempotency by
 * command id, a single writer per account, and the toll-free number registry that keeps each number on
 * one account at a time.
 */
export class Ledger {
  readonly decider: AccountDecider;
  readonly writer: AccountWriter;
  readonly store: EventStore;

  constructor(options: LedgerOptions) {
    this.decider = createAccountDecider(options.rules);
    this.store = options.store;
    this.writer = new AccountWriter({ ...options, decider: this.decider });
  }

  /** Validates `input` against the command schemas, then runs it. Throws InvalidCommand when it does not match. */
  async execute(input: unknown, meta: CommandMeta): Promise<CommandOutcome> {
    const checked = validateCommand(input);
    if (!checked.ok) throw new InvalidCommand(checked.issues);
    return this.#run(checked.value, meta);
  }

  /**
   * The batch entry point of a production ingester (SPEC §14: CDRs on batches): validates every
   * command first, and when one does not match its schema throws InvalidCommand (issue pointers start
   * with the command's index) before anything is decided or written. Then all commands are handed to
   * their accounts' single writers at once: each account's commands are decided in the order given and
   * appended together, and the accounts' appends share group commits. Outcomes come back in input
   * order, one per command (a rejection is an outcome, not an error).
   */
  async executeBatch(inputs: readonly unknown[], meta: CommandMeta): Promise<CommandOutcome[]> {
    if (inputs.length > LEDGER_BATCH_COMMANDS_MAX) {
      throw new InvalidCommand([
        { path: '', message: `at most ${LEDGER_BATCH_COMMANDS_MAX} commands per batch, got ${inputs.length}` },
      ]);
    }
    const commands: AccountCommand[] = [];
    const issues: SchemaIssue[] = [];
    inputs.forEach((input, index) => {
      const checked = validateCommand(input);
      if (checked.ok) commands.push(checked.value);
      else issues.push(...checked.issues.map((issue) => ({ ...issue, path: `/${index}${issue.path}` })));
    });
    if (issues.length > 0) throw new InvalidCommand(issues);
    return Promise.all(commands.map((command) => this.#run(command, meta)));
  }

  async #run(command: AccountCommand, meta: CommandMeta): Promise<CommandOutcome> {
    if (command.type === 'AssignNumber' && command.kind === 'toll-free') return this.#assignTollFree(command, meta);
    const outcome = await this.writer.submit(command, meta);
    if (command.type === 'ReleaseNumber' && command.kind === 'toll-free' && outcome.status === 'accepted') {
      await this.#free(command.number, command.accountId);
    }
    return outcome;
  }

  /**
   * Re-rates the calls of the usage months overlapping `from`..`to` against the current tariffs
   * (SPEC §7): reads the months' allowances and every rated call (with its latest correction) from the
   * account's stream, and runs a RerateUsage command with them. Compensating events only.
   */
  async rerate(
    accountId: string,
    period: { readonly from: string; readonly to: string; readonly reason: string; readonly commandId: string },
    meta: CommandMeta,
  ): Promise<CommandOutcome> {
    const months: { start: string; end: string; freeSeconds: number }[] = [];
    const calls = new Map<string, RerateCall>();
    const streamId = accountStream(accountId);
    for (let from = 1n; ; ) {
      const { events } = await this.store.readStream(streamId, { fromVersion: from, maxCount: RERATE_READ_PAGE });
      for (const event of events) {
        const data = event.data as Record<string, unknown>;
        if (event.type === 'UsageMonthStarted') {
          const month = { start: String(data.start), end: String(data.end), freeSeconds: Number(data.freeSeconds) };
          if (month.start <= period.to && month.end > period.from) months.push(month);
        } else if (event.type === 'CdrRated' && data.answeredAt !== null) {
          const rated = upcastAccountEvent(event).data as { [key: string]: unknown };
          calls.set(String(rated.callId), {
            callId: String(rated.callId),
            destination: String(rated.destination),
            tariffId: String(rated.tariffId),
            answeredAt: rated.answeredAt as string | null,
            billableMilliseconds: Number(rated.billableMilliseconds),
            cost: String(rated.cost),
            freeSecondsUsed: Number(rated.freeSecondsUsed),
            usageMonthStart: rated.usageMonthStart as string | null,
          });
        } else if (event.type === 'CallRerated') {
          const call = calls.get(String(data.callId));
          if (call !== undefined) {
            calls.set(call.callId, {
              ...call,
              cost: String(data.newCost),
              freeSecondsUsed: Number(data.newFreeSecondsUsed),
              usageMonthStart: data.usageMonthStart as string | null,
            });
          }
        }
      }
      if (events.length < RERATE_READ_PAGE) break;
      from += BigInt(events.length);
    }
    const inMonths = [...calls.values()].filter((call) => {
      const day = todayOf(new Date(call.answeredAt as string));
      return months.some((month) => month.start <= day && day < month.end);
    });
    return this.execute(
      {
        type: 'RerateUsage',
        commandId: period.commandId,
        accountId,
        from: period.from,
        to: period.to,
        reason: period.reason,
        months,
        calls: inMonths,
      },
      meta,
    );
  }

  load(accountId: string): Promise<LoadedAccount> {
    return this.writer.load(accountId);
  }

  verifyChain(accountId: string): Promise<ChainReport> {
    return verifyStream(this.store, accountStream(accountId));
  }

  /** Who holds a toll-free number according to its registry stream (null: free). */
  async holderOf(number: string): Promise<{ holder: string | null; version: bigint }> {
    const { version, events } = await this.store.readStream(`tollfree-${number}`, {
      direction: 'backwards',
      maxCount: 1,
    });
    const last = events[0];
    if (last === undefined || last.type === 'TollFreeNumberFreed') return { holder: null, version };
    return { holder: String(last.data.accountId), version };
  }

  async #assignTollFree(
    command: Extract<AccountCommand, { type: 'AssignNumber' }>,
    meta: CommandMeta,
  ): Promise<CommandOutcome> {
    const claimed = await this.#claim(command.number, command.accountId);
    if (claimed !== true) {
      return {
        status: 'rejected',
        commandId: command.commandId,
        streamId: accountStream(command.accountId),
        rejection: reject('NUMBER_IN_USE', `${command.number} is assigned to another account`),
      };
    }
    const outcome = await this.writer.submit(command, meta);
    // The account refused it (limit reached, bad number): give the claim back unless it already had it.
    if (outcome.status === 'rejected' && outcome.rejection.code !== 'NUMBER_ALREADY_ASSIGNED') {
      await this.#free(command.number, command.accountId);
    }
    return outcome;
  }

  /**
   * Claims the number for the account: true when it is free, already the account's, or held by a claim
   * its holder never completed (the holder's state does not have the number: a crash between claim and
   * assignment); false when another account really holds it.
   */
  async #claim(number: string, accountId: string): Promise<boolean> {
    for (let attempt = 1; attempt <= CLAIM_ATTEMPTS_MAX; attempt += 1) {
      const { holder, version } = await this.holderOf(number);
      if (holder === accountId) return true;
      if (holder !== null) {
        const holderState = await this.writer.load(holder);
        if (holderState.state.tollFreeNumbers.includes(number)) return false;
      }
      try {
        await this.store.appendToStream(
          `tollfree-${number}`,
          [{ eventId: randomUUID(), type: 'TollFreeNumberClaimed', data: { accountId } }],
          { expected: version === 0n ? 'no_stream' : version },
        );
        return true;
      } catch (error) {
        if (!(error instanceof WrongExpectedVersion)) throw error;
      }
    }
    return false;
  }

  async #free(number: string, accountId: string): Promise<void> {
    for (let attempt = 1; attempt <= CLAIM_ATTEMPTS_MAX; attempt += 1) {
      const { holder, version } = await this.holderOf(number);
      if (holder !== accountId) return;
      try {
        await this.store.appendToStream(
          `tollfree-${number}`,
          [{ eventId: randomUUID(), type: 'TollFreeNumberFreed', data: { accountId } }],
          { expected: version },
        );
        return;
      } catch (error) {
        if (!(error instanceof WrongExpectedVersion)) throw error;
      }
    }
  }
}

export type { CommandLog, SnapshotStore };
