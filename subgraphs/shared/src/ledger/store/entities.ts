import { and, eq } from 'drizzle-orm';
import type { Executor } from '../../shards/transaction';
import { entities, glCodes, glExports } from './schema';

/**
 * Entities, GL codes and kept exports (docs/BOOKS.md): rows of the control shard only, each
 * statement a single row's read or write. Locks: as each function says.
 */
export interface EntityRecord {
  code: string;
  name: string;
  country: string;
  functionalCurrency: string;
}

/** An entity by code. Locks: none. */
export async function entityByCode(db: Executor, code: string): Promise<EntityRecord | null> {
  const [row] = await db.select().from(entities).where(eq(entities.code, code)).limit(1);
  return row
    ? { code: row.code, name: row.name, country: row.country, functionalCurrency: row.functionalCurrency }
    : null;
}

/**
 * Inserts the entity unless one with its code is there, and answers the row now stored (this
 * one, or the earlier one a caller compares). Locks: the new row, for the statement.
 */
export async function insertEntityIfMissing(db: Executor, entity: EntityRecord, now: Date): Promise<EntityRecord> {
  await db
    .insert(entities)
    .ignore()
    .values({ ...entity, createdAt: now });
  const stored = await entityByCode(db, entity.code);
  if (stored === null) throw new Error(`entity ${entity.code} missing right after its insert`);
  return stored;
}

/** The GL codes mapped for an entity, by ledger class. Locks: none. */
export async function glCodesOf(db: Executor, entity: string): Promise<Map<string, string>> {
  const rows = await db.select().from(glCodes).where(eq(glCodes.entity, entity));
  return new Map(rows.map((r) => [r.ledgerClass, r.glCode]));
}

/** Maps a class to a GL code, replacing an earlier mapping. Locks: that row, for the statement. */
export async function upsertGlCode(
  db: Executor,
  row: { entity: string; ledgerClass: string; glCode: string },
  now: Date,
): Promise<void> {
  await db
    .insert(glCodes)
    .values({ ...row, updatedAt: now })
    .onDuplicateKeyUpdate({ set: { glCode: row.glCode, updatedAt: now } });
}

/** A kept export of a closed date, if one was kept. Locks: none. */
export async function keptExport(
  db: Executor,
  entity: string,
  businessDate: string,
): Promise<{ linesJson: string; csv: string } | null> {
  const [row] = await db
    .select()
    .from(glExports)
    .where(and(eq(glExports.entity, entity), eq(glExports.businessDate, businessDate)))
    .limit(1);
  return row ? { linesJson: row.linesJson, csv: row.csv } : null;
}

/**
 * Keeps a closed date's export unless one was kept first (two first answers racing agree on the
 * one stored), and answers the one stored. Locks: the new row, for the statement.
 */
export async function keepExport(
  db: Executor,
  row: { entity: string; businessDate: string; linesJson: string; csv: string },
  now: Date,
): Promise<{ linesJson: string; csv: string }> {
  await db
    .insert(glExports)
    .ignore()
    .values({ ...row, createdAt: now });
  const kept = await keptExport(db, row.entity, row.businessDate);
  if (kept === null) throw new Error(`export ${row.entity} ${row.businessDate} missing right after its insert`);
  return kept;
}
