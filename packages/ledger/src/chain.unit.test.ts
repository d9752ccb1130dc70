import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { chainHash, GENESIS_HASH } from './chain.ts';

/**
 * The chain's format is part of every stored stream: a stream written by one version must verify under the next.
 * The expected values are computed here from the literal canonical form (RFC 8785: keys sorted, no spaces), not
 * through `chainHash`'s own code path.
 */
describe('chainHash', () => {
  const event = {
    streamId: 'account-7d2f0c1e-0000-4000-8000-000000000001',
    version: 3n,
    eventId: '0f5c9a3e-1b2d-5e4f-8a7b-6c5d4e3f2a1b',
    type: 'CdrRated',
    schemaVersion: 2,
    data: { cost: '1.1800', callId: 'c-1', billedSeconds: 60, answeredAt: null, nested: { b: 1, a: [2, 'x'] } },
    metadata: {
      commandId: 'f1e2d3c4-b5a6-5978-8a9b-0c1d2e3f4a5b',
      correlationId: 'req-1',
      causationId: 'f1e2d3c4-b5a6-5978-8a9b-0c1d2e3f4a5b',
      actor: 'system:test',
      recordedAt: '2026-11-02T04:30:00.000Z',
    },
  };
  const canonical =
    '{"data":{"answeredAt":null,"billedSeconds":60,"callId":"c-1","cost":"1.1800","nested":{"a":[2,"x"],"b":1}},' +
    '"eventId":"0f5c9a3e-1b2d-5e4f-8a7b-6c5d4e3f2a1b",' +
    '"metadata":{"actor":"system:test","causationId":"f1e2d3c4-b5a6-5978-8a9b-0c1d2e3f4a5b",' +
    '"commandId":"f1e2d3c4-b5a6-5978-8a9b-0c1d2e3f4a5b","correlationId":"req-1","recordedAt":"2026-11-02T04:30:00.000Z"},' +
    '"schemaVersion":2,"streamId":"account-7d2f0c1e-0000-4000-8000-000000000001","type":"CdrRated","version":"3"}';

  it('is SHA-256 of the previous hash followed by the event’s canonical JSON', () => {
    const expected = createHash('sha256').update(GENESIS_HASH).update(canonical).digest('hex');
    expect(chainHash(GENESIS_HASH, event)).toBe(expected);
    const previous = 'ab'.repeat(32);
    expect(chainHash(previous, event)).toBe(
      createHash('sha256')
        .update(previous + canonical)
        .digest('hex'),
    );
  });

  it('changes with any field the chain protects', () => {
    const base = chainHash(GENESIS_HASH, event);
    expect(chainHash(GENESIS_HASH, { ...event, version: 4n })).not.toBe(base);
    expect(chainHash(GENESIS_HASH, { ...event, data: { ...event.data, cost: '1.1801' } })).not.toBe(base);
    expect(chainHash(GENESIS_HASH, { ...event, metadata: { ...event.metadata, actor: 'admin:x' } })).not.toBe(base);
    expect(chainHash('1'.repeat(64), event)).not.toBe(base);
  });
});
