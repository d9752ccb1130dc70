/**
 * A JSON parser that keeps duplicate keys. FreeSWITCH before FS-7612 (mid-2015) wrote one `"callflow"` key per
 * caller profile into the same object; JSON.parse keeps only the last of them, which is the OLDEST profile (the
 * park), and silently loses the rest. This parser returns ordinary objects (last value wins, as JSON.parse) and
 * records every value of a repeated key, in document order, under the DUPLICATE_VALUES symbol.
 *
 * It is only used when a document really repeats a key (the fast path is JSON.parse), and it is bounded: the input
 * size by the caller's CDR_BODY_BYTES_MAX, the nesting by JSON_NESTING_DEPTH_MAX. Errors are values.
 */

export const JSON_NESTING_DEPTH_MAX = 64;

/** Symbol under which an object lists all values of its repeated keys: Map<key, values in document order>. */
export const DUPLICATE_VALUES: unique symbol = Symbol('duplicate JSON keys');

export type JsonValue = null | boolean | number | string | JsonValue[] | JsonObject;
export interface JsonObject {
  [key: string]: JsonValue;
  [DUPLICATE_VALUES]?: Map<string, JsonValue[]>;
}

export type TolerantParseResult =
  | { readonly ok: true; readonly value: JsonValue }
  | { readonly ok: false; readonly reason: string };

class JsonSyntaxError extends Error {}

/** Every value a key had in the document (one element when it was not repeated, none when absent). */
export function allValues(object: JsonObject, key: string): JsonValue[] {
  const repeated = object[DUPLICATE_VALUES]?.get(key);
  if (repeated !== undefined) return repeated;
  return Object.hasOwn(object, key) ? [object[key] as JsonValue] : [];
}

export function parseJsonKeepingDuplicates(text: string): TolerantParseResult {
  const parser = new Parser(text);
  try {
    const value = parser.value(0);
    parser.skipWhitespace();
    if (!parser.atEnd()) parser.fail('unexpected text after the JSON value');
    return { ok: true, value };
  } catch (error) {
    if (error instanceof JsonSyntaxError) return { ok: false, reason: error.message };
    throw error;
  }
}

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

class Parser {
  readonly #text: string;
  #index = 0;

  constructor(text: string) {
    this.#text = text;
  }

  atEnd(): boolean {
    return this.#index >= this.#text.length;
  }

  fail(message: string): never {
    throw new JsonSyntaxError(`${message} at offset ${this.#index}`);
  }

  skipWhitespace(): void {
    while (this.#index < this.#text.length) {
      const character = this.#text.charCodeAt(this.#index);
      if (character !== 0x20 && character !== 0x0a && character !== 0x0d && character !== 0x09) return;
      this.#index++;
    }
  }

  value(depth: number): JsonValue {
    if (depth > JSON_NESTING_DEPTH_MAX) this.fail(`nesting deeper than ${JSON_NESTING_DEPTH_MAX}`);
    this.skipWhitespace();
    const character = this.#text[this.#index];
    if (character === '{') return this.#object(depth);
    if (character === '[') return this.#array(depth);
    if (character === '"') return this.#string();
    if (this.#text.startsWith('true', this.#index)) return this.#literal('true', true);
    if (this.#text.startsWith('false', this.#index)) return this.#literal('false', false);
    if (this.#text.startsWith('null', this.#index)) return this.#literal('null', null);
    NUMBER.lastIndex = this.#index;
    const match = NUMBER.exec(this.#text);
    if (match === null) this.fail('expected a JSON value');
    this.#index += match[0].length;
    return Number(match[0]);
  }

  #literal<T>(word: string, value: T): T {
    this.#index += word.length;
    return value;
  }

  #object(depth: number): JsonObject {
    this.#index++;
    const object: JsonObject = Object.create(null) as JsonObject;
    this.skipWhitespace();
    if (this.#text[this.#index] === '}') {
      this.#index++;
      return object;
    }
    // Each pass consumes one member, so the loop ends with the input.
    for (;;) {
      this.skipWhitespace();
      if (this.#text[this.#index] !== '"') this.fail('expected a member name');
      const key = this.#string();
      this.skipWhitespace();
      if (this.#text[this.#index] !== ':') this.fail('expected ":"');
      this.#index++;
      const member = this.value(depth + 1);
      if (Object.hasOwn(object, key)) {
        object[DUPLICATE_VALUES] ??= new Map();
        const values = object[DUPLICATE_VALUES].get(key) ?? [object[key] as JsonValue];
        values.push(member);
        object[DUPLICATE_VALUES].set(key, values);
      }
      object[key] = member;
      this.skipWhitespace();
      const next = this.#text[this.#index++];
      if (next === '}') return object;
      if (next !== ',') this.fail('expected "," or "}"');
    }
  }

  #array(depth: number): JsonValue[] {
    this.#index++;
    const array: JsonValue[] = [];
    this.skipWhitespace();
    if (this.#text[this.#index] === ']') {
      this.#index++;
      return array;
    }
    for (;;) {
      array.push(this.value(depth + 1));
      this.skipWhitespace();
      const next = this.#text[this.#index++];
      if (next === ']') return array;
      if (next !== ',') this.fail('expected "," or "]"');
    }
  }

  #string(): string {
    const start = this.#index;
    this.#index++;
    // Find the closing quote, skipping escapes; JSON.parse then decodes the escapes exactly.
    while (this.#index < this.#text.length) {
      const character = this.#text[this.#index];
      if (character === '\\') this.#index += 2;
      else if (character === '"') {
        this.#index++;
        try {
          return JSON.parse(this.#text.slice(start, this.#index)) as string;
        } catch {
          this.fail('invalid string');
        }
      } else this.#index++;
    }
    return this.fail('unterminated string');
  }
}
