/**
 * Whether each posting balances, from every database's part of it (db/ledger-checks.ts postingSumsOff): a posting is
 * written on one database, but a shard move takes its row and its client accounts' entries with their range and leaves
 * its system accounts' entries behind, so each database holds a part that is off by the other's. Pure.
 */
export interface PostingPart {
  postingId: string;
  currency: string;
  /** Σ of the part's entries here, of accounts this database holds. */
  sum: bigint;
  /** How many entries the part has here. */
  entries: number;
  /** Whether the posting's own row is this database's (not a move's copy). */
  live: boolean;
  /** The database it was read on, to name in the finding. */
  database: string;
}

export interface UnbalancedPosting {
  postingId: string;
  currency: string;
  sum: bigint;
  /** The databases its off parts were read on. */
  databases: string[];
}

/**
 * The postings whose parts do not add up to zero in a currency, or whose live row has no entry anywhere (every part
 * read with none). A part that is off alone is reported with the databases it came from; parts that cancel are a moved
 * posting, balanced.
 */
export function unbalancedAcross(parts: readonly PostingPart[]): UnbalancedPosting[] {
  const byKey = new Map<
    string,
    { postingId: string; currency: string; sum: bigint; entries: number; live: boolean; databases: string[] }
  >();
  for (const part of parts) {
    const key = `${part.postingId}\u0000${part.currency}`;
    const seen = byKey.get(key) ?? {
      postingId: part.postingId,
      currency: part.currency,
      sum: 0n,
      entries: 0,
      live: false,
      databases: [],
    };
    seen.sum += part.sum;
    seen.entries += part.entries;
    seen.live ||= part.live;
    seen.databases.push(part.database);
    byKey.set(key, seen);
  }
  return [...byKey.values()]
    .filter((p) => p.sum !== 0n || (p.live && p.entries === 0))
    .map(({ postingId, currency, sum, databases }) => ({ postingId, currency, sum, databases }));
}
