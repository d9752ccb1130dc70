import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createFileAtomically } from './keys.ts';

const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_FILE_NAME = 'mfa-secret.key';
const FORMAT_VERSION = 'v1';

/**
 * Encrypts the TOTP secrets kept in user streams (AES-256-GCM). Each ciphertext is bound to a context
 * (the user id) as associated data, so one copied into another user's stream does not decrypt.
 * Sealed form: `v1.<key id>.<iv>.<ciphertext>.<tag>` (base64url); the key id (the first 8 bytes of the
 * key's SHA-256) leaves room for a key ring later.
 *
 * The key lives in the identity key directory (`mfa-secret.key`, created on first start, 0600). Losing
 * it makes every enrolled authenticator useless (an administrator resets MFA): back it up with the
 * database.
 */
export class SecretBox {
  readonly #key: Buffer;
  readonly #keyId: string;

  private constructor(key: Buffer) {
    if (key.length !== KEY_BYTES) throw new RangeError(`the MFA secret key must be ${KEY_BYTES} bytes`);
    this.#key = key;
    this.#keyId = createHash('sha256').update(key).digest().subarray(0, 8).toString('base64url');
  }

  /** A box with a fresh key held in memory only (tests). */
  static generate(): SecretBox {
    return new SecretBox(randomBytes(KEY_BYTES));
  }

  /** The box whose key is in `directory`, creating the key on first use. */
  static async open(directory: string): Promise<SecretBox> {
    const path = join(directory, KEY_FILE_NAME);
    try {
      await createFileAtomically(path, `${randomBytes(KEY_BYTES).toString('base64')}\n`);
    } catch (error) {
      // EEXIST: made before, or by another process just now. Anything else (a read-only directory):
      // the read below tells whether a key is there after all.
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') await readFile(path).catch(() => Promise.reject(error));
    }
    const text = (await readFile(path, 'utf8')).trim();
    return new SecretBox(Buffer.from(text, 'base64'));
  }

  seal(plaintext: string, context: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.#key, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(Buffer.from(context, 'utf8'));
    const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return [FORMAT_VERSION, this.#keyId, iv, ciphertext, cipher.getAuthTag()]
      .map((part) => (typeof part === 'string' ? part : part.toString('base64url')))
      .join('.');
  }

  /** Throws when the sealed value was altered, belongs to another context, or to another key. */
  open(sealed: string, context: string): string {
    const [version, keyId, iv, ciphertext, tag, ...rest] = sealed.split('.');
    if (
      version !== FORMAT_VERSION ||
      rest.length > 0 ||
      iv === undefined ||
      ciphertext === undefined ||
      tag === undefined
    ) {
      throw new Error('not a sealed secret');
    }
    if (keyId !== this.#keyId) throw new Error('the secret was sealed with another key');
    const decipher = createDecipheriv('aes-256-gcm', this.#key, Buffer.from(iv, 'base64url'), {
      authTagLength: TAG_BYTES,
    });
    decipher.setAAD(Buffer.from(context, 'utf8'));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()]).toString('utf8');
  }
}
