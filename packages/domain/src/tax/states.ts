/**
 * GST state and Union territory codes: the first two digits of every GSTIN and the "place of supply"
 * printed on a tax invoice (CGST Rules r.46). Names are the ones the GST portal and e-invoice masters use.
 *
 * Which tax a Union territory levies: CGST Act s.2(114) defines "Union territory" for GST as Andaman and
 * Nicobar Islands, Lakshadweep, Dadra and Nagar Haveli and Daman and Diu, Ladakh, Chandigarh and "other
 * territory"; the UTGST Act applies there, so an intra-territory supply carries CGST + UTGST. Delhi,
 * Puducherry and Jammu and Kashmir have legislatures and are "States" for GST (SGST).
 *
 * Retired codes stay in the table so an old document can still be named, but nothing current accepts
 * them (see `parseStateCode`): 25 Daman and Diu merged into 26 on 26 January 2020 and its registrations
 * were moved to 26; 28 is Andhra Pradesh before the 2014 reorganisation, and GST (from 2017) registers
 * Andhra Pradesh under 37. 96 (foreign country, exports) and 99 (centre jurisdiction) are not places
 * of supply for Khata's domestic telephony and are not listed.
 */

export type StateTax = 'sgst' | 'utgst';

export interface GstState {
  /** Two digits, `01`–`38` or `97`. */
  readonly code: string;
  readonly name: string;
  /** The head that goes with CGST on a supply within this state or territory. */
  readonly stateTax: StateTax;
  /** For a retired code: the code that replaced it. */
  readonly replacedBy?: string;
}

function state(code: string, name: string, stateTax: StateTax = 'sgst', replacedBy?: string): GstState {
  return Object.freeze(replacedBy === undefined ? { code, name, stateTax } : { code, name, stateTax, replacedBy });
}

/** Every code, current and retired, in code order. */
export const GST_STATES: readonly GstState[] = Object.freeze([
  state('01', 'Jammu and Kashmir'),
  state('02', 'Himachal Pradesh'),
  state('03', 'Punjab'),
  state('04', 'Chandigarh', 'utgst'),
  state('05', 'Uttarakhand'),
  state('06', 'Haryana'),
  state('07', 'Delhi'),
  state('08', 'Rajasthan'),
  state('09', 'Uttar Pradesh'),
  state('10', 'Bihar'),
  state('11', 'Sikkim'),
  state('12', 'Arunachal Pradesh'),
  state('13', 'Nagaland'),
  state('14', 'Manipur'),
  state('15', 'Mizoram'),
  state('16', 'Tripura'),
  state('17', 'Meghalaya'),
  state('18', 'Assam'),
  state('19', 'West Bengal'),
  state('20', 'Jharkhand'),
  state('21', 'Odisha'),
  state('22', 'Chhattisgarh'),
  state('23', 'Madhya Pradesh'),
  state('24', 'Gujarat'),
  state('25', 'Daman and Diu', 'utgst', '26'),
  state('26', 'Dadra and Nagar Haveli and Daman and Diu', 'utgst'),
  state('27', 'Maharashtra'),
  state('28', 'Andhra Pradesh (before reorganisation)', 'sgst', '37'),
  state('29', 'Karnataka'),
  state('30', 'Goa'),
  state('31', 'Lakshadweep', 'utgst'),
  state('32', 'Kerala'),
  state('33', 'Tamil Nadu'),
  state('34', 'Puducherry'),
  state('35', 'Andaman and Nicobar Islands', 'utgst'),
  state('36', 'Telangana'),
  state('37', 'Andhra Pradesh'),
  state('38', 'Ladakh', 'utgst'),
  state('97', 'Other Territory', 'utgst'),
]);

const BY_CODE: ReadonlyMap<string, GstState> = new Map(GST_STATES.map((entry) => [entry.code, entry]));

/** The table entry for a code, retired ones included; undefined for a code that never existed. */
export function findState(code: string): GstState | undefined {
  return BY_CODE.get(code);
}

export type StateCodeResult =
  | { readonly ok: true; readonly state: GstState }
  | { readonly ok: false; readonly reason: string };

/**
 * Checks a code for current use (an account's billing state, the supplier's state, a GSTIN's first two
 * digits): exactly two digits, listed, and not retired.
 */
export function parseStateCode(text: string): StateCodeResult {
  if (!/^\d{2}$/.test(text)) return { ok: false, reason: `state code must be two digits, got ${JSON.stringify(text)}` };
  const entry = BY_CODE.get(text);
  if (entry === undefined) return { ok: false, reason: `${text} is not a GST state code` };
  if (entry.replacedBy !== undefined) {
    return { ok: false, reason: `${text} (${entry.name}) is retired; use ${entry.replacedBy}` };
  }
  return { ok: true, state: entry };
}
