import { createSecretKey, type KeyObject } from 'node:crypto';

/**
 * LEDGER_MAC_KEY, parsed: the keys the ledger seals account rows with (ledger/rules/tamper.ts).
 * The parser sits in config/, below the ledger, because the configuration every process shares
 * (config/shared.ts) reads the variable and the shards are opened from that configuration: the
 * ledger builds on shards/ and config/, never the reverse.
 */
export interface MacKeyRing {
  /** The key new MACs are signed with. */
  current: { id: string; secret: KeyObject };
  /** Every key a stored MAC may have been signed with, current included. */
  byId: ReadonlyMap<string, KeyObject>;
}

const developmentKey = 'dev:paygraph-development-mac-key-not-for-production';

/** LEDGER_MAC_KEY = "id:secret[,id:secret…]": the first signs, all verify (for rotation). */
export function parseKeyRing(raw: string): MacKeyRing {
  const pairs = raw.split(',').map((part) => {
    const at = part.indexOf(':');
    const id = part.slice(0, at).trim();
    const secret = part.slice(at + 1);
    if (at <= 0 || !/^[A-Za-z0-9_.-]{1,32}$/.test(id) || secret.length < 16) {
      throw new Error(
        'LEDGER_MAC_KEY must be "id:secret[,id:secret…]" with ids of [A-Za-z0-9_.-] and secrets of 16+ characters',
      );
    }
    // KeyObjects made once: on Node 24, createHmac given bytes first asks whether they are a
    // KeyObject or a CryptoKey by catching two thrown brand checks, 10.7 µs an HMAC against 2.2
    // µs given a KeyObject (a sixth of the transaction subgraph's CPU in c-bulk-1000,
    // docs/PERFORMANCE.md "Bulk (c)"); on Node 20 both cost the same.
    return [id, createSecretKey(Buffer.from(secret, 'utf8'))] as const;
  });
  const [first] = pairs;
  return { current: { id: first![0], secret: first![1] }, byId: new Map(pairs) };
}

/** The key outside production when LEDGER_MAC_KEY is unset: in the source, so it protects nothing real. */
export function developmentKeyRing(): MacKeyRing {
  return parseKeyRing(developmentKey);
}
