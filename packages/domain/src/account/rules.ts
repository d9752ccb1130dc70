/**
 * What the account decider needs to know besides the account's own history: the plans and add-ons on
 * sale, the tariffs, the supplier's GST registration state and the operator's limits. All of it is data
 * (the catalog and tariff files, configuration), handed to `createAccountDecider` once.
 */
import type { Catalog } from '../catalog/catalog.ts';
import type { Money } from '../money/money.ts';
import { parseTariff, planOverageTariff, type Tariff } from '../rating/tariff.ts';
import type { BillingCycle } from './state.ts';

export { CYCLE_MONTHS } from '../catalog/catalog.ts';

export interface PlanTerms {
  readonly id: string;
  readonly name: string;
  /** Price of one period of each cycle, before GST. */
  readonly prices: { readonly [C in BillingCycle]: Money };
  readonly includedTollFreeNumbers: number;
  readonly includedExtensions: number;
  readonly freeMinutesPerMonth: number;
  /** The one-destination `*` tariff that prices minutes beyond the free ones. */
  readonly overageTariff: Tariff;
  /** Free minutes and overage are counted in this pulse (60: per started minute; 1: per second). */
  readonly pulseSeconds: number;
}

export interface AddOnTerms {
  readonly id: string;
  readonly name: string;
  /** Price of one unit for one period of each cycle, before GST. */
  readonly prices: { readonly [C in BillingCycle]: Money };
  /** What one unit adds to the plan's limits. */
  readonly grants: { readonly tollFreeNumbers: number; readonly extensions: number };
}

export interface AccountRules {
  plan(id: string): PlanTerms | undefined;
  addOn(id: string): AddOnTerms | undefined;
  /**
   * Numbers (E.164 digits, after `+`/`00`) the plan covers: calls to them use the free minutes and
   * then the plan's overage tariff. Default `['91', '1800']`: Indian numbers and toll-free numbers.
   */
  readonly planDestinationPrefixes: readonly string[];
  /**
   * Prices every other destination (international, premium), without free minutes. A number neither
   * the plan nor this tariff covers is not authorized (DESTINATION_NOT_RATED). Null: only plan numbers.
   */
  readonly destinationTariff: Tariff | null;
  /** The supplier's GST registration state (two digits): decides CGST+SGST versus IGST. */
  readonly supplierState: string;
  readonly gstRatePercent: number;
  /** Ceiling on one call's authorized duration (SPEC §8: default 2 h). */
  readonly callSecondsMax: number;
  /** How long after its authorized end a reservation waits for its CDR before it may expire. */
  readonly reservationGraceSeconds: number;
  /** Longest a subscription may be backdated when it starts. */
  readonly backdateDaysMax: number;
}

export const PLAN_DESTINATION_PREFIXES_DEFAULT: readonly string[] = ['91', '1800'];
export const CALL_SECONDS_MAX_DEFAULT = 7_200;
export const RESERVATION_GRACE_SECONDS_DEFAULT = 900;
export const BACKDATE_DAYS_MAX_DEFAULT = 31;
/** Periods one ChargeSubscription may catch up (a subscription idle for two years). */
export const RENEWAL_PERIODS_MAX = 24;

/** Decimals a plan's overage charge per call is rounded (up) to: whole paise. */
export const OVERAGE_DECIMALS = 2;

export interface RulesSettings {
  readonly catalog: Catalog;
  readonly supplierState: string;
  readonly destinationTariff?: Tariff | null;
  readonly planDestinationPrefixes?: readonly string[];
  readonly gstRatePercent?: number;
  readonly callSecondsMax?: number;
  readonly reservationGraceSeconds?: number;
  readonly backdateDaysMax?: number;
}

/**
 * The decider's rules from the catalog and configuration. Each plan's overage becomes its one-destination
 * `*` tariff (`planOverageTariff`), built once here rather than on every call.
 */
export function accountRules(settings: RulesSettings): AccountRules {
  const plans = new Map<string, PlanTerms>();
  for (const plan of settings.catalog.plans.values()) {
    plans.set(plan.id, {
      id: plan.id,
      name: plan.name,
      prices: plan.prices,
      includedTollFreeNumbers: plan.limits.tollFreeNumbers,
      includedExtensions: plan.limits.extensions,
      freeMinutesPerMonth: plan.limits.freeMinutesPerMonth,
      overageTariff: parseTariff(
        planOverageTariff({
          id: `${plan.id}-overage`,
          pricePerMinute: plan.overage.pricePerMinute.toString(),
          pulseSeconds: plan.overage.pulseSeconds,
          decimals: OVERAGE_DECIMALS,
        }),
      ),
      pulseSeconds: plan.overage.pulseSeconds,
    });
  }
  const addOns = new Map<string, AddOnTerms>();
  for (const addOn of settings.catalog.addOns.values()) {
    addOns.set(addOn.id, { id: addOn.id, name: addOn.name, prices: addOn.prices, grants: addOn.grants });
  }
  return {
    plan: (id) => plans.get(id),
    addOn: (id) => addOns.get(id),
    planDestinationPrefixes: settings.planDestinationPrefixes ?? PLAN_DESTINATION_PREFIXES_DEFAULT,
    destinationTariff: settings.destinationTariff ?? null,
    supplierState: settings.supplierState,
    gstRatePercent: settings.gstRatePercent ?? 18,
    callSecondsMax: settings.callSecondsMax ?? CALL_SECONDS_MAX_DEFAULT,
    reservationGraceSeconds: settings.reservationGraceSeconds ?? RESERVATION_GRACE_SECONDS_DEFAULT,
    backdateDaysMax: settings.backdateDaysMax ?? BACKDATE_DAYS_MAX_DEFAULT,
  };
}
