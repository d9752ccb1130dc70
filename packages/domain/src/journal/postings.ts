/**
 * The double-entry journal (SPEC §10): every account event that moves money becomes one balanced
 * journal entry; every other event moves none and has no entry. Pure: the journal read model and the
 * audit build their rows from `journalEntryOf`, and `assertBalanced` checks each entry where it is built
 * (and the projection checks the rows again before it writes them).
 *
 * Ledger accounts (the chart of accounts, `<type>:<name>`):
 *
 * | account | normal side | what it holds |
 * |---|---|---|
 * | `liability:customer-balances` | credit | each customer's balance, one sub-ledger per customer account (lines carry its id): a prepaid wallet is owed to the customer (credit balance); postpaid usage owed by the customer is a debit balance (a receivable) |
 * | `asset:gateway-clearing` | debit | money customers paid through a gateway (or recorded by hand) that the bank has not settled yet |
 * | `income:subscriptions` | credit | plan charges, less prorated credits for upgrades and cancellations |
 * | `income:add-ons` | credit | add-on charges, with the period charge or prorated when added mid-period |
 * | `income:usage` | credit | rated calls (overage and destination tariffs), corrected by re-rating |
 * | `liability:output-cgst`, `-sgst`, `-utgst`, `-igst` | credit | GST collected on top-ups, payable to the government |
 * | `expense:wallet-adjustments` | debit | administrators' goodwill credits (debit) and corrections taken back (credit) |
 *
 * Prices are before GST: the wallet is credited the taxable value of a GST-inclusive top-up (SPEC §6),
 * so the GST is posted once, at the top-up, and charges debit the wallet at pre-tax prices.
 *
 * So the customer lines of an account always sum (credits − debits) to the account's balance as
 * `evolve` folds it: each entry's customer lines move exactly what the event moves the balance.
 * `PaymentRecorded` has no entry of its own: the `WalletToppedUp` the same command appends posts the
 * money (Dr gateway clearing), so posting both would count the payment twice.
 */
import type { AccountEvent, EventOf } from '@khata/schemas';
import { InvariantViolation } from '../account/state.ts';
import { Money } from '../money/money.ts';

export const LEDGER_ACCOUNTS = {
  customerBalances: 'liability:customer-balances',
  gatewayClearing: 'asset:gateway-clearing',
  subscriptionIncome: 'income:subscriptions',
  addOnIncome: 'income:add-ons',
  usageIncome: 'income:usage',
  outputCgst: 'liability:output-cgst',
  outputSgst: 'liability:output-sgst',
  outputUtgst: 'liability:output-utgst',
  outputIgst: 'liability:output-igst',
  walletAdjustments: 'expense:wallet-adjustments',
} as const;

export type LedgerAccount = (typeof LEDGER_ACCOUNTS)[keyof typeof LEDGER_ACCOUNTS];

/** One side of one posting: exactly one of `debit` and `credit` is positive, the other zero. */
export interface JournalLine {
  readonly ledgerAccount: LedgerAccount;
  /** The customer account a `liability:customer-balances` line belongs to; null on the house's accounts. */
  readonly customerAccountId: string | null;
  readonly debit: Money;
  readonly credit: Money;
}

export interface JournalEntryDraft {
  /** What happened, for people reading the journal. */
  readonly description: string;
  /** At least two lines; Σ debits = Σ credits. */
  readonly lines: readonly JournalLine[];
}

const {
  customerBalances,
  gatewayClearing,
  subscriptionIncome,
  addOnIncome,
  usageIncome,
  outputCgst,
  outputSgst,
  outputUtgst,
  outputIgst,
  walletAdjustments,
} = LEDGER_ACCOUNTS;

/**
 * The journal entry an account event posts, or null when the event moves no money (including a money
 * event whose amounts are all zero, e.g. an unanswered call). Throws InvariantViolation when the event's
 * amounts do not balance (a top-up whose taxable value and tax heads do not add up to what was paid,
 * a period charge whose parts do not add up to its amount): a bug or a corrupted stream.
 */
export function journalEntryOf(accountId: string, event: AccountEvent): JournalEntryDraft | null {
  const drafted = draft(accountId, event);
  if (drafted === null) return null;
  const lines = drafted.lines.filter((line) => !(line.debit.isZero() && line.credit.isZero()));
  if (lines.length === 0) return null;
  assertBalanced(lines, `${event.type} of account ${accountId}`);
  return { description: drafted.description, lines };
}

/**
 * Asserts a journal entry's double-entry rules: at least two lines, each with one positive side and no
 * negative amount, and Σ debits = Σ credits.
 */
export function assertBalanced(lines: readonly JournalLine[], what: string): void {
  if (lines.length < 2) throw new InvariantViolation(`journal entry for ${what} has ${lines.length} line(s)`);
  let debits = Money.zero;
  let credits = Money.zero;
  for (const line of lines) {
    if (line.debit.isNegative() || line.credit.isNegative()) {
      throw new InvariantViolation(`journal entry for ${what} has a negative amount on ${line.ledgerAccount}`);
    }
    if (line.debit.isZero() === line.credit.isZero()) {
      throw new InvariantViolation(`journal entry for ${what}: a line on ${line.ledgerAccount} must debit or credit`);
    }
    debits = debits.plus(line.debit);
    credits = credits.plus(line.credit);
  }
  if (!debits.equals(credits)) {
    throw new InvariantViolation(`journal entry for ${what} is unbalanced: debits ${debits}, credits ${credits}`);
  }
}

