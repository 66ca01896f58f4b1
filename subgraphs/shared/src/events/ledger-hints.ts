import { onCommitted, type EntryDraft } from '../ledger/index';
import { parseId } from '../ids';
import { createRedisPublisher } from './redis-pubsub';

/**
 * Ledger hints: "account X now has entries up to sequence N". A process that posts publishes
 * one message per committed batch on a Redis channel; the account subgraph's balance feed
 * listens and reads the ledger tables again for the accounts it watches. A hint carries no
 * money and no entry: a lost, late or repeated hint changes only when an event is read, never
 * which events there are.
 */
export const ledgerHintChannel = 'paygraph:ledger:committed';

export interface LedgerHint {
  accountId: string;
  sequence: bigint;
}

/** One message per batch: the highest sequence written for each account, as JSON [[id, "seq"], …]. */
export function encodeHints(entries: readonly EntryDraft[]): string {
  const top = new Map<string, bigint>();
  for (const entry of entries) {
    const known = top.get(entry.accountId);
    if (known === undefined || entry.sequence > known) top.set(entry.accountId, entry.sequence);
  }
  return JSON.stringify([...top].map(([id, sequence]) => [id, sequence.toString()]));
}

/** Anything unreadable is dropped: a hint is an optimisation, never a requirement. */
export function decodeHints(message: string): LedgerHint[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(message);
  } catch {
    return [];
  }
  if (!Array.isArray(parsed)) return [];
  const hints: LedgerHint[] = [];
  for (const item of parsed) {
    if (!Array.isArray(item) || item.length !== 2) continue;
    const [id, sequence] = item as unknown[];
    if (typeof id !== 'string' || parseId('account', id) === null) continue;
    if (typeof sequence !== 'string' || !/^[1-9][0-9]{0,18}$/.test(sequence)) continue;
    hints.push({ accountId: id, sequence: BigInt(sequence) });
  }
  return hints;
}

/** Stops publishing when called; `ready` resolves once connected to Redis (hints are dropped before). */
export type LedgerHintPublisher = (() => Promise<void>) & { ready: () => Promise<void> };

/** Publishes a hint after every committed batch of this process; returns the way to stop. */
export function startLedgerHintPublisher(redisUrl: string): LedgerHintPublisher {
  const publisher = createRedisPublisher(redisUrl);
  const unsubscribe = onCommitted((_shard, entries) => {
    publisher.publish(ledgerHintChannel, encodeHints(entries));
  });
  const stop = async (): Promise<void> => {
    unsubscribe();
    await publisher.close();
  };
  return Object.assign(stop, { ready: publisher.ready });
}
