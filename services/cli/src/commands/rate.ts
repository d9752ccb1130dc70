import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import {
  DURATION_SECONDS_MAX,
  Money,
  MoneyFormatError,
  matchDestination,
  maxDuration,
  maxDurationWithAllowance,
  normalizeDialled,
  PULSE_SECONDS_MAX,
  parseTariff,
  rateCall,
  ratedCallToJson,
  rateWithAllowance,
  type Tariff,
  TariffError,
} from '@khata/domain';
import { type CliCommand, EXIT_OK, EXIT_USAGE, UsageError } from '../command.ts';

/** SPEC §8: an authorization is capped by configuration, 2 h by default. */
const CAP_SECONDS_DEFAULT = 7_200;
/** A tariff file larger than this is not something an operator wrote by hand; refuse before parsing. */
const TARIFF_FILE_BYTES_MAX = 16 * 1024 * 1024;
/** An ISO 8601 instant with an explicit offset: without one, the machine's own zone would silently apply. */
const INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})$/;

export const rateCommand: CliCommand = {
  name: 'rate',
  summary: 'price a call (or find the longest affordable call) with a tariff file',
  usage: `usage: khata rate --tariff FILE --destination NUMBER --start ISO8601 --duration SECONDS [--unanswered]
       khata rate --tariff FILE --destination NUMBER --start ISO8601 --max-duration --credit AMOUNT [--cap SECONDS]
  either form also takes --free-seconds N [--pulse SECONDS] to use a plan's free seconds first

Rates by the tariff document (schemas/tariff.schema.json) as SPEC §7 describes and prints one JSON object:
  {"cost": "41.90", "currency": "INR", "billedSeconds": 185, "destination": "UK mobile", "slices": [...]}
With --max-duration, the longest whole-second call whose cost is within --credit (rupees, e.g. 25.50),
capped by --cap (default ${CAP_SECONDS_DEFAULT}) and by the plan's maxCost:
  {"maxDurationSeconds": 300, "cost": "1.00", ...}
NUMBER may carry +, 00, spaces and dashes. --start needs an offset (Z or +05:30).
Exit 2, with the field named on stderr, for a bad argument, an invalid tariff, or a destination the
tariff does not rate (DESTINATION_NOT_RATED).`,
  async run(args, context) {
    const options = parseOptions(args);
    const tariff = await loadTariff(options.tariffPath, context.stderr);
    if (tariff === null) return EXIT_USAGE;
    const notRated = (): number => {
      context.stderr(
        `khata rate: DESTINATION_NOT_RATED: tariff ${tariff.id} has no destination for ${JSON.stringify(options.dialled)}`,
      );
      return EXIT_USAGE;
    };
    const allowance =
      options.freeSecondsLeft === null
        ? null
        : { freeSecondsLeft: options.freeSecondsLeft, pulseSeconds: options.pulseSeconds };

    if (options.mode.kind === 'max-duration') {
      const { credit, capSeconds } = options.mode;
      const seconds =
        allowance === null
          ? maxDuration(tariff, { dialled: options.dialled, start: options.start, credit, capSeconds })
          : maxDurationWithAllowance(tariff, {
              dialled: options.dialled,
              start: options.start,
              credit,
              capSeconds,
              ...allowance,
            });
      if (seconds === null) return notRated();
      const call = { dialled: options.dialled, start: options.start, durationSeconds: seconds, answered: true };
      const rated = allowance === null ? rateCall(tariff, call) : rateWithAllowance(tariff, call, allowance);
      if (rated === null) return notRated();
      context.stdout(
        JSON.stringify(
          {
            maxDurationSeconds: seconds,
            cost: rated.cost.toString(),
            currency: 'INR',
            credit: credit.toString(),
            capSeconds,
            destination: destinationName(tariff, options.dialled),
            ...(allowance === null
              ? {}
              : { freeSecondsLeft: allowance.freeSecondsLeft, pulseSeconds: allowance.pulseSeconds }),
          },
          null,
          2,
        ),
      );
      return EXIT_OK;
    }

    const call = {
      dialled: options.dialled,
      start: options.start,
      durationSeconds: options.mode.durationSeconds,
      answered: options.mode.answered,
    };
    if (allowance === null) {
      const rated = rateCall(tariff, call);
      if (rated === null) return notRated();
      context.stdout(JSON.stringify(ratedCallToJson(rated), null, 2));
      return EXIT_OK;
    }
    const rated = rateWithAllowance(tariff, call, allowance);
    if (rated === null) return notRated();
    const overage = rated.overage === null ? null : ratedCallToJson(rated.overage);
    context.stdout(
      JSON.stringify(
        {
          cost: rated.cost.toString(),
          currency: 'INR',
          billedSeconds: rated.billedSeconds,
          destination: destinationName(tariff, options.dialled),
          freeSecondsUsed: rated.freeSecondsUsed,
          overageSeconds: rated.overageSeconds,
          // The slices are the overage's: the free part is not rated by the tariff.
          slices: overage?.slices ?? [],
          overage,
        },
        null,
        2,
      ),
    );
    return EXIT_OK;
  },
};

type Mode =
  | { readonly kind: 'rate'; readonly durationSeconds: number; readonly answered: boolean }
  | { readonly kind: 'max-duration'; readonly credit: Money; readonly capSeconds: number };

