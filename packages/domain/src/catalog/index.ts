/**
 * The product catalog (SPEC §5): plans, add-ons and billing cycles, parsed from operator-edited data
 * files into a frozen, typed value with every price an exact `Money` excluding GST.
 */
export {
  ADD_ON_QUANTITY_MAX,
  type AddOn,
  addOnPrice,
  BILLING_CYCLES,
  type BillingCycle,
  type Catalog,
  type CatalogDocument,
  CatalogError,
  type CatalogIssue,
  type CatalogSource,
  CYCLE_MONTHS,
  DEFAULT_OVERAGE_PULSE_SECONDS,
  describeIssue,
  findAddOn,
  findPlan,
  isBillingCycle,
  limitsWithAddOns,
  type Plan,
  type PlanLimits,
  parseCatalog,
  planLimits,
  planPrice,
  WHOLE_CATALOG,
} from './catalog.ts';
