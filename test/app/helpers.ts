/** Shared helpers for the app tests. */
import { createHash } from 'node:crypto';
import type { SecretBox } from '../../src-main/app/settings-store.ts';

/**
 * A stand-in for Electron's safeStorage: a keyed XOR with a checksum, so the
 * sealed bytes differ from the input and a different key cannot open them.
 * Only for tests.
 */
export function testSecretBox(options: { available?: boolean; key?: number } = {}): SecretBox & { sealed: number } {
  const key = options.key ?? 7;
  const xor = (bytes: Buffer): Buffer => Buffer.from(bytes.map((b, i) => b ^ ((key * 31 + i * 17) & 0xff)));
  const sum = (bytes: Buffer): Buffer => createHash('sha256').update(bytes).digest().subarray(0, 4);
  const box = {
    sealed: 0,
    isAvailable: () => options.available !== false,
    encrypt(plain: string): Buffer {
      box.sealed += 1;
      const bytes = Buffer.from(plain, 'utf8');
      return Buffer.concat([sum(bytes), xor(bytes)]);
    },
    decrypt(sealed: Buffer): string {
      const bytes = xor(sealed.subarray(4));
      if (!sum(bytes).equals(sealed.subarray(0, 4))) throw new Error('cannot decrypt');
      return bytes.toString('utf8');
    },
  };
  return box;
}
