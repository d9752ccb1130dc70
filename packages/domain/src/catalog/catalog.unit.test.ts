import addOnsFile from '@khata/schemas/catalog/add-ons.json' with { type: 'json' };
import plansFile from '@khata/schemas/catalog/plans.json' with { type: 'json' };
import { describe, expect, it } from 'vitest';
import { Money } from '../money/money.ts';
import {
  addOnPrice,
  BILLING_CYCLES,
  type Catalog,
  type CatalogDocument,
  CatalogError,
  CYCLE_MONTHS,
  findAddOn,
  findPlan,
  isBillingCycle,
  limitsWithAddOns,
  type Plan,
  parseCatalog,
  planLimits,
  planPrice,
} from './catalog.ts';

const shipped: CatalogDocument[] = [
  { file: 'plans.json', content: plansFile },
  { file: 'add-ons.json', content: addOnsFile },
];

function plan(catalog: Catalog, id: string): Plan {
  const found = findPlan(catalog, id);
  if (found === undefined) throw new Error(`no plan ${id}`);
  return found;
}

/** A deep copy of the shipped plans file, changed by `edit`. */
function editedPlans(edit: (document: { plans: Record<string, unknown>[] }) => void): unknown {
  const document = structuredClone(plansFile) as unknown as { plans: Record<string, unknown>[] };
  edit(document);
  return document;
}

function refusal(documents: CatalogDocument[]): CatalogError {
  try {
    parseCatalog(documents);
  } catch (error) {
    if (error instanceof CatalogError) return error;
    throw error;
  }
  throw new Error('the catalog was accepted');
}

describe('the shipped catalog', () => {
  const catalog = parseCatalog(shipped);

  it('sells exactly the plans of SPEC §5 at its prices, excluding GST', () => {
    const table = [...catalog.plans.values()].map((entry) => [
      entry.id,
      entry.name,
      ...BILLING_CYCLES.map((cycle) => planPrice(entry, cycle).toString()),
    ]);
    expect(table).toEqual([
      ['starter', 'Starter', '349.00', '1047.00', '3348.00'],
      ['professional', 'Professional', '999.00', '2997.00', '9590.00'],
      ['call-center', 'Call Center', '4999.00', '14997.00', '47990.00'],
    ]);
  });

  it('includes the numbers, extensions and free minutes of SPEC §5, and its overage prices and pulses', () => {
    const rows = ['starter', 'professional', 'call-center'].map((id) => {
      const entry = plan(catalog, id);
      return {
        id,
        ...planLimits(entry),
        overage: entry.overage.pricePerMinute.toString(),
        pulse: entry.overage.pulseSeconds,
      };
    });
    expect(rows).toEqual([
      { id: 'starter', tollFreeNumbers: 1, freeMinutesPerMonth: 100, extensions: 2, overage: '1.99', pulse: 60 },
      { id: 'professional', tollFreeNumbers: 2, freeMinutesPerMonth: 500, extensions: 10, overage: '1.60', pulse: 60 },
      { id: 'call-center', tollFreeNumbers: 5, freeMinutesPerMonth: 1500, extensions: 50, overage: '1.45', pulse: 60 },
    ]);
  });

  it('prices add-ons monthly × months and lets each grant one more of its kind', () => {
    const number = findAddOn(catalog, 'extra-toll-free-number');
    const extension = findAddOn(catalog, 'extra-extension');
    if (number === undefined || extension === undefined) throw new Error('add-ons missing');
    expect(BILLING_CYCLES.map((cycle) => addOnPrice(number, cycle).toString())).toEqual([
      '199.00',
      '597.00',
      '2388.00',
    ]);
    expect(BILLING_CYCLES.map((cycle) => addOnPrice(extension, cycle).toString())).toEqual([
      '99.00',
      '297.00',
      '1188.00',
    ]);
    const limits = limitsWithAddOns(plan(catalog, 'starter'), [
      { addOn: number, quantity: 2 },
      { addOn: extension, quantity: 3 },
    ]);
    expect(limits).toEqual({ tollFreeNumbers: 3, extensions: 5, freeMinutesPerMonth: 100 });
  });

  it('knows the three cycles and their months', () => {
    expect(CYCLE_MONTHS).toEqual({ monthly: 1, quarterly: 3, annual: 12 });
    expect(isBillingCycle('quarterly')).toBe(true);
    expect(isBillingCycle('weekly')).toBe(false);
    expect(findPlan(catalog, 'enterprise')).toBeUndefined();
  });

  it('records where each entry is defined', () => {
    expect(plan(catalog, 'professional').source).toEqual({ file: 'plans.json', path: '/plans/1' });
  });
});

