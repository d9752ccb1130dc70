/**
 * @khata/projections — the read models, one folder each: migrations (run by `khata migrate`), the
 * projection that turns events into rows, and the queries the API uses. Projections never read a clock.
 *
 * Invariants: every read model applies each account event once (rows and checkpoint move in one
 * transaction, and each read model also skips what it has already applied); list queries page with
 * opaque keyset cursors (at most PAGE_LIMIT_MAX rows); the journal's customer lines of an account sum
 * to the balances read model's balance, and every journal entry balances.
 */
import type { Projection } from '@khata/projector';
import { accountsProjection } from './accounts/projection.ts';
import { balancesProjection } from './balances/projection.ts';
import { callsProjection } from './calls/projection.ts';
import { journalProjection } from './journal/projection.ts';
import { paymentsProjection } from './payments/projection.ts';
import { subscriptionsProjection } from './subscriptions/projection.ts';
import { usageProjection } from './usage/projection.ts';

export { accountsProjection } from './accounts/projection.ts';
export {
  type AccountListRequest,
  type AccountNumber,
  type AccountView,
  accountById,
  listAccounts,
  numbersOfAccount,
  type TollFreeRoute,
  tollFreeRoute,
} from './accounts/queries.ts';
export { balanceRow, balancesProjection, stateOfRow } from './balances/projection.ts';
export { accountStates, type Balance, balanceOf, trimMoney } from './balances/queries.ts';
export { callsProjection } from './calls/projection.ts';
export {
  type CallListRequest,
  type CallView,
  type CdrListRequest,
  callById,
  callsOfAccount,
  callsWithId,
  cdrs,
} from './calls/queries.ts';
export { assertEntryRowsBalanced, journalProjection } from './journal/projection.ts';
export {
  customerBalanceOf,
  type JournalEntryView,
  type JournalLineView,
  journalOfAccount,
  type TrialBalance,
  type TrialBalanceRow,
  trialBalance,
  UNBALANCED_ENTRIES_MAX,
  type UnbalancedEntry,
  unbalancedEntries,
} from './journal/queries.ts';
export { paymentsProjection } from './payments/projection.ts';
export {
  type Gateway,
  type PaymentView,
  type PaymentWithTopUp,
  paymentsByGatewayId,
  paymentsOfAccount,
  type TopUpView,
  topUpsOfAccount,
} from './payments/queries.ts';
export {
  InvalidReadRequest,
  PAGE_LIMIT_DEFAULT,
  PAGE_LIMIT_MAX,
  type Page,
  type PageRequest,
} from './shared/pages.ts';
export { subscriptionsProjection } from './subscriptions/projection.ts';
export {
  listSubscriptions,
  type SubscriptionListRequest,
  type SubscriptionView,
  subscriptionById,
  subscriptionsOfAccount,
} from './subscriptions/queries.ts';
export { istMonth, usageProjection } from './usage/projection.ts';
export {
  type DestinationUsage,
  type MonthUsage,
  type MonthUsageWithDestinations,
  USAGE_MONTHS_MAX,
  usageMonthsOf,
  usageOf,
} from './usage/queries.ts';

/** Every read model, in the order they are migrated and listed. */
export const allProjections: readonly Projection[] = [
  balancesProjection,
  accountsProjection,
  subscriptionsProjection,
  usageProjection,
  callsProjection,
  paymentsProjection,
  journalProjection,
];
