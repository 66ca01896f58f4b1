/**
 * LEDGER_MAC_KEY, parsed: the keys the ledger seals account rows with (ledger/rules/tamper.ts).
 * The parser sits in config/, below the ledger, because the configuration every process shares
 * (config/shared.ts) reads the variable and the shards are opened from that configuration: the
 * ledger builds on shards/ and config/, never the reverse.
 */
export interface MacKeyRing {
  /** The key new MACs are signed with. */
  current: { id: string; secret: Buffer };
  /** Every key a stored MAC may have been signed with, current included. */
  byId: ReadonlyMap<string, Buffer>;
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
    return [id, Buffer.from(secret, 'utf8')] as const;
  });
  const [first] = pairs;
  return { current: { id: first![0], secret: first![1] }, byId: new Map(pairs) };
}

/** The key outside production when LEDGER_MAC_KEY is unset: in the source, so it protects nothing real. */
export function developmentKeyRing(): MacKeyRing {
  return parseKeyRing(developmentKey);
}
