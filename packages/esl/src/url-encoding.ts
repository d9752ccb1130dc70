/**
 * FreeSWITCH's URL encoding of event header values (`switch_url_encode_opt`, see research/esl-protocol.md §5)
 * and a decoder that never throws.
 *
 * FreeSWITCH percent-encodes every byte outside 0x20..0x7E and the characters in `SWITCH_URL_UNSAFE`, in
 * uppercase hex, and leaves a `%` that already starts a valid `%XX` alone. It encodes BYTES: a channel variable
 * holding Latin-1 text (`Jos\xE9`) goes out as `Jos%E9`, which is not UTF-8. `decodeURIComponent` throws a
 * URIError on that (the crash in modesl 1.2.1), so decoding here works on bytes: well-formed UTF-8 sequences
 * become their characters and any other byte is read as Latin-1, which is what such a byte almost always is.
 */

// Characters FreeSWITCH escapes besides control and non-ASCII bytes: SWITCH_URL_UNSAFE in switch_utils.h.
const UNSAFE_CHARACTERS = '\r\n #%&+:;<=>?@[\\]^`{|}"';
const HEX_DIGITS = '0123456789ABCDEF';

const utf8Strict = new TextDecoder('utf-8', { fatal: true });
const utf8Encoder = new TextEncoder();

function isHexDigit(code: number): boolean {
  return (code >= 0x30 && code <= 0x39) || (code >= 0x41 && code <= 0x46) || (code >= 0x61 && code <= 0x66);
}

function hexValue(code: number): number {
  if (code <= 0x39) return code - 0x30;
  if (code <= 0x46) return code - 0x41 + 10;
  return code - 0x61 + 10;
}

/** Encodes a header value exactly as FreeSWITCH does for `text/event-plain` (uppercase hex, no double encoding). */
export function encodeEventValue(value: string): string {
  const bytes = utf8Encoder.encode(value);
  let encoded = '';
  for (let index = 0; index < bytes.length; index++) {
    const byte = bytes[index] ?? 0;
    // FreeSWITCH keeps a `%` that already introduces `%XX` (double_encode=FALSE), so such text round-trips lossy.
    if (byte === 0x25 && isHexDigit(bytes[index + 1] ?? 0) && isHexDigit(bytes[index + 2] ?? 0)) {
      encoded += '%';
      continue;
    }
    const isUnsafe = byte < 0x20 || byte > 0x7e || UNSAFE_CHARACTERS.includes(String.fromCharCode(byte));
    encoded += isUnsafe ? `%${HEX_DIGITS[byte >> 4]}${HEX_DIGITS[byte & 0x0f]}` : String.fromCharCode(byte);
  }
  return encoded;
}

/**
 * Decodes `%XX` sequences byte-wise. Never throws: an incomplete `%` sequence stays literal, bytes that do not form
 * UTF-8 are read as Latin-1. `plusAsSpace` is for `application/x-www-form-urlencoded` bodies only; FreeSWITCH's own
 * encoder writes a space as `%20` and a plus as `%2B`.
 */
export function decodeEventValue(text: string, plusAsSpace = false): string {
  if (!text.includes('%') && !(plusAsSpace && text.includes('+'))) return text;
  const bytes = percentDecodeToBytes(text, plusAsSpace);
  return decodeBytesLeniently(bytes);
}

function percentDecodeToBytes(text: string, plusAsSpace: boolean): Uint8Array {
  const source = utf8Encoder.encode(text);
  const output = new Uint8Array(source.length);
  let length = 0;
  for (let index = 0; index < source.length; index++) {
    const byte = source[index] ?? 0;
    const high = source[index + 1] ?? 0;
    const low = source[index + 2] ?? 0;
    if (byte === 0x25 && isHexDigit(high) && isHexDigit(low)) {
      output[length++] = (hexValue(high) << 4) | hexValue(low);
      index += 2;
    } else if (byte === 0x2b && plusAsSpace) {
      output[length++] = 0x20;
    } else {
      output[length++] = byte;
    }
  }
  return output.subarray(0, length);
}

/** UTF-8 where the bytes are UTF-8, Latin-1 for each byte that is not part of a well-formed sequence. */
export function decodeBytesLeniently(bytes: Uint8Array): string {
  try {
    return utf8Strict.decode(bytes);
  } catch {
    // Fall through to the byte-by-byte path below.
  }
  let decoded = '';
  let index = 0;
  while (index < bytes.length) {
    const lead = bytes[index] ?? 0;
    const sequenceLength = utf8SequenceLength(lead);
    if (sequenceLength > 1 && index + sequenceLength <= bytes.length) {
      try {
        decoded += utf8Strict.decode(bytes.subarray(index, index + sequenceLength));
        index += sequenceLength;
        continue;
      } catch {
        // Not a well-formed sequence: the lead byte is taken as Latin-1 below.
      }
    }
    decoded += String.fromCharCode(lead);
    index += 1;
  }
  return decoded;
}

/** How many bytes a UTF-8 sequence starting with `lead` has; 1 for ASCII and for bytes that cannot lead one. */
function utf8SequenceLength(lead: number): number {
  if (lead >= 0xc2 && lead <= 0xdf) return 2;
  if (lead >= 0xe0 && lead <= 0xef) return 3;
  if (lead >= 0xf0 && lead <= 0xf4) return 4;
  return 1;
}
