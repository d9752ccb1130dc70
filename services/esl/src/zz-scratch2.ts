import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import { loadConfig } from '@khata/config';
import { openKhata } from '@khata/runtime';
import { connectStandIn, openTestAccount, settleProjections } from './testing.ts';

const worker = process.argv[3] === 'worker';
const config = loadConfig(
  { KHATA_DATA_DIR: process.argv[4] ?? 'memory://', NODE_ENV: 'test', CALL_SECONDS_MAX: '60' },
  { cwd: resolve(import.meta.dirname, '../../..') },
);
const khata = await openKhata(config, { roles: { api: true, worker }, migrate: true });
await khata.start();
const account = await openTestAccount(khata, { topUp: '590.00' });
if (worker) await settleProjections(khata);
const c = await connectStandIn(khata);
const n = Number(process.argv[2] ?? 200);
const t0 = performance.now();
for (let i = 0; i < n; i++)
  c.standIn.park({
    callerNumber: '101',
    destination: '+14155550100',
    accountCode: account.accountId,
    uuid: randomUUID(),
  });
let last = 0;
for (let i = 0; i < 2000; i++) {
  await new Promise((r) => setTimeout(r, 20));
  const done = c.standIn.apiCommands.filter((x) => /^uuid_(transfer|kill)/.test(x)).length;
  if (done !== last && (done % 20 === 0 || done >= n)) {
    console.log(Math.round(performance.now() - t0), done);
  }
  last = done;
  if (done >= n) break;
}
await c.node.settled();
console.log('settled', Math.round(performance.now() - t0));
console.log(await khata.metrics.getSingleMetricAsString('khata_esl_authorizations_total'));
await c.close();
await khata.close();
