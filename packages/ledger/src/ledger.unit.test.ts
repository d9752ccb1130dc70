import { MemoryEventStore } from '@khata/event-store';
import { ledgerSuite } from './ledger-suite.ts';
import { MemoryCommandLog, MemorySnapshotStore } from './stores.ts';

ledgerSuite('memory', {
  fresh: async () => ({
    store: new MemoryEventStore(),
    commandLog: new MemoryCommandLog(),
    snapshots: new MemorySnapshotStore(),
    close: async () => {},
  }),
});
