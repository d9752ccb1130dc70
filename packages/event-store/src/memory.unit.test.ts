import { eventStoreContract } from './contract.ts';
import { MemoryEventStore } from './memory.ts';

eventStoreContract('memory', {
  fresh: async () => new MemoryEventStore(),
  reopen: async (store) => store,
});
