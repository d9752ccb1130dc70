/**
 * The CDR workload of the ingest, rebuild and replay benchmarks: accounts with a realistic mix (three
 * plans, prepaid and postpaid) and their calls of one month (answered and unanswered, within the free
 * minutes, straddling them and in overage), generated from a seed so that every run and the baseline see
 * the same CDRs, in the order the calls ended (the order a collector receives them in).
 */
import { randomUUID } from 'node:crypto';

/** The month every generated call falls in (IST): the subscription starts at its beginning. */
export const SUBSCRIBED_AT = '2026-11-01T04:30:00.000Z';
const MONTH_START_MS = Date.parse('2026-11-02T00:00:00.000Z');
const MONTH_SPAN_MS = 22 * 86_400_000;
/** Decisions while ingesting happen after the last call (the ledger's clock). */
export const INGESTED_AT = '2026-11-25T06:00:00.000Z';
const PLANS = [
  { planId: 'starter', weight: 50 },
  { planId: 'professional', weight: 35 },
  { planId: 'call-center', weight: 15 },
] as const;
const POSTPAID_SHARE = 0.3;
const UNANSWERED_SHARE = 0.15;
/** Accounts that call three times as long: they run through their free minutes into overage. */
const HEAVY_SHARE = 0.2;
/** GST-inclusive wallet of a prepaid account before it subscribes: pays any plan with money left. */
const PREPAID_TOP_UP = '11800.00';
const POSTPAID_CREDIT_LIMIT = '50000.00';

export interface BenchAccount {
  readonly accountId: string;
  readonly index: number;
  readonly planId: string;
  readonly billingMode: 'prepaid' | 'postpaid';
}

/** A CDR in the API's batch shape (`POST /api/v1/cdrs/batch`). */
export interface BenchCdr {
  readonly accountId: string;
  readonly callId: string;
  readonly leg: 'A';
  readonly destination: string;
  readonly startedAt: string;
  readonly answeredAt: string | null;
  readonly billableMilliseconds: number;
}

/** mulberry32: a small seeded generator, so that runs are repeatable (not for anything secret). */
export function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

export function benchAccounts(count: number, random: () => number): BenchAccount[] {
  const totalWeight = PLANS.reduce((sum, plan) => sum + plan.weight, 0);
  return Array.from({ length: count }, (_, index) => {
    const pick = random() * totalWeight;
    let cumulative = 0;
    const plan =
      PLANS.find((candidate) => {
        cumulative += candidate.weight;
        return pick < cumulative;
      }) ?? PLANS[0];
    return {
      accountId: randomUUID(),
      index,
      planId: plan.planId,
      billingMode: random() < POSTPAID_SHARE ? 'postpaid' : 'prepaid',
    };
  });
}

/** The commands that open, fund and subscribe an account, as the ledger's batch entry point takes them. */
export function setupCommands(account: BenchAccount): object[] {
  const { accountId } = account;
  const commands: object[] = [
    {
      type: 'OpenAccount',
      commandId: randomUUID(),
      accountId,
      legalName: `Bench Telecom ${account.index} Pvt Ltd`,
      contact: { name: 'Bench', email: `bench${account.index}@telecom.example`, phone: '+91 98450 00000' },
      billingAddress: { line1: '1 MG Road', city: 'Bengaluru', stateCode: '29', postalCode: '560001', country: 'IN' },
      billingMode: account.billingMode,
      ...(account.billingMode === 'postpaid' ? { creditLimit: POSTPAID_CREDIT_LIMIT } : {}),
    },
  ];
  if (account.billingMode === 'prepaid') {
    commands.push({ type: 'TopUpWallet', commandId: randomUUID(), accountId, amount: PREPAID_TOP_UP });
  }
  commands.push({ type: 'Subscribe', commandId: randomUUID(), accountId, planId: account.planId, cycle: 'monthly' });
  return commands;
}

function callSeconds(random: () => number, heavy: boolean): number {
  const roll = random();
  const seconds = roll < 0.7 ? 10 + random() * 170 : roll < 0.95 ? 180 + random() * 720 : 900 + random() * 2_700;
  return heavy ? seconds * 3 : seconds;
}

/** `perAccount` CDRs for each account, in the order the calls ended across all accounts. */
export function benchCdrs(accounts: readonly BenchAccount[], perAccount: number, random: () => number): BenchCdr[] {
  const all: { at: number; cdr: BenchCdr }[] = [];
  for (const account of accounts) {
    const heavy = random() < HEAVY_SHARE;
    const starts = Array.from({ length: perAccount }, () => MONTH_START_MS + Math.floor(random() * MONTH_SPAN_MS)).sort(
      (a, b) => a - b,
    );
    starts.forEach((start, n) => {
      const answered = random() >= UNANSWERED_SHARE;
      const billableMilliseconds = answered ? Math.round(callSeconds(random, heavy) * 1_000) : 0;
      const ringMilliseconds = 2_000 + Math.floor(random() * 20_000);
      const subscriber = String(10_000 + Math.floor(random() * 89_999));
      all.push({
        at: start + ringMilliseconds + billableMilliseconds,
        cdr: {
          accountId: account.accountId,
          callId: `bench-${account.index}-${n}`,
          leg: 'A',
          destination: `+9198450${subscriber}`,
          startedAt: new Date(start).toISOString(),
          answeredAt: answered ? new Date(start + ringMilliseconds).toISOString() : null,
          billableMilliseconds,
        },
      });
    });
  }
  // A stable sort keeps each account's calls in their order even when two end in the same millisecond.
  all.sort((a, b) => a.at - b.at);
  return all.map((entry) => entry.cdr);
}

/** Splits `items` into slices of at most `size`. */
export function slices<T>(items: readonly T[], size: number): T[][] {
  const result: T[][] = [];
  for (let start = 0; start < items.length; start += size) result.push(items.slice(start, start + size));
  return result;
}
