/**
 * mod_json_cdr documents (research/freeswitch.md §5): `{core-uuid, channel_data, variables, app_log, callflow}`.
 *
 * Two shapes of `callflow` exist: an array, newest profile first (since FS-7612, June 2015), and — in older builds
 * — one `"callflow"` key per profile in the same object. JSON.parse would keep only the last of those, the oldest
 * (park) profile, and lose the transfer that followed; such documents go through a parser that keeps every value.
 * Either way the newest profile is picked by `profile_index`, not by position.
 *
 * `encode-values=true` (the module's default) URL-encodes every variable value inside the JSON. Whether a document
 * is encoded is not marked in it, so by default it is detected: FreeSWITCH's encoder never leaves a space, `@`,
 * `:`, `;`, `=`, `+` or similar character unescaped, so any such character in any value means raw values.
 */
import { decodeBytesLeniently, decodeEventValue } from '@khata/esl/protocol';
import { type CallerProfile, CDR_BODY_BYTES_MAX, type CdrParseResult, normalizeCdr } from './normalize.ts';
import { allValues, type JsonObject, type JsonValue, parseJsonKeepingDuplicates } from './tolerant-json.ts';

export interface JsonCdrOptions {
  /** The `uuid` query parameter FreeSWITCH appends to the URL; must match the document's uuid when both exist. */
  readonly uuidHint?: string;
  /** Whether variable values are URL-encoded (`encode-values`); detected when 'auto' (the default). */
  readonly valuesEncoded?: boolean | 'auto';
}

/** A character FreeSWITCH's URL encoder always escapes; finding one raw means the values were not encoded. */
const RAW_ONLY_CHARACTER = /[ @:;<=>"#&+?[\]^`{|}\\]/;
const REPEATED_CALLFLOW = /"callflow"\s*:[\s\S]*"callflow"\s*:/;

function isObject(value: JsonValue | undefined): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function text(value: JsonValue | undefined): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return undefined;
}

export function parseJsonCdr(input: string | Uint8Array, options: JsonCdrOptions = {}): CdrParseResult {
  const byteLength = typeof input === 'string' ? Buffer.byteLength(input) : input.byteLength;
  if (byteLength > CDR_BODY_BYTES_MAX) {
    return { ok: false, reason: `the CDR is ${byteLength} bytes, more than ${CDR_BODY_BYTES_MAX}`, field: 'body' };
  }
  const source = typeof input === 'string' ? input : decodeBytesLeniently(input);
  const parsed = parseDocument(source);
  if (!parsed.ok) return parsed;
  const root = parsed.value;
  if (!isObject(root)) return { ok: false, reason: 'the CDR is not a JSON object' };
  const variablesValue = root.variables;
  if (!isObject(variablesValue)) return { ok: false, reason: 'the CDR has no variables object', field: 'variables' };

  const rawVariables = new Map<string, string>();
  for (const [name, value] of Object.entries(variablesValue)) {
    const valueText =
      Array.isArray(value) && value.every((item) => typeof item === 'string')
        ? `ARRAY::${value.join('|:')}`
        : text(value);
    if (valueText !== undefined) rawVariables.set(name, valueText);
  }
  const encoded =
    options.valuesEncoded === undefined || options.valuesEncoded === 'auto'
      ? ![...rawVariables.values()].some((value) => RAW_ONLY_CHARACTER.test(value))
      : options.valuesEncoded;
  const variables = new Map<string, string>();
  for (const [name, value] of rawVariables) variables.set(name, encoded ? decodeEventValue(value) : value);

  const channelData = isObject(root.channel_data) ? root.channel_data : undefined;
  return normalizeCdr(
    {
      format: 'json-cdr',
      variable: (name) => variables.get(name),
      variableNames: () => variables.keys(),
      profile: newestProfile(allValues(root, 'callflow')),
      direction: text(channelData?.direction),
      hangupCauseHeader: undefined,
    },
    options.uuidHint,
  );
}

function parseDocument(source: string): { ok: true; value: JsonValue } | { ok: false; reason: string } {
  if (REPEATED_CALLFLOW.test(source)) {
    const tolerant = parseJsonKeepingDuplicates(source);
    return tolerant.ok ? tolerant : { ok: false, reason: `the CDR is not JSON: ${tolerant.reason}` };
  }
  try {
    return { ok: true, value: JSON.parse(source) as JsonValue };
  } catch (error) {
    return { ok: false, reason: `the CDR is not JSON: ${(error as Error).message}` };
  }
}

/** All callflow entries (arrays flattened, repeated keys collected), the one with the highest profile_index. */
function newestProfile(callflowValues: readonly JsonValue[]): CallerProfile {
  const entries: JsonObject[] = [];
  for (const value of callflowValues) {
    if (Array.isArray(value)) entries.push(...value.filter(isObject));
    else if (isObject(value)) entries.push(value);
  }
  let newest: JsonObject | undefined;
  let newestIndex = Number.NEGATIVE_INFINITY;
  for (const entry of entries) {
    const index = Number(text(entry.profile_index) ?? '0');
    if (newest === undefined || index > newestIndex) {
      newest = entry;
      newestIndex = index;
    }
  }
  return profileOf(newest);
}

function profileOf(callflow: JsonObject | undefined): CallerProfile {
  const callerProfile = isObject(callflow?.caller_profile) ? callflow.caller_profile : undefined;
  const times = isObject(callflow?.times) ? callflow.times : undefined;
  const originatee = isObject(callerProfile?.originatee) ? callerProfile.originatee : undefined;
  const originator = isObject(callerProfile?.originator) ? callerProfile.originator : undefined;
  const related = originator ?? originatee;
  const relatedProfiles =
    related?.originatee_caller_profiles ??
    related?.originatee_caller_profile ??
    related?.originator_caller_profiles ??
    related?.originator_caller_profile;
  const firstRelated = Array.isArray(relatedProfiles) ? relatedProfiles.find(isObject) : relatedProfiles;
  return {
    uuid: text(callerProfile?.uuid),
    callerNumber: text(callerProfile?.caller_id_number),
    destination: text(callerProfile?.destination_number),
    context: text(callerProfile?.context),
    otherType: originator !== undefined ? 'originator' : originatee !== undefined ? 'originatee' : undefined,
    otherUuid: isObject(firstRelated) ? text(firstRelated.uuid) : undefined,
    createdMicroseconds: text(times?.created_time),
    answeredMicroseconds: text(times?.answered_time),
    hangupMicroseconds: text(times?.hangup_time),
  };
}
