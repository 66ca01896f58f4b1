import type { MySqlTable } from 'drizzle-orm/mysql-core';
import type { PostingTx } from '../shards/posting-transaction';
import { insertRows } from './raw';

/**
 * Inserts collected from the items of a merged posting batch and written at the end of its
 * transaction, one multi-row statement per table, instead of one statement per item.
 */
export class DeferredInserts {
  private readonly byTable = new Map<MySqlTable, Array<Record<string, unknown>>>();

  add<T extends MySqlTable>(table: T, row: T['$inferInsert']): void {
    const rows = this.byTable.get(table) ?? [];
    rows.push(row as Record<string, unknown>);
    this.byTable.set(table, rows);
  }

  get size(): number {
    let n = 0;
    for (const rows of this.byTable.values()) n += rows.length;
    return n;
  }

  async flush(tx: PostingTx): Promise<void> {
    for (const [table, rows] of this.byTable) await insertRows(tx, table, rows, { hold: true });
    this.byTable.clear();
  }
}
