import { LRUCache } from 'lru-cache';
import { Webhook } from 'standardwebhooks';
import { signerCacheEntriesMax } from '../limits';

/**
 * Standard Webhooks signatures with the reference library: "v1,<base64 HMAC-SHA256 of
 * `${id}.${timestamp}.${body}`>". During a rotation's overlap the message carries one signature
 * per valid secret, space-separated, so a receiver holding either secret verifies it.
 */
export interface Signing {
  headers(id: string, at: Date, body: string): Record<string, string>;
}

export function signerFor(secrets: readonly string[]): Signing {
  const hooks = secrets.map((secret) => new Webhook(secret));
  return {
    headers: (id, at, body) => ({
      'webhook-id': id,
      'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
      'webhook-signature': hooks.map((hook) => hook.sign(id, at, body)).join(' '),
    }),
  };
}

/**
 * The sealed secrets that sign for an endpoint now: its current one, and the one before while the rotation's overlap
 * lasts.
 */
export function signingSeals(
  row: { secretSealed: string; previousSecretSealed: string | null; previousSecretUntil: Date | null },
  now: Date,
): string[] {
  const overlapping =
    row.previousSecretSealed !== null && row.previousSecretUntil !== null && row.previousSecretUntil > now;
  return overlapping ? [row.secretSealed, row.previousSecretSealed!] : [row.secretSealed];
}

/**
 * The dispatcher's opened secrets, one signer per endpoint and set of seals (opening costs an
 * AES-GCM decryption; each refresh would otherwise open every endpoint's secrets again). Bounded
 * (signerCacheEntriesMax, least recently used out first), and at each refresh it forgets what
 * that refresh did not use: a secret rotated out, once its overlap ended, leaves memory then.
 */
export class SignerCache {
  private readonly cache: LRUCache<string, Signing>;
  private used = new Set<string>();

  constructor(entriesMax = signerCacheEntriesMax) {
    this.cache = new LRUCache({ max: entriesMax });
  }

  /** The signer of these seals, opening them with `open` when not cached. */
  signerOf(endpointId: string, seals: readonly string[], open: (sealed: string) => string): Signing {
    const key = `${endpointId} ${seals.join(' ')}`;
    this.used.add(key);
    let signer = this.cache.get(key);
    if (!signer) {
      signer = signerFor(seals.map(open));
      this.cache.set(key, signer);
    }
    return signer;
  }

  /** Ends a refresh: every signer it did not ask for is forgotten. */
  forgetUnused(): void {
    for (const key of [...this.cache.keys()]) if (!this.used.has(key)) this.cache.delete(key);
    this.used = new Set();
  }

  /** The seals held, for tests: which secrets are still in memory. */
  heldSeals(): string[] {
    return [...this.cache.keys()].flatMap((key) => key.split(' ').slice(1));
  }

  get size(): number {
    return this.cache.size;
  }
}
