import { describe, expect, it } from 'vitest';
import type { AccountEventAt } from './accounts.ts';
import { eventsAfter } from './streams.ts';

const at = (version: number): AccountEventAt =>
  ({ accountId: 'a', version: BigInt(version), eventId: `e${version}` }) as unknown as AccountEventAt;
const versions = (events: readonly AccountEventAt[]) => events.map((event) => Number(event.version));

describe('events after a stream version', () => {
  it('skips what was applied and stops on a gap in a read model that reads whole streams', () => {
    expect(versions(eventsAfter('a', [at(3), at(4), at(5)], 3n))).toEqual([4, 5]);
    expect(versions(eventsAfter('a', [at(1), at(2)], 5n))).toEqual([]);
    expect(() => eventsAfter('a', [at(4), at(6)], 3n)).toThrow(/version 6 after 4 \(gap\)/);
  });

  it('skips what was applied and takes gaps in one that reads some event types', () => {
    expect(versions(eventsAfter('a', [at(2), at(7), at(9)], 2n, false))).toEqual([7, 9]);
    expect(versions(eventsAfter('a', [at(7), at(9)], 9n, false))).toEqual([]);
  });
});
