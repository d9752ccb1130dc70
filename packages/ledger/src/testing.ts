/**
 * Fixtures for tests of packages built on the ledger: the account rules from the shipped catalog
 * (plans and add-ons of SPEC §5, supplier in Karnataka, state 29).
 */
import { type AccountRules, accountRules, parseCatalog } from '@khata/domain';
import addOnsFile from '@khata/schemas/catalog/add-ons.json' with { type: 'json' };
import plansFile from '@khata/schemas/catalog/plans.json' with { type: 'json' };

export const catalogRules: AccountRules = accountRules({
  catalog: parseCatalog([
    { file: 'plans.json', content: plansFile },
    { file: 'add-ons.json', content: addOnsFile },
  ]),
  supplierState: '29',
});
