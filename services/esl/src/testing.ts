/**
 * @khata/esl-service/testing — a whole Khata on the embedded in-memory database, the FreeSWITCH stand-in and a
 * connector between them, plus accounts set up the way an operator would (open, top up, subscribe, numbers).
 * For this package's tests, the API's FreeSWITCH tests and the benchmark.
 */
import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import { loadConfig } from '@khata/config';
import { FreeswitchStandIn } from '@khata/esl/testing';
import type { CommandOutcome } from '@khata/ledger';
import { type Khata, openKhata } from '@khata/runtime';
import { EslConnector, type EslConnectorOptions, type NodeConnector } from './connector.ts';

export const REPO_ROOT = resolve(import.meta.dirname, '../../..');
const WAIT_MILLISECONDS = 10_000;
const POLL_MILLISECONDS = 5;
const META = { actor: 'user:test-operator' };

/** Waits (bounded) until the condition holds: for asynchronous effects, never for measuring. */
export async function eventually(condition: () => boolean | Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + WAIT_MILLISECONDS;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, POLL_MILLISECONDS));
  }
}

/** A Khata (both roles unless told otherwise) on `memory://` (PGlite in memory) unless `env` says otherwise, migrated and started. */
export async function openTestKhata(
  env: Record<string, string> = {},
  roles: { readonly api: boolean; readonly worker: boolean } = { api: true, worker: true },
  options: { readonly redisKeyPrefix?: string } = {},
): Promise<Khata> {
  const config = loadConfig({ KHATA_DATA_DIR: 'memory://', NODE_ENV: 'test', ...env }, { cwd: REPO_ROOT });
  const khata = await openKhata(config, { roles, migrate: true, ...options });
  await khata.start();
  return khata;
}

export interface TestAccount {
  readonly accountId: string;
  readonly tollFreeNumbers: readonly string[];
  readonly extensions: readonly string[];
}

export interface AccountSetUp {
  /** GST-inclusive top-up before subscribing; none when absent. */
  readonly topUp?: string;
  /** `starter` when absent; null for no subscription. */
  readonly planId?: string | null;
  readonly tollFreeNumbers?: readonly string[];
  readonly extensions?: readonly string[];
  readonly legalName?: string;
}

export async function runCommand(
  khata: Khata,
  accountId: string,
  type: string,
  fields: object,
): Promise<CommandOutcome> {
  const outcome = await khata.ledger.execute({ type, commandId: randomUUID(), accountId, ...fields }, META);
  if (outcome.status !== 'accepted') throw new Error(`${type}: ${outcome.rejection.code} ${outcome.rejection.message}`);
  return outcome;
}

/** Opens a prepaid account in Karnataka and sets it up as asked. */
export async function openTestAccount(khata: Khata, setUp: AccountSetUp = {}): Promise<TestAccount> {
  const accountId = randomUUID();
  await runCommand(khata, accountId, 'OpenAccount', {
    legalName: setUp.legalName ?? 'Acme Telecom Pvt Ltd',
    contact: { name: 'Asha', email: 'asha@acme.example', phone: '+91 98450 00000' },
    billingAddress: { line1: '1 MG Road', city: 'Bengaluru', stateCode: '29', postalCode: '560001', country: 'IN' },
    billingMode: 'prepaid',
  });
  if (setUp.topUp !== undefined) await runCommand(khata, accountId, 'TopUpWallet', { amount: setUp.topUp });
  const planId = setUp.planId === undefined ? 'starter' : setUp.planId;
  if (planId !== null) await runCommand(khata, accountId, 'Subscribe', { planId, cycle: 'monthly' });
  for (const number of setUp.tollFreeNumbers ?? []) {
    await runCommand(khata, accountId, 'AssignNumber', { kind: 'toll-free', number });
  }
  for (const number of setUp.extensions ?? []) {
    await runCommand(khata, accountId, 'AssignNumber', { kind: 'extension', number });
  }
  return { accountId, tollFreeNumbers: setUp.tollFreeNumbers ?? [], extensions: setUp.extensions ?? [] };
}

/** Waits until the read models and the hot projection have every event appended so far. */
export async function settleProjections(khata: Khata): Promise<void> {
  const head = await khata.eventStore.headPosition();
  if (head === null) return;
  await khata.projector.waitFor(head, { timeoutMs: 20_000 });
  const hot = khata.hot.projector;
  await eventually(() => hot === null || (hot.position !== null && hot.position >= head), 'the hot projection');
}

export interface ConnectedSwitch {
  readonly standIn: FreeswitchStandIn;
  readonly connector: EslConnector;
  readonly node: NodeConnector;
  close(): Promise<void>;
}

/** A stand-in FreeSWITCH and a connector to it, connected and subscribed (fast reconnects for tests). */
export async function connectStandIn(
  khata: Khata,
  options: Partial<Omit<EslConnectorOptions, 'khata' | 'nodes'>> & { readonly standIn?: FreeswitchStandIn } = {},
): Promise<ConnectedSwitch> {
  const standIn = options.standIn ?? (await FreeswitchStandIn.start());
  const connector = new EslConnector({
    ...options,
    khata,
    nodes: [{ host: standIn.host, port: standIn.port, password: 'ClueCon' }],
    client: { reconnectDelayMinMilliseconds: 10, reconnectDelayMaxMilliseconds: 50, ...options.client },
  });
  await connector.start();
  const node = connector.nodes[0] as NodeConnector;
  await node.client.whenConnected();
  await standIn.waitForSubscribers(2);
  // The first reconcile (show channels) runs right after connecting; let it finish before the test acts.
  await standIn.waitForCommand((command) => command.line === 'api show channels as json');
  await node.settled();
  return {
    standIn,
    connector,
    node,
    async close() {
      await connector.close();
      if (options.standIn === undefined) await standIn.close();
    },
  };
}