/** What an entry moves a customer's balance by: credits − debits of that customer's balance lines. */
export function customerBalanceChange(entry: Pick<JournalEntryDraft, 'lines'>, accountId: string): Money {
  let change = Money.zero;
  for (const line of entry.lines) {
    if (line.ledgerAccount !== customerBalances || line.customerAccountId !== accountId) continue;
    change = change.plus(line.credit).minus(line.debit);
  }
  return change;
}

const debit = (ledgerAccount: LedgerAccount, amount: Money, customerAccountId: string | null = null): JournalLine => ({
  ledgerAccount,
  customerAccountId,
  debit: amount,
  credit: Money.zero,
});

const credit = (ledgerAccount: LedgerAccount, amount: Money, customerAccountId: string | null = null): JournalLine => ({
  ledgerAccount,
  customerAccountId,
  debit: Money.zero,
  credit: amount,
});

/**
 * A signed movement between two accounts: a positive amount debits `debited` and credits `credited`; a
 * negative one posts the reverse, so no line ever carries a negative amount.
 */
function signed(amount: Money, debited: LedgerAccount, credited: LedgerAccount, customer: string): JournalLine[] {
  const magnitude = amount.isNegative() ? amount.negate() : amount;
  const customerOf = (account: LedgerAccount) => (account === customerBalances ? customer : null);
  return amount.isNegative()
    ? [debit(credited, magnitude, customerOf(credited)), credit(debited, magnitude, customerOf(debited))]
    : [debit(debited, magnitude, customerOf(debited)), credit(credited, magnitude, customerOf(credited))];
}

function draft(accountId: string, event: AccountEvent): JournalEntryDraft | null {
  switch (event.type) {
    case 'WalletToppedUp':
      return topUp(accountId, event);
    case 'SubscriptionCharged': {
      const { data } = event;
      return {
        description: `${data.planId} ${data.cycle} subscription, period ${data.periodStart} to ${data.periodEnd}`,
        lines: [
          debit(customerBalances, Money.parse(data.amount), accountId),
          credit(subscriptionIncome, Money.parse(data.planAmount)),
          ...data.addOns.map((addOn) => credit(addOnIncome, Money.parse(addOn.amount))),
        ],
      };
    }
    case 'PlanChanged': {
      const { data } = event;
      // Gross, not netted: the credit for the old plan's unused days and the charge for the new plan
      // are separate amounts an auditor wants to see.
      return {
        description: `plan changed from ${data.fromPlanId} ${data.fromCycle} to ${data.toPlanId} ${data.toCycle} on ${data.effectiveOn}`,
        lines: [
          debit(customerBalances, Money.parse(data.charge), accountId),
          credit(subscriptionIncome, Money.parse(data.charge)),
          debit(subscriptionIncome, Money.parse(data.credit)),
          credit(customerBalances, Money.parse(data.credit), accountId),
        ],
      };
    }
    case 'SubscriptionCancelled': {
      const amount = Money.parse(event.data.credit);
      return {
        description: `subscription cancelled (${event.data.when}), unused days credited`,
        lines: [debit(subscriptionIncome, amount), credit(customerBalances, amount, accountId)],
      };
    }
    case 'AddOnAdded': {
      const { data } = event;
      const amount = Money.parse(data.charge);
      return {
        description: `add-on ${data.addOnId} × ${data.quantity}, ${data.remainingDays} of ${data.periodDays} days`,
        lines: [debit(customerBalances, amount, accountId), credit(addOnIncome, amount)],
      };
    }
    case 'WalletAdjusted':
      // A positive adjustment credits the customer at the house's expense; a negative one takes it back.
      return {
        description: `wallet adjusted: ${event.data.reason}`,
        lines: signed(Money.parse(event.data.amount), walletAdjustments, customerBalances, accountId),
      };
    case 'CdrRated': {
      const { data } = event;
      const amount = Money.parse(data.cost);
      return {
        description: `call ${data.callId} to ${data.destination} (${data.destinationName || 'unnamed'})`,
        lines: [debit(customerBalances, amount, accountId), credit(usageIncome, amount)],
      };
    }
    case 'CallRerated':
      return {
        description: `call ${event.data.callId} re-rated from ${event.data.previousCost} to ${event.data.newCost}: ${event.data.reason}`,
        lines: signed(Money.parse(event.data.adjustment), customerBalances, usageIncome, accountId),
      };
    case 'AccountOpened':
    case 'BillingProfileUpdated':
    case 'CreditLimitChanged':
    case 'NumberAssigned':
    case 'NumberReleased':
    case 'SubscriptionStarted':
    case 'PlanChangeScheduled':
    case 'SubscriptionEnded':
    case 'AddOnRemoved':
    case 'UsageMonthStarted':
    case 'PaymentRecorded':
    case 'CallAuthorized':
    case 'ReservationExtended':
    case 'ReservationExpired':
    case 'AccountSuspended':
    case 'AccountReinstated':
    case 'AccountClosed':
      // Reservations hold money without moving it; the rest are not money events.
      return null;
  }
}

function topUp(accountId: string, event: EventOf<'WalletToppedUp'>): JournalEntryDraft {
  const { data } = event;
  const via = data.paymentId === null ? '' : ` (payment ${data.paymentId})`;
  return {
    description: `wallet top-up of ${data.gross} including GST${via}, place of supply ${data.placeOfSupply}`,
    lines: [
      debit(gatewayClearing, Money.parse(data.gross)),
      credit(customerBalances, Money.parse(data.taxable), accountId),
      credit(outputCgst, Money.parse(data.tax.cgst)),
      credit(outputSgst, Money.parse(data.tax.sgst)),
      credit(outputUtgst, Money.parse(data.tax.utgst)),
      credit(outputIgst, Money.parse(data.tax.igst)),
    ],
  };
}
