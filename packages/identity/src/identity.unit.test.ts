import { MemoryEventStore } from '@khata/event-store';
import { identitySuite } from './identity-suite.ts';

identitySuite('the in-memory event store', {
  fresh: async () => {
    const store = new MemoryEventStore();
    return { store, close: () => store.close() };
  },
});
