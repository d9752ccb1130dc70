/**
 * Reading stored events: every event is brought to its type's current schema version before `evolve`
 * sees it, one version step at a time. A version with no step (from the future, or an unknown type) is
 * a bug or a corrupted stream and fails loudly.
 */
import { type AccountEvent, type AccountEventType, type CdrRatedV1Data, CURRENT_EVENT_VERSION } from '@khata/schemas';

export interface StoredEvent {
  readonly type: string;
  readonly schemaVersion: number;
  readonly data: unknown;
}

export class UnknownEventVersion extends Error {
  override readonly name = 'UnknownEventVersion';
}

type Step = (data: unknown) => unknown;

/** `steps[type][v]` turns version v of `type` into version v + 1. */
const steps: { readonly [type: string]: { readonly [version: number]: Step } } = {
  CdrRated: {
    // v1 kept FreeSWITCH's whole-second `billsec`; v2 keeps the billable milliseconds. The best a v1
    // event can say is its whole seconds.
    1: (data) => {
      const { billSeconds, ...rest } = data as CdrRatedV1Data;
      return { ...rest, billableMilliseconds: billSeconds * 1_000 };
    },
  },
};

export function isAccountEventType(type: string): type is AccountEventType {
  return Object.hasOwn(CURRENT_EVENT_VERSION, type);
}

export function upcastAccountEvent(event: StoredEvent): AccountEvent {
  if (!isAccountEventType(event.type)) throw new UnknownEventVersion(`unknown account event type ${event.type}`);
  const current = CURRENT_EVENT_VERSION[event.type];
  let version = event.schemaVersion;
  let data = event.data;
  if (version > current) {
    throw new UnknownEventVersion(`${event.type} v${version} is newer than this code (v${current}): upgrade Khata`);
  }
  while (version < current) {
    const step = steps[event.type]?.[version];
    if (step === undefined) throw new UnknownEventVersion(`no upcaster for ${event.type} v${version}`);
    data = step(data);
    version += 1;
  }
  return { type: event.type, data } as AccountEvent;
}