interface RateOptions {
  readonly tariffPath: string;
  readonly dialled: string;
  readonly start: Date;
  readonly mode: Mode;
  readonly freeSecondsLeft: number | null;
  readonly pulseSeconds: number;
}

function parseOptions(args: readonly string[]): RateOptions {
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({
      args: [...args],
      strict: true,
      allowPositionals: false,
      options: {
        tariff: { type: 'string' },
        destination: { type: 'string' },
        start: { type: 'string' },
        duration: { type: 'string' },
        unanswered: { type: 'boolean' },
        'max-duration': { type: 'boolean' },
        credit: { type: 'string' },
        cap: { type: 'string' },
        'free-seconds': { type: 'string' },
        pulse: { type: 'string' },
      },
    }).values;
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  const text = (name: string): string | undefined => {
    const value = values[name];
    return typeof value === 'string' ? value : undefined;
  };
  const required = (name: string): string => {
    const value = text(name);
    if (value === undefined || value.trim() === '') throw new UsageError(`--${name} is required`);
    return value;
  };

  const tariffPath = required('tariff');
  const dialled = required('destination');
  if (normalizeDialled(dialled) === null) {
    throw new UsageError(
      `--destination must be a phone number (digits, optionally +, 00, spaces, dashes): ${JSON.stringify(dialled)}`,
    );
  }
  const startText = required('start');
  const start = new Date(startText);
  if (!INSTANT.test(startText) || Number.isNaN(start.getTime())) {
    throw new UsageError(
      `--start must be an ISO 8601 instant with an offset, e.g. 2026-04-01T09:30:00+05:30: ${JSON.stringify(startText)}`,
    );
  }

  const freeText = text('free-seconds');
  const freeSecondsLeft =
    freeText === undefined ? null : wholeNumber('free-seconds', freeText, 0, Number.MAX_SAFE_INTEGER);
  const pulseText = text('pulse');
  if (pulseText !== undefined && freeText === undefined) throw new UsageError('--pulse needs --free-seconds');
  const pulseSeconds = pulseText === undefined ? 60 : wholeNumber('pulse', pulseText, 1, PULSE_SECONDS_MAX);

  if (values['max-duration'] === true) {
    for (const name of ['duration', 'unanswered']) {
      if (values[name] !== undefined) throw new UsageError(`--${name} does not go with --max-duration`);
    }
    const creditText = required('credit');
    let credit: Money;
    try {
      credit = Money.parse(creditText);
    } catch (error) {
      if (error instanceof MoneyFormatError) {
        throw new UsageError(
          `--credit must be rupees with at most 4 decimals (e.g. 25.50): ${JSON.stringify(creditText)}`,
        );
      }
      throw error;
    }
    const capText = text('cap');
    const capSeconds =
      capText === undefined ? CAP_SECONDS_DEFAULT : wholeNumber('cap', capText, 0, DURATION_SECONDS_MAX);
    return {
      tariffPath,
      dialled,
      start,
      mode: { kind: 'max-duration', credit, capSeconds },
      freeSecondsLeft,
      pulseSeconds,
    };
  }
  for (const name of ['credit', 'cap']) {
    if (values[name] !== undefined) throw new UsageError(`--${name} needs --max-duration`);
  }
  const durationSeconds = wholeNumber('duration', required('duration'), 0, DURATION_SECONDS_MAX);
  const answered = values.unanswered !== true;
  return {
    tariffPath,
    dialled,
    start,
    mode: { kind: 'rate', durationSeconds, answered },
    freeSecondsLeft,
    pulseSeconds,
  };
}

function wholeNumber(name: string, text: string, minimum: number, maximum: number): number {
  const value = /^\d{1,16}$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < minimum || value > maximum) {
    throw new UsageError(`--${name} must be a whole number from ${minimum} to ${maximum}: ${JSON.stringify(text)}`);
  }
  return value;
}

/** Reads and parses the tariff; on failure prints why (file, JSON or the field at fault) and returns null. */
async function loadTariff(path: string, stderr: (text: string) => void): Promise<Tariff | null> {
  const fullPath = resolve(path);
  let content: string;
  try {
    const bytes = await readFile(fullPath);
    if (bytes.byteLength > TARIFF_FILE_BYTES_MAX) throw new Error(`larger than ${TARIFF_FILE_BYTES_MAX} bytes`);
    content = bytes.toString('utf8');
  } catch (error) {
    throw new UsageError(
      `--tariff: cannot read ${fullPath}: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  let document: unknown;
  try {
    document = JSON.parse(content);
  } catch (error) {
    stderr(`khata rate: --tariff ${path} is not JSON: ${error instanceof Error ? error.message : String(error)}`);
    return null;
  }
  try {
    return parseTariff(document);
  } catch (error) {
    if (!(error instanceof TariffError)) throw error;
    const lines = error.issues.map((issue) => `  ${issue.path === '' ? '/' : issue.path}: ${issue.message}`);
    stderr(`khata rate: invalid tariff ${path}:\n${lines.join('\n')}`);
    return null;
  }
}

function destinationName(tariff: Tariff, dialled: string): string | null {
  return matchDestination(tariff, dialled)?.destination.name ?? null;
}
