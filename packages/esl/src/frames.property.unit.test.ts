import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EslCommandParser, EslFrameParser, interpretFrame, parseJsonEvent, parsePlainEvent } from './frames.ts';

describe('frame parsing on hostile input', () => {
  it('never throws and never buffers more than its bounds, whatever a peer sends', () => {
    const limits = { headerBlockBytesMax: 256, bodyBytesMax: 512 };
    const text = fc.string({ maxLength: 200 }).map((value) => Buffer.from(value));
    const framed = fc
      .record({
        length: fc.integer({ min: 0, max: 600 }),
        type: fc.constantFrom('text/event-plain', 'text/event-json', 'api/response', 'x'),
      })
      .map(({ length, type }) => Buffer.from(`Content-Length: ${length}\nContent-Type: ${type}\n\n`));
    fc.assert(
      fc.property(fc.array(fc.oneof(text, framed, fc.uint8Array({ maxLength: 300 })), { maxLength: 12 }), (chunks) => {
        const frames = new EslFrameParser(limits);
        const commands = new EslCommandParser(limits);
        for (const chunk of chunks) {
          for (const frame of frames.push(chunk).frames) expect(interpretFrame(frame).type).toBeTypeOf('string');
          commands.push(chunk);
          expect(frames.bufferedBytes).toBeLessThanOrEqual(limits.headerBlockBytesMax + limits.bodyBytesMax + 2);
          expect(parsePlainEvent(chunk).ok).toBeTypeOf('boolean');
          expect(parseJsonEvent(chunk).ok).toBeTypeOf('boolean');
        }
      }),
      { numRuns: 300 },
    );
  });
});
