import { createValidator, type SchemaIssue, type Validation, type Validator } from '@khata/schemas';
import catalogFileSchema from '@khata/schemas/catalog/catalog.schema.json' with { type: 'json' };
import { Money } from '../money/money.ts';

/**
 * The product catalog (SPEC §5): plans and add-ons are data that operators edit
 * (`schemas/catalog/*.json`), read once at start-up. This module turns the parsed files into a typed,
 * frozen `Catalog`, or refuses them with the file and JSON pointer of every problem, so a broken catalog
 * stops start-up instead of mispricing an invoice.
 *
 * Prices exclude GST. A plan's quarterly price defaults to 3 × monthly (no discount); its annual price
 * must be given, because the annual discount is a business decision no formula captures (₹349 × 12 ×
 * 80% is ₹3,350.40, the catalog sells it for ₹3,348). An add-on's price for any cycle defaults to
 * monthly × the cycle's months.
 */

export type BillingCycle = 'monthly' | 'quarterly' | 'annual';

export const BILLING_CYCLES: readonly BillingCycle[] = Object.freeze(['monthly', 'quarterly', 'annual']);

/** Months in one period of each cycle. */
export const CYCLE_MONTHS: Readonly<Record<BillingCycle, number>> = Object.freeze({
  monthly: 1,
  quarterly: 3,
  annual: 12,
});

export function isBillingCycle(value: unknown): value is BillingCycle {
  return typeof value === 'string' && (BILLING_CYCLES as readonly string[]).includes(value);
}

/** What a plan includes. Free minutes reset every month of the subscription, whatever the cycle. */
export interface PlanLimits {
  readonly tollFreeNumbers: number;
  readonly extensions: number;
  readonly freeMinutesPerMonth: number;
}

/** Where an entry was defined, for messages that send an operator to the right line. */
export interface CatalogSource {
  readonly file: string;
  /** JSON pointer of the entry within its file. */
  readonly path: string;
}

export interface Plan {
  readonly id: string;
  readonly name: string;
  readonly description?: string;
  /** Excluding GST, per period of each cycle. */
  readonly prices: Readonly<Record<BillingCycle, Money>>;
  readonly limits: PlanLimits;
  readonly overage: {
    /** Excluding GST. */
    readonly pricePerMinute: Money;
    /** 60: charged per started minute; a plan may bill finer pulses, down to 1 second. */
    readonly pulseSeconds: number;
  };
  readonly source: CatalogSource;
}

export interface AddOn {
  readonly id: string;
  readonly name: string;
  readonly description?: string;
  /** What one unit adds to the plan's limits. */
  readonly grants: { readonly tollFreeNumbers: number; readonly extensions: number };
  /** Excluding GST, one unit, per period of each cycle. */
  readonly prices: Readonly<Record<BillingCycle, Money>>;
  readonly source: CatalogSource;
}

export interface Catalog {
  /** In the order the files and their entries were given. */
  readonly plans: ReadonlyMap<string, Plan>;
  readonly addOns: ReadonlyMap<string, AddOn>;
}

export interface CatalogIssue {
  /** The file as the caller named it (the loader passes its absolute path). */
  readonly file: string;
  /** JSON pointer into that file; empty for the whole file. */
  readonly path: string;
  readonly message: string;
}

/** The catalog cannot be used. `file` and `path` point at the first issue; `issues` lists all of them. */
export class CatalogError extends Error {
  override readonly name = 'CatalogError';
  readonly file: string;
  readonly path: string;
  readonly issues: readonly CatalogIssue[];

  constructor(issues: readonly CatalogIssue[]) {
    const [first] = issues;
    if (first === undefined) throw new RangeError('a CatalogError needs at least one issue');
    super(`catalog is invalid:\n${issues.map(describeIssue).join('\n')}`);
    this.file = first.file;
    this.path = first.path;
    this.issues = Object.freeze([...issues]);
  }
}

