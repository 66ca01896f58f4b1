import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { assert } from '@paygraph/shared/result';
import { secretKeyCharsMin } from '../limits';

/**
 * Endpoint secrets. A secret is "whsec_" and the base64 of 32 bytes from the CSPRNG (the
 * Standard Webhooks format), shown to its owner once, in the answer that made it. It is stored
 * encrypted, not hashed: the dispatcher must sign with it, so it has to be recoverable. Each is
 * sealed with AES-256-GCM under WEBHOOK_SECRET_KEY (a random 96-bit nonce per seal; the tag
 * authenticates it and the endpoint id, so a sealed secret copied onto another endpoint does not
 * open). A database dump without the key holds no usable secret.
 */
export const secretPrefix = 'whsec_';
const secretBytes = 32;
const nonceBytes = 12;
const tagBytes = 16;

export function newSecret(): string {
  return `${secretPrefix}${randomBytes(secretBytes).toString('base64')}`;
}

/** The 256-bit key from the configured text (any length ≥ 32 characters, hashed to 32 bytes). */
export function secretKey(configured: string): Buffer {
  assert(configured.length >= secretKeyCharsMin, `WEBHOOK_SECRET_KEY must be at least ${secretKeyCharsMin} characters`);
  return createHash('sha256').update(configured, 'utf8').digest();
}

export function sealSecret(key: Buffer, endpointId: string, secret: string): string {
  const nonce = randomBytes(nonceBytes);
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  cipher.setAAD(Buffer.from(endpointId, 'utf8'));
  const sealed = Buffer.concat([cipher.update(secret, 'utf8'), cipher.final()]);
  return `v1.${Buffer.concat([nonce, cipher.getAuthTag(), sealed]).toString('base64url')}`;
}

/** Throws when the seal was not made with this key for this endpoint: a bug or tampering, never a user's error. */
export function openSecret(key: Buffer, endpointId: string, sealedText: string): string {
  assert(sealedText.startsWith('v1.'), 'a sealed webhook secret starts with v1.');
  const raw = Buffer.from(sealedText.slice(3), 'base64url');
  const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, nonceBytes));
  decipher.setAAD(Buffer.from(endpointId, 'utf8'));
  decipher.setAuthTag(raw.subarray(nonceBytes, nonceBytes + tagBytes));
  return Buffer.concat([decipher.update(raw.subarray(nonceBytes + tagBytes)), decipher.final()]).toString('utf8');
}