describe('parseCatalog', () => {
  it('derives a missing quarterly plan price as 3 × monthly and keeps a 1-second pulse', () => {
    const content = editedPlans((document) => {
      const first = document.plans[0] as { prices: Record<string, string>; overage: Record<string, unknown> };
      delete first.prices.quarterly;
      first.overage.pulseSeconds = 1;
    });
    const starter = plan(parseCatalog([{ file: 'plans.json', content }]), 'starter');
    expect(planPrice(starter, 'quarterly').equals(Money.parse('1047'))).toBe(true);
    expect(starter.overage.pulseSeconds).toBe(1);
  });

  it('defaults the overage pulse to 60 seconds', () => {
    const content = editedPlans((document) => {
      delete (document.plans[0] as { overage: Record<string, unknown> }).overage.pulseSeconds;
    });
    expect(plan(parseCatalog([{ file: 'plans.json', content }]), 'starter').overage.pulseSeconds).toBe(60);
  });

  it('refuses a price given as a JSON number, naming file and path', () => {
    const content = editedPlans((document) => {
      (document.plans[1] as { prices: Record<string, unknown> }).prices.monthly = 999.0;
    });
    const error = refusal([{ file: 'plans.json', content }]);
    expect({ file: error.file, path: error.path }).toEqual({ file: 'plans.json', path: '/plans/1/prices/monthly' });
    expect(error.message).toContain('plans.json: /plans/1/prices/monthly: must be string');
  });

  it('refuses a price with more than two decimals or a count of the wrong type', () => {
    const content = editedPlans((document) => {
      (document.plans[0] as { prices: Record<string, unknown> }).prices.annual = '3348.005';
      (document.plans[2] as { includes: Record<string, unknown> }).includes.extensions = '50';
    });
    const error = refusal([{ file: 'plans.json', content }]);
    expect(error.issues.map((issue) => issue.path)).toEqual(['/plans/0/prices/annual', '/plans/2/includes/extensions']);
  });

  it('refuses a plan without an annual price, since no formula gives the annual discount', () => {
    const content = editedPlans((document) => {
      delete (document.plans[2] as { prices: Record<string, unknown> }).prices.annual;
    });
    const error = refusal([{ file: 'plans.json', content }]);
    expect(error.issues).toEqual([{ file: 'plans.json', path: '/plans/2/prices/annual', message: 'is required' }]);
  });

  it('refuses an unknown field instead of ignoring a typo', () => {
    const content = editedPlans((document) => {
      (document.plans[0] as { includes: Record<string, unknown> }).includes.freeMinutesPerMonh = 100;
    });
    const error = refusal([{ file: 'plans.json', content }]);
    expect(error.issues).toEqual([
      { file: 'plans.json', path: '/plans/0/includes/freeMinutesPerMonh', message: 'is not allowed here' },
    ]);
  });

  it('refuses a plan id defined twice, in the same file or in another, naming both places', () => {
    const twice = editedPlans((document) => {
      (document.plans[2] as { id: string }).id = 'starter';
    });
    const sameFile = refusal([{ file: 'plans.json', content: twice }]);
    expect({ file: sameFile.file, path: sameFile.path }).toEqual({ file: 'plans.json', path: '/plans/2/id' });
    expect(sameFile.message).toContain('plans.json /plans/0');

    const extra = { plans: [structuredClone(plansFile.plans[0])] };
    const otherFile = refusal([...shipped, { file: 'more-plans.json', content: extra }]);
    expect({ file: otherFile.file, path: otherFile.path }).toEqual({ file: 'more-plans.json', path: '/plans/0/id' });
  });

  it('refuses an add-on that reuses a plan id', () => {
    const clash = { addOns: [{ ...structuredClone(addOnsFile.addOns[0]), id: 'starter' }] };
    const error = refusal([...shipped, { file: 'clash.json', content: clash }]);
    expect(error.issues).toEqual([
      { file: 'clash.json', path: '/addOns/0/id', message: expect.stringMatching(/already used by the plan/) },
    ]);
  });

  it('refuses a catalog without any plan, a file that is not an object and a file with nothing in it', () => {
    const noPlans = refusal([{ file: 'add-ons.json', content: addOnsFile }]);
    expect(noPlans.message).toMatch(/defines no plan/);
    const notObject = refusal([{ file: 'list.json', content: [] }]);
    expect({ file: notObject.file, path: notObject.path }).toEqual({ file: 'list.json', path: '' });
    const empty = refusal([...shipped, { file: 'empty.json', content: { $schema: './catalog.schema.json' } }]);
    expect(empty.issues).toEqual([{ file: 'empty.json', path: '', message: 'holds neither "plans" nor "addOns"' }]);
  });
});
