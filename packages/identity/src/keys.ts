import { randomBytes } from 'node:crypto';
import { link, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type CryptoKey, calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type JWK } from 'jose';

/**
 * Token signing keys: Ed25519 (JWS `EdDSA`) pairs, each named by its RFC 7638 thumbprint (`kid`).
 *
 * Where they live — decided: a key directory (`JWT_KEYS_DIR`, default `.khata/keys`). On first start
 * the directory is created (0700) with one key (0600), so embedded mode needs no setup; in production
 * the directory is a volume every replica mounts (or a Kubernetes secret with the keys in it). Keys are
 * not taken from environment variables: rotation needs a place to write new keys that other processes
 * see, and a directory is that place.
 *
 * Rotation: the newest key signs; older keys keep verifying until `retireAfterSeconds` after a newer key
 * took over (longer than any token they signed lives), then they are dropped and their files removed.
 * Each process reloads the directory every `KEY_RELOAD_INTERVAL_SECONDS`, and at once (rate-limited)
 * when a token names a key it does not know, so a key written by another replica is honoured there.
 */
export const SIGNING_ALGORITHM = 'EdDSA';
export type KeyStatus = 'signing' | 'verifying' | 'retired';
export const KEY_RELOAD_INTERVAL_SECONDS = 60;
/** Unknown-kid reloads are at most this frequent, so forged kids cannot turn into a disk-read flood. */
const RELOAD_ON_MISS_SECONDS_MIN = 5;
/** Key files read from the directory, at most (a handful exist at any time). */
const KEY_FILES_MAX = 64;
const KEY_FILE = /^ed25519-([A-Za-z0-9_-]{43})\.json$/;
const SECOND_MS = 1_000;

interface KeyEntry {
  readonly kid: string;
  readonly createdAt: Date;
  readonly privateKey: CryptoKey;
  readonly publicKey: CryptoKey;
  readonly publicJwk: JWK;
}

interface KeyFile {
  readonly kid: string;
  readonly alg: typeof SIGNING_ALGORITHM;
  readonly createdAt: string;
  readonly privateJwk: JWK;
}

export interface SigningKeysOptions {
  /** The key directory; null keeps the keys in memory only (tests, one-off tools). */
  readonly directory: string | null;
  readonly clock: () => Date;
  /** How long a key keeps verifying after a newer one took over: longer than any token's lifetime. */
  readonly retireAfterSeconds: number;
  /** Replace the signing key once it is this old; null: only `rotate()` does. */
  readonly rotateAfterSeconds: number | null;
}

export class SigningKeys {
  readonly #options: SigningKeysOptions;
  #keys: KeyEntry[] = [];
  #loadedAtMs = Number.NEGATIVE_INFINITY;
  #rotationBlockedUntilMs = Number.NEGATIVE_INFINITY;
  /** The last automatic rotation that could not be written (a read-only directory): for health checks. */
  rotationError: Error | null = null;

  private constructor(options: SigningKeysOptions) {
    this.#options = options;
  }

  /** Loads the key directory (creating it and a first key when it has none), or makes an in-memory key. */
  static async open(options: SigningKeysOptions): Promise<SigningKeys> {
    const keys = new SigningKeys(options);
    if (options.directory !== null) await mkdir(options.directory, { recursive: true, mode: 0o700 });
    await keys.#reload();
    if (keys.#keys.length === 0) await keys.rotate();
    return keys;
  }

  /** The key new tokens are signed with (rotating first when it is due). */
  async signingKey(): Promise<{ readonly kid: string; readonly privateKey: CryptoKey }> {
    const nowMs = this.#options.clock().getTime();
    if (nowMs - this.#loadedAtMs >= KEY_RELOAD_INTERVAL_SECONDS * SECOND_MS) await this.#reload();
    await this.#rotateIfDue(nowMs);
    const newest = this.#keys.at(-1);
    if (newest === undefined) throw new Error('no signing key: the key directory was emptied');
    return { kid: newest.kid, privateKey: newest.privateKey };
  }

  /** The public key for `kid`, if it still verifies; null for unknown and retired keys. */
  async verificationKey(kid: string): Promise<CryptoKey | null> {
    const nowMs = this.#options.clock().getTime();
    let entry = this.#find(kid, nowMs);
    const reloadDue = nowMs - this.#loadedAtMs >= KEY_RELOAD_INTERVAL_SECONDS * SECOND_MS;
    const missReloadAllowed = nowMs - this.#loadedAtMs >= RELOAD_ON_MISS_SECONDS_MIN * SECOND_MS;
    if (reloadDue || (entry === null && missReloadAllowed && this.#options.directory !== null)) {
      await this.#reload();
      entry = this.#find(kid, nowMs);
    }
    return entry?.publicKey ?? null;
  }

  /** Makes a new key the signing key; the previous ones verify until they retire. Returns its kid. */
  async rotate(): Promise<string> {
    const { privateKey, publicKey } = await generateKeyPair(SIGNING_ALGORITHM, { crv: 'Ed25519', extractable: true });
    const publicJwk = await exportJWK(publicKey);
    const kid = await calculateJwkThumbprint(publicJwk);
    const createdAt = this.#options.clock();
    const { directory } = this.#options;
    if (directory !== null) {
      const file: KeyFile = {
        kid,
        alg: SIGNING_ALGORITHM,
        createdAt: createdAt.toISOString(),
        privateJwk: await exportJWK(privateKey),
      };
      await createFileAtomically(join(directory, `ed25519-${kid}.json`), `${JSON.stringify(file)}\n`);
    }
    this.#keys = [...this.#keys, { kid, createdAt, privateKey, publicKey, publicJwk: publicOnly(publicJwk, kid) }];
    await this.#prune(createdAt.getTime());
    return kid;
  }

  /** Every key on hand, oldest first: the newest signs, older ones verify until they retire. */
  describe(): readonly { readonly kid: string; readonly createdAt: string; readonly status: KeyStatus }[] {
    const nowMs = this.#options.clock().getTime();
    return this.#keys.map((entry, index) => ({
      kid: entry.kid,
      createdAt: entry.createdAt.toISOString(),
      status:
        index === this.#keys.length - 1 ? 'signing' : this.#find(entry.kid, nowMs) === null ? 'retired' : 'verifying',
    }));
  }

