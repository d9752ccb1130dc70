/**
 * Tariffs are versioned documents (SPEC §7): each publication is an event in the tariff's own stream,
 * `tariff-<id>`, so a rating can name the version it used and an auditor can read every version ever
 * in force.
 */
import Type, { type Static } from 'typebox';

export const TariffPublished = Type.Object(
  {
    tariffId: Type.String({ minLength: 1, maxLength: 100 }),
    version: Type.Integer({ minimum: 1 }),
    /** The tariff document as `schemas/tariff.schema.json` describes it. */
    document: Type.Record(Type.String(), Type.Unknown()),
    publishedBy: Type.String(),
    publishedAt: Type.String({ format: 'date-time' }),
  },
  { additionalProperties: false, $id: 'https://khata.dev/schemas/events/TariffPublished.v1.json' },
);

export type TariffPublishedData = Static<typeof TariffPublished>;
