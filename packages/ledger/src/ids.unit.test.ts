import { v5 as uuidV5 } from 'uuid';
import { describe, expect, it } from 'vitest';
import { eventIdFor, KHATA_NAMESPACE, nameBasedId, uuidNamespace } from './ids.ts';

describe('name-based ids', () => {
  it('are the v5 UUIDs of the name in the namespace, for ASCII and non-ASCII names alike', () => {
    const namespace = '6f1d2a3b-7c4e-5d8f-9a0b-1c2d3e4f5a6b';
    for (const name of ['', 'rate-cdr/acc/call/A', 'command/6f1d2a3b/0', 'fact/account-1/सत्यमेव', 'émoji 🙂 name']) {
      expect(nameBasedId(name, uuidNamespace(namespace))).toBe(uuidV5(name, namespace));
    }
  });

  it('keep every event id the ledger has ever derived (the namespace and the names are fixed forever)', () => {
    expect(eventIdFor('account-1', 'cmd-1', 0, undefined)).toBe(uuidV5('command/cmd-1/0', KHATA_NAMESPACE));
    expect(eventIdFor('account-1', 'cmd-1', 2, 'call-9')).toBe(uuidV5('fact/account-1/call-9', KHATA_NAMESPACE));
    // Pinned: a change of the scheme would fail here, not as duplicate events after a deployment.
    expect(eventIdFor('account-1', 'cmd-1', 0, undefined)).toBe('a92e9e68-5c8c-502b-b178-e96318000766');
  });
});
