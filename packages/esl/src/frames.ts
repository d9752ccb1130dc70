/**
 * The ESL wire format (research/esl-protocol.md §0 and §5): a header block of `Name: value` lines ended by an
 * empty line, then exactly `Content-Length` bytes of body when that header is present. Events travel inside such a
 * frame as `text/event-plain` (a second, URL-encoded header block) or `text/event-json`.
 *
 * Everything here is a value in, value out: malformed input becomes an error value, never an exception, and every
 * buffer has a named bound so a peer cannot make us hold more than one maximal frame.
 */
import { decodeBytesLeniently, decodeEventValue, encodeEventValue } from './url-encoding.ts';

/**
 * The largest header block accepted. FreeSWITCH's envelopes are a few lines; the outbound `connect` reply, a whole
 * serialized CHANNEL_DATA without a body, is the largest real one (8 KB in the 2017 capture; more with long SDPs).
 */
export const ESL_HEADER_BLOCK_BYTES_MAX = 1024 * 1024;
/** The largest body accepted: FreeSWITCH's own MAX_CONTENT_LENGTH (16 MiB); `show channels as json` can be MBs. */
export const ESL_BODY_BYTES_MAX = 16 * 1024 * 1024;
/** One frame never needs more memory than this, so a parser's buffer never grows past it. */
export const ESL_FRAME_BYTES_MAX = ESL_HEADER_BLOCK_BYTES_MAX + ESL_BODY_BYTES_MAX;
/** Headers in one event; a CHANNEL_HANGUP_COMPLETE has about 300. */
export const EVENT_HEADERS_MAX = 10_000;

/** A header value: a string, or the values of a FreeSWITCH array header as delivered by `text/event-json`. */
export type EslHeaderValue = string | readonly string[];
export type EslHeader = readonly [name: string, value: EslHeaderValue];

/** One frame as it came off the socket. Envelope header values are never URL-encoded, so they are kept verbatim. */
export interface EslFrame {
  readonly headers: readonly (readonly [name: string, value: string])[];
  readonly body: Uint8Array;
}

/** A FreeSWITCH event: its headers in wire order (duplicates kept) and its body, if it has one. */
export interface EslEvent {
  readonly headers: readonly EslHeader[];
  readonly body: string | null;
}

export interface EslProtocolError {
  readonly code: 'header-block-too-large' | 'body-too-large' | 'malformed-header' | 'malformed-content-length';
  readonly message: string;
}

export interface FrameLimits {
  readonly headerBlockBytesMax?: number;
  readonly bodyBytesMax?: number;
}

const LINE_FEED = 0x0a;
const CARRIAGE_RETURN = 0x0d;
const textEncoder = new TextEncoder();

/**
 * Splits a byte stream into header blocks and bodies. Chunks may cut anywhere (FreeSWITCH's writes do) and one chunk
 * may hold several frames. After a protocol error the parser stays failed: the only safe reaction is to drop the
 * connection, because the position of the next frame is unknown.
 */
class BlockSplitter {
  readonly #headerBlockBytesMax: number;
  readonly #bodyBytesMax: number;
  #buffer: Buffer = Buffer.alloc(0);
  #pendingLines: string[] | null = null;
  #pendingBodyBytes = 0;
  #error: EslProtocolError | null = null;

  constructor(limits: FrameLimits = {}) {
    this.#headerBlockBytesMax = limits.headerBlockBytesMax ?? ESL_HEADER_BLOCK_BYTES_MAX;
    this.#bodyBytesMax = limits.bodyBytesMax ?? ESL_BODY_BYTES_MAX;
  }

  get bufferedBytes(): number {
    return this.#buffer.length;
  }

