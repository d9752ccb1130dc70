/**
 * Indian GST for Khata's invoices: the state and Union territory codes, GSTIN validation, and the tax
 * heads of an invoice line (exclusive prices) or of a GST-inclusive prepaid recharge. Every head is
 * exact money rounded half-up to paise on its own; heads always add up to the total tax.
 */
export {
  computeGst,
  computeGstInclusive,
  DEFAULT_SAC_CODE,
  type GstBreakdown,
  type GstInclusiveInput,
  type GstInput,
  GstInputError,
  type SupplyType,
  splitTaxInclusive,
  TELECOM_GST_RATE_PERCENT,
} from './gst.ts';
export { type GstinResult, gstinCheckCharacter, validateGstin } from './gstin.ts';
export { findState, GST_STATES, type GstState, parseStateCode, type StateCodeResult, type StateTax } from './states.ts';
