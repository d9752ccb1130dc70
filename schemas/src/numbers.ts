/**
 * A toll-free number belongs to one account at a time across the whole system, which no single account
 * stream can enforce. Each number therefore has its own small stream, `tollfree-<number>`, whose events
 * say which account holds it; the command handler claims a number there before assigning it.
 */
import Type, { type Static } from 'typebox';

export const TollFreeNumberClaimed = Type.Object(
  { accountId: Type.String({ format: 'uuid' }) },
  { additionalProperties: false, $id: 'https://khata.dev/schemas/events/TollFreeNumberClaimed.v1.json' },
);
export const TollFreeNumberFreed = Type.Object(
  { accountId: Type.String({ format: 'uuid' }) },
  { additionalProperties: false, $id: 'https://khata.dev/schemas/events/TollFreeNumberFreed.v1.json' },
);

export type NumberRegistryEvent =
  | { readonly type: 'TollFreeNumberClaimed'; readonly data: Static<typeof TollFreeNumberClaimed> }
  | { readonly type: 'TollFreeNumberFreed'; readonly data: Static<typeof TollFreeNumberFreed> };
