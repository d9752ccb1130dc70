import { createValidator } from '@khata/schemas';
import tariffSchema from '@khata/schemas/tariff.schema.json' with { type: 'json' };
import { Money, type RoundingMode } from '../money/money.ts';
import type { Weekday } from '../time/calendar.ts';

/**
 * A parsed tariff (SPEC §7): the operator's document with amounts as exact `Money`, times as numbers of
 * seconds, and a prefix index for matching. Built only by `parseTariff`, which guarantees every rule
 * listed there, so rating code can rely on them without checking again.
 */
export interface Tariff {
  readonly id: string;
  readonly currency: 'INR';
  readonly timezone: 'Asia/Kolkata';
  readonly destinations: readonly Destination[];
  /** Digit prefix → destination, for longest-prefix matching. */
  readonly destinationByPrefix: ReadonlyMap<string, Destination>;
  /** The destination that lists `*`, when one does. */
  readonly wildcardDestination: Destination | null;
  /** The longest digit prefix of any destination (bounds the matching loop). */
  readonly prefixLengthMax: number;
}

export interface Destination {
  readonly name: string;
  /** Position in the document (`/destinations/<index>`). */
  readonly index: number;
  readonly prefixes: readonly string[];
  readonly ratePlans: readonly RatePlan[];
  /** The distinct `from` times of its plans in seconds since local midnight, ascending, always with 0. */
  readonly planStartsSecondOfDay: readonly number[];
}

export interface RatePlan {
  /** Position in its destination (`/destinations/<d>/ratePlans/<index>`): the plan's identity. */
  readonly index: number;
  readonly days: readonly Weekday[];
  /** The document's `HH:MM`. */
  readonly from: string;
  readonly fromSecondOfDay: number;
  readonly weight: number;
  readonly connectFee: Money;
  readonly rounding: Rounding;
  readonly maxCost: MaxCost | null;
  readonly steps: readonly RateStep[];
}

export interface Rounding {
  readonly method: RoundingMode;
  readonly decimals: number;
}

export interface MaxCost {
  readonly amount: Money;
  readonly strategy: 'free' | 'disconnect';
}

export interface RateStep {
  /** Seconds from the call's start at which the step begins (before any push by an earlier step's overrun). */
  readonly fromSeconds: number;
  /** Rupees per `unitSeconds`. */
  readonly price: Money;
  readonly unitSeconds: number;
  readonly incrementSeconds: number;
}

/** The tariff document as the schema describes it (amounts still strings). */
export interface TariffDocument {
  readonly id: string;
  readonly description?: string;
  readonly currency: 'INR';
  readonly timezone: 'Asia/Kolkata';
  readonly destinations: readonly DestinationDocument[];
}

export interface DestinationDocument {
  readonly name: string;
  readonly prefixes: readonly string[];
  readonly ratePlans: readonly RatePlanDocument[];
}

export interface RatePlanDocument {
  readonly days: readonly Weekday[];
  readonly from: string;
  readonly weight: number;
  readonly connectFee: string;
  readonly rounding: { readonly method: RoundingMode; readonly decimals: number };
  readonly maxCost?: { readonly amount: string; readonly strategy: 'free' | 'disconnect' };
  readonly steps: readonly {
    readonly from: number;
    readonly price: string;
    readonly unit: number;
    readonly increment: number;
  }[];
}

/** A tariff that cannot be used: `path` is a JSON pointer into the document, `message` names the rule. */
export class TariffError extends Error {
  override readonly name = 'TariffError';
  readonly path: string;
  /** Every problem found; `path`/`message` repeat the first. */
  readonly issues: readonly { readonly path: string; readonly message: string }[];

  constructor(issues: readonly { readonly path: string; readonly message: string }[]) {
    const first = issues[0] ?? { path: '', message: 'invalid tariff' };
    super(issues.map((issue) => `${issue.path === '' ? '/' : issue.path}: ${issue.message}`).join('\n'));
    this.path = first.path;
    this.issues = issues;
  }
}

export const WEEKDAYS: readonly Weekday[] = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];
const SECONDS_PER_MINUTE = 60;
const SECONDS_PER_HOUR = 3_600;

const validateDocument = createValidator<TariffDocument>(tariffSchema);

/**
 * Validates a tariff document against `schemas/tariff.schema.json`, then checks what a schema cannot:
 * - each plan's first step starts at 0 and its steps' `from` strictly increase (so every second of a call
 *   has exactly one step);
 * - no prefix belongs to two destinations (so matching is unambiguous), and at most one destination is `*`;
 * - every weekday of every destination has a plan starting at 00:00. A plan applies from its `from` to the
 *   end of its listed days only, so a day is fully covered exactly when some plan covers its midnight;
 *   without that a call at an uncovered time could not be rated, and we refuse the tariff instead of
 *   failing calls at run time;
 * - no two plans that share a weekday have both the same `weight` and the same `from`: the rule "highest
 *   weight, then latest from" would not pick one.
 * Throws `TariffError` listing every problem with its JSON pointer.
 */
