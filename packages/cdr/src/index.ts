/**
 * @khata/cdr — everything FreeSWITCH reports about a finished call, reduced to one `NormalizedCdr`: mod_json_cdr
 * bodies (raw, form-encoded, base64; array or duplicate-key callflow), mod_xml_cdr bodies, and
 * CHANNEL_HANGUP_COMPLETE events (plain or json).
 *
 * Invariants: a parser never throws on its input — malformed or oversized input is `{ok: false, reason, field?}`;
 * the same call gives the same callId, leg and billable milliseconds whichever way it arrives; billable time comes
 * from billusec/billmsec and falls back to billsec only when neither exists (SPEC §8); the leg is decided in one
 * place (@khata/esl's legs.ts) and only A-legs are billed downstream.
 */
export {
  type HangupEventInput,
  type HangupEventOptions,
  parseHangupEvent,
  parseHangupEventText,
} from './hangup-event.ts';
export { type CdrHttpBodyOptions, parseCdrHttpBody } from './http-body.ts';
export { type JsonCdrOptions, parseJsonCdr } from './json-cdr.ts';
export {
  type CallerProfile,
  CDR_BODY_BYTES_MAX,
  CDR_VARIABLE_VALUE_CHARACTERS_MAX,
  CDR_VARIABLES_KEPT,
  CDR_VARIABLES_KEPT_MAX,
  type CdrFormat,
  type CdrParseResult,
  type CdrSource,
  type NormalizedCdr,
  normalizeCdr,
} from './normalize.ts';
export { JSON_NESTING_DEPTH_MAX } from './tolerant-json.ts';
export { parseXmlCdr, XML_CDR_NESTING_DEPTH_MAX, type XmlCdrOptions } from './xml-cdr.ts';
