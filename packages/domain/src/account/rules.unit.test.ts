import addOnsFile from '@khata/schemas/catalog/add-ons.json' with { type: 'json' };
import plansFile from '@khata/schemas/catalog/plans.json' with { type: 'json' };
import { describe, expect, it } from 'vitest';
import { parseCatalog } from '../catalog/catalog.ts';
import { accountRules } from './rules.ts';
import { cmd, openAccount, Scenario } from './test-support.ts';

const catalog = parseCatalog([
  { file: 'plans.json', content: plansFile },
  { file: 'add-ons.json', content: addOnsFile },
]);

describe('rules from the shipped catalog', () => {
  const rules = accountRules({ catalog, supplierState: '29' });

  it('turns each plan into prices, limits, free minutes and a per-minute overage tariff', () => {
    const professional = rules.plan('professional');
    expect(professional?.prices.monthly.toString()).toBe('999.00');
    expect(professional?.freeMinutesPerMonth).toBe(500);
    expect(professional?.pulseSeconds).toBe(60);
    expect(professional?.overageTariff.id).toBe('professional-overage');
    expect(rules.addOn('extra-extension')?.prices.quarterly.toString()).toBe('297.00');
    expect(rules.plan('gold')).toBeUndefined();
  });

  it('runs a subscription end to end: Call Center overage at ₹1.45 per started minute once free minutes are spent', () => {
    const s = new Scenario(rules);
    const at = '2026-11-02T04:30:00.000Z';
    s.run(openAccount(), at);
    s.run(cmd('TopUpWallet', { amount: '5900.00' }), at);
    s.run(cmd('Subscribe', { planId: 'call-center', cycle: 'monthly' }), at);
    // Spend the 1,500 free minutes with one CDR (no reservation), then rate a 90 s call.
    s.run(
      cmd('RateCdr', {
        cdr: {
          callId: 'bulk',
          leg: 'A',
          destination: '+919845012345',
          startedAt: at,
          answeredAt: at,
          billableMilliseconds: 90_000_000,
        },
      }),
      at,
    );
    const [rated] = s.run(
      cmd('RateCdr', {
        cdr: {
          callId: 'c2',
          leg: 'A',
          destination: '+919845012345',
          startedAt: at,
          answeredAt: at,
          billableMilliseconds: 90_000,
        },
      }),
      at,
    );
    expect(rated?.data).toMatchObject({ freeSecondsUsed: 0, billedSeconds: 120, cost: '2.90' });
  });
});
