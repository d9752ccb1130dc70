/**
 * @khata/esl/protocol — the protocol half of the package without the modesl client: frames, event bodies,
 * FreeSWITCH's URL encoding and leg detection. For code that parses what FreeSWITCH sends but never connects to it
 * (the CDR webhook), so it does not load modesl.
 */
export * from './frames.ts';
export { decideLeg, type Leg, type LegEvidence, otherLegUuid } from './legs.ts';
export { decodeBytesLeniently, decodeEventValue, encodeEventValue } from './url-encoding.ts';
