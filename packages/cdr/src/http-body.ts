/**
 * What mod_json_cdr and mod_xml_cdr POST, by their `encode` setting (research/freeswitch.md §5):
 *
 * | encode   | Content-Type                          | body                                             |
 * |----------|---------------------------------------|--------------------------------------------------|
 * | false    | application/json (json_cdr)           | the raw JSON                                     |
 * | true     | application/x-www-form-urlencoded     | `cdr=` + the form-encoded document               |
 * | base64   | application/x-www-form-base64-encoded | `cdr=` + base64, NOT form-escaped: `+` is literal |
 * | false    | application/x-www-form-plaintext (xml)| `cdr=` + the raw XML                             |
 * | textxml  | text/xml (xml_cdr)                    | the raw XML                                      |
 *
 * A base64 body must never go through a form decoder, which would turn its `+` into spaces. Without a usable
 * Content-Type the body is sniffed: `{` is JSON, `<` is XML, `cdr=` followed only by base64 characters is base64,
 * any other `cdr=` is form-encoded. The `?uuid=` FreeSWITCH appends to the URL is read by the HTTP layer and passed
 * in as `uuidHint`.
 */
import { decodeBytesLeniently, decodeEventValue } from '@khata/esl/protocol';
import { parseJsonCdr } from './json-cdr.ts';
import { CDR_BODY_BYTES_MAX, type CdrParseResult } from './normalize.ts';
import { parseXmlCdr } from './xml-cdr.ts';

export interface CdrHttpBodyOptions {
  readonly contentType?: string;
  readonly uuidHint?: string;
}

type BodyEncoding = 'raw' | 'form' | 'base64' | 'plaintext-field';

const BASE64_TEXT = /^[A-Za-z0-9+/\r\n]+={0,2}\s*$/;

function encodingOf(contentType: string | undefined, body: string): BodyEncoding {
  const mediaType = contentType?.split(';')[0]?.trim().toLowerCase() ?? '';
  if (mediaType.includes('base64')) return 'base64';
  if (mediaType === 'application/x-www-form-urlencoded') return 'form';
  if (mediaType === 'application/x-www-form-plaintext') return 'plaintext-field';
  if (mediaType === 'application/json' || mediaType === 'text/xml' || mediaType === 'application/xml') return 'raw';
  if (!body.startsWith('cdr=')) return 'raw';
  return BASE64_TEXT.test(body.slice('cdr='.length)) ? 'base64' : 'form';
}

/** The `cdr` field of a form body (mod_*_cdr send no other field, but a proxy might add some). */
function cdrField(body: string): string | undefined {
  for (const part of body.split('&')) {
    if (part.startsWith('cdr=')) return part.slice('cdr='.length);
  }
  return undefined;
}

export function parseCdrHttpBody(input: string | Uint8Array, options: CdrHttpBodyOptions = {}): CdrParseResult {
  const byteLength = typeof input === 'string' ? Buffer.byteLength(input) : input.byteLength;
  if (byteLength > CDR_BODY_BYTES_MAX) {
    return { ok: false, reason: `the body is ${byteLength} bytes, more than ${CDR_BODY_BYTES_MAX}`, field: 'body' };
  }
  const body = (typeof input === 'string' ? input : decodeBytesLeniently(input)).trimStart();
  const encoding = encodingOf(options.contentType, body);
  let document: string;
  switch (encoding) {
    case 'raw':
      document = body;
      break;
    case 'plaintext-field':
      document = body.startsWith('cdr=') ? body.slice('cdr='.length) : body;
      break;
    case 'form': {
      const field = cdrField(body);
      if (field === undefined) return { ok: false, reason: 'the form body has no cdr field', field: 'cdr' };
      document = decodeEventValue(field, true);
      break;
    }
    case 'base64': {
      const field = body.startsWith('cdr=') ? body.slice('cdr='.length) : body;
      if (!BASE64_TEXT.test(field)) return { ok: false, reason: 'the cdr field is not base64', field: 'cdr' };
      document = decodeBytesLeniently(Buffer.from(field, 'base64'));
      break;
    }
  }
  const start = document.trimStart()[0];
  const hint = options.uuidHint === undefined ? {} : { uuidHint: options.uuidHint };
  if (start === '{') return parseJsonCdr(document, hint);
  if (start === '<') return parseXmlCdr(document, hint);
  return { ok: false, reason: 'the body holds neither a JSON nor an XML CDR', field: 'body' };
}
