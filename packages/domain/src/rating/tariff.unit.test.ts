import callCenterOverage from '@khata/schemas/tariffs/call-center-overage.json' with { type: 'json' };
import internationalTariff from '@khata/schemas/tariffs/intl-2026.json' with { type: 'json' };
import professionalOverage from '@khata/schemas/tariffs/professional-overage.json' with { type: 'json' };
import starterOverage from '@khata/schemas/tariffs/starter-overage.json' with { type: 'json' };
import { describe, expect, it } from 'vitest';
import { Money } from '../money/money.ts';
import { rateCall } from './rate.ts';
import { parseTariff, planOverageTariff, TariffError } from './tariff.ts';

const EVERY_DAY = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];

function validDocument() {
  return {
    id: 'intl-test',
    currency: 'INR',
    timezone: 'Asia/Kolkata',
    destinations: [
      {
        name: 'UK',
        prefixes: ['44'],
        ratePlans: [
          {
            days: EVERY_DAY,
            from: '00:00',
            weight: 0,
            connectFee: '0.40',
            rounding: { method: 'up', decimals: 4 },
            maxCost: { amount: '50.00', strategy: 'free' },
            steps: [
              { from: 0, price: '0.20', unit: 60, increment: 60 },
              { from: 60, price: '0.10', unit: 60, increment: 1 },
            ],
          },
        ],
      },
    ],
  };
}

function errorOf(document: unknown): TariffError {
  try {
    parseTariff(document);
  } catch (error) {
    if (error instanceof TariffError) return error;
    throw error;
  }
  throw new Error('expected a TariffError');
}