/** Issues that concern the catalog as a whole (no plan anywhere) name this instead of a file. */
export const WHOLE_CATALOG = '(catalog)';

export function describeIssue(issue: CatalogIssue): string {
  return `${issue.file}: ${issue.path === '' ? '/' : issue.path}: ${issue.message}`;
}

/** A catalog file as read from disk: its name and its parsed JSON. */
export interface CatalogDocument {
  readonly file: string;
  readonly content: unknown;
}

// The shapes the schema guarantees; nothing reads a document before the validator has passed it.
interface PricesDocument {
  readonly monthly: string;
  readonly quarterly?: string;
  readonly annual?: string;
}
interface PlanDocument {
  readonly id: string;
  readonly name: string;
  readonly description?: string;
  readonly prices: PricesDocument & { readonly annual: string };
  readonly includes: PlanLimits;
  readonly overage: { readonly pricePerMinute: string; readonly pulseSeconds?: number };
}
interface AddOnDocument {
  readonly id: string;
  readonly name: string;
  readonly description?: string;
  readonly grants: { readonly tollFreeNumbers?: number; readonly extensions?: number };
  readonly prices: PricesDocument;
}
interface CatalogFileDocument {
  readonly plans?: readonly PlanDocument[];
  readonly addOns?: readonly AddOnDocument[];
}

// Compiled on first use, so importing the domain costs no schema compilation.
let catalogFileValidator: Validator<CatalogFileDocument> | undefined;
function validateCatalogFile(content: unknown): Validation<CatalogFileDocument> {
  catalogFileValidator ??= createValidator<CatalogFileDocument>(catalogFileSchema);
  return catalogFileValidator(content);
}

/** Per started minute, unless the plan says otherwise (SPEC §5). */
export const DEFAULT_OVERAGE_PULSE_SECONDS = 60;

/**
 * Builds the catalog from its files. Each file is checked against `catalog.schema.json`; then, across
 * files, ids must be unique (a plan and an add-on may not share one either: both become invoice line
 * codes and event fields), and there must be at least one plan. Every problem is collected before
 * throwing, so an operator fixes a broken catalog in one pass.
 */
export function parseCatalog(documents: readonly CatalogDocument[]): Catalog {
  const issues: CatalogIssue[] = [];
  const valid: { readonly file: string; readonly content: CatalogFileDocument }[] = [];
  for (const document of documents) {
    const result = validateCatalogFile(document.content);
    if (result.ok && result.value.plans === undefined && result.value.addOns === undefined) {
      issues.push({ file: document.file, path: '', message: 'holds neither "plans" nor "addOns"' });
    } else if (result.ok) valid.push({ file: document.file, content: result.value });
    else issues.push(...result.issues.map((issue: SchemaIssue) => ({ file: document.file, ...issue })));
  }
  if (issues.length > 0) throw new CatalogError(issues);

  const plans = new Map<string, Plan>();
  const addOns = new Map<string, AddOn>();
  const seen = new Map<string, { readonly kind: string; readonly source: CatalogSource }>();
  const claimId = (id: string, kind: string, source: CatalogSource): boolean => {
    const earlier = seen.get(id);
    if (earlier === undefined) {
      seen.set(id, { kind, source });
      return true;
    }
    issues.push({
      file: source.file,
      path: `${source.path}/id`,
      message: `${kind} id "${id}" is already used by the ${earlier.kind} at ${describeSource(earlier.source)}`,
    });
    return false;
  };

  for (const { file, content } of valid) {
    for (const [index, plan] of (content.plans ?? []).entries()) {
      const source = { file, path: `/plans/${index}` };
      if (claimId(plan.id, 'plan', source)) plans.set(plan.id, toPlan(plan, source));
    }
    for (const [index, addOn] of (content.addOns ?? []).entries()) {
      const source = { file, path: `/addOns/${index}` };
      if (claimId(addOn.id, 'add-on', source)) addOns.set(addOn.id, toAddOn(addOn, source));
    }
  }
  if (plans.size === 0 && issues.length === 0) {
    issues.push({ file: WHOLE_CATALOG, path: '', message: 'defines no plan: nothing could be sold' });
  }
  if (issues.length > 0) throw new CatalogError(issues);
  return Object.freeze({ plans, addOns });
}

