import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { ZxcvbnFactory } from '@zxcvbn-ts/core';
import { adjacencyGraphs, dictionary } from '@zxcvbn-ts/language-common';
import { type IdentityRejection, rejectIdentity } from './user/rejections.ts';

/**
 * scrypt costs (RFC 7914): N = 2^logN (CPU and memory), r (block size), p (parallelization). Memory
 * is about 128 · N · r bytes per hash.
 */
export interface ScryptCost {
  readonly logN: number;
  readonly blockSize: number;
  readonly parallelization: number;
}

/**
 * Production costs: N = 2^16, r = 8, p = 1 — 64 MiB per hash. Measured on the project's 2-core machine
 * (Node 24, median of 5): 2^14 → 95 ms, 2^15 → 199 ms, 2^16 → 392 ms, 2^17 → 850 ms. OWASP's
 * recommendation is 2^17 (128 MiB); at 0.85 s per login on two cores that turns the login route into
 * a denial-of-service lever, so Khata takes half of it. The stored string names its costs, so a later
 * raise rehashes each user's password at their next successful login (`needsRehash`).
 */
export const PASSWORD_SCRYPT_COST: ScryptCost = { logN: 16, blockSize: 8, parallelization: 1 };

/** NIST SP 800-63B asks for at least 8; Khata asks for 12. Counted in Unicode code points after NFKC. */
export const PASSWORD_LENGTH_MIN = 12;
/** Long enough for any passphrase; bounds the strength estimator's work (it is superlinear). */
export const PASSWORD_LENGTH_MAX = 128;
/**
 * zxcvbn's score (0–4) a new password must reach: 3 means "safely unguessable" (≥ 10^8 guesses) against
 * its dictionaries of common passwords, keyboard patterns, repeats, sequences, dates — and the user's
 * own name and e-mail address.
 */
export const PASSWORD_SCORE_MIN = 3;

const SALT_BYTES = 16;
const KEY_BYTES = 32;
/** Bounds on costs read back from a stored string, so a corrupted or hostile one cannot exhaust memory. */
const LOG_N_MAX = 20;
const BLOCK_SIZE_MAX = 16;
const PARALLELIZATION_MAX = 16;
const SCRYPT_MEMORY_BYTES_MAX = 1024 * 1024 * 1024;
const STORED = /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/;

interface ParsedHash {
  readonly cost: ScryptCost;
  readonly salt: Buffer;
  readonly hash: Buffer;
}

/**
 * Hashes and verifies passwords with scrypt. Stored form (PHC string format):
 * `$scrypt$ln=16,r=8,p=1$<salt, base64 without padding>$<32-byte hash, base64 without padding>`.
 */
export class PasswordHasher {
  readonly cost: ScryptCost;
  /** A hash of a random password: unknown users are verified against it, so they cost the same time. */
  readonly #dummy: Promise<string>;

  constructor(cost: ScryptCost = PASSWORD_SCRYPT_COST) {
    checkCost(cost);
    this.cost = cost;
    this.#dummy = this.hash(randomBytes(KEY_BYTES).toString('base64'));
    this.#dummy.catch(() => {});
  }

  async hash(password: string): Promise<string> {
    const salt = randomBytes(SALT_BYTES);
    const hash = await derive(normalizePassword(password), salt, this.cost);
    return format({ cost: this.cost, salt, hash });
  }

  /** Constant-time comparison; false for a malformed stored string as well. */
  async verify(password: string, stored: string): Promise<boolean> {
    const parsed = parse(stored);
    if (parsed === null) return false;
    const candidate = await derive(normalizePassword(password), parsed.salt, parsed.cost, parsed.hash.length);
    return candidate.length === parsed.hash.length && timingSafeEqual(candidate, parsed.hash);
  }

  /** The work of `verify` for a user that does not exist. Always false. */
  async verifyNobody(password: string): Promise<false> {
    await this.verify(password, await this.#dummy);
    return false;
  }

  /** Was `stored` made with weaker costs than this hasher's (so it should be hashed again)? */
  needsRehash(stored: string): boolean {
    const parsed = parse(stored);
    if (parsed === null) return false;
    const { cost } = parsed;
    return (
      cost.logN < this.cost.logN ||
      cost.blockSize < this.cost.blockSize ||
      cost.parallelization < this.cost.parallelization ||
      parsed.hash.length < KEY_BYTES
    );
  }
}

/** NIST SP 800-63B 5.1.1.2: passwords are Unicode-normalized (NFKC) before hashing. */
function normalizePassword(password: string): string {
  return password.normalize('NFKC');
}

function derive(password: string, salt: Buffer, cost: ScryptCost, keyBytes = KEY_BYTES): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(
      password,
      salt,
      keyBytes,
      { N: 2 ** cost.logN, r: cost.blockSize, p: cost.parallelization, maxmem: memoryBytes(cost) },
      (error, key) => (error === null ? resolve(key) : reject(error)),
    );
  });
}