  /** The verifying keys as a JWK Set (for a `/.well-known/jwks.json` route). */
  publicJwks(): { readonly keys: readonly JWK[] } {
    const nowMs = this.#options.clock().getTime();
    return {
      keys: this.#keys.filter((entry) => this.#find(entry.kid, nowMs) !== null).map((entry) => entry.publicJwk),
    };
  }

  #find(kid: string, nowMs: number): KeyEntry | null {
    const index = this.#keys.findIndex((entry) => entry.kid === kid);
    if (index === -1) return null;
    const successor = this.#keys[index + 1];
    if (successor !== undefined && nowMs >= retiresAtMs(successor, this.#options)) return null;
    return this.#keys[index] ?? null;
  }

  async #rotateIfDue(nowMs: number): Promise<void> {
    const { rotateAfterSeconds } = this.#options;
    const newest = this.#keys.at(-1);
    if (rotateAfterSeconds === null || newest === undefined || nowMs < this.#rotationBlockedUntilMs) return;
    if (nowMs - newest.createdAt.getTime() < rotateAfterSeconds * SECOND_MS) return;
    try {
      await this.rotate();
      this.rotationError = null;
    } catch (error) {
      // Keep signing with the current key (it still works) and try again after the next reload.
      this.rotationError = error instanceof Error ? error : new Error(String(error));
      this.#rotationBlockedUntilMs = nowMs + KEY_RELOAD_INTERVAL_SECONDS * SECOND_MS;
    }
  }

  async #reload(): Promise<void> {
    const { directory, clock } = this.#options;
    this.#loadedAtMs = clock().getTime();
    if (directory === null) return;
    const names = (await readdir(directory)).filter((name) => KEY_FILE.test(name)).slice(0, KEY_FILES_MAX);
    const loaded: KeyEntry[] = [];
    for (const name of names) {
      const known = this.#keys.find((entry) => `ed25519-${entry.kid}.json` === name);
      if (known !== undefined) {
        loaded.push(known);
        continue;
      }
      let text: string;
      try {
        text = await readFile(join(directory, name), 'utf8');
      } catch (error) {
        // Another process retired it between the listing and the read.
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw error;
      }
      loaded.push(await entryFromFile(JSON.parse(text) as KeyFile, name));
    }
    this.#keys = loaded.sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime() || a.kid.localeCompare(b.kid));
    await this.#prune(this.#loadedAtMs);
  }

  /** Drops keys that no longer verify anything (and their files). */
  async #prune(nowMs: number): Promise<void> {
    const retired = this.#keys.filter((entry) => this.#find(entry.kid, nowMs) === null);
    if (retired.length === 0) return;
    this.#keys = this.#keys.filter((entry) => !retired.includes(entry));
    const { directory } = this.#options;
    if (directory === null) return;
    for (const entry of retired) await rm(join(directory, `ed25519-${entry.kid}.json`), { force: true });
  }
}

function retiresAtMs(successor: KeyEntry, options: SigningKeysOptions): number {
  return successor.createdAt.getTime() + options.retireAfterSeconds * SECOND_MS;
}

function publicOnly(jwk: JWK, kid: string): JWK {
  return { kty: jwk.kty, crv: jwk.crv, x: jwk.x, kid, alg: SIGNING_ALGORITHM, use: 'sig' } as JWK;
}

async function entryFromFile(file: KeyFile, name: string): Promise<KeyEntry> {
  const { d: _private, ...publicPart } = file.privateJwk;
  const kid = await calculateJwkThumbprint(publicPart);
  const createdAt = new Date(file.createdAt);
  if (kid !== file.kid || `ed25519-${kid}.json` !== name || Number.isNaN(createdAt.getTime())) {
    throw new Error(`key file ${name} is damaged: its key does not match its name`);
  }
  const privateKey = (await importJWK(file.privateJwk, SIGNING_ALGORITHM)) as CryptoKey;
  const publicKey = (await importJWK(publicPart, SIGNING_ALGORITHM)) as CryptoKey;
  return { kid, createdAt, privateKey, publicKey, publicJwk: publicOnly(publicPart, kid) };
}

/**
 * Creates a file readable by its owner only, all at once: other processes never see half of it, and an
 * existing file is never replaced (EEXIST instead), so two processes racing to create one agree on it.
 */
export async function createFileAtomically(path: string, content: string): Promise<void> {
  const temporary = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  await writeFile(temporary, content, { mode: 0o600, flag: 'wx' });
  try {
    await link(temporary, path);
  } finally {
    await rm(temporary, { force: true });
  }
}
