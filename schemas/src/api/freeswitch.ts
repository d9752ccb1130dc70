/**
 * FreeSWITCH's HTTP endpoints (SPEC §9): the CDR webhook mod_json_cdr / mod_xml_cdr post to, and the
 * dynamic-routing dialplan mod_xml_curl asks. Neither body is JSON Khata chose: the CDR body is taken raw
 * (JSON, form-encoded, base64 or XML, parsed by @khata/cdr), the dialplan request is a form of FreeSWITCH's
 * event headers, of which only the fields below matter.
 */
import Type from 'typebox';

const CallUuid = Type.String({ minLength: 1, maxLength: 110 });

/** mod_json_cdr appends `?uuid=<uuid>`; mod_xml_cdr appends `uuid=a_<uuid>` with prefix-a-leg. */
export const CdrWebhookQuery = Type.Object(
  { uuid: Type.Optional(CallUuid) },
  { additionalProperties: true, $id: 'CdrWebhookQuery' },
);

export const CdrReceipt = Type.Object(
  {
    callId: CallUuid,
    leg: Type.Union([Type.Literal('A'), Type.Literal('B')]),
    /** The account that pays for the call (null when none could be found). */
    accountId: Type.Union([Type.String({ format: 'uuid' }), Type.Null()]),
    /** Whether the worker will rate it: an A-leg of a known account. */
    billable: Type.Boolean(),
    /** Why it will not be rated (null when it will). */
    reason: Type.Union([Type.String(), Type.Null()]),
  },
  { additionalProperties: false, $id: 'CdrReceipt' },
);

const Word = Type.String({ maxLength: 256 });

/** What mod_xml_curl posts (form-encoded): `section`, the hunt's context and number, and many more headers. */
export const DialplanRequest = Type.Object(
  {
    section: Type.String({ minLength: 1, maxLength: 64 }),
    'Hunt-Context': Type.Optional(Word),
    'Hunt-Destination-Number': Type.Optional(Word),
    'Caller-Context': Type.Optional(Word),
    'Caller-Destination-Number': Type.Optional(Word),
  },
  { additionalProperties: true, $id: 'DialplanRequest' },
);

export const DialplanQuery = Type.Object(
  {
    /** The dialplan contexts Khata routes (comma-separated; `public` by default): others are left to the switch. */
    context: Type.Optional(
      Type.String({ pattern: '^[A-Za-z0-9_.-]{1,64}(,[A-Za-z0-9_.-]{1,64}){0,15}$', maxLength: 1100 }),
    ),
  },
  { additionalProperties: false, $id: 'DialplanQuery' },
);