/** What Node's scrypt needs (128·N·r for V, plus 128·r·p for B) with room to spare. */
function memoryBytes(cost: ScryptCost): number {
  return 2 * 128 * cost.blockSize * (2 ** cost.logN + cost.parallelization);
}

function checkCost(cost: ScryptCost): void {
  const ok =
    Number.isInteger(cost.logN) &&
    cost.logN >= 1 &&
    cost.logN <= LOG_N_MAX &&
    Number.isInteger(cost.blockSize) &&
    cost.blockSize >= 1 &&
    cost.blockSize <= BLOCK_SIZE_MAX &&
    Number.isInteger(cost.parallelization) &&
    cost.parallelization >= 1 &&
    cost.parallelization <= PARALLELIZATION_MAX &&
    memoryBytes(cost) <= SCRYPT_MEMORY_BYTES_MAX;
  if (!ok) throw new RangeError(`scrypt costs out of bounds: ${JSON.stringify(cost)}`);
}

function format(parsed: ParsedHash): string {
  const { logN, blockSize, parallelization } = parsed.cost;
  const base64 = (bytes: Buffer) => bytes.toString('base64').replace(/=+$/, '');
  return `$scrypt$ln=${logN},r=${blockSize},p=${parallelization}$${base64(parsed.salt)}$${base64(parsed.hash)}`;
}

function parse(stored: string): ParsedHash | null {
  const match = STORED.exec(stored);
  if (match === null) return null;
  const cost = { logN: Number(match[1]), blockSize: Number(match[2]), parallelization: Number(match[3]) };
  try {
    checkCost(cost);
  } catch {
    return null;
  }
  const salt = Buffer.from(match[4] as string, 'base64');
  const hash = Buffer.from(match[5] as string, 'base64');
  if (salt.length < SALT_BYTES || hash.length < KEY_BYTES) return null;
  return { cost, salt, hash };
}

let estimator: ZxcvbnFactory | null = null;
let estimatorUsedAt = 0;
let estimatorSweep: NodeJS.Timeout | null = null;
/**
 * The estimator's ranked dictionaries take about 5.5 MiB of heap; passwords are checked rarely (sign-ups,
 * changes), so an estimator unused this long is dropped and built again when next needed.
 */
export const PASSWORD_ESTIMATOR_IDLE_MS = 60_000;

/** Whether the strength estimator is in memory now. */
export function passwordEstimatorLoaded(): boolean {
  return estimator !== null;
}

/** Built on first use: loading the dictionaries takes ~150 ms. */
function passwordEstimator(): ZxcvbnFactory {
  estimator ??= new ZxcvbnFactory({ dictionary: { ...dictionary }, graphs: adjacencyGraphs });
  estimatorUsedAt = performance.now();
  if (estimatorSweep === null) {
    // Checks twice per idle period whether it went unused; the timer never keeps the process alive.
    estimatorSweep = setInterval(() => {
      if (performance.now() - estimatorUsedAt < PASSWORD_ESTIMATOR_IDLE_MS) return;
      estimator = null;
      if (estimatorSweep !== null) clearInterval(estimatorSweep);
      estimatorSweep = null;
    }, PASSWORD_ESTIMATOR_IDLE_MS / 2);
    estimatorSweep.unref();
  }
  return estimator;
}

/**
 * Refuses passwords that are too short or too long, and guessable ones: common and breached passwords
 * (zxcvbn-ts's list of the most common passwords), keyboard walks, repeats, sequences, and variations
 * of `userInputs` (the user's name and e-mail address).
 */
export function checkPasswordPolicy(password: string, userInputs: readonly string[]): IdentityRejection | null {
  const length = [...normalizePassword(password)].length;
  if (length < PASSWORD_LENGTH_MIN) {
    return rejectIdentity('PASSWORD_TOO_SHORT', `the password must be at least ${PASSWORD_LENGTH_MIN} characters`, {
      lengthMin: PASSWORD_LENGTH_MIN,
    });
  }
  if (length > PASSWORD_LENGTH_MAX) {
    return rejectIdentity('PASSWORD_TOO_LONG', `the password must be at most ${PASSWORD_LENGTH_MAX} characters`, {
      lengthMax: PASSWORD_LENGTH_MAX,
    });
  }
  // Each detail as given, an address's local part, its words, and the words run together
  // ("asha.rao@example.com" → asha.rao, asha, rao, asharao).
  const inputs = userInputs.flatMap((input) => {
    const local = input.toLowerCase().split('@')[0] ?? '';
    const words = local.split(/[^\p{L}\p{N}]+/u);
    return [input.toLowerCase(), local, ...words, words.join('')];
  });
  const result = passwordEstimator().check(
    normalizePassword(password),
    inputs.filter((input) => input.length >= 3),
  );
  if (result.score < PASSWORD_SCORE_MIN) {
    const hint = result.feedback.warning ?? result.feedback.suggestions[0] ?? null;
    return rejectIdentity('WEAK_PASSWORD', 'the password is too easy to guess (common, or close to your details)', {
      hint,
    });
  }
  return null;
}