describe('parseTariff', () => {
  it('turns amounts into exact money and times into seconds', () => {
    const tariff = parseTariff(validDocument());
    const plan = tariff.destinations[0]?.ratePlans[0];
    expect(plan?.connectFee).toEqual(Money.parse('0.40'));
    expect(plan?.maxCost).toEqual({ amount: Money.parse('50.00'), strategy: 'free' });
    expect(plan?.steps[1]).toEqual({
      fromSeconds: 60,
      price: Money.parse('0.10'),
      unitSeconds: 60,
      incrementSeconds: 1,
    });
  });

  it('refuses amounts written as JSON numbers, naming the field', () => {
    const document = validDocument();
    (document.destinations[0]?.ratePlans[0] as Record<string, unknown>).connectFee = 0.4;
    const error = errorOf(document);
    expect(error.path).toBe('/destinations/0/ratePlans/0/connectFee');
    expect(error.message).toContain('/destinations/0/ratePlans/0/connectFee');
  });

  it('refuses unknown fields, other currencies and other time zones', () => {
    expect(errorOf({ ...validDocument(), colour: 'red' }).path).toBe('/colour');
    expect(errorOf({ ...validDocument(), currency: 'USD' }).path).toBe('/currency');
    expect(errorOf({ ...validDocument(), timezone: 'Europe/London' }).path).toBe('/timezone');
  });

  it('refuses a first step that does not start at 0', () => {
    const document = validDocument();
    const firstStep = document.destinations[0]?.ratePlans[0]?.steps[0];
    if (firstStep !== undefined) firstStep.from = 5;
    const error = errorOf(document);
    expect(error.path).toBe('/destinations/0/ratePlans/0/steps/0/from');
    expect(error.message).toMatch(/first step must start at 0/);
  });

  it('refuses steps that do not strictly increase', () => {
    const document = validDocument();
    const secondStep = document.destinations[0]?.ratePlans[0]?.steps[1];
    if (secondStep !== undefined) secondStep.from = 0;
    expect(errorOf(document).path).toBe('/destinations/0/ratePlans/0/steps/1/from');
  });

  it('refuses a prefix used by two destinations', () => {
    const document = validDocument();
    const uk = document.destinations[0];
    if (uk === undefined) throw new Error('fixture');
    document.destinations.push({ ...uk, name: 'UK again', prefixes: ['447', '44'] });
    const error = errorOf(document);
    expect(error.path).toBe('/destinations/1/prefixes/1');
    expect(error.message).toContain('already used at /destinations/0/prefixes/0');
  });

  it('refuses a destination with a weekday that no plan covers from 00:00', () => {
    const document = validDocument();
    const onlyPlan = document.destinations[0]?.ratePlans[0];
    if (onlyPlan === undefined) throw new Error('fixture');
    onlyPlan.days = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat'];
    const error = errorOf(document);
    expect(error.path).toBe('/destinations/0/ratePlans');
    expect(error.message).toMatch(/no rate plan applies on sun from 00:00/);

    onlyPlan.days = EVERY_DAY;
    onlyPlan.from = '06:00';
    expect(errorOf(document).issues.map((issue) => issue.path)).toEqual(
      Array.from({ length: 7 }, () => '/destinations/0/ratePlans'),
    );
  });

  it('refuses two plans that would tie on the same day and time', () => {
    const document = validDocument();
    const onlyPlan = document.destinations[0]?.ratePlans[0];
    if (onlyPlan === undefined) throw new Error('fixture');
    document.destinations[0]?.ratePlans.push({ ...onlyPlan, days: ['sat'] });
    const error = errorOf(document);
    expect(error.path).toBe('/destinations/0/ratePlans/1/weight');
    expect(error.message).toMatch(/ties with ratePlans\/0/);
  });

  it('refuses bad times, days, roundings and increments', () => {
    const cases: [string, (plan: Record<string, unknown>) => void][] = [
      ['/destinations/0/ratePlans/0/from', (plan) => Object.assign(plan, { from: '24:00' })],
      ['/destinations/0/ratePlans/0/days/0', (plan) => Object.assign(plan, { days: ['monday'] })],
      [
        '/destinations/0/ratePlans/0/rounding/decimals',
        (plan) => Object.assign(plan, { rounding: { method: 'up', decimals: 5 } }),
      ],
      [
        '/destinations/0/ratePlans/0/rounding/method',
        (plan) => Object.assign(plan, { rounding: { method: 'even', decimals: 2 } }),
      ],
      [
        '/destinations/0/ratePlans/0/maxCost/strategy',
        (plan) => Object.assign(plan, { maxCost: { amount: '1', strategy: 'stop' } }),
      ],
      [
        '/destinations/0/ratePlans/0/steps/0/increment',
        (plan) => Object.assign(plan, { steps: [{ from: 0, price: '1', unit: 60, increment: 0 }] }),
      ],
      [
        '/destinations/0/ratePlans/0/steps/0/price',
        (plan) => Object.assign(plan, { steps: [{ from: 0, price: '0.00001', unit: 60, increment: 1 }] }),
      ],
    ];
    for (const [path, breakIt] of cases) {
      const document = validDocument();
      breakIt(document.destinations[0]?.ratePlans[0] as unknown as Record<string, unknown>);
      expect(
        errorOf(document).issues.map((issue) => issue.path),
        path,
      ).toContain(path);
    }
  });

  it('accepts the example tariffs shipped in schemas/tariffs', () => {
    for (const document of [starterOverage, professionalOverage, callCenterOverage, internationalTariff]) {
      expect(parseTariff(document).id).toBe(document.id);
    }
  });
});

describe('planOverageTariff', () => {
  it('describes the shipped plan overage tariffs exactly', () => {
    const shipped = [
      [starterOverage, '1.99'],
      [professionalOverage, '1.60'],
      [callCenterOverage, '1.45'],
    ] as const;
    for (const [document, pricePerMinute] of shipped) {
      const built = planOverageTariff({ id: document.id, pricePerMinute, pulseSeconds: 60, decimals: 4 });
      const { $schema: _schema, description: _description, ...data } = document;
      expect(built).toEqual(data);
    }
  });

  it('prices overage per started pulse at the plan rate', () => {
    const start = new Date('2026-04-01T10:00:00+05:30');
    const minutePulse = parseTariff(
      planOverageTariff({ id: 'starter', pricePerMinute: '1.99', pulseSeconds: 60, decimals: 4 }),
    );
    // 61 s at a 60 s pulse = two minutes.
    expect(rateCall(minutePulse, { dialled: '9876543210', start, durationSeconds: 61, answered: true })?.cost).toEqual(
      Money.parse('3.98'),
    );
    const secondPulse = parseTariff(
      planOverageTariff({ id: 'starter-1s', pricePerMinute: '1.99', pulseSeconds: 1, decimals: 4 }),
    );
    // 61 s × ₹1.99 / 60 = ₹2.02316…, rounded up to ₹2.0232.
    expect(rateCall(secondPulse, { dialled: '9876543210', start, durationSeconds: 61, answered: true })?.cost).toEqual(
      Money.parse('2.0232'),
    );
  });
});
