/**
 * @khata/projections — the read models, one folder each: migrations (run by `khata migrate`), the
 * projection that turns events into rows, and the queries the API uses. Projections never read a clock.
 */
import type { Projection } from '@khata/projector';
import { balancesProjection } from './balances/projection.ts';

export { balanceRow, balancesProjection, stateOfRow } from './balances/projection.ts';
export { accountStates, type Balance, balanceOf, trimMoney } from './balances/queries.ts';

/** Every read model, in the order they are migrated and listed. */
export const allProjections: readonly Projection[] = [balancesProjection];