function describeSource(source: CatalogSource): string {
  return `${source.file} ${source.path}`;
}

function pricesFor(prices: PricesDocument): Readonly<Record<BillingCycle, Money>> {
  const monthly = Money.parse(prices.monthly);
  const given = (text: string | undefined, cycle: BillingCycle): Money =>
    text === undefined ? monthly.times(BigInt(CYCLE_MONTHS[cycle])) : Money.parse(text);
  return Object.freeze({
    monthly,
    quarterly: given(prices.quarterly, 'quarterly'),
    annual: given(prices.annual, 'annual'),
  });
}

function toPlan(document: PlanDocument, source: CatalogSource): Plan {
  return Object.freeze({
    id: document.id,
    name: document.name,
    ...(document.description === undefined ? {} : { description: document.description }),
    prices: pricesFor(document.prices),
    limits: Object.freeze({
      tollFreeNumbers: document.includes.tollFreeNumbers,
      extensions: document.includes.extensions,
      freeMinutesPerMonth: document.includes.freeMinutesPerMonth,
    }),
    overage: Object.freeze({
      pricePerMinute: Money.parse(document.overage.pricePerMinute),
      pulseSeconds: document.overage.pulseSeconds ?? DEFAULT_OVERAGE_PULSE_SECONDS,
    }),
    source: Object.freeze(source),
  });
}

function toAddOn(document: AddOnDocument, source: CatalogSource): AddOn {
  return Object.freeze({
    id: document.id,
    name: document.name,
    ...(document.description === undefined ? {} : { description: document.description }),
    grants: Object.freeze({
      tollFreeNumbers: document.grants.tollFreeNumbers ?? 0,
      extensions: document.grants.extensions ?? 0,
    }),
    prices: pricesFor(document.prices),
    source: Object.freeze(source),
  });
}

export function findPlan(catalog: Catalog, planId: string): Plan | undefined {
  return catalog.plans.get(planId);
}

export function findAddOn(catalog: Catalog, addOnId: string): AddOn | undefined {
  return catalog.addOns.get(addOnId);
}

/** The plan's price for one period of `cycle`, excluding GST. */
export function planPrice(plan: Plan, cycle: BillingCycle): Money {
  return plan.prices[cycle];
}

export function planLimits(plan: Plan): PlanLimits {
  return plan.limits;
}

/** One unit of the add-on for one period of `cycle`, excluding GST. */
export function addOnPrice(addOn: AddOn, cycle: BillingCycle): Money {
  return addOn.prices[cycle];
}

/** Upper bound on units of one add-on on one subscription; more is a caller's bug, not a purchase. */
export const ADD_ON_QUANTITY_MAX = 10_000;

/** The plan's limits plus what `quantity` units of each add-on grant. Free minutes come from the plan only. */
export function limitsWithAddOns(
  plan: Plan,
  addOns: readonly { readonly addOn: AddOn; readonly quantity: number }[],
): PlanLimits {
  let { tollFreeNumbers, extensions } = plan.limits;
  for (const { addOn, quantity } of addOns) {
    if (!Number.isInteger(quantity) || quantity < 0 || quantity > ADD_ON_QUANTITY_MAX) {
      throw new RangeError(`add-on quantity must be a whole number from 0 to ${ADD_ON_QUANTITY_MAX}, got ${quantity}`);
    }
    tollFreeNumbers += addOn.grants.tollFreeNumbers * quantity;
    extensions += addOn.grants.extensions * quantity;
  }
  return Object.freeze({ tollFreeNumbers, extensions, freeMinutesPerMonth: plan.limits.freeMinutesPerMonth });
}