export function parseTariff(document: unknown): Tariff {
  const validation = validateDocument(document);
  if (!validation.ok) throw new TariffError(validation.issues);
  const source = validation.value;
  const issues: { path: string; message: string }[] = [];

  const destinations = source.destinations.map((destination, destinationIndex) =>
    parseDestination(destination, destinationIndex, issues),
  );

  const destinationByPrefix = new Map<string, Destination>();
  const prefixPath = new Map<string, string>();
  let wildcardDestination: Destination | null = null;
  let prefixLengthMax = 0;
  for (const destination of destinations) {
    destination.prefixes.forEach((prefix, prefixIndex) => {
      const path = `/destinations/${destination.index}/prefixes/${prefixIndex}`;
      const earlier = prefixPath.get(prefix);
      if (earlier !== undefined) {
        issues.push({ path, message: `prefix ${JSON.stringify(prefix)} is already used at ${earlier}` });
        return;
      }
      prefixPath.set(prefix, path);
      if (prefix === '*') {
        wildcardDestination = destination;
      } else {
        destinationByPrefix.set(prefix, destination);
        prefixLengthMax = Math.max(prefixLengthMax, prefix.length);
      }
    });
  }

  if (issues.length > 0) throw new TariffError(issues);
  return {
    id: source.id,
    currency: source.currency,
    timezone: source.timezone,
    destinations,
    destinationByPrefix,
    wildcardDestination,
    prefixLengthMax,
  };
}

function parseDestination(
  source: DestinationDocument,
  destinationIndex: number,
  issues: { path: string; message: string }[],
): Destination {
  const base = `/destinations/${destinationIndex}`;
  const ratePlans = source.ratePlans.map((plan, planIndex) =>
    parseRatePlan(plan, planIndex, `${base}/ratePlans/${planIndex}`, issues),
  );

  for (const day of WEEKDAYS) {
    if (!ratePlans.some((plan) => plan.fromSecondOfDay === 0 && plan.days.includes(day))) {
      issues.push({
        path: `${base}/ratePlans`,
        message: `no rate plan applies on ${day} from 00:00, so calls at some times of ${JSON.stringify(source.name)} could not be rated`,
      });
    }
  }

  ratePlans.forEach((plan, planIndex) => {
    for (const other of ratePlans.slice(0, planIndex)) {
      const sharedDay = plan.days.find((day) => other.days.includes(day));
      if (sharedDay !== undefined && other.weight === plan.weight && other.fromSecondOfDay === plan.fromSecondOfDay) {
        issues.push({
          path: `${base}/ratePlans/${planIndex}/weight`,
          message: `ties with ratePlans/${other.index} (same weight ${plan.weight} and from ${plan.from} on ${sharedDay}): raise one weight`,
        });
      }
    }
  });

  const planStartsSecondOfDay = [...new Set([0, ...ratePlans.map((plan) => plan.fromSecondOfDay)])].sort(
    (a, b) => a - b,
  );
  return { name: source.name, index: destinationIndex, prefixes: source.prefixes, ratePlans, planStartsSecondOfDay };
}

function parseRatePlan(
  source: RatePlanDocument,
  planIndex: number,
  base: string,
  issues: { path: string; message: string }[],
): RatePlan {
  const [hours, minutes] = source.from.split(':').map(Number);
  const steps = source.steps.map((step) => ({
    fromSeconds: step.from,
    price: Money.parse(step.price),
    unitSeconds: step.unit,
    incrementSeconds: step.increment,
  }));
  if (steps[0]?.fromSeconds !== 0) {
    issues.push({ path: `${base}/steps/0/from`, message: 'the first step must start at 0 seconds' });
  }
  steps.forEach((step, stepIndex) => {
    const previous = steps[stepIndex - 1];
    if (previous !== undefined && step.fromSeconds <= previous.fromSeconds) {
      issues.push({
        path: `${base}/steps/${stepIndex}/from`,
        message: `must be greater than the previous step's from (${previous.fromSeconds})`,
      });
    }
  });
  return {
    index: planIndex,
    days: source.days,
    from: source.from,
    fromSecondOfDay: (hours ?? 0) * SECONDS_PER_HOUR + (minutes ?? 0) * SECONDS_PER_MINUTE,
    weight: source.weight,
    connectFee: Money.parse(source.connectFee),
    rounding: { method: source.rounding.method, decimals: source.rounding.decimals },
    maxCost:
      source.maxCost === undefined
        ? null
        : { amount: Money.parse(source.maxCost.amount), strategy: source.maxCost.strategy },
    steps,
  };
}

/** Options of `planOverageTariff`. */
export interface PlanOverageOptions {
  /** Tariff id, e.g. `starter-overage`. */
  readonly id: string;
  /** Rupees per minute as a decimal string (`"1.99"`). */
  readonly pricePerMinute: string;
  /** Billing pulse: 60 bills per started minute, 1 per second (SPEC §5). */
  readonly pulseSeconds: number;
  /** Decimals the call's total is rounded up to (4 keeps per-second shares of a paisa). */
  readonly decimals: number;
}

/**
 * The one-destination `*` tariff that prices a plan's overage (SPEC §5, §7): every day from 00:00, no
 * connect fee, one step at `pricePerMinute` per 60 s in increments of the plan's pulse, rounded up.
 * Returned as a document so the catalog can store overage as data; `parseTariff` it to rate.
 */
export function planOverageTariff(options: PlanOverageOptions): TariffDocument {
  return {
    id: options.id,
    currency: 'INR',
    timezone: 'Asia/Kolkata',
    destinations: [
      {
        name: 'Overage',
        prefixes: ['*'],
        ratePlans: [
          {
            days: WEEKDAYS,
            from: '00:00',
            weight: 0,
            connectFee: '0',
            rounding: { method: 'up', decimals: options.decimals },
            steps: [
              { from: 0, price: options.pricePerMinute, unit: SECONDS_PER_MINUTE, increment: options.pulseSeconds },
            ],
          },
        ],
      },
    ],
  };
}