  push(chunk: Uint8Array): { blocks: { lines: string[]; body: Uint8Array }[]; error: EslProtocolError | null } {
    const blocks: { lines: string[]; body: Uint8Array }[] = [];
    if (this.#error !== null) return { blocks, error: this.#error };
    this.#buffer = this.#buffer.length === 0 ? Buffer.from(chunk) : Buffer.concat([this.#buffer, chunk]);
    // Each iteration consumes one header block or one body, so the loop is bounded by the buffered bytes.
    for (;;) {
      if (this.#pendingLines !== null) {
        if (this.#buffer.length < this.#pendingBodyBytes) break;
        // A copy, so the frame does not pin the (possibly much larger) receive buffer.
        const body = new Uint8Array(this.#buffer.subarray(0, this.#pendingBodyBytes));
        blocks.push({ lines: this.#pendingLines, body });
        this.#buffer = this.#buffer.subarray(this.#pendingBodyBytes);
        this.#pendingLines = null;
        this.#pendingBodyBytes = 0;
        continue;
      }
      const start = skipLeadingBlankLines(this.#buffer);
      if (start > 0) this.#buffer = this.#buffer.subarray(start);
      if (this.#buffer.length === 0) break;
      const end = findHeaderBlockEnd(this.#buffer, this.#headerBlockBytesMax);
      if (end === null) {
        if (this.#buffer.length > this.#headerBlockBytesMax) {
          return this.#fail(
            blocks,
            'header-block-too-large',
            `no end of headers within ${this.#headerBlockBytesMax} bytes`,
          );
        }
        break;
      }
      const lines = decodeBytesLeniently(this.#buffer.subarray(0, end.textEnd))
        .split('\n')
        .map((line) => (line.endsWith('\r') ? line.slice(0, -1) : line));
      this.#buffer = this.#buffer.subarray(end.blockEnd);
      const contentLength = findContentLength(lines);
      if (contentLength === 'malformed') {
        return this.#fail(blocks, 'malformed-content-length', 'Content-Length is not a decimal byte count');
      }
      if (contentLength > this.#bodyBytesMax) {
        return this.#fail(blocks, 'body-too-large', `Content-Length ${contentLength} exceeds ${this.#bodyBytesMax}`);
      }
      if (contentLength === 0) {
        blocks.push({ lines, body: new Uint8Array(0) });
        continue;
      }
      this.#pendingLines = lines;
      this.#pendingBodyBytes = contentLength;
    }
    return { blocks, error: null };
  }

  #fail(
    blocks: { lines: string[]; body: Uint8Array }[],
    code: EslProtocolError['code'],
    message: string,
  ): { blocks: { lines: string[]; body: Uint8Array }[]; error: EslProtocolError } {
    this.#error = { code, message };
    this.#buffer = Buffer.alloc(0);
    return { blocks, error: this.#error };
  }
}

function skipLeadingBlankLines(buffer: Buffer): number {
  let index = 0;
  while (index < buffer.length && (buffer[index] === LINE_FEED || buffer[index] === CARRIAGE_RETURN)) index++;
  return index;
}

/** The end of the header block: a line feed followed by an empty line (CR tolerated, as FreeSWITCH strips it). */
function findHeaderBlockEnd(buffer: Buffer, searchBytesMax: number): { textEnd: number; blockEnd: number } | null {
  const limit = Math.min(buffer.length, searchBytesMax + 2);
  let index = buffer.indexOf(LINE_FEED);
  while (index !== -1 && index < limit) {
    const next = buffer[index + 1];
    if (next === LINE_FEED) return { textEnd: index, blockEnd: index + 2 };
    if (next === CARRIAGE_RETURN && buffer[index + 2] === LINE_FEED) return { textEnd: index, blockEnd: index + 3 };
    index = buffer.indexOf(LINE_FEED, index + 1);
  }
  return null;
}

function findContentLength(lines: readonly string[]): number | 'malformed' {
  for (const line of lines) {
    const separator = line.indexOf(':');
    if (separator === -1 || line.slice(0, separator).toLowerCase() !== 'content-length') continue;
    const value = line.slice(separator + 1).trim();
    if (!/^\d{1,10}$/.test(value)) return 'malformed';
    return Number(value);
  }
  return 0;
}

/** `Name: value` (the space is optional, as in FreeSWITCH's own reader). Names never contain whitespace. */
function splitHeaderLine(line: string): readonly [string, string] | null {
  const separator = line.indexOf(':');
  if (separator <= 0) return null;
  const name = line.slice(0, separator);
  if (/\s/.test(name)) return null;
  const rest = line.slice(separator + 1);
  return [name, rest.startsWith(' ') ? rest.slice(1) : rest];
}

export type FrameParseResult = { readonly frames: EslFrame[]; readonly error: EslProtocolError | null };

/** Parses what a FreeSWITCH server sends (replies, responses, events, notices). */
export class EslFrameParser {
  readonly #splitter: BlockSplitter;
  #error: EslProtocolError | null = null;

  constructor(limits: FrameLimits = {}) {
    this.#splitter = new BlockSplitter(limits);
  }

  /** Bytes held for an incomplete frame; never more than one frame's bound. */
  get bufferedBytes(): number {
    return this.#splitter.bufferedBytes;
  }

  push(chunk: Uint8Array): FrameParseResult {
    if (this.#error !== null) return { frames: [], error: this.#error };
    const { blocks, error } = this.#splitter.push(chunk);
    const frames: EslFrame[] = [];
    for (const block of blocks) {
      const headers: (readonly [string, string])[] = [];
      for (const line of block.lines) {
        const header = splitHeaderLine(line);
        if (header === null) {
          this.#error = { code: 'malformed-header', message: `not a header line: ${truncate(line)}` };
          return { frames, error: this.#error };
        }
        headers.push(header);
      }
      frames.push({ headers, body: block.body });
    }
    this.#error = error;
    return { frames, error };
  }
}

/** A command a client sent: its first line, the headers after it (sendmsg, bgapi's Job-UUID) and an optional body. */
export interface EslCommand {
  readonly line: string;
  readonly headers: readonly (readonly [name: string, value: string])[];
  readonly body: Uint8Array;
}

export type CommandParseResult = { readonly commands: EslCommand[]; readonly error: EslProtocolError | null };

/** Parses what a client sends to FreeSWITCH (used by the stand-in). Lines that are not headers are skipped. */
export class EslCommandParser {
  readonly #splitter: BlockSplitter;

  constructor(limits: FrameLimits = {}) {
    this.#splitter = new BlockSplitter(limits);
  }

  push(chunk: Uint8Array): CommandParseResult {
    const { blocks, error } = this.#splitter.push(chunk);
    const commands: EslCommand[] = [];
    for (const block of blocks) {
      const [line = '', ...rest] = block.lines;
      const headers = rest.map(splitHeaderLine).filter((header) => header !== null);
      commands.push({ line: line.trim(), headers, body: block.body });
    }
    return { commands, error };
  }
}

function truncate(text: string): string {
  return text.length > 80 ? `${text.slice(0, 80)}…` : text;
}

/** The first value of a header, case-sensitive like FreeSWITCH's own lookup. */
export function frameHeader(frame: Pick<EslFrame, 'headers'>, name: string): string | undefined {
  for (const [headerName, value] of frame.headers) if (headerName === name) return value;
  return undefined;
}

export function frameBodyText(frame: EslFrame): string {
  return decodeBytesLeniently(frame.body);
}

/** The first value of an event header; an array header is returned in its plain form `ARRAY::a|:b`. */
export function eventHeader(event: Pick<EslEvent, 'headers'>, name: string): string | undefined {
  for (const [headerName, value] of event.headers) if (headerName === name) return headerValueText(value);
  return undefined;
}

/** FreeSWITCH's plain rendering of an array header (`switch_event_add_array` re-joined as `ARRAY::a|:b`). */
export function headerValueText(value: EslHeaderValue): string {
  return typeof value === 'string' ? value : `ARRAY::${value.join('|:')}`;
}

// ---------------------------------------------------------------------------------------------------------------
// Serialization (what FreeSWITCH writes; used by the stand-in and by tests)

/** Writes headers in the order given, then the empty line, then the body. The caller picks the header order. */
export function serializeFrame(
  headers: readonly (readonly [string, string])[],
  body: Uint8Array | string = '',
): Buffer {
  const bodyBytes = typeof body === 'string' ? textEncoder.encode(body) : body;
  const declared = headers.find(([name]) => name === 'Content-Length')?.[1];
  if (bodyBytes.length > 0 && declared !== String(bodyBytes.length)) {
    throw new Error(`frame body of ${bodyBytes.length} bytes needs Content-Length ${bodyBytes.length}`);
  }
  const head = headers.map(([name, value]) => `${name}: ${value}\n`).join('');
  return Buffer.concat([Buffer.from(`${head}\n`), bodyBytes]);
}

export function authRequestFrame(): Buffer {
  return serializeFrame([['Content-Type', 'auth/request']]);
}

export function commandReplyFrame(
  replyText: string,
  extraHeaders: readonly (readonly [string, string])[] = [],
): Buffer {
  return serializeFrame([['Content-Type', 'command/reply'], ['Reply-Text', replyText], ...extraHeaders]);
}

/** `api/response`: Content-Type first, then Content-Length, as mod_event_socket writes it. */
export function apiResponseFrame(body: string): Buffer {
  const bytes = textEncoder.encode(body);
  return serializeFrame(
    [
      ['Content-Type', 'api/response'],
      ['Content-Length', String(bytes.length)],
    ],
    bytes,
  );
}

/** The notice that ends every inbound connection (67 bytes: research/esl-protocol.md §1). */
export const DISCONNECT_NOTICE_BODY = 'Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n';
export const SHUTDOWN_NOTICE_BODY = 'The system is being shut down.\n';

export function disconnectNoticeFrame(body: string = DISCONNECT_NOTICE_BODY): Buffer {
  const bytes = textEncoder.encode(body);
  return serializeFrame(
    [
      ['Content-Type', 'text/disconnect-notice'],
      ['Content-Length', String(bytes.length)],
    ],
    bytes,
  );
}

/** An event inside its envelope: Content-Length first, then Content-Type (the order events use). */
export function eventFrame(event: EslEvent, format: 'plain' | 'json'): Buffer {
  const text = format === 'plain' ? serializePlainEvent(event) : serializeJsonEvent(event);
  const bytes = textEncoder.encode(text);
  return serializeFrame(
    [
      ['Content-Length', String(bytes.length)],
      ['Content-Type', format === 'plain' ? 'text/event-plain' : 'text/event-json'],
    ],
    bytes,
  );
}

/** `switch_event_serialize(encode=TRUE)`: one URL-encoded line per header, then the body or a lone newline. */
export function serializePlainEvent(event: EslEvent): string {
  let text = '';
  for (const [name, value] of event.headers) text += `${name}: ${encodeEventValue(headerValueText(value))}\n`;
  if (event.body !== null && event.body.length > 0) {
    return `${text}Content-Length: ${textEncoder.encode(event.body).length}\n\n${event.body}`;
  }
  return `${text}\n`;
}

/**
 * `switch_event_serialize_json`: values raw, arrays as JSON arrays, duplicate headers repeated as duplicate keys
 * (which is why this writes the object by hand rather than through JSON.stringify of an object).
 */
export function serializeJsonEvent(event: EslEvent): string {
  const members = event.headers.map(([name, value]) => `${JSON.stringify(name)}:${JSON.stringify(value)}`);
  if (event.body !== null && event.body.length > 0) {
    members.push(
      `"Content-Length":"${textEncoder.encode(event.body).length}"`,
      `"_body":${JSON.stringify(event.body)}`,
    );
  }
  return `{${members.join(',')}}`;
}

// ---------------------------------------------------------------------------------------------------------------
// Event bodies

export type EventParseResult =
  | { readonly ok: true; readonly event: EslEvent }
  | { readonly ok: false; readonly reason: string };

/**
 * Parses a serialized `text/event-plain` event: URL-decoded headers (byte-wise, never throwing), duplicates kept,
 * `ARRAY::` values left in their plain form, and the event's own body when it declares a Content-Length.
 */
export function parsePlainEvent(input: Uint8Array | string): EventParseResult {
  const bytes = typeof input === 'string' ? textEncoder.encode(input) : input;
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const end = findHeaderBlockEnd(buffer, buffer.length);
  const headerText = decodeBytesLeniently(end === null ? bytes : bytes.subarray(0, end.textEnd));
  const headers: EslHeader[] = [];
  let bodyLength: number | null = null;
  for (const line of headerText.split('\n')) {
    if (line.length === 0) continue;
    const header = splitHeaderLine(line);
    if (header === null) return { ok: false, reason: `not a header line: ${truncate(line)}` };
    if (headers.length >= EVENT_HEADERS_MAX) return { ok: false, reason: `more than ${EVENT_HEADERS_MAX} headers` };
    const [name, rawValue] = header;
    if (name === 'Content-Length') {
      if (!/^\d{1,10}$/.test(rawValue)) return { ok: false, reason: 'event Content-Length is not a byte count' };
      bodyLength = Number(rawValue);
      continue;
    }
    headers.push([name, decodeEventValue(rawValue)]);
  }
  let body: string | null = null;
  if (bodyLength !== null && bodyLength > 0) {
    const start = end === null ? bytes.length : end.blockEnd;
    if (start + bodyLength > bytes.length)
      return { ok: false, reason: 'event body is shorter than its Content-Length' };
    body = decodeBytesLeniently(bytes.subarray(start, start + bodyLength));
  }
  if (headers.length === 0) return { ok: false, reason: 'event has no headers' };
  return { ok: true, event: { headers, body } };
}

/**
 * Parses a `text/event-json` event. JSON.parse keeps the last of duplicate keys; FreeSWITCH's only duplicate
 * (`Hangup-Cause` on CHANNEL_HANGUP_COMPLETE) carries the same value twice, so nothing is lost.
 */
export function parseJsonEvent(input: Uint8Array | string): EventParseResult {
  const text = typeof input === 'string' ? input : decodeBytesLeniently(input);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    return { ok: false, reason: `event is not JSON: ${(error as Error).message}` };
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return { ok: false, reason: 'event JSON is not an object' };
  }
  const record = parsed as Record<string, unknown>;
  const body = typeof record._body === 'string' ? record._body : null;
  const headers: EslHeader[] = [];
  for (const [name, value] of Object.entries(record)) {
    if (name === '_body' || (name === 'Content-Length' && body !== null)) continue;
    if (headers.length >= EVENT_HEADERS_MAX) return { ok: false, reason: `more than ${EVENT_HEADERS_MAX} headers` };
    if (typeof value === 'string') headers.push([name, value]);
    else if (typeof value === 'number' || typeof value === 'boolean') headers.push([name, String(value)]);
    else if (Array.isArray(value) && value.every((item) => typeof item === 'string')) headers.push([name, value]);
    else return { ok: false, reason: `header ${name} is neither a string nor an array of strings` };
  }
  if (headers.length === 0) return { ok: false, reason: 'event has no headers' };
  return { ok: true, event: { headers, body } };
}

// ---------------------------------------------------------------------------------------------------------------
// What a frame means

export type EslMessage =
  | { readonly type: 'auth-request' }
  | {
      readonly type: 'command-reply';
      readonly replyText: string;
      readonly headers: readonly (readonly [string, string])[];
    }
  | { readonly type: 'api-response'; readonly body: string }
  | { readonly type: 'event'; readonly format: 'plain' | 'json'; readonly name: string; readonly event: EslEvent }
  | {
      readonly type: 'disconnect-notice';
      readonly body: string;
      readonly headers: readonly (readonly [string, string])[];
    }
  | { readonly type: 'rude-rejection'; readonly body: string }
  | { readonly type: 'log-data'; readonly body: string; readonly headers: readonly (readonly [string, string])[] }
  | { readonly type: 'unknown'; readonly contentType: string | null; readonly frame: EslFrame }
  | { readonly type: 'malformed'; readonly reason: string; readonly frame: EslFrame };

/** The event name FreeSWITCH routes on: `Event-Name`, or `CUSTOM <subclass>`-style `Event-Subclass` for CUSTOM. */
export function eventName(event: Pick<EslEvent, 'headers'>): string {
  const name = eventHeader(event, 'Event-Name') ?? '';
  return name === 'CUSTOM' ? (eventHeader(event, 'Event-Subclass') ?? name) : name;
}

export function interpretFrame(frame: EslFrame): EslMessage {
  const contentType = frameHeader(frame, 'Content-Type') ?? null;
  switch (contentType) {
    case 'auth/request':
      return { type: 'auth-request' };
    case 'command/reply': {
      // The outbound `connect` reply is a whole serialized event, so its values (Reply-Text: %2BOK%0A) are encoded.
      const isSerializedEvent = frameHeader(frame, 'Event-Name') !== undefined;
      const replyText = frameHeader(frame, 'Reply-Text') ?? '';
      return {
        type: 'command-reply',
        replyText: isSerializedEvent ? decodeEventValue(replyText) : replyText,
        headers: isSerializedEvent
          ? frame.headers.map(([name, value]) => [name, decodeEventValue(value)] as const)
          : frame.headers,
      };
    }
    case 'api/response':
      return { type: 'api-response', body: frameBodyText(frame) };
    case 'text/event-plain':
    case 'text/event-json': {
      const format = contentType === 'text/event-plain' ? 'plain' : 'json';
      const parsed = format === 'plain' ? parsePlainEvent(frame.body) : parseJsonEvent(frame.body);
      if (!parsed.ok) return { type: 'malformed', reason: parsed.reason, frame };
      return { type: 'event', format, name: eventName(parsed.event), event: parsed.event };
    }
    case 'text/disconnect-notice':
      return { type: 'disconnect-notice', body: frameBodyText(frame), headers: frame.headers };
    case 'text/rude-rejection':
      return { type: 'rude-rejection', body: frameBodyText(frame) };
    case 'log/data':
      return { type: 'log-data', body: frameBodyText(frame), headers: frame.headers };
    default:
      return { type: 'unknown', contentType, frame };
  }
}
