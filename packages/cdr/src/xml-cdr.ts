/**
 * mod_xml_cdr documents (research/freeswitch.md §5): `<cdr>` with `<channel_data>`, `<variables>` (one element per
 * variable, values always URL-encoded, an array variable as repeated elements), `<app_log>`, `<hold-record>` and
 * one `<callflow profile_index=…>` per caller profile. Variable names become element names (`<nolocal:req_uuid>`),
 * so the parser is not namespace-aware. 2009-era CDRs lack `channel_data` and the `uuid` variable; the caller
 * profile's uuid stands in.
 *
 * FreeSWITCH never sends a DOCTYPE; a document with one (or an ENTITY) is refused rather than expanded.
 */
import { decodeBytesLeniently, decodeEventValue } from '@khata/esl/protocol';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { type CallerProfile, CDR_BODY_BYTES_MAX, type CdrParseResult, normalizeCdr } from './normalize.ts';

export interface XmlCdrOptions {
  readonly uuidHint?: string;
}

/** Element nesting in a CDR is about six deep; the bound stops pathological documents early. */
export const XML_CDR_NESTING_DEPTH_MAX = 32;

type XmlNode = string | XmlElement | XmlNode[];
interface XmlElement {
  readonly [name: string]: XmlNode | undefined;
}

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: true,
  processEntities: true,
  htmlEntities: false,
  removeNSPrefix: false,
  maxNestedTags: XML_CDR_NESTING_DEPTH_MAX,
  jPath: true,
  isArray: (_name: string, path: unknown) => path === 'cdr.callflow',
});

function isElement(node: XmlNode | undefined): node is XmlElement {
  return typeof node === 'object' && node !== null && !Array.isArray(node);
}

function textOf(node: XmlNode | undefined): string | undefined {
  if (typeof node === 'string') return node;
  if (isElement(node)) {
    const inner = node['#text'];
    return typeof inner === 'string' ? inner : isElement(node) && Object.keys(node).length === 0 ? '' : undefined;
  }
  return undefined;
}

export function parseXmlCdr(input: string | Uint8Array, options: XmlCdrOptions = {}): CdrParseResult {
  const byteLength = typeof input === 'string' ? Buffer.byteLength(input) : input.byteLength;
  if (byteLength > CDR_BODY_BYTES_MAX) {
    return { ok: false, reason: `the CDR is ${byteLength} bytes, more than ${CDR_BODY_BYTES_MAX}`, field: 'body' };
  }
  const source = typeof input === 'string' ? input : decodeBytesLeniently(input);
  if (/<!(DOCTYPE|ENTITY)/i.test(source)) return { ok: false, reason: 'the CDR declares a DOCTYPE or ENTITY' };
  const validation = XMLValidator.validate(source);
  if (validation !== true) {
    return { ok: false, reason: `the CDR is not well-formed XML: ${validation.err.msg} (line ${validation.err.line})` };
  }
  let document: XmlElement;
  try {
    document = parser.parse(source) as XmlElement;
  } catch (error) {
    return { ok: false, reason: `the CDR is not usable XML: ${(error as Error).message}` };
  }
  const cdr = document.cdr;
  if (!isElement(cdr)) return { ok: false, reason: 'the document has no <cdr> root', field: 'cdr' };
  const variablesElement = cdr.variables;
  if (!isElement(variablesElement)) return { ok: false, reason: 'the CDR has no <variables>', field: 'variables' };

  const variables = new Map<string, string>();
  for (const [name, node] of Object.entries(variablesElement)) {
    if (name.startsWith('@_') || name === '#text') continue;
    // A repeated element is an array variable: FreeSWITCH's plain form of it is ARRAY::a|:b.
    const value = Array.isArray(node)
      ? `ARRAY::${node.map((item) => decodeEventValue(textOf(item) ?? '')).join('|:')}`
      : textOf(node);
    if (value !== undefined) variables.set(name, Array.isArray(node) ? value : decodeEventValue(value));
  }
  const channelData = isElement(cdr.channel_data) ? cdr.channel_data : undefined;
  return normalizeCdr(
    {
      format: 'xml-cdr',
      variable: (name) => variables.get(name),
      variableNames: () => variables.keys(),
      profile: newestProfile(cdr.callflow),
      direction: textOf(channelData?.direction),
      hangupCauseHeader: undefined,
    },
    options.uuidHint,
  );
}

function newestProfile(callflowNode: XmlNode | undefined): CallerProfile {
  const entries = (Array.isArray(callflowNode) ? callflowNode : [callflowNode]).filter(isElement);
  let newest: XmlElement | undefined;
  let newestIndex = Number.NEGATIVE_INFINITY;
  for (const entry of entries) {
    const index = Number(textOf(entry['@_profile_index']) ?? '0');
    if (newest === undefined || index > newestIndex) {
      newest = entry;
      newestIndex = index;
    }
  }
  const callerProfile = isElement(newest?.caller_profile) ? newest.caller_profile : undefined;
  const times = isElement(newest?.times) ? newest.times : undefined;
  const originatee = isElement(callerProfile?.originatee) ? callerProfile.originatee : undefined;
  const originator = isElement(callerProfile?.originator) ? callerProfile.originator : undefined;
  const related = originator?.originator_caller_profile ?? originatee?.originatee_caller_profile;
  const firstRelated = Array.isArray(related) ? related.find(isElement) : related;
  return {
    uuid: textOf(callerProfile?.uuid),
    callerNumber: textOf(callerProfile?.caller_id_number),
    destination: textOf(callerProfile?.destination_number),
    context: textOf(callerProfile?.context),
    otherType: originator !== undefined ? 'originator' : originatee !== undefined ? 'originatee' : undefined,
    otherUuid: isElement(firstRelated) ? textOf(firstRelated.uuid) : undefined,
    createdMicroseconds: textOf(times?.created_time),
    answeredMicroseconds: textOf(times?.answered_time),
    hangupMicroseconds: textOf(times?.hangup_time),
  };
}
