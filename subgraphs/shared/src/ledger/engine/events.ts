import type { EntryDraft } from '../rules/posting-rules';
import { log } from '../../log';

/**
 * Listeners told, after a posting batch has COMMITTED, which entries it wrote. A listener
 * must not throw and must not be relied on for delivery: the ledger tables are the truth,
 * and anything built on these hints (balance-change streams) must read the entries back
 * from the database so that a lost hint never loses an event.
 */
export type CommittedListener = (shardIndex: number, entries: readonly EntryDraft[]) => void;

const listeners = new Set<CommittedListener>();

export function onCommitted(listener: CommittedListener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export function notifyCommitted(shardIndex: number, entries: readonly EntryDraft[]): void {
  if (entries.length === 0) return;
  for (const listener of listeners) {
    try {
      listener(shardIndex, entries);
    } catch (error) {
      log().error({ err: error }, 'a committed-postings listener failed');
    }
  }
}
