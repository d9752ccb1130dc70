import { parseArgs } from 'node:util';
import { openKhata, projectorWork, readModels } from '@khata/runtime';
import { type CliCommand, EXIT_OK, UsageError } from '../command.ts';

export const projectionsCommand: CliCommand = {
  name: 'projections',
  summary: 'show read-model positions and lag, or rebuild one or all',
  usage: `usage: khata projections status [--json]
       khata projections rebuild NAME | --all

status   one line per read model shard: generation, position, events applied, lag (events and seconds),
         owner (the worker holding its lease) and the error that stopped it, if any.
rebuild  builds a new generation of NAME from the start of the log beside the live one, then switches
         queries to it (the old one keeps serving until then). With the embedded database, stop Khata
         first: only one process may open it. --all rebuilds every read model (not the process managers)
         in one pass over the log.
Read models: ${projectorWork.map((p) => p.name).join(', ')}`,
  async run(args, context) {
    const { positionals, values } = parseArgs({
      args: [...args],
      allowPositionals: true,
      options: { json: { type: 'boolean' }, all: { type: 'boolean' } },
    });
    const [action, name] = positionals;
    if (action !== 'status' && action !== 'rebuild') throw new UsageError('expected status or rebuild');
    const all = values.all === true;
    if (action === 'rebuild' && all && name !== undefined)
      throw new UsageError('give a read model name or --all, not both');
    if (action === 'rebuild' && !all && (name === undefined || !projectorWork.some((p) => p.name === name))) {
      throw new UsageError(`rebuild needs a read model name or --all: ${projectorWork.map((p) => p.name).join(', ')}`);
    }
    const khata = await openKhata(context.config(), { roles: { api: false, worker: false }, migrate: true });
    try {
      if (action === 'rebuild') {
        const names = all ? readModels.map((projection) => projection.name) : [name as string];
        let last = 0;
        const events = await khata.projector.rebuildAll(names, {
          onProgress: (applied) => {
            if (applied - last >= 10_000) {
              last = applied;
              context.stderr(`  ${applied} events applied`);
            }
          },
        });
        for (const rebuilt of names) await khata.projector.dropRetiredGenerations(rebuilt);
        if (!all) {
          context.stdout(
            `rebuilt ${name}: ${events} events; queries now read ${await khata.projector.activeSchema(name as string)}`,
          );
          return EXIT_OK;
        }
        context.stdout(`rebuilt ${names.length} read models from ${events} events in one pass; queries now read`);
        for (const rebuilt of names)
          context.stdout(`  ${rebuilt.padEnd(16)} ${await khata.projector.activeSchema(rebuilt)}`);
        return EXIT_OK;
      }
      const status = await khata.projector.status();
      const head = await khata.eventStore.headPosition();
      const rows = [];
      for (const shard of status.filter((s) => s.active)) {
        const projection = projectorWork.find((p) => p.name === shard.projection);
        const lagEvents =
          projection === undefined ? 0 : await khata.projector.lagEvents(projection, shard.shard, shard.position);
        const lagSeconds =
          shard.lastEventAt === null || lagEvents === 0
            ? 0
            : Math.round((Date.now() - Date.parse(shard.lastEventAt)) / 1000);
        rows.push({ ...shard, lagEvents, lagSeconds });
      }
      if (values.json === true) {
        context.stdout(JSON.stringify({ head, shards: rows }, null, 2));
        return EXIT_OK;
      }
      context.stdout(`log head ${head ?? '(empty)'}`);
      context.stdout('read model          gen shard  applied   lag(events) lag(s) owner');
      for (const row of rows) {
        const line = `${row.projection.padEnd(19)} ${String(row.generation).padStart(3)} ${String(row.shard).padStart(5)} ${String(row.eventsApplied).padStart(9)} ${String(row.lagEvents).padStart(12)} ${String(row.lagSeconds).padStart(6)} ${row.owner ?? '-'}`;
        context.stdout(row.error === null ? line : `${line}\n    STOPPED: ${row.error.message}`);
      }
      return EXIT_OK;
    } finally {
      await khata.close();
    }
  },
};
